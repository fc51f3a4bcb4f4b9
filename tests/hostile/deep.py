"""Modules nested 3000 deep (built without recursion): no RecursionError traceback."""

import torch.nn as nn
import torch.nn.functional as F

DEPTH = 3000


class Level(nn.Module):
    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x)


class Bottom(nn.Module):
    def forward(self, x):
        return F.relu(x)


class DeepNest(nn.Module):
    def __init__(self, depth: int = DEPTH):
        super().__init__()
        module: nn.Module = Bottom()
        for _ in range(depth):
            module = Level(module)
        self.body = module

    def forward(self, x):
        return self.body(x)


class Shallow(nn.Module):
    """A sibling target that must still be analysed."""

    def __init__(self):
        super().__init__()
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(x)
