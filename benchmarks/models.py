"""Benchmark models: bigger than the samples, shaped like real networks (no torchvision needed)."""

import torch
import torch.nn as nn
import torch.nn.functional as F


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)  # one instance, three call sites, as in torchvision
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class ResNet50(nn.Module):
    """torchvision's resnet50 layout: 49 ReLU calls, 53 convolutions, 25.6 M parameters."""

    def __init__(self, layers: tuple[int, ...] = (3, 4, 6, 3), num_classes: int = 1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1], stride=2)
        self.layer3 = self._make_layer(256, layers[2], stride=2)
        self.layer4 = self._make_layer(512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2048, num_classes)

    def _make_layer(self, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * 4:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * 4, 1, stride=stride, bias=False), nn.BatchNorm2d(planes * 4)
            )
        layers = [Bottleneck(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * 4
        layers += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class ResNet152(ResNet50):
    """A deeper graph: 151 ReLU calls, 60 M parameters."""

    def __init__(self):
        super().__init__(layers=(3, 8, 36, 3))


class SpeechEncoder(nn.Module):
    """Conv front end, a ReLU GRU-free stack of LSTMs and per-frame ReLU MLP: a DeepSpeech shape."""

    def __init__(self, n_mels: int = 80, hidden: int = 1024, layers: int = 5):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 32, (41, 11), stride=(2, 2), padding=(20, 5)),
            nn.BatchNorm2d(32),
            nn.Hardtanh(0, 20, inplace=True),
            nn.Conv2d(32, 32, (21, 11), stride=(2, 1), padding=(10, 5)),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
        )
        self.rnns = nn.ModuleList(
            nn.LSTM(32 * 20 if i == 0 else hidden, hidden, batch_first=True) for i in range(layers)
        )
        self.fc1 = nn.Linear(hidden, hidden)
        self.fc2 = nn.Linear(hidden, 29)

    def forward(self, x):
        x = self.conv(x)
        b, c, f, t = x.shape
        x = x.view(b, c * f, t).transpose(1, 2)
        for rnn in self.rnns:
            x, _ = rnn(x)
            x = F.relu(x)
        return self.fc2(torch.clamp(self.fc1(x), min=0))


class Giant(nn.Module):
    """Weights would take 17.2 GB on the CPU: only the meta device makes this analysable."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(65536, 32768)
        self.conv = nn.Conv1d(1, 1, 3, padding=1)
        self.fc2 = nn.Linear(32768, 65536)
        self.act = nn.ReLU()

    def forward(self, x):
        x = self.act(self.fc1(x))
        x = self.conv(x.unsqueeze(1)).squeeze(1)
        return F.relu(self.fc2(x))


class DenseLayer(nn.Module):
    def __init__(self, channels: int, growth: int = 32, bottleneck: int = 4):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(channels)
        self.conv1 = nn.Conv2d(channels, bottleneck * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bottleneck * growth)
        self.conv2 = nn.Conv2d(bottleneck * growth, growth, 3, padding=1, bias=False)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = torch.cat(features, 1)
        x = self.conv1(F.relu(self.norm1(x)))
        return self.conv2(F.relu(self.norm2(x)))


class DenseNet121(nn.Module):
    """torchvision's densenet121 layout: 121 ReLU calls, every layer reading the concatenation
    of all earlier ones (the many-concatenations case for relations)."""

    def __init__(self, blocks: tuple[int, ...] = (6, 12, 24, 16), growth: int = 32, num_classes: int = 1000):
        super().__init__()
        channels = 64
        self.stem = nn.Sequential(
            nn.Conv2d(3, channels, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        self.blocks = nn.ModuleList()
        self.transitions = nn.ModuleList()
        for index, count in enumerate(blocks):
            layers = nn.ModuleList()
            for _ in range(count):
                layers.append(DenseLayer(channels, growth))
                channels += growth
            self.blocks.append(layers)
            if index < len(blocks) - 1:
                self.transitions.append(
                    nn.Sequential(
                        nn.BatchNorm2d(channels),
                        nn.ReLU(inplace=True),
                        nn.Conv2d(channels, channels // 2, 1, bias=False),
                        nn.AvgPool2d(2, stride=2),
                    )
                )
                channels //= 2
        self.norm = nn.BatchNorm2d(channels)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x):
        x = self.stem(x)
        for index, layers in enumerate(self.blocks):
            features = [x]
            for layer in layers:
                features.append(layer(features))
            x = torch.cat(features, 1)
            if index < len(self.transitions):
                x = self.transitions[index](x)
        x = F.relu(self.norm(x), inplace=True)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.classifier(x)


class ResidualBlock(nn.Module):
    """conv -> ReLU -> Linear -> ReLU -> clamp, added back: every earlier block is upstream."""

    def __init__(self, channels: int = 8, length: int = 8):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 3, padding=1)
        self.act = nn.ReLU()
        self.fc = nn.Linear(length, length)

    def forward(self, x):
        y = self.fc(self.act(self.conv(x)))
        return x + F.relu(y).clamp(min=0)


class ResidualStack(nn.Module):
    """A plain deep residual stack of ``blocks`` blocks (6 graph nodes each, the add included)."""

    def __init__(self, blocks: int = 100):
        super().__init__()
        self.blocks = nn.Sequential(*(ResidualBlock() for _ in range(blocks)))

    def forward(self, x):
        return self.blocks(x)


class ResidualStack16k(ResidualStack):
    """About 16,000 graph nodes."""

    def __init__(self):
        super().__init__(blocks=2_667)


class ResidualStack64k(ResidualStack):
    """About 64,000 graph nodes."""

    def __init__(self):
        super().__init__(blocks=10_667)
