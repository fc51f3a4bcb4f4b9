"""Detection: every ReLU spelling becomes exactly the site the spec describes.

Sites are compared field by field (module path and class, kind, variant, op, in place,
source line). Source lines are found through ``# site: <name>`` markers in the model files,
so editing a sample model does not break these tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SAMPLES, analyse, analyse_all, marker_line, site_keys

from relufind.report import Inside, Site, TargetResult

SPELLINGS = SAMPLES / "spellings.py"
EMBEDDED = SAMPLES / "embedded.py"
VARIANTS = SAMPLES / "variants.py"
NOT_RELU = SAMPLES / "not_relu.py"


def described(site: Site) -> tuple[str, str, str, str, str, bool, int | None]:
    """Everything detection decides about a site, relations aside."""
    line = site.source.line if site.source is not None else None
    return (site.module_path, site.module_type, site.kind, site.variant, site.op, site.inplace, line)


def ok(target: str, **options: object) -> TargetResult:
    result = analyse(target, **options)
    assert result.status == "ok", (result.status, result.error)
    return result


def assert_source_file(result: TargetResult, path: Path) -> None:
    for site in result.sites:
        assert site.source is not None
        assert Path(site.source.file).resolve() == path.resolve()


# -- one spelling per model ----------------------------------------------------------------

FN_RELU = "torch.nn.functional.relu"


def line(marker: str, path: Path = SPELLINGS) -> int:
    return marker_line(path, marker)


SINGLE_SITE = {
    "ReLUModule": ("act", "ReLU", "module", "relu", "torch.nn.ReLU", False, "module"),
    "FunctionalReLUPositionalInplace": (
        "", "FunctionalReLUPositionalInplace", "function", "relu", FN_RELU, True, "F.relu positional inplace",
    ),
    # F.relu_ is the very builtin torch.relu_, so the op reads torch.relu_
    "FunctionalReLUInplace": ("", "FunctionalReLUInplace", "function", "relu", "torch.relu_", True, "F.relu_"),
    "ThresholdFunction": (
        "", "ThresholdFunction", "threshold", "relu", "torch.nn.functional.threshold", False, "F.threshold",
    ),
    # a module inside an nn.Sequential: the call line is the Sequential's call in user code
    "ThresholdModule": ("body.1", "Threshold", "module", "relu", "torch.nn.Threshold", False, "nn.Threshold"),
    # the site belongs to the innermost module whose forward made the call
    "WrappedReLU": ("rectify", "Rectify", "function", "relu", FN_RELU, False, "Rectify"),
}


@pytest.mark.parametrize("name", sorted(SINGLE_SITE))
def test_single_spelling(name: str) -> None:
    *fields, marker = SINGLE_SITE[name]
    result = ok(f"{SPELLINGS}:{name}")
    assert [described(s) for s in result.sites] == [(*fields, line(marker))]
    assert_source_file(result, SPELLINGS)
    assert result.hidden_variants == ()


def test_functional_relu_plain_and_inplace_keyword() -> None:
    result = ok(f"{SPELLINGS}:FunctionalReLU")
    assert [described(s) for s in result.sites] == [
        ("", "FunctionalReLU", "function", "relu", FN_RELU, False, line("F.relu")),
        ("", "FunctionalReLU", "function", "relu", FN_RELU, True, line("F.relu inplace")),
    ]


def test_torch_relu_and_relu_() -> None:
    result = ok(f"{SPELLINGS}:TorchReLU")
    assert [described(s) for s in result.sites] == [
        ("", "TorchReLU", "function", "relu", "torch.relu", False, line("torch.relu")),
        ("", "TorchReLU", "function", "relu", "torch.relu_", True, line("torch.relu_")),
    ]


def test_tensor_methods() -> None:
    result = ok(f"{SPELLINGS}:TensorMethodReLU")
    assert [described(s) for s in result.sites] == [
        ("", "TensorMethodReLU", "method", "relu", "Tensor.relu", False, line("Tensor.relu")),
        ("", "TensorMethodReLU", "method", "relu", "Tensor.relu_", True, line("Tensor.relu_")),
    ]


def test_clamp_method_spellings() -> None:
    result = ok(f"{SPELLINGS}:ClampSpellings")
    owner = ("", "ClampSpellings", "clamp", "relu")
    assert [described(s) for s in result.sites] == [
        (*owner, "Tensor.clamp", False, line("clamp(min=0)")),
        (*owner, "Tensor.clamp", False, line("clamp(0)")),
        (*owner, "Tensor.clamp", False, line("clamp(0, None)")),
        (*owner, "Tensor.clamp_min", False, line("clamp_min(0.0)")),
        (*owner, "Tensor.clip", False, line("clip(min=0)")),
        (*owner, "torch.clamp", False, line("torch.clamp")),
        (*owner, "Tensor.clamp_", True, line("clamp_")),
    ]


def test_clamp_torch_functions() -> None:
    result = ok(f"{SPELLINGS}:TorchClampFunctions")
    owner = ("", "TorchClampFunctions", "clamp", "relu")
    assert [described(s) for s in result.sites] == [
        (*owner, "torch.clip", False, line("torch.clip")),
        (*owner, "torch.clamp_min", False, line("torch.clamp_min")),
        (*owner, "torch.clamp", False, line("torch.clamp inf")),
        (*owner, "torch.clamp_", True, line("torch.clamp_")),
    ]


def test_shared_instance_is_three_sites_of_one_module() -> None:
    result = ok(f"{SPELLINGS}:SharedReLU")
    assert [described(s) for s in result.sites] == [
        ("relu", "ReLU", "module", "relu", "torch.nn.ReLU", True, line(f"shared {n}")) for n in (1, 2, 3)
    ]
    assert len({s.node for s in result.sites}) == 3  # three graph nodes, not one site counted thrice


def test_loop_gives_one_site_per_call_sharing_a_line() -> None:
    result = ok(f"{SPELLINGS}:LoopReLU")
    assert [described(s) for s in result.sites] == [
        ("", "LoopReLU", "function", "relu", FN_RELU, False, line("loop"))
    ] * 4
    assert len({s.node for s in result.sites}) == 4


def test_all_spellings_in_one_model() -> None:
    result = ok(f"{SPELLINGS}:AllSpellings")
    root = ("", "AllSpellings")
    assert [described(s) for s in result.sites] == [
        ("act", "ReLU", "module", "relu", "torch.nn.ReLU", False, line("all module")),
        (*root, "function", "relu", FN_RELU, False, line("all function")),
        (*root, "function", "relu", "torch.relu", False, line("all torch.relu")),
        (*root, "method", "relu", "Tensor.relu_", True, line("all method")),
        (*root, "clamp", "relu", "Tensor.clamp", False, line("all clamp")),
        ("rectify", "Rectify", "function", "relu", FN_RELU, False, line("Rectify")),
        (*root, "threshold", "relu", "torch.nn.functional.threshold", False, line("all threshold")),
        ("gate", "Threshold", "module", "relu", "torch.nn.Threshold", False, line("all nn.Threshold")),
    ]
    assert result.kind_counts() == {"module": 2, "function": 3, "method": 1, "clamp": 1, "threshold": 1}
    assert_source_file(result, SPELLINGS)


def test_every_sample_class_builds_without_arguments() -> None:
    files = ["spellings.py", "placements.py", "embedded.py", "variants.py", "not_relu.py"]
    report = analyse_all([str(SAMPLES / f) for f in files])
    assert len(report.targets) >= 50
    bad = [(t.target, t.status, t.error, t.skip_reason) for t in report.targets if t.status != "ok"]
    assert bad == []


# -- argument forms, written inline ----------------------------------------------------------

EDGE_FORMS = """
import math


class Forms(nn.Module):
    def __init__(self):
        super().__init__()
        self.hardtanh06 = nn.Hardtanh(0.0, 6.0)
        self.threshold_inplace = nn.Threshold(0.0, 0.0, inplace=True)

    def forward(self, x, bound):
        y = x.clamp(min=0.0, max=None)  # site: kwargs max None
        y = y + torch.clamp(x, 0, None)  # site: torch positional None
        y = y + x.clamp(min=0, max=math.inf)  # site: max inf
        y = y + x.clamp(max=float("inf"), min=0)  # site: reversed kwargs inf
        y = y + x.clamp(-0.0)  # site: negative zero
        y = y + torch.clamp_min(x, min=0)  # site: clamp_min kwarg
        y = y + x.clone().clamp_min_(0)  # site: clamp_min_
        y = y + x.clone().clip_(0)  # site: clip_
        y = y + torch.clamp(input=x, min=0)  # site: all kwargs
        y = y + F.relu(x, inplace=False)  # site: explicit not inplace
        y = y + F.threshold(x, 0.0, 0.0, True)  # site: threshold positional inplace
        y = y + F.threshold(x, threshold=0, value=0)  # site: threshold kwargs
        y = y + F.threshold_(x.clone(), 0, 0)  # site: threshold_
        y = y + self.threshold_inplace(x)  # site: module threshold inplace
        y = y + self.hardtanh06(x)
        y = y + x.clamp(min=bound)  # a tensor bound is not read as 0
        y = y + x.clamp(min=0, max=bound)  # an unknown upper bound is not "none"
        y = y + x.clamp(None, 0)
        y = y + torch.clamp(x, max=0)
        return y
"""


def test_argument_forms(write_model) -> None:
    path = write_model(EDGE_FORMS)
    result = ok(f"{path}:Forms")
    root = ("", "Forms")

    def at(marker: str) -> int:
        return marker_line(path, marker)

    assert [described(s) for s in result.sites] == [
        (*root, "clamp", "relu", "Tensor.clamp", False, at("kwargs max None")),
        (*root, "clamp", "relu", "torch.clamp", False, at("torch positional None")),
        (*root, "clamp", "relu", "Tensor.clamp", False, at("max inf")),
        (*root, "clamp", "relu", "Tensor.clamp", False, at("reversed kwargs inf")),
        (*root, "clamp", "relu", "Tensor.clamp", False, at("negative zero")),
        (*root, "clamp", "relu", "torch.clamp_min", False, at("clamp_min kwarg")),
        (*root, "clamp", "relu", "Tensor.clamp_min_", True, at("clamp_min_")),
        (*root, "clamp", "relu", "Tensor.clip_", True, at("clip_")),
        (*root, "clamp", "relu", "torch.clamp", False, at("all kwargs")),
        (*root, "function", "relu", FN_RELU, False, at("explicit not inplace")),
        (*root, "threshold", "relu", "torch.nn.functional.threshold", True, at("threshold positional inplace")),
        (*root, "threshold", "relu", "torch.nn.functional.threshold", False, at("threshold kwargs")),
        (*root, "threshold", "relu", "torch.threshold_", True, at("threshold_")),
        ("threshold_inplace", "Threshold", "module", "relu", "torch.nn.Threshold", True,
         at("module threshold inplace")),
    ]
    # nn.Hardtanh(0, 6) is ReLU6 and clamp(min=0, max=<tensor>) a clipped ReLU: hidden, counted
    assert result.hidden_variants == (("clipped_relu", 1), ("relu6", 1))


RELU6_FORMS = """
class Forms6(nn.Module):
    def forward(self, x):
        y = x.clamp(min=0, max=6)  # site: clamp kwargs 6
        y = y + torch.clip(x, min=0.0, max=6.0)  # site: clip 6
        y = y + F.hardtanh(x, min_val=0.0, max_val=6.0)  # site: hardtanh kwargs
        y = y + F.hardtanh_(x.clone(), 0, 6)  # site: hardtanh_
        y = y + F.relu6(x, inplace=True)  # site: relu6 inplace
        y = y + x.clamp(0, 5)  # site: clipped 5
        return y
"""


def test_relu6_argument_forms(write_model) -> None:
    path = write_model(RELU6_FORMS)
    result = ok(f"{path}:Forms6", variants=True)
    root = ("", "Forms6")
    assert [described(s) for s in result.sites] == [
        (*root, "clamp", "relu6", "Tensor.clamp", False, marker_line(path, "clamp kwargs 6")),
        (*root, "clamp", "relu6", "torch.clip", False, marker_line(path, "clip 6")),
        (*root, "function", "relu6", "torch.nn.functional.hardtanh", False, marker_line(path, "hardtanh kwargs")),
        (*root, "function", "relu6", "torch.nn.functional.hardtanh_", True, marker_line(path, "hardtanh_")),
        (*root, "function", "relu6", "torch.nn.functional.relu6", True, marker_line(path, "relu6 inplace")),
        (*root, "clamp", "clipped_relu", "Tensor.clamp", False, marker_line(path, "clipped 5")),
    ]


# -- not ReLU ---------------------------------------------------------------------------------

NOT_RELU_CLASSES = [
    "UnitClamp", "NegativeFloorClamp", "PositiveFloorClamp", "UpperOnlyClamp",
    "OffsetThreshold", "DefaultHardtanh", "AllNotReLU",
]


#: ``clamp(0, 1)`` is no ReLU, but a clipped ReLU: a variant shown with --variants
CLIPPED = {"UnitClamp": ["clipped_relu"], "AllNotReLU": ["clipped_relu"]}


@pytest.mark.parametrize("name", NOT_RELU_CLASSES)
def test_look_alikes_are_not_sites(name: str) -> None:
    result = ok(f"{NOT_RELU}:{name}", variants=True)
    assert [s.variant for s in result.sites] == CLIPPED.get(name, [])
    assert result.hidden_variants == ()
    plain = ok(f"{NOT_RELU}:{name}")
    assert plain.sites == ()
    assert plain.hidden_variants == tuple((v, 1) for v in CLIPPED.get(name, []))


def test_not_relu_file_as_a_whole() -> None:
    report = analyse_all([str(NOT_RELU)])
    assert sorted(t.model for t in report.targets) == sorted(NOT_RELU_CLASSES)
    assert all(t.status == "ok" and t.sites == () for t in report.targets)


# -- ReLU-family variants -----------------------------------------------------------------------

def test_relu6_hidden_without_variants_but_counted() -> None:
    result = ok(f"{VARIANTS}:ReLU6Spellings")
    assert [described(s) for s in result.sites] == [
        ("", "ReLU6Spellings", "function", "relu", FN_RELU, False, marker_line(VARIANTS, "plain relu"))
    ]
    assert result.hidden_variants == (("relu6", 4),)
    assert result.hidden_variant_total == 4


def test_relu6_listed_with_variants() -> None:
    result = ok(f"{VARIANTS}:ReLU6Spellings", variants=True)
    root = ("", "ReLU6Spellings")
    assert [described(s) for s in result.sites] == [
        ("act6", "ReLU6", "module", "relu6", "torch.nn.ReLU6", True, marker_line(VARIANTS, "relu6 module")),
        (*root, "function", "relu6", "torch.nn.functional.relu6", False, marker_line(VARIANTS, "F.relu6")),
        (*root, "function", "relu6", "torch.nn.functional.hardtanh", False, marker_line(VARIANTS, "hardtanh 0 6")),
        (*root, "clamp", "relu6", "Tensor.clamp", False, marker_line(VARIANTS, "clamp 0 6")),
        (*root, "function", "relu", FN_RELU, False, marker_line(VARIANTS, "plain relu")),
    ]
    assert result.hidden_variants == ()


def test_leaky_family() -> None:
    hidden = ok(f"{VARIANTS}:LeakyFamily")
    assert site_keys(hidden) == [("relu", "module", "relu")]
    assert hidden.hidden_variants == (("leaky_relu", 2), ("prelu", 1), ("rrelu", 1))

    shown = ok(f"{VARIANTS}:LeakyFamily", variants=True)
    assert [described(s) for s in shown.sites] == [
        ("leaky", "LeakyReLU", "module", "leaky_relu", "torch.nn.LeakyReLU", False, marker_line(VARIANTS, "leaky module")),
        ("", "LeakyFamily", "function", "leaky_relu", "torch.nn.functional.leaky_relu", False,
         marker_line(VARIANTS, "F.leaky_relu")),
        ("prelu", "PReLU", "module", "prelu", "torch.nn.PReLU", False, marker_line(VARIANTS, "prelu")),
        ("rrelu", "RReLU", "module", "rrelu", "torch.nn.RReLU", False, marker_line(VARIANTS, "rrelu")),
        ("relu", "ReLU", "module", "relu", "torch.nn.ReLU", False, marker_line(VARIANTS, "variants plain relu")),
    ]


def test_elu_selu_celu_gelu_are_not_sites_at_all() -> None:
    result = ok(f"{VARIANTS}:NotReLUFamily", variants=True)
    assert result.sites == ()
    assert ok(f"{VARIANTS}:NotReLUFamily").hidden_variants == ()


def test_mixed_activations() -> None:
    hidden = ok(f"{VARIANTS}:MixedActivations")
    assert [s.source.line for s in hidden.sites if s.source] == [
        marker_line(VARIANTS, "mixed relu 1"), marker_line(VARIANTS, "mixed relu 2")
    ]
    assert hidden.hidden_variants == (("leaky_relu", 1), ("relu6", 1))
    shown = ok(f"{VARIANTS}:MixedActivations", variants=True)
    assert [s.variant for s in shown.sites] == ["relu", "relu6", "leaky_relu", "relu"]


def test_mobilenet_block_relu6_modules() -> None:
    assert ok(f"{VARIANTS}:MobileNetBlock").hidden_variants == (("relu6", 2),)
    shown = ok(f"{VARIANTS}:MobileNetBlock", variants=True)
    assert [described(s) for s in shown.sites] == [
        ("act1", "ReLU6", "module", "relu6", "torch.nn.ReLU6", True, marker_line(VARIANTS, "mobilenet act1")),
        ("act2", "ReLU6", "module", "relu6", "torch.nn.ReLU6", True, marker_line(VARIANTS, "mobilenet act2")),
    ]


# -- embedded: ReLUs inside layers the tracer does not enter -----------------------------------

def test_relu_rnn_is_embedded() -> None:
    result = ok(f"{EMBEDDED}:ReLURNNTagger")
    assert [described(s) for s in result.sites] == [
        ("rnn", "RNN", "embedded", "relu", "torch.nn.RNN(nonlinearity='relu')", False,
         marker_line(EMBEDDED, "relu rnn")),
    ]
    assert result.sites[0].inside == Inside("rnn", "RNN")


def test_relu_rnn_cell_in_a_loop_is_one_site_per_step() -> None:
    result = ok(f"{EMBEDDED}:ReLURNNCellLoop")
    assert [described(s) for s in result.sites] == [
        ("cell", "RNNCell", "embedded", "relu", "torch.nn.RNNCell(nonlinearity='relu')", False,
         marker_line(EMBEDDED, "relu cell")),
    ] * 3
    assert {s.inside for s in result.sites} == {Inside("cell", "RNNCell")}


@pytest.mark.parametrize("name", ["TanhRNN", "GELUTransformer"])
def test_no_embedded_relu(name: str) -> None:
    result = ok(f"{EMBEDDED}:{name}", variants=True)
    assert result.sites == ()
    assert result.hidden_variants == ()


def test_transformer_encoder_layer() -> None:
    result = ok(f"{EMBEDDED}:TransformerLayerReLU")
    assert [described(s) for s in result.sites] == [
        ("layer", "TransformerEncoderLayer", "embedded", "relu",
         "torch.nn.TransformerEncoderLayer(activation=relu)", False, marker_line(EMBEDDED, "encoder layer")),
    ]
    assert result.sites[0].inside == Inside("layer", "TransformerEncoderLayer")


def test_transformer_encoder_has_one_site_per_layer() -> None:
    result = ok(f"{EMBEDDED}:TransformerEncoderReLU")
    line_no = marker_line(EMBEDDED, "encoder stack")
    assert [described(s) for s in result.sites] == [
        (f"encoder.layers.{i}", "TransformerEncoderLayer", "embedded", "relu",
         "torch.nn.TransformerEncoderLayer(activation=relu)", False, line_no)
        for i in range(3)
    ]
    # inside names the layer that hides each ReLU, not the stack around the layers
    assert [s.inside for s in result.sites] == [
        Inside(f"encoder.layers.{i}", "TransformerEncoderLayer") for i in range(3)
    ]


def test_full_transformer() -> None:
    result = ok(f"{EMBEDDED}:FullTransformer")
    line_no = marker_line(EMBEDDED, "transformer")
    enc = ("TransformerEncoderLayer", "embedded", "relu", "torch.nn.TransformerEncoderLayer(activation=relu)")
    dec = ("TransformerDecoderLayer", "embedded", "relu", "torch.nn.TransformerDecoderLayer(activation=relu)")
    assert [described(s) for s in result.sites] == [
        ("transformer.encoder.layers.0", *enc, False, line_no),
        ("transformer.encoder.layers.1", *enc, False, line_no),
        ("transformer.decoder.layers.0", *dec, False, line_no),
        ("transformer.decoder.layers.1", *dec, False, line_no),
    ]
    assert [s.inside for s in result.sites] == [
        Inside(s.module_path, s.module_type) for s in result.sites
    ]


def test_transformer_activation_module() -> None:
    result = ok(f"{EMBEDDED}:TransformerActivationModule")
    assert [described(s) for s in result.sites] == [
        ("layer.activation", "ReLU", "embedded", "relu", "torch.nn.ReLU", False,
         marker_line(EMBEDDED, "activation module")),
    ]
    assert result.sites[0].inside == Inside("layer", "TransformerEncoderLayer")


EMBEDDED_INLINE = """
class Stack(nn.Module):
    def __init__(self):
        super().__init__()
        self.fn_layer = nn.TransformerEncoderLayer(16, 2, 32, activation=F.relu)
        self.torch_layer = nn.TransformerDecoderLayer(16, 2, 32, activation=torch.relu)
        self.gelu_layer = nn.TransformerEncoderLayer(16, 2, 32, activation=F.gelu)
        self.rnn = nn.RNN(16, 16, nonlinearity="relu", bidirectional=True, num_layers=3)

    def forward(self, x, memory):
        x = self.gelu_layer(self.fn_layer(x))
        x = self.torch_layer(x, memory)
        return self.rnn(x)[0]
"""


def test_embedded_activation_given_as_function(write_model) -> None:
    result = ok(f"{write_model(EMBEDDED_INLINE)}:Stack")
    assert [(s.module_path, s.kind, s.variant, s.op) for s in result.sites] == [
        ("fn_layer", "embedded", "relu", "torch.nn.TransformerEncoderLayer(activation=relu)"),
        ("torch_layer", "embedded", "relu", "torch.nn.TransformerDecoderLayer(activation=relu)"),
        # one call of a multi-layer bidirectional RNN is one site
        ("rnn", "embedded", "relu", "torch.nn.RNN(nonlinearity='relu')"),
    ]


def test_eval_mode_keeps_embedded_sites() -> None:
    result = ok(f"{EMBEDDED}:TransformerEncoderReLU", eval=True)
    assert len(result.sites) == 3


def test_integer_clamps_are_index_arithmetic_not_relus(write_model) -> None:  # type: ignore[no-untyped-def]
    path = write_model(
        """
        class Indexing(nn.Module):
            def forward(self, x):
                index = (torch.arange(x.shape[-1]) - 1).clamp(min=0)
                shifted = (x.argmax(-1) - 2).clamp_min(0)
                counts = x.long().clamp(min=0)
                as_float = (torch.arange(x.shape[-1]) / 2).clamp(min=0)
                return F.relu(x[..., index]) + shifted + counts + as_float
        """
    )
    result = analyse(f"{path}:Indexing")
    # the three integer clamps are not sites; a clamp after true division is a float one
    assert [(s.kind, s.op) for s in result.sites] == [("clamp", "Tensor.clamp"), ("function", "torch.nn.functional.relu")]
