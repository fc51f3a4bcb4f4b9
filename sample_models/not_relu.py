"""Clamps and thresholds that look like ReLU but are not: zero plain-ReLU sites.

A ReLU is ``max(x, 0)``: lower bound exactly 0 and no upper bound. Each model here misses
one of those conditions. ``clamp(0, 1)`` keeps the lower bound and adds an upper one: a
``clipped_relu`` variant, listed with ``--variants`` only. Every class builds without arguments.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


class UnitClamp(nn.Module):
    """``clamp(0, 1)`` bounds probabilities: no plain ReLU, a ``clipped_relu`` variant."""

    def __init__(self, width: int = 8):
        super().__init__()
        self.fc = nn.Linear(width, width)

    @staticmethod
    def example_input():
        return (torch.randn(2, 8),)

    def forward(self, x):
        return self.fc(x).clamp(0, 1)


class NegativeFloorClamp(nn.Module):
    """``clamp(min=-1)``: lower bound below zero."""

    @staticmethod
    def example_input():
        return (torch.randn(2, 8),)

    def forward(self, x):
        return x.clamp(min=-1)


class PositiveFloorClamp(nn.Module):
    """``clamp(min=0.5)`` (e.g. a minimum scale): lower bound above zero."""

    @staticmethod
    def example_input():
        return (torch.randn(2, 8),)

    def forward(self, x):
        return torch.clamp(x, min=0.5)


class UpperOnlyClamp(nn.Module):
    """``clamp(max=0)``: the negative part, the opposite of a ReLU."""

    @staticmethod
    def example_input():
        return (torch.randn(2, 8),)

    def forward(self, x):
        return x.clamp(max=0)


class OffsetThreshold(nn.Module):
    """``F.threshold(x, 0.1, 0)``: zeroes values up to 0.1, not up to 0."""

    @staticmethod
    def example_input():
        return (torch.randn(2, 8),)

    def forward(self, x):
        return F.threshold(x, 0.1, 0.0)


class DefaultHardtanh(nn.Module):
    """``nn.Hardtanh()`` and ``F.hardtanh(x)`` clip to [-1, 1]: not ReLU, not ReLU6."""

    def __init__(self):
        super().__init__()
        self.act = nn.Hardtanh()

    @staticmethod
    def example_input():
        return (torch.randn(2, 8),)

    def forward(self, x):
        return F.hardtanh(self.act(x))


class AllNotReLU(nn.Module):
    """Every look-alike above in one model, plus ``clamp_min(1e-6)`` and ``clip(-3, 3)``."""

    def __init__(self):
        super().__init__()
        self.threshold = nn.Threshold(0.1, 0.0)
        self.hardtanh = nn.Hardtanh()

    @staticmethod
    def example_input():
        return (torch.randn(2, 8),)

    def forward(self, x):
        x = x.clamp(0, 1) + x.clamp(min=-1) + torch.clamp(x, min=0.5) + x.clamp(max=0)
        x = F.threshold(x, 0.1, 0.0) + self.threshold(x) + self.hardtanh(x) + F.hardtanh(x)
        return x.clamp_min(1e-6) + torch.clip(x, -3, 3)
