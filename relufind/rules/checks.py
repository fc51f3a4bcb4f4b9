"""The checks: one small function per rule, registered by code against the catalog.

Graph checks read a region's per-node facts (``relufind.facts``) and only look inside
traced regions; where what they need crosses an opaque node or a region's edge they stay
silent. Model checks read the report's sites; RF005 reads ``forward`` source with ``ast``.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections import Counter
from collections.abc import Iterator
from functools import lru_cache
from types import ModuleType
from typing import Any

import torch.fx as fx
import torch.nn as nn

from .. import srcread
from ..facts import (
    CONV,
    DROPOUT,
    GLOBAL_POOL,
    LINEAR,
    NONNEG,
    NORM,
    RECURRENT,
    SAVES_OUTPUT_OPS,
    SHAPE,
    SQUASH,
    Region,
    first_input,
    later_readers,
    producer,
    reaches_output,
    value_read,
)
from ..report import Site, SourceLoc
from .engine import Hit, Model, check

#: what may lie between a clipped head and the model output (RF001)
_TO_OUTPUT = frozenset({SHAPE, DROPOUT, GLOBAL_POOL, SQUASH})


def _relu_nodes(model: Model) -> Iterator[tuple[Region, fx.Node, Site]]:
    """Every traced plain-ReLU site applied by its own graph node (not embedded in a leaf)."""
    for region in model.regions:
        for node, sites in region.sites.items():
            for site in sites:
                if site.variant == "relu" and site.kind != "embedded":
                    yield region, node, site


def _where(site: Site) -> str:
    return site.module_path or "the root module"


def _label(region: Region, node: fx.Node) -> str:
    if node.op == "call_module":
        module = region.traced.submodule(str(node.target))
        return f"{type(module).__name__} {region.traced.qualify(str(node.target))}"
    if node.op == "call_method":
        return f".{node.target}()"
    return f"{getattr(node.target, '__name__', node.target)}()"


def _at(region: Region, node: fx.Node) -> str:
    source = region.traced.owner(node).source
    return f" (line {source.line})" if source is not None else ""


def _is_conv_module(region: Region, node: fx.Node) -> bool:
    return bool(region.roles(node) & {CONV, LINEAR}) and isinstance(
        region.facts(node).module, nn.modules.conv._ConvNd
    )


@check("RF001")
def relu_on_output(model: Model) -> Iterator[Hit]:
    for region, node, site in _relu_nodes(model):
        if not region.complete:
            continue  # this graph's output is not the model's: what follows is not here
        source = producer(region, node)
        if source is None or LINEAR not in region.roles(source):
            continue
        if reaches_output(region, node, _TO_OUTPUT):
            yield Hit(
                f"{model.name}: the ReLU in {_where(site)} rectifies {_label(region, source)}, whose result "
                "reaches the model output: negative logits or regression values are clipped to 0 (and get no "
                "gradient). Remove the ReLU; if the output must be positive, use softplus or exp",
                site,
            )


@check("RF002")
def redundant_relu(model: Model) -> Iterator[Hit]:
    for region, node, site in _relu_nodes(model):
        source = producer(region, node)
        if source is not None and NONNEG in region.roles(source):
            yield Hit(
                f"{model.name}: the ReLU in {_where(site)} acts on "
                f"{_label(region, source)}{_at(region, source)}, "
                "which is never negative: it changes nothing. Remove it (or move it where it was meant "
                "to act)",
                site,
            )


@check("RF003")
def inplace_clobber(model: Model) -> Iterator[Hit]:
    for region, node, site in _relu_nodes(model):
        facts = region.facts(node)
        overwritten = facts.overwrites
        if not site.inplace or overwritten is None or not facts.readers:
            continue  # a bare `F.relu_(x)` statement (result unused) rectifies x on purpose
        earlier = [m for m in region.aliases.get(facts.storage, ()) if region.facts(m).order < facts.order]
        readers = [
            reader
            for member in earlier
            for reader in region.facts(member).readers
            if region.facts(reader).order > facts.order  # value readers only: x.size(0) reads no value
        ]
        if readers:
            reader = readers[0]
            yield Hit(
                f"{model.name}: the in-place ReLU in {_where(site)} overwrites its input, which "
                f"{_label(region, reader)}{_at(region, reader)} reads again afterwards and so sees rectified "
                "values (a skip connection taken from the same tensor). Use inplace=False / F.relu(x)",
                site,
            )


@check("RF004")
def mutated_relu_output(model: Model) -> Iterator[Hit]:
    graph_hits = list(_mutated_in_graph(model))
    yield from graph_hits
    hit_sites = {id(model.final(hit.site)) for hit in graph_hits if hit.site is not None}
    yield from (hit for hit in _mutated_in_source(model) if hit.site is None or id(hit.site) not in hit_sites)


def _mutated_in_graph(model: Model) -> Iterator[Hit]:
    """In-place ops the graph shows on a ReLU's result (``y.mul_(2)``, ``y += x``)."""
    for region, node, site in _relu_nodes(model):
        if site.op not in SAVES_OUTPUT_OPS:
            continue  # clamp / threshold backward reads the input, not the output
        facts = region.facts(node)
        for writer in region.aliases.get(facts.storage, ()):
            writer_facts = region.facts(writer)
            if writer is node or writer_facts.order <= facts.order or writer_facts.overwrites is None:
                continue
            if any(s.kind != "embedded" and s.inplace for s in writer_facts.sites):
                continue  # a later in-place ReLU: RF002's business, not a crash
            yield Hit(_mutated_message(model, site, f"{_label(region, writer)}{_at(region, writer)}"), site)
            break


def _mutated_in_source(model: Model) -> Iterator[Hit]:
    """Index assignments into a ReLU's result, read from ``forward`` source: fx cannot trace
    item assignment on a Proxy, so no graph shows them (the trace fails there)."""
    for path, module in model.user_modules:
        for write in srcread.relu_result_writes(module):
            relu = write.relu
            # a ReLU module's site is at its own path, a functional ReLU's at the caller's
            owner = ".".join(p for p in (path, relu.child or "", relu.sub_path) if p)
            site = _site_at(model, owner, relu.file, relu.line)
            what = f"index assignment (line {write.line})"
            if site is not None:
                yield Hit(_mutated_message(model, site, what), site)
            else:  # the ReLU is in no graph (a branch not taken): name its call line
                yield Hit(
                    _mutated_message(model, None, what, owner), module_path=owner,
                    source=SourceLoc(relu.file, relu.line),
                )


def _site_at(model: Model, module_path: str, file: str, line: int) -> Site | None:
    """The reported site of the ReLU call at ``file:line`` in ``module_path``."""
    place = SourceLoc(file, line)
    return next((s for s in model.sites if s.module_path == module_path and s.source == place), None)


def _mutated_message(model: Model, site: Site | None, writer: str, path: str = "") -> str:
    where = _where(site) if site is not None else (path or "the root module")
    return (
        f"{model.name}: {writer} modifies in place the result of the ReLU in {where}, which autograd "
        "saved for the backward pass: training fails with 'modified by an inplace operation'. Write it "
        "out of place (y = y + z) or clone the ReLU output"
    )


@check("RF005")
def relu_module_on_tensor(model: Model) -> Iterator[Hit]:
    seen: set[type] = set()
    for path, module in model.user_modules:
        cls = type(module)
        if cls in seen:
            continue
        seen.add(cls)
        for line, file, name in _activation_built_on_tensor(cls):
            yield Hit(
                f"{model.name}: {name}(...) in {cls.__name__}.forward ({path or 'the root module'}) is "
                "given a "
                f"tensor: it builds a {name} module (the tensor becomes its first constructor argument) "
                "instead of "
                f"applying it. Write {name}()(x), or call the function (torch.relu(x))",
                module_path=path,
                source=SourceLoc(file, line),
            )


@check("RF101")
def shared_relu_module(model: Model) -> Iterator[Hit]:
    calls: dict[str, list[Site]] = {}
    for site in model.sites:
        if site.kind == "module" and site.variant == "relu":
            calls.setdefault(site.module_path, []).append(site)
    for path, sites in calls.items():
        if len(sites) > 1:
            lines = sorted({s.source.line for s in sites if s.source is not None})
            at = f" (lines {', '.join(map(str, lines))})" if lines else ""
            yield Hit(
                f"{model.name}: the ReLU module {path} is called at {len(sites)} sites{at}: forward hooks, "
                "quantization observers and attribution tools cannot tell the calls apart. Give each "
                "call its "
                "own nn.ReLU()",
                sites[0],
            )


@check("RF102")
def relu_rnn(model: Model) -> Iterator[Hit]:
    done: set[str] = set()
    for site in model.sites:
        if site.kind == "embedded" and "nonlinearity='relu'" in site.op and site.module_path not in done:
            done.add(site.module_path)
            yield Hit(
                f"{model.name}: {site.module_type} {site.module_path} uses nonlinearity='relu': its "
                "recurrent state "
                "is unbounded and tends to explode (NaN losses). Prefer tanh, a GRU/LSTM, or clip "
                "gradients and "
                "initialise the recurrent weights to the identity (IRNN)",
                site,
            )


@check("RF103")
def relu_on_recurrent_output(model: Model) -> Iterator[Hit]:
    for region, node, site in _relu_nodes(model):
        source = producer(region, node)
        if source is not None and RECURRENT in region.roles(source):
            yield Hit(
                f"{model.name}: the ReLU in {_where(site)} acts straight on the output of "
                f"{_label(region, source)}, "
                "which is already squashed by the cell: it only zeroes half of the state's range. Remove "
                "it, or "
                "put a projection between",
                site,
            )


_STYLES = {
    "module": "module",
    "function": "function",
    "threshold": "function",
    "method": "method",
    "clamp": "clamp",
}


@check("RF104")
def mixed_relu_styles(model: Model) -> Iterator[Hit]:
    sites = [s for s in model.sites if s.variant == "relu" and s.kind in _STYLES]
    styles = Counter(_STYLES[s.kind] for s in sites)
    if len(styles) < 2:
        return
    order = list(dict.fromkeys(_STYLES.values()))
    usual = max(styles, key=lambda style: (styles[style], -order.index(style)))
    spelled = ", ".join(f"{n} {style}" for style, n in styles.most_common())
    for site in sites:
        if _STYLES[site.kind] != usual:
            yield Hit(
                f"{model.name} spells ReLU in several styles ({spelled}); this {_STYLES[site.kind]} ReLU in "
                f"{_where(site)} is not a {usual}, so tools that work on one style (hooks and "
                "print(model) see "
                "only modules) miss it. Use one style",
                site,
            )


@check("RF105")
def unseen_relu(model: Model) -> Iterator[Hit]:
    for unseen in model.unseen:
        if unseen.variant == "relu":
            yield Hit(
                f"{model.name}: the ReLU call {unseen.op} in {unseen.module_path or 'the root module'} is "
                "not in the "
                "traced graph (a branch not taken with this configuration): nothing here checked it. "
                "Analyse the "
                "configuration that takes that branch (--arg, --eval)",
                module_path=unseen.module_path,
                source=unseen.source,
            )


@check("RF106")
def unfusable_conv_relu(model: Model) -> Iterator[Hit]:
    for region, node, site in _relu_nodes(model):
        if site.kind == "module":
            continue
        source = _sole_input(region, node)
        if source is not None and NORM in region.roles(source):
            source = _sole_input(region, source)
        if source is not None and _is_conv_module(region, source):
            yield Hit(
                f"{model.name}: the {site.kind} ReLU {site.op} in {_where(site)} follows "
                f"{_label(region, source)}: "
                "eager-mode quantization (fuse_modules) and module-based tools fuse only nn.ReLU modules. "
                "Use an nn.ReLU() module here",
                site,
            )


def _sole_input(region: Region, node: fx.Node) -> fx.Node | None:
    """``node``'s input when nothing else reads it (a fusable chain), else None."""
    first = first_input(node)
    if first is None:
        return None
    value = value_read(region, first, node)
    facts = region.facts(value)
    if value.op == "placeholder" or facts.opaque or len(later_readers(region, value)) != 1:
        return None
    return value


@check("RF107")
def inplace_relu_module(model: Model) -> Iterator[Hit]:
    for site in model.sites:
        if site.variant == "relu" and site.inplace and site.kind != "embedded":
            yield Hit(
                f"{model.name}: the ReLU in {_where(site)} works in place ({site.op}): forward hooks see "
                "its input "
                "already rectified, and attribution tools, activation checkpointing and some export "
                "paths fail "
                "on it. Use inplace=False unless the memory matters",
                site,
            )


@check("RF108")
def relu_before_norm(model: Model) -> Iterator[Hit]:
    for region, node, site in _relu_nodes(model):
        source = producer(region, node, through=())
        if source is None or not _is_conv_module(region, source):
            continue
        norms = [r for r in later_readers(region, node) if NORM in region.roles(r)]
        if norms:
            yield Hit(
                f"{model.name}: {_label(region, source)} -> ReLU ({_where(site)}) -> "
                f"{_label(region, norms[0])}: "
                "with the ReLU between them the norm cannot be folded into the conv for inference. Use "
                "Conv -> BatchNorm -> ReLU unless the order is deliberate",
                site,
            )


# -- RF005: activation classes called with a tensor, read from forward's source ---------------


def _activation_classes() -> frozenset[type]:
    from torch.nn.modules import activation

    return frozenset(
        obj
        for obj in vars(activation).values()
        if isinstance(obj, type) and issubclass(obj, nn.Module) and obj.__module__ == activation.__name__
    )


@lru_cache(maxsize=512)
def _activation_built_on_tensor(cls: type) -> tuple[tuple[int, str, str], ...]:
    """(line, file, class name) of each ``nn.ReLU(x)`` in ``cls.forward``: an activation class
    called with a non-literal positional argument, and not called again (``nn.ReLU(x)(y)``)."""
    forward = getattr(cls, "forward", None)
    if forward is None or forward is nn.Module.forward:
        return ()
    function = inspect.unwrap(forward)
    try:
        lines, first = inspect.getsourcelines(function)
        file = inspect.getsourcefile(function) or "<unknown>"
        tree = ast.parse(textwrap.dedent("".join(lines)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return ()
    namespace = getattr(function, "__globals__", {})
    classes = _activation_classes()
    applied = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args or id(node) in applied:
            continue
        target = _resolve(node.func, namespace)
        if target in classes and not _literal(node.args[0]):
            found.append((first + node.lineno - 1, file, target.__name__))
    return tuple(sorted(found))


def _literal(expr: ast.expr) -> bool:
    try:
        ast.literal_eval(expr)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return True


def _resolve(expr: ast.expr, namespace: dict[str, Any]) -> Any:
    """The object ``nn.ReLU`` / ``torch.nn.ReLU`` / ``ReLU`` names, through modules only."""
    if isinstance(expr, ast.Name):
        return namespace.get(expr.id)
    if isinstance(expr, ast.Attribute):
        base = _resolve(expr.value, namespace)
        if isinstance(base, ModuleType):
            return getattr(base, expr.attr, None)
    return None
