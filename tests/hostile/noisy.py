"""A model that writes to stdout every way it can, at import, construction and trace time.

`relufind --format json` must still print exactly one valid JSON document on stdout.
"""

import ctypes
import logging
import os
import sys
import warnings

import torch.nn as nn
import torch.nn.functional as F

print("noisy: print at import")
sys.stdout.write("noisy: sys.stdout.write at import\n")
sys.__stdout__.write("noisy: sys.__stdout__.write at import, not flushed\n")
os.write(1, b"noisy: os.write(1) at import\n")
warnings.warn("noisy: a warning at import", stacklevel=1)
logging.basicConfig(stream=sys.stdout, level=logging.INFO, force=True)
logging.getLogger("noisy").info("noisy: logging to stdout at import")
try:
    _libc = ctypes.CDLL(None)
    _libc.printf(b"noisy: C printf at import, left in the C buffer\n")
except (OSError, AttributeError):  # no C library to call: the other writes still test
    _libc = None


class Noisy(nn.Module):
    def __init__(self):
        super().__init__()
        print("noisy: print in __init__")
        print("noisy: print to sys.__stdout__ in __init__", file=sys.__stdout__)
        if _libc is not None:
            _libc.printf(b"noisy: C printf in __init__\n")
        self.act = nn.ReLU()

    def forward(self, x):
        print("noisy: print in forward")
        logging.getLogger("noisy").info("noisy: logging in forward")
        os.write(1, b"noisy: os.write(1) in forward\n")
        return F.relu(self.act(x))
