"""Conv + recurrent models in the style of real speech and OCR repositories (our own code).

Each carries a quirk that real repositories have and that relations must survive:

- ``CRNN``: a conv stack, then ``assert h == 1`` on the feature height (a shape guard:
  tracing takes its one way forward), squeeze, permute, a bidirectional LSTM.
- ``WaveRNN``: ``if waveform.size(1) != 1: raise ValueError`` (a shape guard), an hparams
  object, a GRU, then a ReLU MLP.
- ``Tacotron2Encoder``: a conv + BatchNorm + ReLU loop, then ``input_lengths.cpu().numpy()``
  and ``pack_padded_sequence`` + LSTM: fx fails part-way, after the loop; the conv ReLUs keep
  their ``after`` relations.
- ``DeepSpeech``: conv + ``nn.Hardtanh(0, 20)`` (the "clipped ReLU", a variant) + a stack of
  bidirectional GRUs with a ReLU-bias-free lookahead.

Constructors run with no arguments; ``example_input()`` feeds the runtime oracle.
"""

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class BidirectionalLSTM(nn.Module):
    """An LSTM read both ways, then a Linear: the CRNN repositories' helper block."""

    def __init__(self, n_in: int, hidden: int, n_out: int):
        super().__init__()
        self.rnn = nn.LSTM(n_in, hidden, bidirectional=True)
        self.embedding = nn.Linear(hidden * 2, n_out)

    def forward(self, x):
        recurrent, _ = self.rnn(x)
        t, b, h = recurrent.size()
        out = self.embedding(recurrent.view(t * b, h))
        return out.view(t, b, -1)


class CRNN(nn.Module):
    """Text recognition: conv features of a 32-pixel-high line image, read by an LSTM."""

    def __init__(self, img_h: int = 32, nc: int = 1, n_class: int = 37, hidden: int = 64):
        super().__init__()
        assert img_h % 16 == 0, "img_h has to be a multiple of 16"
        channels = [nc, 16, 32, 64, 64]
        layers: list[nn.Module] = []
        for i in range(4):
            layers += [nn.Conv2d(channels[i], channels[i + 1], 3, 1, 1), nn.BatchNorm2d(channels[i + 1])]
            layers.append(nn.ReLU(True))
            layers.append(nn.MaxPool2d((2, 2) if i < 2 else (2, 1), (2, 2) if i < 2 else (2, 1)))
        layers += [nn.Conv2d(64, 64, (2, 1)), nn.ReLU(True)]
        self.cnn = nn.Sequential(*layers)
        self.rnn = nn.Sequential(BidirectionalLSTM(64, hidden, hidden), BidirectionalLSTM(hidden, hidden, n_class))

    @staticmethod
    def example_input():
        return (torch.randn(2, 1, 32, 40),)

    def forward(self, x):
        conv = self.cnn(x)
        _, _, h, _ = conv.size()
        assert h == 1, "the height of conv must be 1"
        conv = conv.squeeze(2).permute(2, 0, 1)  # (w, b, c)
        return F.log_softmax(self.rnn(conv), dim=2)


@dataclass
class WaveRNNParams:
    """Settings read from a config file in the original; plain defaults here."""

    n_mels: int = 20
    rnn_dims: int = 64
    fc_dims: int = 64
    n_classes: int = 256


class WaveRNN(nn.Module):
    """A vocoder: mel features upsampled by a transposed conv, a GRU, a ReLU MLP."""

    def __init__(self, hparams: WaveRNNParams | None = None):
        super().__init__()
        self.hp = hparams or WaveRNNParams()
        hp = self.hp
        self.upsample = nn.ConvTranspose1d(hp.n_mels, hp.n_mels, 4, stride=2, padding=1)
        self.I = nn.Linear(hp.n_mels + 1, hp.rnn_dims)
        self.rnn = nn.GRU(hp.rnn_dims, hp.rnn_dims, batch_first=True)
        self.fc1 = nn.Linear(hp.rnn_dims, hp.fc_dims)
        self.fc2 = nn.Linear(hp.fc_dims, hp.n_classes)

    @staticmethod
    def example_input():
        return (torch.randn(2, 1, 16), torch.randn(2, 20, 8))

    def forward(self, waveform, mels):
        if waveform.size(1) != 1:
            raise ValueError("waveform must have one channel")
        mels = self.upsample(mels).transpose(1, 2)  # (b, t, n_mels)
        x = torch.cat([waveform.transpose(1, 2), mels], dim=2)
        x = self.I(x)
        h0 = x.new_zeros(1, x.size(0), self.hp.rnn_dims)
        x, _ = self.rnn(x, h0)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


class Tacotron2Encoder(nn.Module):
    """Character embeddings, three conv + BatchNorm + ReLU blocks, a packed bidirectional LSTM."""

    def __init__(self, n_symbols: int = 40, dim: int = 64, n_convs: int = 3, kernel: int = 5):
        super().__init__()
        self.embedding = nn.Embedding(n_symbols, dim)
        self.convolutions = nn.ModuleList(
            nn.Sequential(nn.Conv1d(dim, dim, kernel, padding=kernel // 2), nn.BatchNorm1d(dim))
            for _ in range(n_convs)
        )
        self.lstm = nn.LSTM(dim, dim // 2, batch_first=True, bidirectional=True)

    @staticmethod
    def example_input():
        return (torch.randint(0, 40, (2, 12)), torch.tensor([12, 9]))

    def forward(self, text, input_lengths):
        x = self.embedding(text).transpose(1, 2)
        for conv in self.convolutions:
            x = F.dropout(F.relu(conv(x)), 0.5, self.training)
        x = x.transpose(1, 2)
        # pytorch tensor are not reversible, hence the conversion
        input_lengths = input_lengths.cpu().numpy()
        x = pack_padded_sequence(x, input_lengths, batch_first=True)
        self.lstm.flatten_parameters()
        outputs, _ = self.lstm(x)
        outputs, _ = pad_packed_sequence(outputs, batch_first=True)
        return outputs


class SequenceWise(nn.Module):
    """Applies a module to every time step: (t, b, h) -> (t * b, h) -> module -> (t, b, h')."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x):
        t, n = x.size(0), x.size(1)
        x = x.view(t * n, -1)
        x = self.module(x)
        return x.view(t, n, -1)


class BatchRNN(nn.Module):
    def __init__(self, n_in: int, hidden: int, batch_norm: bool = True):
        super().__init__()
        self.batch_norm = SequenceWise(nn.BatchNorm1d(n_in)) if batch_norm else None
        self.rnn = nn.GRU(n_in, hidden, bidirectional=True)

    def forward(self, x):
        if self.batch_norm is not None:
            x = self.batch_norm(x)
        x, _ = self.rnn(x)
        t, n = x.size(0), x.size(1)
        return x.view(t, n, 2, -1).sum(2)  # sum the two directions


class DeepSpeech(nn.Module):
    """Spectrogram -> two conv + BatchNorm + clipped ReLU (Hardtanh(0, 20)) -> GRUs -> classes."""

    def __init__(self, n_freq: int = 32, hidden: int = 64, n_layers: int = 2, n_classes: int = 29):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 8, (11, 11), stride=(2, 2), padding=(5, 5)),
            nn.BatchNorm2d(8),
            nn.Hardtanh(0, 20, inplace=True),
            nn.Conv2d(8, 8, (11, 11), stride=(2, 1), padding=(5, 5)),
            nn.BatchNorm2d(8),
            nn.Hardtanh(0, 20, inplace=True),
        )
        rnn_in = 8 * (n_freq // 4)
        self.rnns = nn.Sequential(
            BatchRNN(rnn_in, hidden, batch_norm=False),
            *(BatchRNN(hidden, hidden) for _ in range(n_layers - 1)),
        )
        self.fc = nn.Sequential(SequenceWise(nn.Sequential(nn.BatchNorm1d(hidden), nn.Linear(hidden, n_classes))))

    @staticmethod
    def example_input():
        return (torch.randn(2, 1, 32, 20),)

    def forward(self, x):
        x = self.conv(x)
        b, c, f, t = x.size()
        x = x.view(b, c * f, t).permute(2, 0, 1).contiguous()  # (t, b, features)
        x = self.rnns(x)
        x = F.relu(self.fc(x))  # a ReLU on the class scores, as in some forks
        return x.transpose(0, 1).log_softmax(-1)
