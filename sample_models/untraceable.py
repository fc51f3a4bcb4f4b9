"""Models that plain ``torch.fx.symbolic_trace`` cannot trace, and where their ReLUs are.

Each class builds without arguments and has ``example_input()`` for the runtime oracle.
relufind traces everything around the failing submodule, analyses that submodule on its
own (reading its ``forward`` from source where it cannot be traced) and reports status
``partial`` with the tracing error of each region it could not trace.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class GatedBlock(nn.Module):
    """Branches on a tensor value: `if x.mean() > 0` cannot be traced."""

    def __init__(self, channels: int = 8):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.act = nn.ReLU()

    @staticmethod
    def example_input():
        return (torch.randn(1, 8, 4, 4),)

    def forward(self, x):
        if x.mean() > 0:
            return self.act(self.conv(x))
        return F.relu(x) + x


class DataDependentBranch(nn.Module):
    """ReLUs before, inside and after a submodule that branches on tensor values."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.stem_act = nn.ReLU(inplace=True)
        self.gate = GatedBlock(8)
        self.head = nn.Conv2d(8, 4, 1)

    def forward(self, x):
        x = self.stem_act(self.stem(x))
        x = self.gate(x)
        return torch.relu(self.head(x))

    @staticmethod
    def example_input():
        return (torch.randn(1, 3, 8, 8),)


class Conv2dSame(nn.Conv2d):
    """TensorFlow-style "same" padding computed from the input shape (as in timm)."""

    def __init__(self, in_channels: int = 3, out_channels: int = 8, kernel_size: int = 3, **kwargs):
        super().__init__(in_channels, out_channels, kernel_size, **kwargs)

    @staticmethod
    def example_input():
        return (torch.randn(1, 3, 9, 9),)

    def forward(self, x):
        ih, iw = x.shape[-2:]
        kh, kw = self.weight.shape[-2:]
        pad_h = max((math.ceil(ih / self.stride[0]) - 1) * self.stride[0] + kh - ih, 0)
        pad_w = max((math.ceil(iw / self.stride[1]) - 1) * self.stride[1] + kw - iw, 0)
        x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class SamePadNet(nn.Module):
    """Two "same"-padded convolutions with ReLUs around them."""

    def __init__(self):
        super().__init__()
        self.conv1 = Conv2dSame(3, 8, 3, stride=2)
        self.conv2 = Conv2dSame(8, 8, 3)
        self.act = nn.ReLU()

    def forward(self, x):
        x = self.act(self.conv1(x))
        x = F.relu(self.conv2(x))
        return x.clamp(min=0)

    @staticmethod
    def example_input():
        return (torch.randn(1, 3, 9, 9),)


class SequencePool(nn.Module):
    """`len()` and `int()` on a proxy: a loop over time steps by a shape."""

    def __init__(self, hidden: int = 6):
        super().__init__()
        self.cell = nn.RNNCell(hidden, hidden, nonlinearity="relu")

    @staticmethod
    def example_input():
        return (torch.randn(5, 2, 6),)

    def forward(self, x):
        h = torch.zeros_like(x[0])
        for t in range(int(x.shape[0])):
            h = self.cell(x[t], h)
        return F.relu(h) / len(x)


class LenIntNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(6, 6)
        self.pool = SequencePool(6)
        self.out = nn.Linear(6, 2)

    def forward(self, x):
        return self.out(self.pool(F.relu(self.proj(x))))

    @staticmethod
    def example_input():
        return (torch.randn(5, 2, 6),)


class TinyDetector(nn.Module):
    """A detection-style model: the head loops over a list of images of different sizes."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
        self.cls = nn.Conv2d(8, 2, 1)

    def forward(self, images):
        outputs = []
        for image in images:
            features = self.backbone(image.unsqueeze(0))
            outputs.append(self.cls(features).clamp_(min=0))
        return outputs

    @staticmethod
    def example_input():
        return ([torch.randn(3, 8, 8), torch.randn(3, 6, 10)],)


class Stage(nn.Module):
    def __init__(self, channels: int = 4):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 3, padding=1)
        self.act = nn.ReLU()

    @staticmethod
    def example_input():
        return (torch.randn(2, 4, 7),)

    def forward(self, x):
        return self.act(self.conv(x)) + x


class EarlyExit(nn.Module):
    """Iterates a ModuleList under a data-dependent condition: its own forward is untraceable."""

    def __init__(self, channels: int = 4, depth: int = 3):
        super().__init__()
        self.stages = nn.ModuleList(Stage(channels) for _ in range(depth))
        self.final = nn.ReLU6()

    def forward(self, x):
        for stage in self.stages:
            x = stage(x)
            if x.abs().max() > 1e6:
                break
        return F.relu(x)

    @staticmethod
    def example_input():
        return (torch.randn(2, 4, 7),)


class IsinstanceDrop(nn.Module):
    """`isinstance(x, torch.Tensor)` is False for a proxy: fx silently drops that branch."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        x = self.fc(x)
        if isinstance(x, torch.Tensor):
            x = F.relu(x)
        return x

    @staticmethod
    def example_input():
        return (torch.randn(2, 4),)
