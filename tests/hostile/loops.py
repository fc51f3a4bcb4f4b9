"""Models that never finish building or tracing: each is a Timeout error after --timeout."""

import time

import torch.nn as nn
import torch.nn.functional as F


class LoopInInit(nn.Module):
    def __init__(self):
        super().__init__()
        while True:
            pass

    def forward(self, x):
        return x.relu()


class SwallowingLoop(nn.Module):
    """Catches every Exception in its loop: the timeout must not be one of them."""

    def __init__(self):
        super().__init__()
        while True:
            try:  # noqa: SIM105 (written the way model code swallows errors)
                time.sleep(0.01)
            except Exception:
                pass

    def forward(self, x):
        return x.relu()


class LoopInForward(nn.Module):
    def __init__(self):
        super().__init__()
        self.act = nn.ReLU()

    def forward(self, x):
        while True:
            x = F.relu(x)
