"""ReLU-family variants next to plain ReLUs.

``ReLU6``, ``LeakyReLU``, ``PReLU`` and ``RReLU`` are reported with their own variant name
only with ``--variants``; without it the summary counts them. ``ELU``, ``SELU``, ``CELU``
and ``GELU`` are not ReLU sites at all. Every class builds without arguments.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


class ReLU6Spellings(nn.Module):
    """ReLU6 written four ways (module, ``F.relu6``, ``F.hardtanh(x, 0, 6)``, ``clamp(0, 6)``)
    plus one plain ReLU."""

    def __init__(self, width: int = 16):
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.act6 = nn.ReLU6(inplace=True)

    @staticmethod
    def example_input():
        return (torch.randn(2, 16),)

    def forward(self, x):
        x = self.act6(self.fc(x))  # site: relu6 module
        x = F.relu6(x)  # site: F.relu6
        x = F.hardtanh(x, 0.0, 6.0)  # site: hardtanh 0 6
        x = x.clamp(0, 6)  # site: clamp 0 6
        return F.relu(x)  # site: plain relu


class MobileNetBlock(nn.Module):
    """A MobileNetV2 inverted residual: two ReLU6 modules around a depthwise conv."""

    def __init__(self, channels: int = 16, expand: int = 4):
        super().__init__()
        hidden = channels * expand
        self.expand = nn.Conv2d(channels, hidden, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(hidden)
        self.act1 = nn.ReLU6(inplace=True)
        self.depthwise = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden, bias=False)
        self.bn2 = nn.BatchNorm2d(hidden)
        self.act2 = nn.ReLU6(inplace=True)
        self.project = nn.Conv2d(hidden, channels, 1, bias=False)

    @staticmethod
    def example_input():
        return (torch.randn(1, 16, 8, 8),)

    def forward(self, x):
        h = self.act1(self.bn1(self.expand(x)))  # site: mobilenet act1
        h = self.act2(self.bn2(self.depthwise(h)))  # site: mobilenet act2
        return x + self.project(h)


class LeakyFamily(nn.Module):
    """LeakyReLU (module and function), PReLU and RReLU, then one plain nn.ReLU."""

    def __init__(self, width: int = 16):
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.leaky = nn.LeakyReLU(0.2)
        self.prelu = nn.PReLU()
        self.rrelu = nn.RReLU()
        self.relu = nn.ReLU()

    @staticmethod
    def example_input():
        return (torch.randn(2, 16),)

    def forward(self, x):
        x = self.leaky(self.fc(x))  # site: leaky module
        x = F.leaky_relu(x, 0.1)  # site: F.leaky_relu
        x = self.prelu(x)  # site: prelu
        x = self.rrelu(x)  # site: rrelu
        return self.relu(x)  # site: variants plain relu


class NotReLUFamily(nn.Module):
    """ELU, SELU, CELU and GELU (modules and functions): none of them is a site."""

    def __init__(self, width: int = 16):
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.elu = nn.ELU()
        self.selu = nn.SELU()
        self.celu = nn.CELU()
        self.gelu = nn.GELU()

    @staticmethod
    def example_input():
        return (torch.randn(2, 16),)

    def forward(self, x):
        x = self.gelu(self.celu(self.selu(self.elu(self.fc(x)))))
        x = F.elu(x)
        x = F.selu(x)
        x = F.celu(x)
        x = F.gelu(x)
        return torch.sigmoid(x)


class MixedActivations(nn.Module):
    """Two plain ReLUs among a ReLU6, a LeakyReLU and a GELU."""

    def __init__(self, width: int = 16):
        super().__init__()
        self.fc1 = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)
        self.fc3 = nn.Linear(width, width)

    @staticmethod
    def example_input():
        return (torch.randn(2, 16),)

    def forward(self, x):
        x = F.relu(self.fc1(x))  # site: mixed relu 1
        x = F.relu6(x)  # site: mixed relu6
        x = F.gelu(self.fc2(x))
        x = F.leaky_relu(x)  # site: mixed leaky
        return torch.relu(self.fc3(x))  # site: mixed relu 2
