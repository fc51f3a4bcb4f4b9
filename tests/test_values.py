"""Relations follow values, not metadata; bounded relation lists; input/output paths."""

from __future__ import annotations

from conftest import SAMPLES, after_anchors, analyse, before_anchors

from relufind.relate import LIMIT, VIA_ENDS
from relufind.relate import Path as ViaPath

SPEECH = SAMPLES / "speech.py"


def test_a_view_shaped_by_another_tensor_is_after_its_own_producer(write_model) -> None:  # type: ignore[no-untyped-def]
    path = write_model(
        """
        class Borrow(nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = nn.LSTM(4, 4, batch_first=True)
                self.conv = nn.Conv1d(4, 4, 1)
                self.fc = nn.Linear(4, 4)

            def forward(self, x, y):
                out, _ = self.lstm(y)
                h0 = self.conv(x).new_zeros(1, x.size(0), 4)
                z = F.relu(self.fc(x.transpose(1, 2)).view(out.size(0), -1))
                return z, out, h0
        """
    )
    (site,) = analyse(f"{path}:Borrow").sites
    assert after_anchors(site) == []  # not the LSTM that lent its batch size
    assert site.input_path == ("transpose", "Linear fc", "view")
    assert site.output_path == ()


def test_new_zeros_does_not_carry_the_conv_downstream(write_model) -> None:  # type: ignore[no-untyped-def]
    path = write_model(
        """
        class Zeros(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv1d(4, 4, 1)
                self.gru = nn.GRU(4, 4, batch_first=True)

            def forward(self, x):
                feats = F.relu(self.conv(x)).transpose(1, 2)
                h0 = feats.new_zeros(1, feats.size(0), 4)
                out, _ = self.gru(torch.zeros_like(feats), h0)
                return out, feats
        """
    )
    (site,) = analyse(f"{path}:Zeros").sites
    assert after_anchors(site) == ["conv"]
    assert before_anchors(site) == []  # the GRU only sees its shape
    assert site.output_path == ("transpose",)


def test_relu_feeding_a_conv_and_the_output_has_both(write_model) -> None:  # type: ignore[no-untyped-def]
    path = write_model(
        """
        class Skip(nn.Module):
            def __init__(self):
                super().__init__()
                self.emb = nn.Linear(4, 4)
                self.conv = nn.Conv1d(4, 4, 1)

            def forward(self, x):
                h = F.relu(self.emb(x))
                return self.conv(h.transpose(1, 2)).transpose(1, 2) + h
        """
    )
    (site,) = analyse(f"{path}:Skip").sites
    assert before_anchors(site) == ["conv"]
    assert site.output_path == ("add",)
    assert site.input_path == ("Linear emb",)


def residual_stack(blocks: int) -> str:
    return f'''
class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 4, 1)
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        y = F.relu(self.conv(x))
        return self.fc(y.transpose(1, 2)).relu().transpose(1, 2).clamp(min=0)


class Stack(nn.Module):
    def __init__(self, depth={blocks}):
        super().__init__()
        self.blocks = nn.ModuleList(Block() for _ in range(depth))

    def forward(self, x):
        for block in self.blocks:
            x = x + block(x)
        return F.relu(x)
'''


def test_relation_lists_are_bounded_nearest_first_with_the_rest_counted(write_model) -> None:  # type: ignore[no-untyped-def]
    blocks = 30
    path = write_model(residual_stack(blocks))
    result = analyse(f"{path}:Stack")
    assert len(result.sites) == 3 * blocks + 1
    assert all(len(s.after) <= LIMIT and len(s.before) <= LIMIT for s in result.sites)
    first, last = result.sites[0], result.sites[-1]
    # the first block's conv ReLU reaches every later conv through the residual sums
    assert len(first.before) == LIMIT and first.before_more == blocks - 1 - LIMIT
    assert [r.anchor for r in first.before][:2] == ["blocks.1.conv", "blocks.2.conv"]  # nearest first
    lengths = [len(r.via) for r in first.before]
    assert lengths == sorted(lengths)
    # the final ReLU comes after every conv: 8 named, the rest counted
    assert len(last.after) == LIMIT and last.after_more == blocks - LIMIT
    assert last.input_path is not None and last.output_path == ()


def test_paths_keep_their_true_length_when_joined() -> None:
    long = ViaPath()
    for i in range(20):
        long = long.append(f"op{i}")
    joined = long.join(ViaPath(1, ("last",)))
    assert joined.length == 21
    assert joined.via()[:VIA_ENDS] == tuple(f"op{i}" for i in range(VIA_ENDS))
    assert joined.via()[VIA_ENDS] == "… 9 more ops …"
    assert joined.via()[-1] == "last"
    assert ViaPath(1, ("first",)).join(long).via()[0] == "first"


def test_crnn_guard_is_followed_and_the_conv_relu_feeds_the_lstm() -> None:
    result = analyse(f"{SPEECH}:CRNN")
    assert result.status == "ok"
    assert [a.statement for a in result.assumptions] == ["assert h == 1"]
    last = result.sites[-1]
    assert after_anchors(last) == ["cnn.16"] and before_anchors(last) == ["rnn.0.rnn"]
    assert last.before[0].via == ("squeeze", "permute")


def test_wavernn_raise_guard_and_metadata_h0() -> None:
    result = analyse(f"{SPEECH}:WaveRNN")
    assert result.status == "ok"
    assert [a.statement for a in result.assumptions] == ["if waveform.size(1) != 1: raise ValueError(...)"]
    (site,) = result.sites
    assert after_anchors(site) == ["rnn"] and site.after[0].via == ("Linear fc1",)
    assert site.input_path is None and site.output_path == ("Linear fc2",)


def test_tacotron_encoder_is_partial_with_the_conv_relus_complete() -> None:
    result = analyse(f"{SPEECH}:Tacotron2Encoder")
    assert result.status == "partial"
    (untraced,) = result.untraced
    assert untraced.source is not None and untraced.statement is not None
    assert "pack_padded_sequence" in untraced.statement
    assert [after_anchors(s) for s in result.sites] == [
        ["convolutions.0.0"], ["convolutions.1.0"], ["convolutions.2.0"],
    ]
    assert all(s.after_complete and s.traced and s.region is None for s in result.sites)
    assert [before_anchors(s) for s in result.sites[:2]] == [["convolutions.1.0"], ["convolutions.2.0"]]
    assert not result.sites[2].before_complete  # its value flows on past the failure
    assert {a.path for a in result.anchors} >= {"lstm"}


def test_deepspeech_clipped_relus_are_variants() -> None:
    result = analyse(f"{SPEECH}:DeepSpeech")
    assert result.status == "ok"
    assert dict(result.hidden_variants) == {"clipped_relu": 2}
    shown = analyse(f"{SPEECH}:DeepSpeech", variants=True)
    clipped = [s for s in shown.sites if s.variant == "clipped_relu"]
    assert [after_anchors(s) for s in clipped] == [["conv.0"], ["conv.3"]]
    assert before_anchors(clipped[1]) == ["rnns.0.rnn"]


