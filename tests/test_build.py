"""Building models: meta by default, the meta-params and cpu fallbacks, --arg, memory."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from conftest import ROOT, analyse, analyse_all, site_keys

from relufind.argvalues import parse_arg
from relufind.build import NeedsArguments, build
from relufind.errors import TargetFailure

pytestmark = pytest.mark.usefixtures("restore_imports")


# -- meta, meta-params, cpu ----------------------------------------------------------------------


class Plain(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(4, 4, 1)
        self.register_buffer("scale", torch.ones(4))

    def forward(self, x):
        return torch.relu(self.conv(x))


class UsesItem(nn.Module):
    """The constructor computes with a real tensor: impossible on meta."""

    def __init__(self) -> None:
        super().__init__()
        depth = int(torch.tensor([2]).item())
        sizes = torch.arange(4, 4 + depth).tolist()
        self.layers = nn.ModuleList(nn.Linear(n, n) for n in sizes)
        self.register_buffer("table", torch.arange(8))

    def forward(self, x):
        return torch.relu(self.layers[0](x))


class ReadsItsWeights(nn.Module):
    """The constructor reads a weight's value: fails with weights on meta too."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.limit = float(self.lin.weight.abs().max().item())

    def forward(self, x):
        return torch.relu(self.lin(x))


def test_meta_by_default() -> None:
    built = build(Plain, "Plain", {}, strict_args=True)
    assert (built.device, built.how) == ("meta", "meta")
    assert all(t.is_meta for t in [*built.model.parameters(), *built.model.buffers()])


def test_item_and_tolist_fall_back_to_weights_on_meta() -> None:
    built = build(UsesItem, "UsesItem", {}, strict_args=True)
    assert (built.device, built.how) == ("meta", "meta-params")
    assert [layer.in_features for layer in built.model.layers] == [4, 5]
    tensors = [*built.model.parameters(), *built.model.buffers()]
    assert len(tensors) == 5
    assert all(t.is_meta for t in tensors)
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in built.model.parameters())


def test_weights_on_meta_restores_module_registration() -> None:
    build(UsesItem, "UsesItem", {}, strict_args=True)
    # after the fallback, ordinary construction puts weights on the CPU again
    assert nn.Linear(2, 2).weight.device.type == "cpu"
    module = nn.Module()
    module.register_buffer("b", torch.zeros(1))
    assert module.b.device.type == "cpu"


def test_constructor_failing_on_both_meta_paths_falls_back_to_cpu() -> None:
    built = build(ReadsItsWeights, "ReadsItsWeights", {}, strict_args=True)
    assert (built.device, built.how) == ("cpu", "cpu")
    assert built.model.lin.weight.device.type == "cpu"


def test_build_mode_is_reported(write_model) -> None:  # type: ignore[no-untyped-def]
    path = write_model(
        """
        class Plain(nn.Module):
            def forward(self, x):
                return torch.relu(x)

        class UsesItem(nn.Module):
            def __init__(self):
                super().__init__()
                self.lin = nn.Linear(3, int(torch.tensor(3).item()))
            def forward(self, x):
                return torch.relu(self.lin(x))

        class ReadsItsWeights(nn.Module):
            def __init__(self):
                super().__init__()
                self.lin = nn.Linear(3, 3)
                self.limit = self.lin.weight.sum().item()
            def forward(self, x):
                return torch.relu(self.lin(x))
        """
    )
    report = analyse_all([f"{path}:Plain", f"{path}:UsesItem", f"{path}:ReadsItsWeights"])
    assert [(t.status, t.device, t.build) for t in report.targets] == [
        ("ok", "meta", "meta"),
        ("ok", "meta", "meta-params"),
        ("ok", "cpu", "cpu"),
    ]
    assert all(len(t.sites) == 1 for t in report.targets)


def test_given_instance_keeps_its_device() -> None:
    model = Plain()
    built = build(model, "model", {}, strict_args=True)
    assert built.model is model
    assert (built.device, built.how) == ("cpu", "given")


def test_constructor_raising_reports_its_message() -> None:
    class Bad(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            raise ValueError("hidden_size must be even\nsecond line")

    with pytest.raises(TargetFailure) as info:
        build(Bad, "Bad", {}, strict_args=True)
    assert info.value.type == "ConstructorError"
    assert info.value.message == "Bad(...) raised ValueError: hidden_size must be even"


def test_constructor_calling_sys_exit() -> None:
    class Exits(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            sys.exit(5)

    with pytest.raises(TargetFailure) as info:
        build(Exits, "Exits", {}, strict_args=True)
    assert "sys.exit(5)" in info.value.message


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (3, "'x' is an int, not an nn.Module class, factory or instance"),
        ("text", "'x' is a str, not an nn.Module"),
        (dict, "'x' is a class but not an nn.Module subclass"),
        (lambda: 42, "'x' returned an int, not an nn.Module"),
    ],
)
def test_not_a_module(obj: object, message: str) -> None:
    with pytest.raises(TargetFailure) as info:
        build(obj, "x", {}, strict_args=True)
    assert info.value.type == "NotAModule"
    assert message in info.value.message


# -- arguments -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("n=3", ("n", 3)),
        ("name=abc", ("name", "abc")),
        ("dims=[1,2]", ("dims", [1, 2])),
        ("ratio=0.5", ("ratio", 0.5)),
        ("flag=True", ("flag", True)),
        ("none=None", ("none", None)),
        ("quoted='3'", ("quoted", "3")),
        ("shape=(2, 3)", ("shape", (2, 3))),
        ("cfg={'a': 1}", ("cfg", {"a": 1})),
        ("act=relu", ("act", "relu")),
        ("expr=1+", ("expr", "1+")),
        ("eq=a=b", ("eq", "a=b")),
        ("empty=", ("empty", "")),
        (" spaced =7", ("spaced", 7)),
    ],
)
def test_parse_arg(text: str, expected: tuple[str, object]) -> None:
    assert parse_arg(text) == expected


@pytest.mark.parametrize("text", ["novalue", "=3", "1x=3", "a-b=3", "a.b=1"])
def test_parse_arg_malformed(text: str) -> None:
    from relufind.errors import UsageError

    with pytest.raises(UsageError):
        parse_arg(text)


class Configurable(nn.Module):
    def __init__(self, n, name, dims, *, bias=True) -> None:
        super().__init__()
        self.n, self.name, self.dims, self.bias = n, name, dims, bias
        self.layers = nn.ModuleList(nn.Linear(d, d, bias=bias) for d in dims * n)

    def forward(self, x):
        return x


def test_arguments_reach_the_constructor() -> None:
    args = dict(parse_arg(a) for a in ["n=3", "name=abc", "dims=[1,2]", "bias=False"])
    model = build(Configurable, "Configurable", args, strict_args=True).model
    assert (model.n, model.name, model.dims, model.bias) == (3, "abc", [1, 2], False)
    assert len(model.layers) == 6


def test_missing_arguments_raise_needs_arguments_in_order() -> None:
    with pytest.raises(NeedsArguments) as info:
        build(Configurable, "Configurable", {"name": "x"}, strict_args=True)
    assert info.value.missing == ["n", "dims"]


def test_missing_arguments_give_a_skip_with_the_exact_options(write_model) -> None:  # type: ignore[no-untyped-def]
    path = write_model(
        """
        class Needs(nn.Module):
            def __init__(self, a, b, c=1, *args, d=2, **kwargs):
                super().__init__()
            def forward(self, x):
                return torch.relu(x)

        def factory(channels):
            return nn.Sequential(nn.Conv1d(channels, channels, 1), nn.ReLU())
        """
    )
    result = analyse(f"{path}:Needs")
    assert result.status == "skipped"
    assert result.needs_args == ("a", "b")
    assert result.skip_reason is not None
    assert "--arg a=VALUE --arg b=VALUE" in result.skip_reason
    assert result.error is None and result.sites == ()

    result = analyse(f"{path}:factory")
    assert result.status == "skipped"
    assert result.needs_args == ("channels",)
    assert result.skip_reason is not None and result.skip_reason.endswith("--arg channels=VALUE")

    partial = analyse(f"{path}:Needs", args={"a": 1})
    assert partial.status == "skipped" and partial.needs_args == ("b",)

    result = analyse(f"{path}:factory", args={"channels": 4})
    assert result.status == "ok"
    assert site_keys(result) == [("1", "module", "relu")]


def test_a_skip_is_not_an_error_exit_unless_nothing_was_analysed_or_strict(write_model) -> None:  # type: ignore[no-untyped-def]
    path = write_model(
        """
        class Needs(nn.Module):
            def __init__(self, a):
                super().__init__()

        class Fine(nn.Module):
            def forward(self, x):
                return x.relu()
        """
    )
    report = analyse_all([f"{path}:Needs"])
    assert report.targets[0].status == "skipped"
    assert report.exit_code == 2  # a run that analysed nothing is not a clean pass
    report = analyse_all([f"{path}:Needs", f"{path}:Fine"])
    assert [t.status for t in report.targets] == ["skipped", "ok"]
    assert report.exit_code == 0
    assert analyse_all([f"{path}:Needs", f"{path}:Fine"], strict=True).exit_code == 2


def test_unknown_argument_for_an_explicit_target_is_an_error(write_model) -> None:  # type: ignore[no-untyped-def]
    path = write_model(
        """
        class Small(nn.Module):
            def __init__(self, width=4):
                super().__init__()
                self.lin = nn.Linear(width, width)
            def forward(self, x):
                return torch.relu(self.lin(x))

        class NoInit(nn.Module):
            def forward(self, x):
                return torch.relu(x)
        """
    )
    result = analyse(f"{path}:Small", args={"widht": 8})
    assert result.status == "error"
    assert result.error is not None and result.error.type == "BadArgument"
    assert "widht" in result.error.message and "width" in result.error.message

    result = analyse(f"{path}:NoInit", args={"width": 8})
    assert result.error is not None and result.error.type == "BadArgument"
    assert "takes no arguments" in result.error.message

    assert analyse(f"{path}:Small", args={"width": 8}).status == "ok"


def test_factory_with_kwargs_takes_any_argument(write_model) -> None:  # type: ignore[no-untyped-def]
    path = write_model(
        """
        def make(**cfg):
            return nn.Sequential(*[nn.ReLU() for _ in range(cfg["depth"])])
        """
    )
    result = analyse(f"{path}:make", args={"depth": 3})
    assert result.status == "ok"
    assert len(result.sites) == 3


# -- memory --------------------------------------------------------------------------------------

#: peak resident memory allowed for analysing a model whose weights need far more
LIMIT_BYTES = 1.5 * 2**30

BIG_MODELS = textwrap.dedent(
    """
    import torch
    import torch.nn as nn
    import torch.nn.functional as F


    class Huge(nn.Module):
        # 2 x 65536^2 + an LSTM and a conv: about 35 GB of float32 weights
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(65536, 65536, 3)
            self.proj = nn.Linear(65536, 65536)
            self.lstm = nn.LSTM(65536, 8192, batch_first=True)
            self.out = nn.Linear(8192, 65536)

        def forward(self, x):
            x = F.relu(self.conv(x)).transpose(1, 2)
            x, _ = self.lstm(F.relu(self.proj(x)))
            return self.out(x).clamp(min=0)


    class HugeNeedsRealTensors(nn.Module):
        # .item() in __init__: built with weights on meta; 8 x 1 GiB of float32 weights
        def __init__(self):
            super().__init__()
            depth = int(torch.tensor(8).item())
            self.layers = nn.ModuleList(nn.Linear(16384, 16384) for _ in range(depth))

        def forward(self, x):
            for layer in self.layers:
                x = torch.relu(layer(x))
            return x
    """
)

#: runs relufind in a grandchild and reports the grandchild's peak RSS, so that no other
#: process this test session started can count towards the maximum
MEASURE = textwrap.dedent(
    """
    import resource, subprocess, sys
    done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
    sys.stderr.write(done.stderr)
    sys.stdout.write(done.stdout)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    print(f"\\nPEAK {peak * scale} {done.returncode}")
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="resource.getrusage is POSIX-only")
@pytest.mark.parametrize(
    ("name", "build_mode", "weights_gb", "sites"),
    [("Huge", "meta", 64, 3), ("HugeNeedsRealTensors", "meta-params", 8, 8)],
)
def test_huge_model_is_analysed_in_little_memory(
    tmp_path: Path, name: str, build_mode: str, weights_gb: int, sites: int
) -> None:
    path = tmp_path / "huge.py"
    path.write_text(BIG_MODELS)
    command = [sys.executable, "-m", "relufind", "--format", "json", "--exit-zero", f"{path}:{name}"]
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, *command],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    output, _, tail = done.stdout.rpartition("\nPEAK ")
    peak, returncode = (int(v) for v in tail.split())
    assert returncode == 0, done.stderr
    document = json.loads(output)
    (target,) = document["targets"]
    assert target["status"] == "ok"
    assert target["build"] == build_mode
    assert target["device"] == "meta"
    assert len(target["sites"]) == sites
    # the weights really would need many times the limit
    namespace: dict[str, object] = {}
    exec(compile(BIG_MODELS, str(path), "exec"), namespace)
    model = build(namespace[name], name, {}, strict_args=True).model
    assert sum(p.numel() for p in model.parameters()) * 4 > weights_gb * 2**30
    assert peak < LIMIT_BYTES, f"peak RSS {peak / 2**20:.0f} MiB"
