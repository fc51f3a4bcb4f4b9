"""Loops forever at import: relufind gives up after --timeout and moves on."""

import torch.nn as nn

while True:
    pass


class NeverDefined(nn.Module):
    def forward(self, x):
        return x.relu()
