"""ReLUs hidden inside library layers that ``torch.fx`` does not trace into.

``print(model)`` shows these layers, but not that they apply a ReLU. relufind reports each
as a site of kind ``embedded``, with ``inside`` naming the layer that holds it. Every class
builds without arguments.
"""

import torch
import torch.nn as nn


class ReLURNNTagger(nn.Module):
    """A sequence tagger on an Elman RNN with ``nonlinearity="relu"``: one embedded site."""

    def __init__(self, n_in: int = 16, hidden: int = 32, n_tags: int = 5):
        super().__init__()
        self.rnn = nn.RNN(n_in, hidden, num_layers=2, nonlinearity="relu", batch_first=True)
        self.tagger = nn.Linear(hidden, n_tags)

    @staticmethod
    def example_input():
        return (torch.randn(2, 5, 16),)

    def forward(self, x):
        seq, _ = self.rnn(x)  # site: relu rnn
        return self.tagger(seq)


class ReLURNNCellLoop(nn.Module):
    """An ``nn.RNNCell(nonlinearity="relu")`` stepped three times: three embedded sites."""

    def __init__(self, n_in: int = 8, hidden: int = 16, steps: int = 3):
        super().__init__()
        self.cell = nn.RNNCell(n_in, hidden, nonlinearity="relu")
        self.readout = nn.Linear(hidden, n_in)
        self.steps = steps

    @staticmethod
    def example_input():
        return (torch.randn(2, 8),)

    def forward(self, x):
        h = None
        for _ in range(self.steps):
            h = self.cell(x, h)  # site: relu cell
            x = self.readout(h)
        return x


class TanhRNN(nn.Module):
    """A default (tanh) RNN and an LSTM: no ReLU anywhere."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(8, 16, batch_first=True)
        self.lstm = nn.LSTM(16, 16, batch_first=True)

    @staticmethod
    def example_input():
        return (torch.randn(2, 5, 8),)

    def forward(self, x):
        x, _ = self.rnn(x)
        x, _ = self.lstm(x)
        return x


class TransformerLayerReLU(nn.Module):
    """One ``nn.TransformerEncoderLayer(activation="relu")`` (the default activation)."""

    def __init__(self, d_model: int = 32, nhead: int = 4):
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=64, activation="relu", batch_first=True)

    @staticmethod
    def example_input():
        return (torch.randn(2, 5, 32),)

    def forward(self, x):
        return self.layer(x)  # site: encoder layer


class TransformerEncoderReLU(nn.Module):
    """A three-layer ``nn.TransformerEncoder`` classifier: one embedded site per layer."""

    def __init__(self, d_model: int = 32, nhead: int = 4, num_layers: int = 3, n_classes: int = 4):
        super().__init__()
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=64, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=num_layers, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, n_classes)

    @staticmethod
    def example_input():
        return (torch.randn(2, 5, 32),)

    def forward(self, x):
        h = self.encoder(x)  # site: encoder stack
        return self.head(h.mean(dim=1))


class FullTransformer(nn.Module):
    """``nn.Transformer`` with two encoder and two decoder layers: four embedded sites."""

    def __init__(self, d_model: int = 32, nhead: int = 4):
        super().__init__()
        self.transformer = nn.Transformer(
            d_model, nhead, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=64, batch_first=True
        )

    @staticmethod
    def example_input():
        return (torch.randn(2, 5, 32), torch.randn(2, 4, 32))

    def forward(self, src, tgt):
        return self.transformer(src, tgt)  # site: transformer


class TransformerActivationModule(nn.Module):
    """An encoder layer given ``activation=nn.ReLU()``: the ReLU is a submodule of the layer."""

    def __init__(self, d_model: int = 32, nhead: int = 4):
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=64, activation=nn.ReLU(), batch_first=True)

    @staticmethod
    def example_input():
        return (torch.randn(2, 5, 32),)

    def forward(self, x):
        return self.layer(x)  # site: activation module


class GELUTransformer(nn.Module):
    """An encoder layer with ``activation="gelu"``: no ReLU inside."""

    def __init__(self, d_model: int = 32, nhead: int = 4):
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=64, activation="gelu", batch_first=True)

    @staticmethod
    def example_input():
        return (torch.randn(2, 5, 32),)

    def forward(self, x):
        return self.layer(x)


class ConvThenReLURNN(nn.Module):
    """A Conv1d feature extractor feeding a ReLU RNN: the embedded site comes after the conv."""

    def __init__(self, n_in: int = 8, channels: int = 16, hidden: int = 32):
        super().__init__()
        self.conv = nn.Conv1d(n_in, channels, 3, padding=1)
        self.rnn = nn.RNN(channels, hidden, nonlinearity="relu", batch_first=True)

    @staticmethod
    def example_input():
        return (torch.randn(2, 8, 10),)

    def forward(self, x):
        x = self.conv(x).transpose(1, 2)
        seq, h = self.rnn(x)  # site: conv then relu rnn
        return torch.cat([seq[:, -1], h[-1]], dim=1)
