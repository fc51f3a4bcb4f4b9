"""A front end for graphs of aten operators: TorchScript files and ExportedPrograms.

Both are turned into one shape — an ``fx.Graph`` plus, per node, the aten op name, its
constant arguments, the chain of modules that produced it and the user's source line —
so that detection reads the detector's ``ATEN`` table and relations reuse the same two
passes as traced models.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
import torch.fx as fx

from . import vocab
from .detect import ATEN, ATEN_EMBEDDED
from .hierarchy import Analysis, Found
from .relate import Anchor, relate_graph
from .report import Inside, Site, SourceLoc

_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
_CONV_OPS = {
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "convolution", "_convolution", "conv_tbc",
}
_RNN_OPS = {
    "lstm", "gru", "rnn_tanh", "rnn_relu", "lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell",
}
ANCHOR_TYPE_NAMES = {
    "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell",
    "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
    "LazyConv1d", "LazyConv2d", "LazyConv3d",
    "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d",
}
_RELU_MODULE_TYPES = {"ReLU", "ReLU6", "LeakyReLU", "PReLU", "RReLU", "Threshold", "Hardtanh"}
#: plumbing that says nothing in ``via``
_SILENT_OPS = {
    "getitem", "size", "dim", "ListConstruct", "ListUnpack", "TupleConstruct", "TupleUnpack",
    "TupleIndex", "__getitem__", "NumToTensor", "Int", "Float", "Bool", "If", "Loop",
}


@dataclass(frozen=True)
class OpInfo:
    op: str  # aten operator name without namespace and overload: "relu_", "clamp"
    args: tuple[Any, ...]  # constants as values, tensors as graph nodes
    chain: tuple[tuple[str, str], ...]  # (path, class name) of the modules that made it, outermost first
    source: SourceLoc | None


@dataclass
class AtenGraph:
    graph: fx.Graph
    info: dict[fx.Node, OpInfo]
    root_type: str
    #: module paths known to be anchors by their class (subclasses included), when the
    #: live model is at hand; saved files only have class names
    anchor_paths: frozenset[str] = frozenset()


def analyse(aten: AtenGraph, extra_anchor_names: Iterable[str] = ()) -> Analysis:
    names = ANCHOR_TYPE_NAMES | {n for n in extra_anchor_names if n}

    def anchor_names(path: str, type_: str) -> bool:
        return type_ in names or path in aten.anchor_paths

    nodes = list(aten.graph.nodes)
    computes: set[fx.Node] = set()
    region = {n: _region(n, aten.info.get(n), anchor_names, computes) for n in nodes}
    labels = {n: _label(n, aten.info) for n in nodes}
    value_inputs = {n: _value_inputs(n, aten.info.get(n)) for n in nodes}
    relations = relate_graph(nodes, region, labels, value_inputs=value_inputs, computes=computes)
    result = Analysis(anchors=list(relations.anchors))
    for node in nodes:
        info = aten.info.get(node)
        site = _site(node, info, aten.root_type, anchor_names) if info else None
        if site is not None:
            result.found.append(
                Found(site, relations.up(node), relations.down(node))
            )
    return result


def _value_inputs(node: fx.Node, info: OpInfo | None) -> list[fx.Node]:
    """The inputs whose values reach ``node`` (``vocab.VALUE_ARGS``, read by op name and position)."""
    keys = vocab.value_args(info.op) if info is not None else None
    if keys is None or info is None:
        return list(node.all_input_nodes)
    chosen: list[fx.Node] = []
    for index, arg in enumerate(info.args):
        if index in keys:
            fx.node.map_arg(arg, chosen.append)
    return list(dict.fromkeys(chosen))


def _site(
    node: fx.Node, info: OpInfo, root_type: str, anchor_names: Callable[[str, str], bool]
) -> Site | None:
    owner_path, owner_type = info.chain[-1] if info.chain else ("", root_type)
    if info.op in ATEN_EMBEDDED:
        inside = _outermost(info.chain, anchor_names) or (owner_path, owner_type)
        return Site(
            "embedded", ATEN_EMBEDDED[info.op], f"aten::{info.op}", owner_path, owner_type, False,
            info.source, inside=Inside(*inside), node=node.name,
        )
    spelling = ATEN.get(info.op)
    if spelling is None:
        return None
    reading = spelling.read(info.args, {}, spelling.inplace)
    if reading is None:
        return None
    if owner_type in _RELU_MODULE_TYPES:  # the op an activation module runs: a module site
        return Site(
            "module", reading[0], f"torch.nn.{owner_type}", owner_path, owner_type, reading[1],
            info.source, node=node.name,
        )
    return Site(
        spelling.kind, reading[0], spelling.op, owner_path, owner_type, reading[1], info.source,
        node=node.name,
    )


def _region(
    node: fx.Node,
    info: OpInfo | None,
    anchor_names: Callable[[str, str], bool],
    computes: set[fx.Node],
) -> Anchor | None:
    if info is None:
        return None
    outer = _outermost(info.chain, anchor_names)
    if info.op in _CONV_OPS or info.op in _RNN_OPS:
        computes.add(node)
        return Anchor(*outer) if outer else Anchor(node.name, info.op)
    return Anchor(*outer) if outer else None


def _outermost(
    chain: tuple[tuple[str, str], ...], is_anchor: Callable[[str, str], bool]
) -> tuple[str, str] | None:
    return next(((path, type_) for path, type_ in chain if is_anchor(path, type_)), None)


def _label(node: fx.Node, infos: dict[fx.Node, OpInfo]) -> str | None:
    """Root-level ops by name; a module's ops once, as the module, where its value leaves it."""
    info = infos.get(node)
    if info is None or info.op in _SILENT_OPS:
        return None
    if not info.chain:
        return info.op
    path, type_ = info.chain[-1]
    leaves = any(
        (infos[user].chain[-1][0] if user in infos and infos[user].chain else None) != path
        for user in node.users
    )
    return f"{type_} {path}" if leaves else None


# -- TorchScript -----------------------------------------------------------------------------

_HIERARCHY_SEGMENT = re.compile(r"([^.()]+)\(([^()]*)\)")
_FILE_LINE = re.compile(r'File "([^"]+)", line (\d+)')


def from_torchscript(module: torch.jit.ScriptModule) -> AtenGraph:
    ts_graph = module.inlined_graph
    graph = fx.Graph()
    info: dict[fx.Node, OpInfo] = {}
    values: dict[int, Any] = {}
    inputs = list(ts_graph.inputs())
    for index, value in enumerate(inputs[1:]):  # the first input is the module itself
        values[value.unique()] = graph.placeholder(f"input_{index}")

    def value_of(value: Any) -> Any:
        return values.get(value.unique())

    def visit(block: Any) -> None:
        for ts_node in block.nodes():
            kind = ts_node.kind()
            if kind == "prim::Constant":
                values[ts_node.output().unique()] = _constant(ts_node)
                continue
            if kind == "prim::GetAttr":  # weights and submodules: not data flow
                continue
            taken = _constant_branch(ts_node, values)
            if taken is not None:  # `if inplace:` on a constant: only the branch that runs
                visit(taken)
                for output, result in zip(ts_node.outputs(), taken.returnNode().inputs(), strict=False):
                    values[output.unique()] = value_of(result)
                continue
            for sub_block in ts_node.blocks():
                visit(sub_block)
            args = tuple(value_of(v) for v in ts_node.inputs())
            deps = [a for a in args if isinstance(a, fx.Node)]
            for sub_block in ts_node.blocks():  # a branch's results feed the node that owns it
                deps += [values[v.unique()] for v in sub_block.returnNode().inputs()
                         if isinstance(values.get(v.unique()), fx.Node)]
            op = kind.split("::", 1)[-1]
            node = graph.create_node("call_method", op, tuple(deps), {})
            info[node] = OpInfo(op, args, _script_chain(ts_node), _script_source(ts_node))
            for output in ts_node.outputs():
                values[output.unique()] = node

    visit(ts_graph)
    returned = [value_of(v) for v in ts_graph.return_node().inputs()]
    graph.output(tuple(r for r in returned if isinstance(r, fx.Node)))
    return AtenGraph(graph, info, module.original_name)


def _constant_branch(ts_node: Any, values: dict[int, Any]) -> Any:
    """The block a ``prim::If`` on a constant condition takes, else None."""
    if ts_node.kind() != "prim::If":
        return None
    condition = values.get(next(iter(ts_node.inputs())).unique())
    if not isinstance(condition, bool):
        return None
    blocks = list(ts_node.blocks())
    return blocks[0] if condition else blocks[1]


def _constant(ts_node: Any) -> Any:
    try:
        return ts_node.output().toIValue()
    except Exception:  # tensors and objects: not a bound we can read
        return None


def _script_chain(ts_node: Any) -> tuple[tuple[str, str], ...]:
    chain: list[tuple[str, str]] = []
    path: list[str] = []
    for name, type_ in _HIERARCHY_SEGMENT.findall(ts_node.getModuleHierarchy() or ""):
        if name in ("SELF", "UNKNOWN_INSTANCE"):
            continue
        path.append(name)
        chain.append((".".join(path), type_.rsplit(".", 1)[-1]))
    return tuple(chain)


def _script_source(ts_node: Any) -> SourceLoc | None:
    return _first_user_frame(_FILE_LINE.findall(ts_node.sourceRange() or ""))


def _first_user_frame(frames: Iterable[tuple[str, str]]) -> SourceLoc | None:
    for file, line in frames:
        if not file.startswith(_TORCH_DIR) and not file.startswith("code/"):
            return SourceLoc(file, int(line))
    return None


# -- ExportedProgram -------------------------------------------------------------------------

def export_on_meta(
    model: torch.nn.Module,
    shapes: Iterable[tuple[int, ...]],
    is_anchor: Callable[[torch.nn.Module], bool],
    dtypes: Iterable[str | None] = (),
) -> AtenGraph:
    """``torch.export`` (non-strict) with meta inputs of ``shapes``: shape-dependent code resolves.

    Raises whatever export raises (data-dependent branches fail with GuardOnDataDependentSymNode).
    """
    import logging

    names = list(dtypes)
    inputs = tuple(
        torch.zeros(shape, device=_device_of(model), dtype=dtype_named(names[i] if i < len(names) else None))
        for i, shape in enumerate(shapes)
    )
    logging.disable(logging.CRITICAL)  # export logs its own failures at length
    try:
        program = torch.export.export(model, inputs, strict=False)
    finally:
        logging.disable(logging.NOTSET)
    graph = from_exported(program)
    graph.anchor_paths = frozenset(p for p, m in model.named_modules() if p and is_anchor(m))
    return graph


def dtype_named(name: str | None) -> torch.dtype | None:
    return None if name is None else getattr(torch, vocab.INPUT_DTYPES[name])


def _device_of(model: torch.nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    return torch.device("meta")


def from_exported(program: Any) -> AtenGraph:
    graph = program.graph
    info: dict[fx.Node, OpInfo] = {}
    root_type = "ExportedProgram"
    for node in graph.nodes:
        if node.op != "call_function":
            continue
        stack = node.meta.get("nn_module_stack") or {}
        chain = tuple((path, type_.rsplit(".", 1)[-1]) for path, type_ in stack.values() if path)
        roots = [type_ for path, type_ in stack.values() if not path]
        if roots:
            root_type = roots[0].rsplit(".", 1)[-1]
        info[node] = OpInfo(_op_name(node.target), tuple(node.args), chain, _export_source(node))
    return AtenGraph(graph, info, root_type)


def _op_name(target: Callable[..., Any]) -> str:
    packet = getattr(target, "overloadpacket", None)
    return getattr(packet, "__name__", None) or getattr(target, "__name__", str(target))


def _export_source(node: fx.Node) -> SourceLoc | None:
    frames = _FILE_LINE.findall(node.meta.get("stack_trace") or "")
    return _first_user_frame(reversed(frames))  # the trace lists the innermost frame last
