"""Find ReLU sites in a traced graph, from one table of spellings.

Each spelling is a row: the callable (or method name, or module class), the site kind it
yields, and a reader that inspects the call's arguments and says which variant it is —
or that it is no ReLU at all (``clamp(0, 1)``). Adding an activation is adding rows.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from .report import Inside, SiteKind, SourceLoc
from .trace import Traced

#: (variant, inplace) for a ReLU-family call, or None when the call is not one
Reading = tuple[str, bool] | None
ArgReader = Callable[[tuple[Any, ...], dict[str, Any], bool], Reading]


@dataclass(frozen=True)
class Detected:
    """A site found in the graph, before relations are attached."""

    node: fx.Node
    kind: SiteKind
    variant: str
    op: str
    module_path: str
    module_type: str
    inplace: bool
    source: SourceLoc | None
    inside: Inside | None = None


# -- reading arguments ------------------------------------------------------------------

def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str, default: Any) -> Any:
    if name in kwargs:
        return kwargs[name]
    return args[index] if len(args) > index else default


def _number(value: Any) -> float | None:
    """A plain Python number, or None (tensors, proxies and bools are not bounds we read)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _inplace(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, forced: bool) -> bool:
    return forced or bool(_arg(args, kwargs, index, "inplace", False))


def _fixed(variant: str, inplace_index: int | None = None) -> ArgReader:
    """A reader for spellings that are always ``variant`` (relu, relu6, leaky_relu, ...)."""

    def read(args: tuple[Any, ...], kwargs: dict[str, Any], forced_inplace: bool) -> Reading:
        if inplace_index is None:
            return variant, forced_inplace
        return variant, _inplace(args, kwargs, inplace_index, forced_inplace)

    return read


#: an upper bound that cannot be read statically (a tensor, ``self.clip`` in source)
UNREAD = object()


def _bounds_variant(low: float | None, high: object) -> str | None:
    """relu for [0, inf), relu6 for [0, 6], clipped_relu for any other upper bound above 0
    (also one that cannot be read: never a plain ReLU); anything else is not a ReLU."""
    if low != 0.0:
        return None
    if high is None or high == math.inf:
        return "relu"
    if high is UNREAD:
        return "clipped_relu"
    if not isinstance(high, float):
        return None
    if high == 6.0:
        return "relu6"
    return "clipped_relu" if high > 0.0 else None


def _bound(value: Any) -> object:
    """An upper bound as read: None (absent), a float, or UNREAD."""
    if value is None:
        return None
    number = _number(value)
    return UNREAD if number is None else number


def _read_clamp(args: tuple[Any, ...], kwargs: dict[str, Any], forced_inplace: bool) -> Reading:
    low_raw = _arg(args, kwargs, 1, "min", None)
    if low_raw is None:
        return None
    variant = _bounds_variant(_number(low_raw), _bound(_arg(args, kwargs, 2, "max", None)))
    return (variant, forced_inplace) if variant else None


def _read_clamp_min(args: tuple[Any, ...], kwargs: dict[str, Any], forced_inplace: bool) -> Reading:
    low = _number(_arg(args, kwargs, 1, "min", None))
    return ("relu", forced_inplace) if low == 0.0 else None


def _read_threshold(args: tuple[Any, ...], kwargs: dict[str, Any], forced_inplace: bool) -> Reading:
    threshold = _number(_arg(args, kwargs, 1, "threshold", None))
    value = _number(_arg(args, kwargs, 2, "value", None))
    if threshold == 0.0 and value == 0.0:
        return "relu", _inplace(args, kwargs, 3, forced_inplace)
    return None


def _read_hardtanh(args: tuple[Any, ...], kwargs: dict[str, Any], forced_inplace: bool) -> Reading:
    low = _number(_arg(args, kwargs, 1, "min_val", -1.0))
    variant = _bounds_variant(low, _bound(_arg(args, kwargs, 2, "max_val", 1.0)))
    return (variant, _inplace(args, kwargs, 3, forced_inplace)) if variant else None


@dataclass(frozen=True)
class Spelling:
    kind: SiteKind
    op: str
    read: ArgReader
    inplace: bool = False  # the spelling itself is in place (relu_, clamp_)


def _functions() -> dict[Any, Spelling]:
    table: dict[Any, Spelling] = {
        F.relu: Spelling("function", "torch.nn.functional.relu", _fixed("relu", 1)),
        torch.relu: Spelling("function", "torch.relu", _fixed("relu")),
        torch.relu_: Spelling("function", "torch.relu_", _fixed("relu"), inplace=True),
        F.relu6: Spelling("function", "torch.nn.functional.relu6", _fixed("relu6", 1)),
        F.hardtanh: Spelling("function", "torch.nn.functional.hardtanh", _read_hardtanh),
        F.hardtanh_: Spelling("function", "torch.nn.functional.hardtanh_", _read_hardtanh, inplace=True),
        F.leaky_relu: Spelling("function", "torch.nn.functional.leaky_relu", _fixed("leaky_relu", 2)),
        F.leaky_relu_: Spelling(
            "function", "torch.nn.functional.leaky_relu_", _fixed("leaky_relu"), inplace=True
        ),
        F.prelu: Spelling("function", "torch.nn.functional.prelu", _fixed("prelu")),
        F.rrelu: Spelling("function", "torch.nn.functional.rrelu", _fixed("rrelu", 4)),
        torch.rrelu: Spelling("function", "torch.rrelu", _fixed("rrelu")),
        torch.rrelu_: Spelling("function", "torch.rrelu_", _fixed("rrelu"), inplace=True),
        F.threshold: Spelling("threshold", "torch.nn.functional.threshold", _read_threshold),
        torch.threshold: Spelling("threshold", "torch.threshold", _read_threshold),
        torch.threshold_: Spelling("threshold", "torch.threshold_", _read_threshold, inplace=True),
        torch.clamp: Spelling("clamp", "torch.clamp", _read_clamp),
        torch.clip: Spelling("clamp", "torch.clip", _read_clamp),
        torch.clamp_: Spelling("clamp", "torch.clamp_", _read_clamp, inplace=True),
        torch.clip_: Spelling("clamp", "torch.clip_", _read_clamp, inplace=True),
        torch.clamp_min: Spelling("clamp", "torch.clamp_min", _read_clamp_min),
        torch.clamp_min_: Spelling("clamp", "torch.clamp_min_", _read_clamp_min, inplace=True),
    }
    # F.relu_ / F.threshold_ are the torch builtins under another name; keep one row each.
    table.setdefault(F.relu_, table[torch.relu_])
    table.setdefault(F.threshold_, table[torch.threshold_])
    return table


def _methods() -> dict[str, Spelling]:
    plain = {
        "relu": ("method", _fixed("relu")),
        "relu6": ("method", _fixed("relu6")),
        "clamp": ("clamp", _read_clamp),
        "clip": ("clamp", _read_clamp),
        "clamp_min": ("clamp", _read_clamp_min),
        "prelu": ("method", _fixed("prelu")),
    }
    table: dict[str, Spelling] = {}
    for name, (kind, read) in plain.items():
        table[name] = Spelling(kind, f"Tensor.{name}", read)  # type: ignore[arg-type]
        table[name + "_"] = Spelling(kind, f"Tensor.{name}_", read, inplace=True)  # type: ignore[arg-type]
    return table


def _aten() -> dict[str, Spelling]:
    """aten operators, by name, as TorchScript and ExportedProgram graphs spell them."""
    rows: dict[str, tuple[SiteKind, ArgReader]] = {
        "relu": ("function", _fixed("relu")),
        "relu6": ("function", _fixed("relu6")),
        "hardtanh": ("function", _read_hardtanh),
        "leaky_relu": ("function", _fixed("leaky_relu")),
        "prelu": ("function", _fixed("prelu")),
        "_prelu_kernel": ("function", _fixed("prelu")),
        "rrelu": ("function", _fixed("rrelu")),
        "rrelu_with_noise": ("function", _fixed("rrelu")),
        "threshold": ("threshold", _read_threshold),
        "clamp": ("clamp", _read_clamp),
        "clip": ("clamp", _read_clamp),
        "clamp_min": ("clamp", _read_clamp_min),
    }
    table: dict[str, Spelling] = {}
    for name, (kind, read) in rows.items():
        table[name] = Spelling(kind, f"aten::{name}", read)
        table[name + "_"] = Spelling(kind, f"aten::{name}_", read, inplace=True)
    return table


FUNCTIONS = _functions()
METHODS = _methods()
ATEN = _aten()
#: aten operators that apply a ReLU no graph node shows (the recurrent ReLU kernels)
ATEN_EMBEDDED = {"rnn_relu": "relu", "rnn_relu_cell": "relu"}


def read_module(module: nn.Module) -> Reading:
    """The ReLU-family variant an activation module computes, or None."""
    if isinstance(module, nn.ReLU):
        return "relu", module.inplace
    if isinstance(module, nn.ReLU6):  # before Hardtanh: ReLU6 subclasses it
        return "relu6", module.inplace
    if isinstance(module, nn.Hardtanh):
        variant = _bounds_variant(float(module.min_val), float(module.max_val))  # (0, 20): clipped_relu
        return (variant, module.inplace) if variant else None
    if isinstance(module, nn.Threshold):
        if float(module.threshold) == 0.0 and float(module.value) == 0.0:
            return "relu", module.inplace
        return None
    for cls, variant in ((nn.LeakyReLU, "leaky_relu"), (nn.PReLU, "prelu"), (nn.RReLU, "rrelu")):
        if isinstance(module, cls):
            return variant, bool(getattr(module, "inplace", False))
    return None


def module_op(module: nn.Module) -> str:
    cls = type(module)
    if getattr(nn, cls.__name__, None) is cls:
        return f"torch.nn.{cls.__name__}"
    return f"{cls.__module__}.{cls.__qualname__}"


# -- embedded sites: ReLUs inside modules the tracer does not enter ------------------------

def embedded_reading(module: nn.Module) -> tuple[Reading, str] | None:
    """(reading, op) when ``module`` itself applies a ReLU that no graph node shows."""
    if isinstance(module, (nn.RNN, nn.RNNCell)) and module.nonlinearity == "relu":
        return ("relu", False), f"{module_op(module)}(nonlinearity='relu')"
    if isinstance(module, (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer)):
        activation = module.activation
        if activation in (F.relu, torch.relu) or activation == "relu":
            return ("relu", False), f"{module_op(module)}(activation=relu)"
        return None  # an activation module is found as a submodule
    reading = read_module(module)
    return (reading, module_op(module)) if reading else None


def embedded_in(
    leaf: nn.Module, leaf_path: str, is_anchor: Callable[[nn.Module], bool]
) -> Iterator[tuple[str, nn.Module, Reading, str, Inside]]:
    """Every ReLU applied inside the leaf module ``leaf``: (path, module, reading, op, inside)."""
    for sub_path, module in leaf.named_modules(remove_duplicate=False):
        found = embedded_reading(module)
        if found is None:
            continue
        path = ".".join(p for p in (leaf_path, sub_path) if p)
        yield path, module, found[0], found[1], _containing_anchor(leaf, leaf_path, sub_path, is_anchor)


def _containing_anchor(
    leaf: nn.Module, leaf_path: str, sub_path: str, is_anchor: Callable[[nn.Module], bool]
) -> Inside:
    """The innermost anchor on the way from ``leaf`` down to ``sub_path``; without one, the
    innermost layer that hides the ReLU (a Transformer layer, not the Transformer around it;
    for an activation module, the layer that holds it)."""
    chain = [(leaf_path, leaf)]
    parts = sub_path.split(".") if sub_path else []
    for depth, part in enumerate(parts):
        path = ".".join([p for p in [leaf_path] if p] + parts[: depth + 1])
        chain.append((path, getattr(chain[-1][1], part)))
    anchors = [(path, module) for path, module in chain if is_anchor(module)]
    layers = [(path, module) for path, module in chain if read_module(module) is None]
    path, module = (anchors or layers or chain)[-1]
    return Inside(path, type(module).__name__)


# -- the graph walk ---------------------------------------------------------------------------

def detect(
    traced: Traced,
    is_anchor: Callable[[nn.Module], bool],
    opaque: Callable[[nn.Module], bool] | None = None,
) -> list[Detected]:
    """Every ReLU-family site in ``traced``, in graph order.

    Calls of ``opaque`` modules (leaves the fallback analyses on their own) are skipped here.
    """
    found: list[Detected] = []
    integers: set[fx.Node] = set()
    for node in traced.graph.nodes:
        if _is_integer(node, integers):
            integers.add(node)
        if node.op == "call_module":
            if opaque is not None and opaque(traced.submodule(str(node.target))):
                continue
            found.extend(_module_sites(traced, node, is_anchor))
        elif node.op in ("call_function", "call_method"):
            site = _call_site(traced, node)
            if site is not None and not (site.kind == "clamp" and _first_arg(node) in integers):
                found.append(site)
    return found


# -- integer tensors: clamping an index is not a ReLU ----------------------------------------

_INTEGER_DTYPES = {torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool}
#: ops whose result is an integer tensor whatever their inputs
_INTEGER_FUNCTIONS = {torch.argmax, torch.argmin, torch.randint, torch.randperm, torch.nonzero,
                      torch.bucketize, torch.searchsorted, torch.argsort}
_INTEGER_METHODS = {
    "long", "int", "short", "byte", "bool", "char", "argmax", "argmin", "argsort", "nonzero",
    "size", "dim", "numel",  # shapes are integers too, and index arithmetic starts from them
}
#: ops that turn integers into floats
_FLOAT_FUNCTIONS = {
    operator.truediv, torch.div, torch.true_divide, torch.sqrt, torch.exp, torch.log,
    torch.mean, torch.sigmoid, torch.tanh, torch.softmax,
}
_FLOAT_METHODS = {"float", "double", "half", "bfloat16", "div", "true_divide", "mean", "sqrt", "exp", "log"}


def _first_arg(node: fx.Node) -> object:
    return node.args[0] if node.args else None


def _is_integer(node: fx.Node, integers: set[fx.Node]) -> bool:
    """A conservative static dtype: True only for tensors surely of an integer type."""
    if node.op not in ("call_function", "call_method"):
        return False
    dtype = node.kwargs.get("dtype")
    if dtype is not None:
        return dtype in _INTEGER_DTYPES
    if node.op == "call_method" and node.target in ("to", "type"):
        return any(arg in _INTEGER_DTYPES for arg in node.args[1:])
    if _in_table(node, _INTEGER_METHODS, _INTEGER_FUNCTIONS):
        return True
    if node.op == "call_function" and node.target is getattr:  # x.shape, x.ndim
        return len(node.args) > 1 and node.args[1] in ("shape", "ndim")
    if node.op == "call_function" and node.target is torch.arange:
        return all(isinstance(a, int) or a in integers for a in node.args)
    if _in_table(node, _FLOAT_METHODS, _FLOAT_FUNCTIONS):
        return False
    # elementwise arithmetic, indexing, reshaping: integer when every input is
    inputs = [*node.args, *node.kwargs.values()]
    tensors = [a for a in inputs if isinstance(a, fx.Node)]
    if any(isinstance(a, float) for a in inputs):
        return False
    return bool(tensors) and all(t in integers for t in tensors)


def _in_table(node: fx.Node, methods: set[str], functions: set[object]) -> bool:
    if node.op == "call_method":
        return node.target in methods
    try:
        return node.target in functions
    except TypeError:  # an unhashable target
        return False


def _call_site(traced: Traced, node: fx.Node) -> Detected | None:
    if node.op == "call_function":
        spelling = _lookup_function(node.target)
    else:
        spelling = METHODS.get(node.target) if isinstance(node.target, str) else None
    if spelling is None:
        return None
    reading = spelling.read(tuple(node.args), dict(node.kwargs), spelling.inplace)
    if reading is None:
        return None
    info = traced.owner(node)
    return Detected(
        node=node,
        kind=spelling.kind,
        variant=reading[0],
        op=spelling.op,
        module_path=traced.qualify(info.owner_path),
        module_type=info.owner_type.__name__,
        inplace=reading[1],
        source=info.source,
    )


def _lookup_function(target: Any) -> Spelling | None:
    try:
        return FUNCTIONS.get(target)
    except TypeError:  # unhashable targets exist in exotic graphs
        return None


def _module_sites(
    traced: Traced, node: fx.Node, is_anchor: Callable[[nn.Module], bool]
) -> Iterator[Detected]:
    module = traced.submodule(str(node.target))
    path = traced.qualify(str(node.target))
    source = traced.owner(node).source
    reading = read_module(module)
    if reading is not None:
        yield Detected(
            node, "module", reading[0], module_op(module), path, type(module).__name__, reading[1], source
        )
        return
    for sub_path, sub, sub_reading, op, inside in embedded_in(module, path, is_anchor):
        assert sub_reading is not None
        yield Detected(
            node, "embedded", sub_reading[0], op, sub_path, type(sub).__name__, sub_reading[1], source, inside
        )
