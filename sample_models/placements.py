"""Where a ReLU sits relative to the recurrent and convolutional layers around it.

Every class builds without arguments. The demo in the README runs

    relufind sample_models/placements.py:ConvRNNClassifier

which shows, for each ReLU, whether it acts on a convolution's output, on the recurrent
output, or on something in between. Lines that hold a site carry a ``# site:`` comment.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvBlock1d(nn.Module):
    """Conv1d -> BatchNorm1d -> ReLU, the usual front-end block of an audio model."""

    def __init__(self, c_in: int = 40, c_out: int = 64, kernel_size: int = 5):
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, kernel_size, padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm1d(c_out)
        self.act = nn.ReLU(inplace=True)

    @staticmethod
    def example_input():
        return (torch.randn(2, 40, 50),)

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))  # site: block act


class GatedProjection(nn.Module):
    """A custom head block: Linear, then a ReLU written as a function inside the block."""

    def __init__(self, d_in: int = 256, d_out: int = 128):
        super().__init__()
        self.proj = nn.Linear(d_in, d_out)

    @staticmethod
    def example_input():
        return (torch.randn(2, 256),)

    def forward(self, x):
        return F.relu(self.proj(x))  # site: gated proj


class ConvRNNClassifier(nn.Module):
    """A keyword-spotting style classifier for log-mel spectrograms.

    Input ``(batch, n_mels, frames)``. Two convolutional blocks (the second with a residual
    connection) extract local features, a bidirectional GRU reads the sequence, a ReLU acts on
    the recurrent output, and a small MLP head classifies the last frame.
    """

    def __init__(self, n_mels: int = 40, channels: int = 64, hidden: int = 128, n_classes: int = 12):
        super().__init__()
        self.frontend = ConvBlock1d(n_mels, channels)
        self.conv2 = nn.Conv1d(channels, channels, 3, padding=1)
        self.bn2 = nn.BatchNorm1d(channels)
        self.rnn = nn.GRU(channels, hidden, num_layers=2, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(0.1)
        self.head = GatedProjection(2 * hidden, hidden)
        self.classifier = nn.Linear(hidden, n_classes)

    @staticmethod
    def example_input():
        return (torch.randn(2, 40, 50),)

    def forward(self, spec):
        x = self.frontend(spec)  # (B, C, T)
        x = F.relu(self.bn2(self.conv2(x)) + x)  # site: residual
        x = x.transpose(1, 2)  # (B, T, C) for a batch_first RNN
        seq, _ = self.rnn(x)
        seq = torch.relu(seq)  # site: on rnn output
        last = self.dropout(seq[:, -1])
        return self.classifier(self.head(last))


class ConvBNReLU(nn.Module):
    """ReLU after a convolution, through BatchNorm: ``after conv via BatchNorm2d bn``."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.bn = nn.BatchNorm2d(16)
        self.relu = nn.ReLU()

    @staticmethod
    def example_input():
        return (torch.randn(1, 3, 8, 8),)

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))  # site: conv bn relu


class ReLUBetweenConvs(nn.Module):
    """A ReLU that sits between two convolutions: after one, before the other."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)

    @staticmethod
    def example_input():
        return (torch.randn(1, 3, 8, 8),)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)  # site: between convs
        return self.conv2(x)


class LSTMThenLinearReLU(nn.Module):
    """ReLU on the LSTM output through a Linear projection: ``after lstm via Linear proj``."""

    def __init__(self, n_in: int = 16, hidden: int = 32):
        super().__init__()
        self.lstm = nn.LSTM(n_in, hidden, batch_first=True)
        self.proj = nn.Linear(hidden, hidden)

    @staticmethod
    def example_input():
        return (torch.randn(2, 5, 16),)

    def forward(self, x):
        out, _state = self.lstm(x)  # _state is (h, c)
        return self.proj(out).relu()  # site: lstm proj relu


class ResidualBlock(nn.Module):
    """A ResNet basic block: conv -> relu -> conv, plus the skip, then relu."""

    def __init__(self, channels: int = 16):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)

    @staticmethod
    def example_input():
        return (torch.randn(1, 16, 8, 8),)

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))  # site: block inner
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)  # site: block outer


class ResNetStem(nn.Module):
    """A stem conv followed by two residual blocks: the outer ReLU of each block sees two convs."""

    def __init__(self, channels: int = 16):
        super().__init__()
        self.stem = nn.Conv2d(3, channels, 7, stride=2, padding=3)
        self.relu = nn.ReLU()
        self.layer1 = ResidualBlock(channels)
        self.layer2 = ResidualBlock(channels)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, 10)

    @staticmethod
    def example_input():
        return (torch.randn(1, 3, 32, 32),)

    def forward(self, x):
        x = self.relu(self.stem(x))  # site: stem
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(self.pool(x), 1))


class ConvTransposeDecoder(nn.Module):
    """A small decoder: upsampling ConvTranspose2d layers with ReLUs between, sigmoid output."""

    def __init__(self, latent: int = 32):
        super().__init__()
        self.fc = nn.Linear(latent, 32 * 4 * 4)
        self.up1 = nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1)
        self.up2 = nn.ConvTranspose2d(16, 3, 4, stride=2, padding=1)

    @staticmethod
    def example_input():
        return (torch.randn(2, 32),)

    def forward(self, z):
        x = F.relu(self.fc(z)).view(-1, 32, 4, 4)  # site: decoder fc
        x = F.relu(self.up1(x))  # site: decoder up1
        return torch.sigmoid(self.up2(x))


class RNNCellLoop(nn.Module):
    """An LSTMCell unrolled over three steps with a ReLU on each hidden state."""

    def __init__(self, n_in: int = 8, hidden: int = 16, steps: int = 3):
        super().__init__()
        self.cell = nn.LSTMCell(n_in, hidden)
        self.steps = steps
        self.out = nn.Linear(hidden, n_in)

    @staticmethod
    def example_input():
        return (torch.randn(2, 8),)

    def forward(self, x):
        state = None  # the cell starts from zeros
        outputs = []
        for _ in range(self.steps):
            h, c = self.cell(x, state)
            state = (h, c)
            x = self.out(F.relu(h))  # site: cell loop
            outputs.append(x)
        return torch.stack(outputs, 1)


class FunctionalConv(nn.Module):
    """Convolutions written with ``F.conv2d`` on explicit parameters: functional anchors."""

    def __init__(self):
        super().__init__()
        self.w1 = nn.Parameter(torch.randn(8, 3, 3, 3))
        self.w2 = nn.Parameter(torch.randn(8, 8, 3, 3))

    @staticmethod
    def example_input():
        return (torch.randn(1, 3, 8, 8),)

    def forward(self, x):
        x = F.conv2d(x, self.w1, padding=1)
        x = x.clamp(min=0)  # site: functional conv
        return F.conv2d(x, self.w2, padding=1)


class SameConv2d(nn.Conv2d):
    """A Conv2d subclass (a user class, so the tracer goes inside it) that rectifies its output."""

    def __init__(self, in_channels: int = 3, out_channels: int = 8, kernel_size: int = 3, **kwargs):
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2, **kwargs)

    @staticmethod
    def example_input():
        return (torch.randn(1, 3, 8, 8),)

    def forward(self, x):
        return F.relu(super().forward(x))  # site: conv subclass inner


class ConvSubclassNet(nn.Module):
    """A network built from a Conv2d subclass: the subclass counts as one anchor."""

    def __init__(self):
        super().__init__()
        self.conv1 = SameConv2d(3, 8, 3)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)

    @staticmethod
    def example_input():
        return (torch.randn(1, 3, 8, 8),)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)  # site: after conv subclass
        return self.conv2(x)


class Encoder(nn.Module):
    """Linear -> ReLU encoder block, used to show ``--anchor Linear``-style relations."""

    def __init__(self, width: int = 16):
        super().__init__()
        self.fc1 = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)

    @staticmethod
    def example_input():
        return (torch.randn(2, 16),)

    def forward(self, x):
        x = F.relu(self.fc1(x))  # site: mlp 1
        return self.fc2(x)
