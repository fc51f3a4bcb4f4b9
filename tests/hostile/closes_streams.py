"""Closes sys.stdout and sys.stderr at import (as some "quiet" wrappers do), then warns."""

import sys
import warnings

import torch.nn as nn

sys.stdout.close()
sys.stderr.close()
warnings.warn("closed the streams", stacklevel=1)


class Closer(nn.Module):
    def __init__(self):
        super().__init__()
        sys.stdout.close()
        warnings.warn("closed them again", stacklevel=1)

    def forward(self, x):
        print("printing to a closed stream?")
        return x.relu()
