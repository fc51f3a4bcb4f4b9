"""A model saved three ways (TorchScript, ExportedProgram, pickle) by tests/test_saved.py."""

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 4, 3, padding=1)
        self.act = nn.ReLU()
        self.cap = nn.ReLU6()

    def forward(self, x):
        return self.cap(self.act(self.conv(x)).clamp(min=0))


class SavedNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.rnn = nn.RNN(4, 6, batch_first=True, nonlinearity="relu")
        self.head = nn.Linear(6, 2)

    def forward(self, x):
        y = F.relu(self.block(x))
        y, _ = self.rnn(y.transpose(1, 2))
        return self.head(torch.relu_(y))

    @staticmethod
    def example_input():
        return (torch.randn(2, 4, 5),)
