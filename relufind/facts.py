"""Per-node facts over an analysed region's graph, computed once and read by every rule.

A *region* is one traced graph the hierarchy analysed (the whole model, or a module analysed
on its own because its parent could not trace it). ``annotate`` walks the graph once and
stores a ``NodeFacts`` on each node (``node.meta["relufind.facts"]``, as torch.fx's own
passes keep facts on nodes). What a node *is* — shape-only, non-negative, a dropout, a global
pooling, a Linear-like producer — comes from the ``ROWS`` table below: a new fact is a row,
not an ``if`` in a rule.

Walks that would cross an opaque node (a region analysed apart, a ``torch.fx.wrap`` helper)
or a region's edge stop there: a rule never fires on a guess about what lies beyond.
"""

from __future__ import annotations

import ast
import operator
import tokenize
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import torch.fx as fx
import torch.nn as nn

from . import vocab
from .relate import Relations
from .report import Site
from .trace import Traced, fx_value_inputs

META_KEY = "relufind.facts"

# -- roles ------------------------------------------------------------------------------------
SHAPE = "shape"  # moves or views values, never changes one (view, transpose, getitem, flatten)
METADATA = "metadata"  # reads sizes / dtype only: no value flows through it
DROPOUT = "dropout"
GLOBAL_POOL = "global_pool"  # reduces all positions to one: mean, adaptive pooling to 1
SQUASH = "squash"  # a monotone output map a loss or a caller reads: softmax, log_softmax, sigmoid
NONNEG = "nonneg"  # the result is never negative
LINEAR = "linear"  # an affine map that produces logits / regression values
CONV = "conv"  # a spatial (non-1x1) convolution module Conv1d/2d/3d
NORM = "norm"  # a BatchNorm module
RECURRENT = "recurrent"  # an RNN/LSTM/GRU (or cell) module
VIEW = "view"  # the result aliases the input's storage (an in-place write through it hits both)

ModuleTest = Callable[[nn.Module], bool]


@dataclass(frozen=True)
class Row:
    """One fact: the roles it gives, and the ``vocab`` table saying which ops have it."""

    roles: frozenset[str]
    #: op names (functions, methods) and ``torch.nn`` class names, as ``vocab`` keys them
    names: frozenset[str]
    #: a condition on the built module (kernel_size, output_size, ...) for module rows
    when: ModuleTest | None = None


def _row(roles: str, names: frozenset[str], when: ModuleTest | None = None) -> Row:
    return Row(frozenset(roles.split()), names, when)


def _ones(value: Any) -> bool:
    values = value if isinstance(value, (tuple, list)) else (value,)
    return all(v == 1 for v in values)


def _kernel_1x1(module: nn.Module) -> bool:
    return _ones(getattr(module, "kernel_size", 0))


def _kernel_spatial(module: nn.Module) -> bool:
    return not _kernel_1x1(module)


def _pools_to_one(module: nn.Module) -> bool:
    return _ones(getattr(module, "output_size", 0))


#: the tables live in ``vocab`` (one vocabulary for every front end); a row only says which
#: roles a table's ops get here
ROWS: tuple[Row, ...] = (
    _row("shape view", vocab.VIEWS),
    _row("shape", vocab.SHAPE_ONLY),
    _row("metadata", vocab.METADATA_READS),
    _row("dropout", vocab.DROPOUT),
    _row("global_pool", vocab.GLOBAL_POOL),
    _row("global_pool", vocab.ADAPTIVE_POOLS, when=_pools_to_one),
    _row("squash", vocab.SQUASH),
    _row("nonneg", vocab.NON_NEGATIVE),
    _row("linear", vocab.LINEAR_MAPS),
    _row("linear", vocab.CONVS, when=_kernel_1x1),
    _row("conv", vocab.CONVS, when=_kernel_spatial),
    _row("norm", vocab.NORMS),
    _row("recurrent", vocab.RECURRENT),
)

#: ReLU-family variants whose result is never negative
NONNEG_VARIANTS = frozenset({"relu", "relu6", "clipped_relu"})
SAVES_OUTPUT_OPS = vocab.SAVES_OUTPUT_OPS
#: constructor arguments read from the built module (so a flag flipped after construction,
#: ``m.inplace = True`` in a loop, is what counts)
MODULE_ARGS = ("kernel_size", "inplace", "nonlinearity", "output_size", "p", "training")

#: ``x += y`` and friends: fx records them as plain ``operator.add`` (a Proxy has no
#: ``__iadd__``), so the in-place write is read back from the source line's statement
AUGMENTED_OPS: dict[type[ast.operator], Any] = {
    getattr(ast, op): getattr(operator, name) for op, name in vocab.AUGMENTED.items()
}


@lru_cache(maxsize=256)
def _augmented_lines(path: str) -> dict[int, frozenset[Any]]:
    """Line -> the operators of augmented assignments (``+=``) spanning that line in ``path``."""
    try:
        with tokenize.open(path) as handle:
            tree = ast.parse(handle.read())
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return {}
    lines: dict[int, set[Any]] = {}
    for statement in ast.walk(tree):
        if isinstance(statement, ast.AugAssign) and type(statement.op) in AUGMENTED_OPS:
            for line in range(statement.lineno, (statement.end_lineno or statement.lineno) + 1):
                lines.setdefault(line, set()).add(AUGMENTED_OPS[type(statement.op)])
    return {line: frozenset(ops) for line, ops in lines.items()}


def _augmented_nodes(traced: Traced, nodes: list[fx.Node]) -> set[fx.Node]:
    """The nodes an augmented assignment made: per line and operator, the last such node
    (in ``y += a + b`` the inner ``a + b`` comes first)."""
    last: dict[tuple[str, int, Any], fx.Node] = {}
    for node in nodes:
        if node.op != "call_function" or not node.args or not isinstance(node.args[0], fx.Node):
            continue
        source = traced.owner(node).source
        if source is None or source.file.startswith("<"):
            continue
        ops = _augmented_lines(source.file).get(source.line, frozenset())
        if node.target in ops:
            last[(source.file, source.line, node.target)] = node
    return set(last.values())


@dataclass(frozen=True)
class NodeFacts:
    order: int  # position in program order
    roles: frozenset[str] = frozenset()
    sites: tuple[Site, ...] = ()
    anchor: bool = False
    #: the module a call_module node calls
    module: nn.Module | None = None
    #: the input an in-place op overwrites (``x.add_(y)``, ``x += y``, ``x[i] = v``, ``relu_(x)``)
    overwrites: fx.Node | None = None
    #: the node's users that read its values (not only its metadata), in program order
    readers: tuple[fx.Node, ...] = ()
    #: a region analysed apart or a wrapped helper: what happens inside is not in this graph
    opaque: bool = False
    #: the first node of the tensor this node's value lives in (in-place ops and views alias)
    storage: fx.Node | None = None

    @property
    def module_args(self) -> dict[str, Any]:
        """The module's constructor arguments, read from it when asked (reading six attributes
        of every module of a deep model, most of them absent, cost more than the rules)."""
        return _module_args(self.module)


@dataclass
class Region:
    """One traced graph with what the rules query; the hierarchy keeps one per analysed graph."""

    traced: Traced
    relations: Relations
    #: detected sites, by the node that applies them (an embedded site: the leaf's call)
    sites: dict[fx.Node, list[Site]]
    #: nodes analysed apart (fallback leaves) or kept opaque (``torch.fx.wrap`` helpers)
    opaque: frozenset[fx.Node]
    #: the graph's inputs are the model's inputs and its output the model's output
    complete: bool
    is_anchor: Callable[[nn.Module], bool]
    _annotated: bool = False
    #: set by ``annotate``: program order, and the nodes sharing each tensor's storage
    nodes: list[fx.Node] = field(default_factory=list)
    aliases: dict[fx.Node, list[fx.Node]] = field(default_factory=dict)

    def canonical(self, site: Callable[[Site], Site]) -> Region:
        """The same region with every site's paths renamed by ``site``."""
        sites = {node: [site(s) for s in found] for node, found in self.sites.items()}
        return replace(self, sites=sites, _annotated=False)

    def facts(self, node: fx.Node) -> NodeFacts:
        if not self._annotated:
            annotate(self)
        return node.meta[META_KEY]  # type: ignore[no-any-return]

    def roles(self, node: Any) -> frozenset[str]:
        return self.facts(node).roles if isinstance(node, fx.Node) else frozenset()


# -- annotation -------------------------------------------------------------------------------

def op_name(node: fx.Node) -> str | None:
    """The name ``vocab`` keys ``node``'s op by: a method's name, a function's ``__name__``."""
    if node.op == "call_method":
        return str(node.target)
    if node.op == "call_function":
        return getattr(node.target, "__name__", None)
    return None


def _rows_for(node: fx.Node, module: nn.Module | None) -> Iterator[Row]:
    if node.op == "call_module" and module is not None:
        yield from (r for r in _class_rows(type(module)) if r.when is None or r.when(module))
        return
    name = op_name(node)
    if name is not None:
        yield from _name_rows(name)


# The table is matched once per class and op name, not per node: a deep model repeats a few
# of each thousands of times. ``when`` reads the built module, so it stays per node.
@lru_cache(maxsize=1024)
def _class_rows(cls: type) -> tuple[Row, ...]:
    """The rows naming ``cls`` or one of its torch base classes (a subclass of a torch layer
    is that layer to the rules, as ``isinstance`` would say)."""
    names = {c.__name__ for c in cls.__mro__ if c.__module__.startswith("torch.")}
    return tuple(r for r in ROWS if r.names & names)


@lru_cache(maxsize=1024)
def _name_rows(name: str) -> tuple[Row, ...]:
    return tuple(r for r in ROWS if name in r.names and r.when is None)


def _attribute_roles(node: fx.Node) -> frozenset[str]:
    """``x.shape`` is metadata, ``x.T`` a view of the values; other attributes neither."""
    attribute = node.args[1] if len(node.args) > 1 else None
    if attribute in vocab.VALUE_ATTRIBUTES:
        return frozenset({SHAPE, VIEW})
    if attribute in vocab.METADATA_ATTRIBUTES:
        return frozenset({METADATA})
    return frozenset()


def _roles(node: fx.Node, module: nn.Module | None, sites: list[Site]) -> frozenset[str]:
    roles: set[str] = set()
    if node.op == "call_function" and node.target is getattr:
        roles |= _attribute_roles(node)
    for row in _rows_for(node, module):
        roles |= row.roles
    if any(s.variant in NONNEG_VARIANTS and s.kind != "embedded" for s in sites):
        roles.add(NONNEG)
    return frozenset(roles)


def _module_args(module: nn.Module | None) -> dict[str, Any]:
    if module is None:
        return {}
    return {name: getattr(module, name) for name in MODULE_ARGS if hasattr(module, name)}


def _overwrites(
    node: fx.Node, module: nn.Module | None, sites: list[Site], augmented: set[fx.Node]
) -> fx.Node | None:
    """The input an in-place op writes to, or None."""
    first = node.args[0] if node.args else None
    if not isinstance(first, fx.Node):
        return None
    if node in augmented:
        return first
    if node.op in ("call_method", "call_function"):
        writes = vocab.writes_in_place(op_name(node) or "")
        if node.op == "call_function":
            writes = writes or node.kwargs.get("inplace") is True or any(s.inplace for s in sites)
    elif node.op == "call_module" and module is not None:
        writes = getattr(module, "inplace", False) is True
        if isinstance(module, nn.modules.dropout._DropoutNd) and not module.training:
            writes = False  # an eval-mode dropout returns its input untouched
    else:
        writes = False
    return first if writes else None


def _value_inputs(region: Region, node: fx.Node) -> list[fx.Node]:
    known = region.relations.value_inputs
    return known[node] if node in known else fx_value_inputs(node)


def _value_readers(region: Region, nodes: list[fx.Node]) -> dict[fx.Node, list[fx.Node]]:
    """Per node, the nodes that read its *values* (``vocab.VALUE_ARGS``, as relations follow
    them): ``x.size(0)``, ``x.shape``, ``zeros_like(x)``, ``x.new_zeros(...)`` and the shape
    argument of ``view`` read only metadata, so a rule asking "who reads x again" skips them.
    Each list is in program order (the nodes are walked in it)."""
    readers: dict[fx.Node, list[fx.Node]] = {}
    for node in nodes:
        for source in _value_inputs(region, node):
            readers.setdefault(source, []).append(node)
    return readers


def annotate(region: Region) -> None:
    """Compute every node's facts once and store them on the nodes."""
    traced = region.traced
    nodes = list(traced.graph.nodes)
    region.nodes = nodes
    region.aliases = {}
    order = {node: index for index, node in enumerate(nodes)}
    storage: dict[fx.Node, fx.Node] = {}
    augmented = _augmented_nodes(traced, nodes)
    readers = _value_readers(region, nodes)
    for node in nodes:
        module = traced.submodule(str(node.target)) if node.op == "call_module" else None
        sites = region.sites.get(node, [])
        roles = _roles(node, module, sites)
        overwrites = _overwrites(node, module, sites, augmented)
        source = (
            overwrites if overwrites is not None else (node.args[0] if VIEW in roles and node.args else None)
        )
        storage[node] = storage.get(source, source) if isinstance(source, fx.Node) else node
        region.aliases.setdefault(storage[node], []).append(node)
        node.meta[META_KEY] = NodeFacts(
            order=order[node],
            roles=roles,
            sites=tuple(sites),
            anchor=module is not None and region.is_anchor(module),
            module=module,
            overwrites=overwrites,
            readers=tuple(readers.get(node, ())),  # made in program order
            opaque=node in region.opaque,
            storage=storage[node],
        )
    region._annotated = True


# -- queries the rules share ------------------------------------------------------------------


def first_input(node: fx.Node) -> fx.Node | None:
    """The tensor a unary op acts on (its first argument)."""
    first = node.args[0] if node.args else node.kwargs.get("input")
    return first if isinstance(first, fx.Node) else None


def value_read(region: Region, value: fx.Node, reader: fx.Node) -> fx.Node:
    """The node whose value ``reader`` sees when it reads ``value``: the last in-place write
    on the same tensor before ``reader`` (``F.relu_(x); f(x)``: f reads the ReLU's result)."""
    facts = region.facts(value)
    when = region.facts(reader).order
    latest = value
    for node in region.aliases.get(facts.storage, ()):  # program order
        node_facts = region.facts(node)
        if facts.order < node_facts.order < when and node_facts.overwrites is not None:
            latest = node
    return latest


def producer(region: Region, node: fx.Node, through: Iterable[str] = (SHAPE,)) -> fx.Node | None:
    """Walk up from ``node``'s input through ops with any of the roles ``through``: the first
    node that has none of them. None where the walk leaves the graph (a placeholder) or meets
    an opaque node — what lies there is not known."""
    allowed = frozenset(through)
    current = first_input(node)
    reader = node
    seen = 0
    while current is not None and seen < 10_000:
        seen += 1
        if current not in _value_inputs(region, reader):
            return None  # ``reader`` takes only its input's metadata (``x.new_zeros(...)``)
        current = value_read(region, current, reader)
        facts = region.facts(current)
        if current.op == "placeholder" or facts.opaque:
            return None
        if not (facts.roles & allowed) or facts.sites:
            return current
        reader, current = current, first_input(current)
    return None


def later_readers(region: Region, node: fx.Node) -> list[fx.Node]:
    """Who reads ``node``'s value: its users, and for an in-place op the later users of the
    tensor it overwrote (they read its result though the graph shows no edge)."""
    facts = region.facts(node)
    readers = list(facts.readers)
    if facts.overwrites is not None:
        for other in region.aliases.get(facts.storage, ()):
            if other is not node:
                readers.extend(u for u in region.facts(other).readers if region.facts(u).order > facts.order)
    return list(dict.fromkeys(u for u in readers if u is not node))


def reaches_output(region: Region, node: fx.Node, through: frozenset[str]) -> bool:
    """Whether some path from ``node`` reaches the region's output through ops with roles in
    ``through`` only (opaque nodes stop the walk)."""
    stack = [node]
    seen: set[fx.Node] = set()
    while stack:
        current = stack.pop()
        for reader in later_readers(region, current):
            if reader.op == "output":
                return True
            facts = region.facts(reader)
            if reader in seen or facts.opaque or not (facts.roles & through) or METADATA in facts.roles:
                continue
            seen.add(reader)
            stack.append(reader)
    return False
