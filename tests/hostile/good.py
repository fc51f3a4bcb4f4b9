"""Well-behaved models: in a multi-target run with hostile targets, these still complete."""

import torch.nn as nn
import torch.nn.functional as F


class Good(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 4, 3)
        self.act = nn.ReLU()

    def forward(self, x):
        return F.relu(self.act(self.conv(x)))


class AlsoGood(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(4, 4, nonlinearity="relu")

    def forward(self, x):
        return self.rnn(x)[0].clamp(min=0)
