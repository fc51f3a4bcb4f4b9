"""Changes the working directory at import: later relative targets must still be found."""

import os
import tempfile

import torch.nn as nn

os.chdir(tempfile.gettempdir())


class Wanderer(nn.Module):
    def __init__(self):
        super().__init__()
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(x)
