"""Calls sys.exit at import (a script that forgot `if __name__ == "__main__":`)."""

import sys

import torch.nn as nn


class Unreachable(nn.Module):
    def forward(self, x):
        return x.relu()


sys.exit(3)
