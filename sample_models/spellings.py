"""One small model per way of writing a plain ReLU in PyTorch.

Every class builds without arguments. Each model applies ReLU in exactly one spelling
(except ``AllSpellings``, which mixes many), so a reader can run

    relufind sample_models/spellings.py:ClampSpellings

and see how that spelling is reported. Lines that hold a site carry a ``# site:`` comment
naming it; the tests find the expected source lines through these markers.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


class ReLUModule(nn.Module):
    """The textbook spelling: an ``nn.ReLU`` module between two Linear layers."""

    def __init__(self, n_in: int = 8, n_hidden: int = 16, n_out: int = 4):
        super().__init__()
        self.fc1 = nn.Linear(n_in, n_hidden)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(n_hidden, n_out)

    @staticmethod
    def example_input():
        return (torch.randn(2, 8),)

    def forward(self, x):
        h = self.act(self.fc1(x))  # site: module
        return self.fc2(h)


class SharedReLU(nn.Module):
    """One ``nn.ReLU`` instance called at three places: three sites, one module path."""

    def __init__(self, width: int = 16):
        super().__init__()
        self.fc1 = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)
        self.fc3 = nn.Linear(width, width)
        self.head = nn.Linear(width, 1)
        self.relu = nn.ReLU(inplace=True)

    @staticmethod
    def example_input():
        return (torch.randn(2, 16),)

    def forward(self, x):
        x = self.relu(self.fc1(x))  # site: shared 1
        x = self.relu(self.fc2(x))  # site: shared 2
        x = self.relu(self.fc3(x))  # site: shared 3
        return self.head(x)


class FunctionalReLU(nn.Module):
    """``F.relu`` as a function call, plain and with ``inplace=True``."""

    def __init__(self, width: int = 16):
        super().__init__()
        self.fc1 = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)
        self.head = nn.Linear(width, 2)

    @staticmethod
    def example_input():
        return (torch.randn(2, 16),)

    def forward(self, x):
        x = F.relu(self.fc1(x))  # site: F.relu
        x = F.relu(self.fc2(x), inplace=True)  # site: F.relu inplace
        return self.head(x)


class FunctionalReLUPositionalInplace(nn.Module):
    """``F.relu(x, True)``: in place, with the flag passed by position."""

    def __init__(self, width: int = 16):
        super().__init__()
        self.fc = nn.Linear(width, width)

    @staticmethod
    def example_input():
        return (torch.randn(2, 16),)

    def forward(self, x):
        return F.relu(self.fc(x), True)  # site: F.relu positional inplace


class FunctionalReLUInplace(nn.Module):
    """``F.relu_``: the in-place function (the same builtin as ``torch.relu_``)."""

    def __init__(self, width: int = 16):
        super().__init__()
        self.fc = nn.Linear(width, width)

    @staticmethod
    def example_input():
        return (torch.randn(2, 16),)

    def forward(self, x):
        return F.relu_(self.fc(x))  # site: F.relu_


class TorchReLU(nn.Module):
    """``torch.relu`` and its in-place form ``torch.relu_``."""

    def __init__(self, width: int = 16):
        super().__init__()
        self.fc1 = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)

    @staticmethod
    def example_input():
        return (torch.randn(2, 16),)

    def forward(self, x):
        x = torch.relu(self.fc1(x))  # site: torch.relu
        return torch.relu_(self.fc2(x))  # site: torch.relu_


class TensorMethodReLU(nn.Module):
    """``Tensor.relu()`` and ``Tensor.relu_()`` called as methods."""

    def __init__(self, width: int = 16):
        super().__init__()
        self.fc1 = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)

    @staticmethod
    def example_input():
        return (torch.randn(2, 16),)

    def forward(self, x):
        x = self.fc1(x).relu()  # site: Tensor.relu
        return self.fc2(x).relu_()  # site: Tensor.relu_


class ClampSpellings(nn.Module):
    """Every clamp-family way of writing max(x, 0): seven sites of kind ``clamp``."""

    def __init__(self, width: int = 16):
        super().__init__()
        self.fc = nn.Linear(width, width)

    @staticmethod
    def example_input():
        return (torch.randn(2, 16),)

    def forward(self, x):
        x = self.fc(x)
        a = x.clamp(min=0)  # site: clamp(min=0)
        b = x.clamp(0)  # site: clamp(0)
        c = x.clamp(0, None)  # site: clamp(0, None)
        d = x.clamp_min(0.0)  # site: clamp_min(0.0)
        e = x.clip(min=0)  # site: clip(min=0)
        f = torch.clamp(x, min=0)  # site: torch.clamp
        g = (a + b + c + d + e + f).clamp_(min=0)  # site: clamp_
        return g


class TorchClampFunctions(nn.Module):
    """The clamp family as ``torch.*`` functions: clip, clamp_min, clamp_ and clamp with inf."""

    def __init__(self, width: int = 16):
        super().__init__()
        self.fc = nn.Linear(width, width)

    @staticmethod
    def example_input():
        return (torch.randn(2, 16),)

    def forward(self, x):
        x = self.fc(x)
        a = torch.clip(x, 0)  # site: torch.clip
        b = torch.clamp_min(x, 0)  # site: torch.clamp_min
        c = torch.clamp(x, 0.0, float("inf"))  # site: torch.clamp inf
        return torch.clamp_(a + b + c, min=0)  # site: torch.clamp_


class ThresholdFunction(nn.Module):
    """``F.threshold(x, 0, 0)``: values <= 0 replaced by 0, which is ReLU."""

    def __init__(self, width: int = 16):
        super().__init__()
        self.fc = nn.Linear(width, width)

    @staticmethod
    def example_input():
        return (torch.randn(2, 16),)

    def forward(self, x):
        return F.threshold(self.fc(x), 0, 0)  # site: F.threshold


class ThresholdModule(nn.Module):
    """``nn.Threshold(0, 0)`` as a layer in an ``nn.Sequential``."""

    def __init__(self, width: int = 16):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(width, width), nn.Threshold(0, 0), nn.Linear(width, 1))

    @staticmethod
    def example_input():
        return (torch.randn(2, 16),)

    def forward(self, x):
        return self.body(x)  # site: nn.Threshold


class Rectify(nn.Module):
    """A custom activation module whose forward calls ``F.relu``."""

    @staticmethod
    def example_input():
        return (torch.randn(2, 16),)

    def forward(self, x):
        return F.relu(x)  # site: Rectify


class WrappedReLU(nn.Module):
    """ReLU hidden in a user-defined wrapper module: the site belongs to the wrapper."""

    def __init__(self, width: int = 16):
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.rectify = Rectify()
        self.head = nn.Linear(width, 1)

    @staticmethod
    def example_input():
        return (torch.randn(2, 16),)

    def forward(self, x):
        return self.head(self.rectify(self.fc(x)))


class LoopReLU(nn.Module):
    """A ReLU in a Python loop over four layers: four traced sites sharing one source line."""

    def __init__(self, width: int = 16, depth: int = 4):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))
        self.head = nn.Linear(width, 1)

    @staticmethod
    def example_input():
        return (torch.randn(2, 16),)

    def forward(self, x):
        for layer in self.layers:
            x = F.relu(layer(x))  # site: loop
        return self.head(x)


class AllSpellings(nn.Module):
    """Many spellings in one network: what ``print(model)`` shows is only the first."""

    def __init__(self, width: int = 16):
        super().__init__()
        self.fc1 = nn.Linear(width, width)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(width, width)
        self.fc3 = nn.Linear(width, width)
        self.fc4 = nn.Linear(width, width)
        self.fc5 = nn.Linear(width, width)
        self.rectify = Rectify()
        self.fc6 = nn.Linear(width, width)
        self.gate = nn.Threshold(0.0, 0.0)
        self.head = nn.Linear(width, 1)

    @staticmethod
    def example_input():
        return (torch.randn(2, 16),)

    def forward(self, x):
        x = self.act(self.fc1(x))  # site: all module
        x = F.relu(self.fc2(x))  # site: all function
        x = torch.relu(self.fc3(x))  # site: all torch.relu
        x = self.fc4(x).relu_()  # site: all method
        x = self.fc5(x).clamp(min=0)  # site: all clamp
        x = self.rectify(x)
        x = F.threshold(self.fc6(x), 0.0, 0.0)  # site: all threshold
        x = self.gate(x)  # site: all nn.Threshold
        return self.head(x)
