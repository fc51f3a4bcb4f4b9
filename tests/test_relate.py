"""Relations: where each site sits relative to RNN/LSTM/GRU/Conv anchors.

``after``/``before`` are compared as {anchor: via} mappings, with the exact ops between the
anchor and the site; an empty mapping means "next to the input" / "reaches the output".
"""

from __future__ import annotations

from conftest import SAMPLES, after_anchors, analyse, before_anchors

from relufind.report import Anchor, Inside, Relation, Site, TargetResult

PLACEMENTS = SAMPLES / "placements.py"
EMBEDDED = SAMPLES / "embedded.py"
VARIANTS = SAMPLES / "variants.py"
SPELLINGS = SAMPLES / "spellings.py"

Via = dict[str, tuple[str, ...]]


def after(site: Site) -> Via:
    return _as_map(site.after)


def before(site: Site) -> Via:
    return _as_map(site.before)


def _as_map(relations: tuple[Relation, ...]) -> Via:
    mapping = {r.anchor: r.via for r in relations}
    assert len(mapping) == len(relations), f"an anchor listed twice: {relations}"
    return mapping


def types(relations: tuple[Relation, ...]) -> dict[str, str]:
    return {r.anchor: r.type for r in relations}


def ok(target: str, **options: object) -> TargetResult:
    result = analyse(target, **options)
    assert result.status == "ok", (result.status, result.error)
    return result


def placed(target: str, **options: object) -> list[tuple[str, Via, Via]]:
    """(module_path, after, before) of every site, in graph order."""
    return [(s.module_path, after(s), before(s)) for s in ok(target, **options).sites]


# -- the README demo ------------------------------------------------------------------------------

def test_conv_rnn_classifier() -> None:
    result = ok(f"{PLACEMENTS}:ConvRNNClassifier")
    assert result.anchors == (
        Anchor("frontend.conv", "Conv1d"),
        Anchor("conv2", "Conv1d"),
        Anchor("rnn", "GRU"),
    )
    frontend, residual, on_rnn, head = result.sites
    assert (frontend.module_path, frontend.kind) == ("frontend.act", "module")
    assert after(frontend) == {"frontend.conv": ("BatchNorm1d frontend.bn",)}
    # feeds conv2 directly, and the GRU through the residual add, the ReLU and the transpose
    assert before(frontend) == {"conv2": (), "rnn": ("add", "relu", "transpose")}

    # the residual ReLU: two upstream paths, one anchor on each
    assert (residual.module_path, residual.kind) == ("", "function")
    assert after(residual) == {
        "conv2": ("BatchNorm1d bn2", "add"),
        "frontend.conv": ("BatchNorm1d frontend.bn", "ReLU frontend.act", "add"),
    }
    assert before(residual) == {"rnn": ("transpose",)}

    # straight on the recurrent output (tuple unpacking is not an op), then to the output
    assert (on_rnn.module_path, on_rnn.op) == ("", "torch.relu")
    assert after(on_rnn) == {"rnn": ()}
    assert types(on_rnn.after) == {"rnn": "GRU"}
    assert before(on_rnn) == {}

    # inside a custom head block: after the GRU through the last-frame slice (getitem) and a module
    assert (head.module_path, head.module_type) == ("head", "GatedProjection")
    assert after(head) == {"rnn": ("relu", "getitem", "Dropout dropout", "Linear head.proj")}
    assert before(head) == {}


def test_conv_rnn_classifier_with_linear_anchors() -> None:
    result = ok(f"{PLACEMENTS}:ConvRNNClassifier", anchors=("Linear",))
    assert [a.path for a in result.anchors] == ["frontend.conv", "conv2", "rnn", "head.proj", "classifier"]
    _, residual, on_rnn, head = result.sites
    assert before(on_rnn) == {"head.proj": ("getitem", "Dropout dropout")}
    assert after(head) == {"head.proj": ()}
    assert types(head.after) == {"head.proj": "Linear"}
    assert before(head) == {"classifier": ()}
    # the spec's anchors are unchanged by the extra type
    assert after(residual)["conv2"] == ("BatchNorm1d bn2", "add")


# -- simple placements ---------------------------------------------------------------------------

def test_relu_after_conv_through_batchnorm() -> None:
    result = ok(f"{PLACEMENTS}:ConvBNReLU")
    [site] = result.sites
    assert after(site) == {"conv": ("BatchNorm2d bn",)}
    assert types(site.after) == {"conv": "Conv2d"}
    assert before(site) == {}


def test_relu_between_two_convs() -> None:
    assert placed(f"{PLACEMENTS}:ReLUBetweenConvs") == [("", {"conv1": ()}, {"conv2": ()})]


def test_relu_on_lstm_output_through_linear() -> None:
    assert placed(f"{PLACEMENTS}:LSTMThenLinearReLU") == [("", {"lstm": ("Linear proj",)}, {})]


def test_linear_named_as_anchor() -> None:
    result = ok(f"{PLACEMENTS}:LSTMThenLinearReLU", anchors=("Linear",))
    assert result.anchors == (Anchor("lstm", "LSTM"), Anchor("proj", "Linear"))
    [site] = result.sites
    assert after(site) == {"proj": ()}


def test_anchor_named_by_qualified_class_name() -> None:
    result = ok(f"{PLACEMENTS}:Encoder", anchors=("torch.nn.modules.linear.Linear",))
    assert placed(f"{PLACEMENTS}:Encoder", anchors=("torch.nn.modules.linear.Linear",)) == [
        ("", {"fc1": ()}, {"fc2": ()})
    ]
    assert [a.path for a in result.anchors] == ["fc1", "fc2"]
    # without the option, Linear is not an anchor
    assert placed(f"{PLACEMENTS}:Encoder") == [("", {}, {})]


def test_user_class_named_as_anchor_is_one_region() -> None:
    result = ok(f"{PLACEMENTS}:ConvRNNClassifier", anchors=("ConvBlock1d",))
    # in graph order: the block's region starts after its conv's own node
    assert [a.path for a in result.anchors] == ["frontend.conv", "frontend", "conv2", "rnn"]
    frontend, residual, _, _ = result.sites
    # the Conv1d inside the block is still the nearest anchor of the block's own ReLU
    assert after(frontend) == {"frontend.conv": ("BatchNorm1d frontend.bn",)}
    # outside, data leaving the block comes from the block
    assert after(residual) == {"conv2": ("BatchNorm1d bn2", "add"), "frontend": ("add",)}


# -- residuals: two upstream paths ---------------------------------------------------------------

def test_residual_block() -> None:
    assert placed(f"{PLACEMENTS}:ResidualBlock") == [
        ("relu", {"conv1": ("BatchNorm2d bn1",)}, {"conv2": ()}),
        # the skip comes from the input: only conv2 is upstream
        ("relu", {"conv2": ("BatchNorm2d bn2", "add")}, {}),
    ]


def test_residual_stack_sees_every_anchor_on_every_path() -> None:
    assert placed(f"{PLACEMENTS}:ResNetStem") == [
        ("relu", {"stem": ()}, {"layer1.conv1": (), "layer2.conv1": ("add", "ReLU layer1.relu")}),
        ("layer1.relu", {"layer1.conv1": ("BatchNorm2d layer1.bn1",)}, {"layer1.conv2": ()}),
        (
            "layer1.relu",
            {"layer1.conv2": ("BatchNorm2d layer1.bn2", "add"), "stem": ("ReLU relu", "add")},
            {"layer2.conv1": ()},
        ),
        ("layer2.relu", {"layer2.conv1": ("BatchNorm2d layer2.bn1",)}, {"layer2.conv2": ()}),
        (
            "layer2.relu",
            {
                "layer2.conv2": ("BatchNorm2d layer2.bn2", "add"),
                "layer1.conv2": ("BatchNorm2d layer1.bn2", "add", "ReLU layer1.relu", "add"),
                "stem": ("ReLU relu", "add", "ReLU layer1.relu", "add"),
            },
            # AdaptiveAvgPool2d, flatten and the Linear head lead to the output: no anchor
            {},
        ),
    ]


# -- transposed convolutions, cells, functional anchors -----------------------------------------

def test_conv_transpose_decoder() -> None:
    result = ok(f"{PLACEMENTS}:ConvTransposeDecoder")
    first, second = result.sites
    assert (after(first), before(first)) == ({}, {"up1": ("view",)})
    assert (after(second), before(second)) == ({"up1": ()}, {"up2": ()})
    assert types(second.after) == {"up1": "ConvTranspose2d"}
    assert types(second.before) == {"up2": "ConvTranspose2d"}


def test_cell_loop() -> None:
    result = ok(f"{PLACEMENTS}:RNNCellLoop")
    assert result.anchors == (Anchor("cell", "LSTMCell"),)
    assert [(after(s), before(s)) for s in result.sites] == [
        ({"cell": ()}, {"cell": ("Linear out",)}),
        ({"cell": ()}, {"cell": ("Linear out",)}),
        ({"cell": ()}, {}),  # the last step's output only reaches torch.stack and the output
    ]


def test_functional_conv_anchors() -> None:
    result = ok(f"{PLACEMENTS}:FunctionalConv")
    assert result.anchors == (Anchor("conv2d", "conv2d"), Anchor("conv2d_1", "conv2d"))
    [site] = result.sites
    assert after(site) == {"conv2d": ()}
    assert before(site) == {"conv2d_1": ()}
    assert types(site.after) == {"conv2d": "conv2d"}


FUNCTIONAL_INLINE = """
class Functional(nn.Module):
    def __init__(self):
        super().__init__()
        self.w1 = nn.Parameter(torch.empty(4, 2, 3))
        self.w2 = nn.Parameter(torch.empty(4, 2, 3))

    def forward(self, x):
        y = torch.relu(F.conv1d(x, self.w1))
        z = F.conv_transpose1d(y, self.w2)
        return z.relu()
"""


def test_functional_conv1d_and_conv_transpose(write_model) -> None:
    result = ok(f"{write_model(FUNCTIONAL_INLINE)}:Functional")
    assert [(a.path, a.type) for a in result.anchors] == [("conv1d", "conv1d"), ("conv_transpose1d", "conv_transpose1d")]
    first, second = result.sites
    assert (after(first), before(first)) == ({"conv1d": ()}, {"conv_transpose1d": ()})
    assert (after(second), before(second)) == ({"conv_transpose1d": ()}, {})


def test_conv_subclass_is_one_anchor_region() -> None:
    result = ok(f"{PLACEMENTS}:ConvSubclassNet")
    # the F.conv2d inside SameConv2d.forward is the subclass's own computation, not an anchor of its own
    assert result.anchors == (Anchor("conv1", "SameConv2d"), Anchor("conv2", "Conv2d"))
    inner, outer = result.sites
    assert (inner.module_path, inner.module_type) == ("conv1", "SameConv2d")
    assert after(inner) == {"conv1": ()}
    assert before(inner) == {"conv2": ("relu",)}
    assert (outer.module_path, after(outer), before(outer)) == ("", {"conv1": ()}, {"conv2": ()})
    assert types(outer.after) == {"conv1": "SameConv2d"}


# -- shapes, custom modules, fan-out ----------------------------------------------------------------

SHAPES = """
class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(8, 8, 3, padding=1)

    def forward(self, x):
        return self.conv(x)


class Act(nn.Module):
    def forward(self, x):
        return F.relu(x.permute(0, 2, 1))


class Shapes(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.act = Act()
        self.gru = nn.GRU(8, 8, batch_first=True)
        self.lstm = nn.LSTM(8, 8)

    def forward(self, x):
        x = self.act(self.block(x))             # (B, T, C)
        y = x.reshape(x.size(0), -1, 8)
        seq, h = self.gru(y.contiguous())
        last = h[-1].view(1, -1, 8)
        z = torch.relu(last)
        out, (hn, cn) = self.lstm(z)
        return out.flatten(1).clamp(min=0)
"""


def test_through_shape_ops_and_custom_modules(write_model) -> None:
    result = ok(f"{write_model(SHAPES)}:Shapes")
    act, on_hidden, final = result.sites
    # the anchor inside a custom block keeps its full path; the ReLU belongs to Act
    assert (act.module_path, act.module_type) == ("act", "Act")
    assert after(act) == {"block.conv": ("permute",)}
    # size() is silent; reshape and contiguous are named
    assert before(act) == {"gru": ("reshape", "contiguous")}
    # h[-1] is a plain getitem: silent; view is named
    assert after(on_hidden) == {"gru": ("view",)}
    assert before(on_hidden) == {"lstm": ()}
    assert after(final) == {"lstm": ("flatten",)}
    assert before(final) == {}


FAN = """
class Fan(nn.Module):
    def __init__(self):
        super().__init__()
        self.left = nn.Conv2d(3, 3, 1)
        self.right = nn.Conv2d(3, 3, 1)
        self.shared = nn.Conv2d(3, 3, 1)

    def forward(self, x):
        r = F.relu(x)
        y = self.left(r) + self.right(r) + r
        y = self.shared(torch.relu(self.shared(y)))
        return y, y.relu()
"""


def test_fan_out_input_output_and_shared_anchor(write_model) -> None:
    result = ok(f"{write_model(FAN)}:Fan")
    assert [a.path for a in result.anchors] == ["left", "right", "shared"]  # a shared conv: one anchor
    on_input, between, on_output = result.sites
    # next to the input, feeding two convs (and also the output, which an anchor list does not show)
    assert after(on_input) == {}
    # r joins the second add directly: (left(r) + right(r)) + r
    assert before(on_input) == {"left": (), "right": (), "shared": ("add",)}
    # between two calls of the same conv
    assert (after(between), before(between)) == ({"shared": ()}, {"shared": ()})
    assert (after(on_output), before(on_output)) == ({"shared": ()}, {})


def test_no_anchor_means_input_and_output() -> None:
    for name in ("AllSpellings", "SharedReLU", "LoopReLU"):
        result = ok(f"{SPELLINGS}:{name}")
        assert result.anchors == ()
        assert all(s.after == () and s.before == () for s in result.sites), name


# -- embedded sites -------------------------------------------------------------------------------------

def test_embedded_site_after_conv() -> None:
    result = ok(f"{EMBEDDED}:ConvThenReLURNN")
    [site] = result.sites
    assert site.inside == Inside("rnn", "RNN")
    assert after(site) == {"conv": ("transpose",)}
    assert before(site) == {}


def test_embedded_cell_steps_are_chained() -> None:
    result = ok(f"{EMBEDDED}:ReLURNNCellLoop")
    assert [(after_anchors(s), before_anchors(s)) for s in result.sites] == [
        ([], ["cell"]),
        (["cell"], ["cell"]),
        (["cell"], []),
    ]


def test_variants_are_related_too() -> None:
    result = ok(f"{VARIANTS}:MobileNetBlock", variants=True)
    act1, act2 = result.sites
    assert (after(act1), before(act1)) == ({"expand": ("BatchNorm2d bn1",)}, {"depthwise": ()})
    assert (after(act2), before(act2)) == ({"depthwise": ("BatchNorm2d bn2",)}, {"project": ()})


# -- scale -------------------------------------------------------------------------------------------

DEEP = """
class Deep(nn.Module):
    def __init__(self, depth: int = 2000):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv1d(2, 2, 1) for _ in range(depth))

    def forward(self, x):
        for conv in self.convs:
            x = F.relu(conv(x))
        return x
"""


def test_deep_chain_relates_every_site(write_model) -> None:
    depth = 2000
    result = ok(f"{write_model(DEEP)}:Deep")
    assert len(result.sites) == depth
    assert len(result.anchors) == depth
    for i, site in enumerate(result.sites):
        assert after(site) == {f"convs.{i}": ()}
        assert before(site) == ({f"convs.{i + 1}": ()} if i + 1 < depth else {})


def test_options_anchors_through_scan_targets_and_scan() -> None:
    from relufind import Options, scan, scan_targets

    report = scan_targets(
        [f"{PLACEMENTS}:LSTMThenLinearReLU"], Options(anchors=("Linear",)), diagnostics=lambda line: None
    )
    [result] = report.targets
    assert [(a.path, a.type) for a in result.anchors] == [("lstm", "LSTM"), ("proj", "Linear")]
    assert after(result.sites[0]) == {"proj": ()}

    import importlib.util

    spec = importlib.util.spec_from_file_location("_placements_for_scan", PLACEMENTS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    direct = scan(module.ReLUBetweenConvs(), anchors=("Linear",))
    assert [(after(s), before(s)) for s in direct.sites] == [({"conv1": ()}, {"conv2": ()})]


def test_long_via_keeps_both_ends_and_counts_the_middle() -> None:
    """Reporting every site of a long anchor-free chain stays linear: via is bounded."""
    import torch.nn as nn
    import torch.nn.functional as F

    from relufind import scan
    from relufind.relate import VIA_ENDS

    class Chain(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv1d(2, 2, 1)

        def forward(self, x):  # type: ignore[no-untyped-def]
            x = self.conv(x)
            for _ in range(40):
                x = F.relu(x) + 1
            return x

    result = scan(Chain())
    assert len(result.sites) == 40
    short = result.sites[2].after[0]
    assert short.anchor == "conv" and short.via == ("relu", "add", "relu", "add")
    long = result.sites[30].after[0]  # 60 ops between conv and this site
    assert long.via[:VIA_ENDS] == ("relu", "add") * (VIA_ENDS // 2)
    assert long.via[VIA_ENDS] == f"… {60 - 2 * VIA_ENDS} more ops …"
    assert long.via[VIA_ENDS + 1 :] == ("relu", "add") * (VIA_ENDS // 2)
    before = result.sites[0].before
    assert before == ()  # reaches the output with no anchor


def test_bare_inplace_relu_reaches_the_readers_of_its_input(write_model) -> None:  # type: ignore[no-untyped-def]
    """`x.relu_()` as a statement has no users in fx; x's later readers read its result."""
    path = write_model(
        """
        class Bare(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv1d(2, 2, 1)
                self.conv2 = nn.Conv1d(2, 2, 1)
                self.act = nn.ReLU(inplace=True)

            def forward(self, x):
                x = self.conv1(x)
                skip = x
                x.relu_()
                self.act(skip)
                return self.conv2(x) + skip
        """
    )
    result = analyse(f"{path}:Bare")
    method, module = result.sites
    assert (method.kind, module.kind) == ("method", "module")
    assert after_anchors(method) == ["conv1"] and before_anchors(method) == ["conv2"]
    # the in-place module's result is read by conv2 and by the residual add (the output)
    assert after_anchors(module) == ["conv1"] and before_anchors(module) == ["conv2"]


def test_inplace_relu_through_a_reshape_reaches_the_readers_of_the_base(write_model) -> None:  # type: ignore[no-untyped-def]
    """`vocab.VIEWS` is the one view table (rules and relations): a reshape of a contiguous
    tensor is a view, so an in-place ReLU on it rectifies what conv2 reads from the base."""
    path = write_model(
        """
        class ThroughReshape(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv1d(4, 4, 3, padding=1)
                self.conv2 = nn.Conv1d(4, 4, 3, padding=1)

            def forward(self, x):
                y = self.conv(x)
                z = y.reshape(-1)
                z.relu_()
                return self.conv2(y)
        """
    )
    [site] = analyse(f"{path}:ThroughReshape").sites
    assert after_anchors(site) == ["conv"] and before_anchors(site) == ["conv2"]


def test_only_ops_that_write_values_count_as_mutations() -> None:
    """``requires_grad_()``, ``detach_()`` are named like in-place ops but write no values; the
    relations use the same table as the rules (``vocab.writes_in_place``)."""
    import torch
    import torch.fx as fx
    import torch.nn.functional as F

    from relufind.relate import _mutated_input

    class Net(torch.nn.Module):
        def forward(self, x, y):
            x.requires_grad_()
            y.detach_()
            x.add_(y)
            F.relu(y, inplace=True)
            return x.mul_(2)

    graph = fx.symbolic_trace(Net()).graph
    mutated = {
        str(node.target).rpartition(".")[2] if node.op == "call_method" else node.target.__name__:
        getattr(_mutated_input(None, node), "name", None)  # type: ignore[arg-type]
        for node in graph.nodes
        if node.op in ("call_method", "call_function")
    }
    assert mutated == {"requires_grad_": None, "detach_": None, "add_": "x", "relu": "y", "mul_": "x"}
