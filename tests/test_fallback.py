"""Untraceable models: every ReLU before, inside and after a failing region is reported."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import SAMPLES, after_anchors, analyse, before_anchors

from relufind.report import Site, TargetResult
from relufind.trace import RelufindTracer

UNTRACEABLE = SAMPLES / "untraceable.py"


def _line(path: Path, marker: str) -> int:
    """1-based line where the only occurrence of ``marker`` (which may span lines) starts."""
    text = path.read_text()
    assert text.count(marker) == 1, marker
    return text[: text.index(marker)].count("\n") + 1


def _sites(result: TargetResult) -> list[tuple[str, str, str, bool]]:
    return [(s.module_path, s.kind, s.variant, s.traced) for s in result.sites]


def _site(result: TargetResult, module_path: str, kind: str) -> Site:
    (site,) = [s for s in result.sites if s.module_path == module_path and s.kind == kind]
    return site


def test_data_dependent_branch_reports_before_inside_and_after() -> None:
    result = analyse(f"{UNTRACEABLE}:DataDependentBranch")
    assert result.status == "partial"
    assert _sites(result) == [
        ("stem_act", "module", "relu", True),
        ("gate.act", "module", "relu", False),
        ("gate", "function", "relu", False),
        ("", "function", "relu", True),
    ]
    assert [(u.module_path, u.reason) for u in result.untraced] == [
        ("gate", "TraceError: symbolically traced variables cannot be used as inputs to control flow")
    ]
    stem_act = _site(result, "stem_act", "module")
    assert after_anchors(stem_act) == ["stem"] and stem_act.after_complete
    # the value flows into the untraced gate: what lies beyond it is unknown, not "output"
    assert stem_act.before == () and not stem_act.before_complete
    head_relu = _site(result, "", "function")
    assert after_anchors(head_relu) == ["head"] and head_relu.before == () and head_relu.before_complete
    gate_act = _site(result, "gate.act", "module")
    assert gate_act.source is not None
    assert gate_act.source.line == _line(UNTRACEABLE, "return self.act(self.conv(x))\n        return F.relu(x) + x")
    assert not gate_act.after_complete and not gate_act.before_complete
    assert {a.path for a in result.anchors} == {"stem", "gate.conv", "head"}


def test_same_padding_conv_is_an_opaque_anchor() -> None:
    result = analyse(f"{UNTRACEABLE}:SamePadNet")
    assert result.status == "partial"
    assert [u.module_path for u in result.untraced] == ["conv1", "conv2"]
    assert _sites(result) == [
        ("act", "module", "relu", True),
        ("", "function", "relu", True),
        ("", "clamp", "relu", True),
    ]
    act = _site(result, "act", "module")
    assert after_anchors(act) == ["conv1"] and before_anchors(act) == ["conv2"]
    clamp = _site(result, "", "clamp")
    assert after_anchors(clamp) == ["conv2"] and clamp.after[0].via == ("relu",)


def test_len_and_int_on_a_proxy() -> None:
    result = analyse(f"{UNTRACEABLE}:LenIntNet")
    assert _sites(result) == [
        ("", "function", "relu", True),
        ("pool.cell", "embedded", "relu", False),
        ("pool", "function", "relu", False),
    ]
    (untraced,) = result.untraced
    assert untraced.module_path == "pool" and "Proxy" in untraced.reason
    cell = _site(result, "pool.cell", "embedded")
    assert cell.inside is not None and cell.inside.anchor == "pool.cell"
    # the relu before the pool feeds the untraced pool: its downstream is unknown
    outer = _site(result, "", "function")
    assert not outer.before_complete and outer.after_complete and outer.after == ()


def test_detection_loop_over_images() -> None:
    result = analyse(f"{UNTRACEABLE}:TinyDetector")
    assert result.status == "partial"
    assert [u.module_path for u in result.untraced] == [""]
    assert "Proxy object cannot be iterated" in result.untraced[0].reason
    assert sorted(_sites(result)) == [
        ("", "clamp", "relu", False),
        ("backbone.1", "module", "relu", True),
    ]
    backbone_relu = _site(result, "backbone.1", "module")
    assert after_anchors(backbone_relu) == ["backbone.0"]
    # nn.Sequential made the call (no user line): the line that calls the backbone stands in
    assert backbone_relu.source is not None
    assert backbone_relu.source.line == _line(UNTRACEABLE, "features = self.backbone(image.unsqueeze(0))")
    assert not backbone_relu.before_complete
    clamp = _site(result, "", "clamp")
    assert clamp.inplace and clamp.op == "Tensor.clamp_"


def test_module_list_under_a_data_dependent_condition() -> None:
    result = analyse(f"{UNTRACEABLE}:EarlyExit", variants=True)
    assert sorted(_sites(result)) == [
        ("", "function", "relu", False),
        ("stages.0.act", "module", "relu", True),
        ("stages.1.act", "module", "relu", True),
        ("stages.2.act", "module", "relu", True),
    ]  # `self.final` (a ReLU6) is never used by forward: no site
    for index in range(3):
        site = _site(result, f"stages.{index}.act", "module")
        assert after_anchors(site) == [f"stages.{index}.conv"]


def test_isinstance_drop_is_reported_as_unseen() -> None:
    result = analyse(f"{UNTRACEABLE}:IsinstanceDrop")
    assert result.status == "ok" and result.sites == ()
    (unseen,) = result.unseen
    assert unseen.module_path == "" and unseen.op == "torch.nn.functional.relu"
    assert unseen.source.line == _line(UNTRACEABLE, "if isinstance(x, torch.Tensor):\n            x = F.relu(x)") + 1


def test_one_retrace_per_failing_class(write_model: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_model(
        """
        class Gate(nn.Module):
            def __init__(self):
                super().__init__()
                self.act = nn.ReLU()

            def forward(self, x):
                if x.sum() > 0:
                    return self.act(x)
                return x

        class Many(nn.Module):
            def __init__(self):
                super().__init__()
                self.gates = nn.ModuleList(Gate() for _ in range(6))

            def forward(self, x):
                for gate in self.gates:
                    x = F.relu(gate(x))
                return x
        """
    )
    traces: list[str] = []
    original = RelufindTracer.trace

    def counting(self, root, concrete_args=None):  # type: ignore[no-untyped-def]
        traces.append(type(root).__name__)
        return original(self, root, concrete_args)

    monkeypatch.setattr(RelufindTracer, "trace", counting)
    result = analyse(f"{path}:Many")
    # the root: one failed trace, one retrace with Gate as a leaf; each Gate on its own once
    assert traces.count("Many") == 2
    assert traces.count("Gate") == 6
    assert [(s.module_path, s.kind, s.traced) for s in result.sites] == [
        item
        for i in range(6)
        for item in ((f"gates.{i}.act", "module", False), ("", "function", True))
    ]
    # relations through an untraced gate are unknown, never invented
    assert all(not s.before_complete for s in result.sites if s.module_path == "" and s is not result.sites[-1])


def test_nested_failures_recurse(write_model: Callable[..., Path]) -> None:
    path = write_model(
        """
        class Inner(nn.Module):
            def forward(self, x):
                if x.max() > 1:
                    x = x / 2
                return torch.relu(x)

        class Middle(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv1d(2, 2, 1)
                self.inner = Inner()

            def forward(self, x):
                return self.inner(F.relu(self.conv(x)))

        class Outer(nn.Module):
            def __init__(self):
                super().__init__()
                self.middle = Middle()
                self.rnn = nn.GRU(2, 2)

            def forward(self, x):
                y = self.middle(x)
                y, _ = self.rnn(y)
                return y.relu()
        """
    )
    result = analyse(f"{path}:Outer")
    assert result.status == "partial"
    assert [u.module_path for u in result.untraced] == ["middle.inner"]
    assert _sites(result) == [
        ("middle", "function", "relu", True),
        ("middle.inner", "function", "relu", False),
        ("", "method", "relu", True),
    ]
    middle_relu = _site(result, "middle", "function")
    # traced in Middle's own graph, then placed in Outer's: the conv before it is known
    assert after_anchors(middle_relu) == ["middle.conv"]
    assert not middle_relu.before_complete  # it flows into the untraced Inner
    last = _site(result, "", "method")
    assert after_anchors(last) == ["rnn"]


def test_leaf_failing_only_in_context_is_traced_on_its_own(write_model: Callable[..., Path]) -> None:
    """A module that fails in its parent's trace but traces alone keeps full relations."""
    path = write_model(
        """
        class Leaf(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv1d(2, 2, 1)

            def forward(self, x, flag=False):
                if flag:
                    x = x * 2
                return F.relu(self.conv(x))

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv0 = nn.Conv1d(2, 2, 1)
                self.leaf = Leaf()
                self.rnn = nn.RNN(2, 2)

            def forward(self, x):
                x = torch.relu(self.conv0(x))
                x = self.leaf(x, flag=x.sum() > 0)
                return self.rnn(x.transpose(1, 2))[0]
        """
    )
    result = analyse(f"{path}:Net")
    # nothing was lost: Leaf traced on its own (flag=False, its default), so status is ok
    assert result.status == "ok" and result.untraced == ()
    assert _sites(result) == [("", "function", "relu", True), ("leaf", "function", "relu", True)]
    outer = _site(result, "", "function")
    assert after_anchors(outer) == ["conv0"] and before_anchors(outer) == ["leaf.conv"]
    inner = _site(result, "leaf", "function")
    assert after_anchors(inner) == ["leaf.conv"] and before_anchors(inner) == ["rnn"]
    assert inner.before[0].via == ("transpose",)
    assert inner.after_complete and inner.before_complete


def test_shared_child_called_in_a_block_is_not_unseen(write_model: Callable[..., Path]) -> None:
    path = write_model(
        """
        class Block(nn.Module):
            def __init__(self, shared):
                super().__init__()
                self.shared = shared

            def forward(self, x):
                return self.shared(x)

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.act = nn.ReLU()
                self.block = Block(self.act)

            def forward(self, x):
                return self.block(self.act(x))
        """
    )
    result = analyse(f"{path}:Net")
    # both calls are sites of the one instance, reported under its first registered path
    assert [s.module_path for s in result.sites] == ["act", "act"]
    assert result.unseen == ()


def test_input_shape_lets_torch_export_resolve_shape_dependent_code() -> None:
    result = analyse(f"{UNTRACEABLE}:SamePadNet", input_shapes=((1, 3, 9, 9),))
    assert result.status == "ok" and result.traced_with == "torch.export" and result.untraced == ()
    assert [(s.module_path, s.kind) for s in result.sites] == [("act", "module"), ("", "function"), ("", "clamp")]
    act = _site(result, "act", "module")
    assert after_anchors(act) == ["conv1"] and before_anchors(act) == ["conv2"]  # Conv2d subclasses
    # a loop over time steps, unrolled by export: one embedded site per RNNCell call
    unrolled = analyse(f"{UNTRACEABLE}:LenIntNet", input_shapes=((5, 2, 6),))
    assert unrolled.status == "ok"
    assert [s.module_path for s in unrolled.sites].count("pool.cell") == 5


def test_input_shape_cannot_resolve_value_dependent_branches() -> None:
    result = analyse(f"{UNTRACEABLE}:DataDependentBranch", input_shapes=((1, 3, 8, 8),))
    assert result.status == "partial" and result.traced_with == "fx"
    assert [u.module_path for u in result.untraced] == ["gate"]


def test_untraced_module_called_twice_is_one_region_with_sites_per_call(write_model: Callable[..., Path]) -> None:
    path = write_model(
        """
        class Gate(nn.Module):
            def forward(self, x):
                if x.sum() > 0:
                    return F.relu(x)
                return x

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.gate = Gate()

            def forward(self, x):
                return self.gate(self.gate(x))
        """
    )
    result = analyse(f"{path}:Net")
    assert [u.module_path for u in result.untraced] == ["gate"]
    assert [(s.module_path, s.traced, s.region) for s in result.sites] == [("gate", False, "gate")] * 2


def test_relus_inside_a_wrapped_function_are_read_from_its_source(write_model: Callable[..., Path]) -> None:
    """torch.fx.wrap keeps a helper as one node (timm does this); its ReLUs must not vanish."""
    path = write_model(
        """
        import torch.fx

        def gated(x, gate):
            if gate.sum() > 0:
                return F.relu(x * gate)
            return x.clamp(min=0)

        torch.fx.wrap("gated")

        class Wrapped(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv1d(2, 2, 1)
                self.head = nn.Conv1d(2, 2, 1)

            def forward(self, x):
                return self.head(gated(self.conv(x), x))
        """
    )
    result = analyse(f"{path}:Wrapped")
    assert result.status == "partial"
    assert [u.module_path for u in result.untraced] == [""]
    assert "gated() is wrapped" in result.untraced[0].reason
    assert [(s.kind, s.op, s.traced, s.region) for s in result.sites] == [
        ("function", "torch.nn.functional.relu", False, ""),
        ("clamp", "Tensor.clamp", False, ""),
    ]
    for site in result.sites:
        # the anchors around the call are known; what the function does inside is not
        assert after_anchors(site) == ["conv"] and not site.after_complete
        assert before_anchors(site) == ["head"] and not site.before_complete
