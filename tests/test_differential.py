"""Differential tests: relufind's static sites against a runtime oracle (tests/oracle.py).

For every model here and every ``nn.Module`` class defined in ``sample_models/*.py`` that
offers an ``example_input()`` class/static method, the multiset of ``(module_path,
variant)`` relufind reports (with ``--variants``) must equal the multiset of ReLU-family
calls a real forward pass makes, each owned by the innermost module whose ``forward`` made
it. The oracle builds the model on the CPU and runs ``model(*Model.example_input())``;
relufind loads the same class as a ``file.py:Name`` target, like a user would.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch
import torch.fx
import torch.nn as nn
import torch.nn.functional as F
from conftest import SAMPLES, analyse
from oracle import compare, record, record_relations, relation_problems

HERE = Path(__file__).resolve()
B, C, L = 2, 4, 6


def _seq() -> tuple[torch.Tensor]:
    return (torch.randn(B, C, L),)


# -- models: every spelling ---------------------------------------------------------------------

class AllSpellings(nn.Module):
    """Every plain-ReLU spelling of the spec, once each, in the root's forward."""

    def __init__(self) -> None:
        super().__init__()
        self.relu = nn.ReLU()
        self.relu_inplace = nn.ReLU(inplace=True)
        self.thresh = nn.Threshold(0, 0)

    @staticmethod
    def example_input() -> tuple[torch.Tensor]:
        return _seq()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        x = self.relu_inplace(x)
        x = F.relu(x)
        x = F.relu(x, inplace=True)
        x = F.relu_(x)
        x = torch.relu(x)
        x = torch.relu_(x)
        x = x.relu()
        x = x.relu_()
        x = x.clamp(min=0)
        x = x.clamp(0)
        x = x.clamp(min=0.0)
        x = torch.clamp(x, min=0)
        x = torch.clamp(x, 0)
        x = torch.clip(x, min=0)
        x = x.clip(0)
        x = x.clamp_(min=0)
        x = x.clip_(min=0)
        x = torch.clamp_(x, min=0)
        x = x.clamp_min(0)
        x = torch.clamp_min(x, 0)
        x = x.clamp_min_(0)
        x = F.threshold(x, 0, 0)
        x = F.threshold(x, 0.0, 0.0, inplace=True)
        x = torch.threshold(x, 0, 0)
        x = F.threshold_(x, 0, 0)
        x = self.thresh(x)
        return x


class NotReLU(nn.Module):
    """Look-alikes that are no ReLU: no site at all."""

    def __init__(self) -> None:
        super().__init__()
        self.hardtanh = nn.Hardtanh()
        self.thresh = nn.Threshold(0.5, 0.0)
        self.elu = nn.ELU()
        self.celu = nn.CELU()
        self.selu = nn.SELU()
        self.gelu = nn.GELU()

    @staticmethod
    def example_input() -> tuple[torch.Tensor]:
        return _seq()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.clamp(min=-1)
        x = x.clamp(min=0.5)
        x = x.clamp(max=0)
        x = torch.clamp(x, -6, 6)
        x = x.clamp_max(0)
        x = F.threshold(x, 0.1, 0.0)
        x = F.threshold(x, 0.0, 1.0)
        x = F.hardtanh(x)
        x = F.hardtanh(x, -6.0, 6.0)
        x = self.hardtanh(x)
        x = self.thresh(x)
        x = self.elu(x) + self.celu(x) + self.selu(x) + self.gelu(x)
        x = F.elu(x) + torch.sigmoid(x) + torch.tanh(x) + F.silu(x)
        return x


class Variants(nn.Module):
    """ReLU-family variants, reported under their own names with --variants."""

    def __init__(self) -> None:
        super().__init__()
        self.relu6 = nn.ReLU6()
        self.relu6_inplace = nn.ReLU6(inplace=True)
        self.hardtanh06 = nn.Hardtanh(0.0, 6.0)
        self.leaky = nn.LeakyReLU(0.1)
        self.prelu = nn.PReLU()
        self.rrelu = nn.RReLU()

    @staticmethod
    def example_input() -> tuple[torch.Tensor]:
        return _seq()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu6(x)
        x = self.relu6_inplace(x)
        x = self.hardtanh06(x)
        x = F.relu6(x)
        x = F.hardtanh(x, 0.0, 6.0)
        x = torch.clamp(x, 0, 6)
        x = x.clamp(min=0, max=6)
        x = x.clamp(0, 1)  # a clipped ReLU
        x = F.hardtanh(x, 0.0, 20.0)  # DeepSpeech's clipped ReLU
        x = self.leaky(x)
        x = F.leaky_relu(x, 0.2)
        x = self.prelu(x)
        x = self.rrelu(x)
        x = F.rrelu(x)
        return x


# -- models: ownership and placement -------------------------------------------------------------

class Act(nn.Module):
    """A custom module wrapping a functional ReLU: the site belongs to it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x)


class MyReLU(nn.ReLU):
    """A user subclass of nn.ReLU (fx traces through it: a function site it owns)."""


class Block(nn.Module):
    def __init__(self, shared: nn.Module) -> None:
        super().__init__()
        self.conv = nn.Conv1d(C, C, 3, padding=1)
        self.shared = shared
        self.act = Act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.shared(self.conv(x))
        return self.act(y) + x.clamp(min=0)


class Nested(nn.Module):
    """Containers, shared instances, a block called twice, a loop, root-level calls."""

    def __init__(self) -> None:
        super().__init__()
        self.shared = nn.ReLU()  # registered first: its path is "shared" everywhere
        self.seq = nn.Sequential(nn.Conv1d(C, C, 1), nn.ReLU(), Act(), nn.Sequential(nn.ReLU(inplace=True)))
        self.blocks = nn.ModuleList([Block(self.shared), Block(self.shared)])
        self.heads = nn.ModuleDict({"a": Act(), "b": nn.ReLU(), "c": MyReLU()})
        self.twice = Block(self.shared)
        self.alias = self.shared

    @staticmethod
    def example_input() -> tuple[torch.Tensor]:
        return _seq()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.seq(x)
        for block in self.blocks:
            x = block(x)
        x = self.twice(self.twice(x))
        for _ in range(3):
            x = self.shared(x)
        x = self.alias(x)
        x = self.heads["a"](x) + self.heads["b"](x) + self.heads["c"](x)
        return F.relu(x)


class Fused(nn.Module):
    """torch.ao's fused ConvReLU1d is a Sequential: its ReLU is a module site."""

    def __init__(self) -> None:
        super().__init__()
        from torch.ao.nn.intrinsic import ConvReLU1d

        self.fused = ConvReLU1d(nn.Conv1d(C, C, 3, padding=1), nn.ReLU())

    @staticmethod
    def example_input() -> tuple[torch.Tensor]:
        return _seq()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fused(x)


# -- models: ReLU inside library layers -----------------------------------------------------------

class Recurrent(nn.Module):
    """nn.RNN/nn.RNNCell with relu (embedded sites); tanh ones and LSTM/GRU are none."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.RNN(C, C, num_layers=2, nonlinearity="relu", batch_first=True)
        self.birnn = nn.RNN(C, C // 2, nonlinearity="relu", batch_first=True, bidirectional=True)
        self.tanh_rnn = nn.RNN(C, C, batch_first=True)
        self.lstm = nn.LSTM(C, C, batch_first=True)
        self.gru = nn.GRU(C, C, batch_first=True)
        self.cell = nn.RNNCell(C, C, nonlinearity="relu")
        self.tanh_cell = nn.RNNCell(C, C)

    @staticmethod
    def example_input() -> tuple[torch.Tensor]:
        return (torch.randn(B, L, C),)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, _ = self.rnn(x)
        x, _ = self.birnn(x)
        x, _ = self.tanh_rnn(x)
        x, _ = self.lstm(x)
        x, _ = self.gru(x)
        h = self.cell(x[:, 0])
        h = self.cell(x[:, 1], h)
        h = self.tanh_cell(x[:, 2], h)
        return x + h.unsqueeze(1)


class Transformers(nn.Module):
    """Encoder/decoder layers: relu activation is one embedded site per layer call."""

    def __init__(self) -> None:
        super().__init__()
        self.enc_relu = nn.TransformerEncoderLayer(C, 2, 8, dropout=0.0, batch_first=True)
        self.enc_gelu = nn.TransformerEncoderLayer(C, 2, 8, dropout=0.0, activation="gelu", batch_first=True)
        self.enc_module = nn.TransformerEncoderLayer(C, 2, 8, dropout=0.0, activation=nn.ReLU(), batch_first=True)
        self.encoder = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(C, 2, 8, dropout=0.0, batch_first=True), 2, enable_nested_tensor=False
        )
        self.dec = nn.TransformerDecoderLayer(C, 2, 8, dropout=0.0, batch_first=True)

    @staticmethod
    def example_input() -> tuple[torch.Tensor]:
        return (torch.randn(B, L, C),)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.enc_relu(x)
        x = self.enc_gelu(x)
        x = self.enc_module(x)
        x = self.encoder(x)
        return self.dec(x, x)


class FullTransformer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.transformer = nn.Transformer(
            C, 2, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=8, dropout=0.0, batch_first=True
        )

    @staticmethod
    def example_input() -> tuple[torch.Tensor, torch.Tensor]:
        return torch.randn(B, L, C), torch.randn(B, 3, C)

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        return self.transformer(src, tgt)


# -- models: known to need more than plain tracing ------------------------------------------------

class IntegerClamp(nn.Module):
    """Index arithmetic clamps integers: not a ReLU (the oracle filters on dtype)."""

    @staticmethod
    def example_input() -> tuple[torch.Tensor]:
        return _seq()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        index = (torch.arange(x.shape[-1], device=x.device) - 1).clamp(min=0)
        return F.relu(x[..., index])


class Guarded(nn.Module):
    """A shape check fx cannot trace; each ReLU call runs exactly once at run time."""

    def __init__(self) -> None:
        super().__init__()
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] < 1:
            raise ValueError("empty input")
        return self.act(F.relu(x))


class Untraceable(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(C, C, 3, padding=1)
        self.guarded = Guarded()
        self.relu = nn.ReLU()

    @staticmethod
    def example_input() -> tuple[torch.Tensor]:
        return _seq()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.guarded(self.conv(x)))


def gated_helper(x: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
    """A helper timm-style code wraps with torch.fx.wrap: fx keeps it as one opaque node."""
    if gate.mean() > 0:
        return F.relu(x * gate)
    return x.clamp(min=0)


torch.fx.wrap("gated_helper")


class WrappedHelper(nn.Module):
    """The ReLUs inside a wrapped function are read from its source, not lost."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(C, C, 1)

    @staticmethod
    def example_input() -> tuple[torch.Tensor]:
        return _seq()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(gated_helper(self.conv(x), x))


class GuardedShared(nn.Module):
    """An untraceable block calling a ReLU instance its parent registered first."""

    def __init__(self, shared: nn.Module) -> None:
        super().__init__()
        self.shared = shared
        self.seq = nn.Sequential(shared)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] < 1:
            raise ValueError("empty input")
        return self.seq(self.shared(x))


class SharedInUntraced(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.shared = nn.ReLU()
        self.block = GuardedShared(self.shared)

    @staticmethod
    def example_input() -> tuple[torch.Tensor]:
        return _seq()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shared(self.block(x))


class GuardedEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.enc = nn.TransformerEncoderLayer(C, 2, 8, dropout=0.0, activation=nn.ReLU(), batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] < 1:
            raise ValueError("empty input")
        return self.enc(x)


class TransformerInUntraced(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block = GuardedEncoder()

    @staticmethod
    def example_input() -> tuple[torch.Tensor]:
        return (torch.randn(B, L, C),)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


OWN_MODELS = [
    AllSpellings,
    NotReLU,
    Variants,
    Nested,
    Fused,
    Recurrent,
    Transformers,
    FullTransformer,
    IntegerClamp,
    Untraceable,
    SharedInUntraced,
    TransformerInUntraced,
    WrappedHelper,
]


# -- the check -------------------------------------------------------------------------------------

def check_against_oracle(target: str, cls: type[nn.Module], model: nn.Module | None = None) -> None:
    """relufind's sites for ``target`` agree with the oracle's run of ``cls`` (see oracle.compare)."""
    torch.manual_seed(0)
    model = model if model is not None else cls()
    calls = record(model, cls.example_input())  # type: ignore[attr-defined]
    for variants in (True, False):
        result = analyse(target, variants=variants)
        assert result.status in ("ok", "partial"), f"{target}: {result.status} {result.error}"
        problems = compare(
            calls,
            [(s.module_path, s.kind, s.variant, s.region is None) for s in result.sites],
            untraced=[u.module_path for u in result.untraced],
            unseen=[(u.module_path, u.variant) for u in result.unseen],
            variants=variants,
        )
        assert not problems, f"{target} (variants={variants}): " + "; ".join(problems)
        if not variants and not result.untraced:
            hidden = Counter(c.variant for c in calls if c.variant != "relu")
            assert dict(result.hidden_variants) == dict(hidden), target
    check_relations(target, cls, model)


#: (sites compared, models) by the relation oracle over this session, for the closing figures
RELATION_FIGURES = {"sites": 0, "models": 0}


def check_relations(target: str, cls: type[nn.Module], model: nn.Module) -> None:
    """relufind's ``after`` and ``input_path`` agree with the anchors (and the input) whose
    values reach each ReLU's input during a real forward pass (oracle.record_relations)."""
    torch.manual_seed(0)
    tagged = record_relations(model, cls.example_input())  # type: ignore[attr-defined]
    result = analyse(target, variants=True)
    compared, problems = relation_problems(tagged, result.sites)
    RELATION_FIGURES["sites"] += compared
    RELATION_FIGURES["models"] += 1
    assert not problems, f"{target}: " + "; ".join(problems)


@pytest.mark.parametrize("cls", OWN_MODELS, ids=lambda c: c.__name__)
def test_own_model_matches_oracle(cls: type[nn.Module]) -> None:
    check_against_oracle(f"{HERE}:{cls.__name__}", cls)


def test_oracle_sees_every_spelling() -> None:
    """The oracle itself: the counts are known by construction."""
    calls = record(AllSpellings(), AllSpellings.example_input())
    assert len(calls) == 27 and {c.variant for c in calls} == {"relu"}
    assert record(NotReLU(), NotReLU.example_input()) == []
    variants = Counter(c.variant for c in record(Variants(), Variants.example_input()))
    assert variants == {"relu6": 7, "clipped_relu": 2, "leaky_relu": 2, "prelu": 1, "rrelu": 2}
    owners = Counter(c.module_path for c in record(Nested(), Nested.example_input()))
    assert owners["shared"] == 2 + 2 + 3 + 1  # two blocks, the twice-called block, the loop, alias
    embedded = Counter((c.module_path, c.kind, c.name) for c in record(Recurrent(), Recurrent.example_input()))
    assert embedded == {
        ("rnn", "embedded", "rnn_relu"): 1,
        ("birnn", "embedded", "rnn_relu"): 1,
        ("cell", "embedded", "rnn_relu_cell"): 2,
    }
    layers = Counter((c.module_path, c.kind) for c in record(Transformers(), Transformers.example_input()))
    assert layers == {
        ("enc_relu", "embedded"): 1,
        ("enc_module.activation", "embedded"): 1,
        ("encoder.layers.0", "embedded"): 1,
        ("encoder.layers.1", "embedded"): 1,
        ("dec", "embedded"): 1,
    }
    kinds = Counter(c.kind for c in record(AllSpellings(), AllSpellings.example_input()))
    assert kinds == {"module": 3, "function": 5, "method": 2, "clamp": 13, "threshold": 4}
    integer = record(IntegerClamp(), IntegerClamp.example_input())
    assert [c.name for c in integer] == ["relu"]


# -- sample_models/*.py, collected at test time ----------------------------------------------------

def _sample_classes() -> list[object]:
    params: list[object] = []
    for path in sorted(SAMPLES.glob("*.py")) if SAMPLES.is_dir() else []:
        if path.name.startswith("_"):
            continue
        name = f"_oracle_sample_{path.stem}"
        try:
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        except Exception as exc:  # reported by the test, not at collection
            params.append(pytest.param(path, None, exc, id=f"{path.stem}:<import>"))
            continue
        for attr, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, nn.Module) and value.__module__ == name:
                params.append(pytest.param(path, attr, value, id=f"{path.stem}:{attr}"))
    if not params:
        params.append(pytest.param(None, None, None, id="no-sample-models"))
    return params


@pytest.mark.parametrize(("path", "name", "cls"), _sample_classes())
def test_sample_model_matches_oracle(path: Path | None, name: str | None, cls: object) -> None:
    if path is None:
        pytest.skip("sample_models/ holds no .py files yet")
    if isinstance(cls, Exception):
        pytest.fail(f"importing {path} failed: {type(cls).__name__}: {cls}")
    assert isinstance(cls, type) and name is not None
    if not callable(getattr(cls, "example_input", None)):
        pytest.skip(f"{path.name}:{name} has no example_input() class method")
    try:
        model = cls()
    except TypeError as exc:
        pytest.skip(f"{path.name}:{name}() needs arguments: {exc}")
    check_against_oracle(f"{path}:{name}", cls, model)
