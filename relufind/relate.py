"""Place sites relative to anchors (RNN/LSTM/GRU and their cells, Conv, ConvTranspose).

One forward pass over the graph computes, for every node, the nearest anchors upstream of
its inputs with the ops between; one backward pass computes the nearest anchors downstream.
Each site then reads its relations off its node. Linear in the graph, not a search per site.

What a node knows is a ``Reach``: at most ``LIMIT`` nearest anchors, each with its ``Path``
(length and the ops at each end), a bit set of every anchor reached (for the count of the
rest), and the boundary markers (model input / output, "unknown beyond an untraced region")
with their shortest paths. Bounded sets per node keep a deep residual stack — where every
earlier block is upstream of every later one — linear in time, memory and output. Keeping
the ``LIMIT`` nearest per node is exact: an anchor among a node's nearest is among the
nearest of the input it arrives through, since every edge adds the same length to all.

Edges follow tensor *values* only: the ``vocab.VALUE_ARGS`` table says which arguments of an
op pass values on (``x.size()``, ``zeros_like(x)``, ``x.new_zeros(...)`` pass none).

A user module whose class is an anchor (a ``Conv2d`` subclass, or a type named with
``--anchor``) is traced through; all nodes it owns form one *anchor region*, so data that
leaves the region counts as coming from that anchor.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
import torch.fx as fx
import torch.nn as nn

from . import vocab
from .report import Anchor
from .trace import Traced, fx_value_inputs

ANCHOR_TYPES: tuple[type, ...] = (
    nn.RNNBase,  # RNN, LSTM, GRU
    nn.RNNCellBase,  # RNNCell, LSTMCell, GRUCell
    nn.modules.conv._ConvNd,  # Conv1d/2d/3d, ConvTranspose1d/2d/3d and the lazy forms
)
FUNCTIONAL_ANCHORS: dict[object, str] = {
    torch.conv1d: "conv1d",
    torch.conv2d: "conv2d",
    torch.conv3d: "conv3d",
    torch.conv_transpose1d: "conv_transpose1d",
    torch.conv_transpose2d: "conv_transpose2d",
    torch.conv_transpose3d: "conv_transpose3d",
}
#: at most this many anchors per relation list (and per node while propagating)
LIMIT = 8
#: a displayed ``via`` keeps this many ops at each end of a longer path
VIA_ENDS = 6


def anchor_predicate(extra_names: Iterable[str] = ()) -> Callable[[nn.Module], bool]:
    """Is a module an anchor? The spec's types, plus classes named by ``--anchor``."""
    names = {n for n in extra_names if n}

    def is_anchor(module: nn.Module) -> bool:
        if isinstance(module, ANCHOR_TYPES):
            return True
        return bool(names) and any(
            cls.__name__ in names or f"{cls.__module__}.{cls.__qualname__}" in names
            for cls in type(module).__mro__
        )

    return is_anchor


#: boundary markers: a value that comes from the graph's inputs / reaches its output.
#: They travel beside the anchors so that nested analyses can be composed; a site reports
#: them as ``input_path`` / ``output_path``, never as anchors.
INPUT = Anchor("<input>", "input")
OUTPUT = Anchor("<output>", "output")


# -- paths: the ops between two points, as a length and the labels at each end -------------------

class Path(NamedTuple):
    """The ops between an anchor (or a boundary) and a node, in data-flow order.

    ``labels`` holds every label of a path of up to ``2 * VIA_ENDS`` ops, else the first and
    the last ``VIA_ENDS``: extending or joining paths costs O(1) and the true ``length`` is
    kept, so the analysis compares true lengths while a report shows the ends. (A named
    tuple: the passes make one per node and anchor, so it must be cheap to build.)
    """

    length: int = 0
    labels: tuple[str, ...] = ()

    def append(self, label: str) -> Path:
        """This path followed by one more op (towards the data's destination)."""
        length, labels = self
        if length < 2 * VIA_ENDS:
            return _path(length + 1, (*labels, label))
        return _path(length + 1, (*labels[:VIA_ENDS], *labels[-VIA_ENDS + 1 :], label))

    def prepend(self, label: str) -> Path:
        length, labels = self
        if length < 2 * VIA_ENDS:
            return _path(length + 1, (label, *labels))
        return _path(length + 1, (label, *labels[: VIA_ENDS - 1], *labels[-VIA_ENDS:]))

    def join(self, other: Path) -> Path:
        """This path followed by ``other``."""
        length = self.length + other.length
        if length <= 2 * VIA_ENDS:
            return Path(length, self.labels + other.labels)
        head = (self.labels[:VIA_ENDS] + other.labels[:VIA_ENDS])[:VIA_ENDS]
        tail = (self.labels[-VIA_ENDS:] + other.labels[-VIA_ENDS:])[-VIA_ENDS:]
        return Path(length, head + tail)

    def via(self) -> tuple[str, ...]:
        """For a report: every op, or six at each end with the count of those between."""
        if self.length <= 2 * VIA_ENDS:
            return self.labels
        gap = f"… {self.length - 2 * VIA_ENDS} more ops …"
        return (*self.labels[:VIA_ENDS], gap, *self.labels[VIA_ENDS:])


EMPTY = Path()


def _path(length: int, labels: tuple[str, ...]) -> Path:
    """``Path(length, labels)`` without the named tuple's Python-level ``__new__``: the passes
    make a path per node and anchor reached, hundreds of thousands in a deep model."""
    return _new_tuple(Path, (length, labels))


_new_tuple = tuple.__new__


class AnchorIds:
    """A bit per anchor, shared by every region of one analysis (counts the anchors reached)."""

    def __init__(self) -> None:
        self._ids: dict[Anchor, int] = {}

    def bit(self, anchor: Anchor) -> int:
        return 1 << self._ids.setdefault(anchor, len(self._ids))


class Reach(NamedTuple):
    """What a node sees one way: its nearest anchors, how many in all, and the boundaries."""

    near: tuple[tuple[Anchor, Path], ...] = ()  # at most LIMIT, nearest first
    seen: int = 0  # a bit per anchor reached (near ones included)
    edges: tuple[tuple[Anchor, Path], ...] = ()  # boundary markers, each with its shortest path

    @property
    def more(self) -> int:
        """Anchors reached beyond the ``near`` ones."""
        return max(0, self.seen.bit_count() - len(self.near))

    def edge(self, marker: Anchor) -> Path | None:
        return next((p for m, p in self.edges if m == marker), None)

    def has(self, marker: Anchor) -> bool:
        return any(m == marker for m, _ in self.edges)

    def map_paths(self, change: Callable[[Path], Path]) -> Reach:
        near = tuple([(a, change(p)) for a, p in self.near])
        return Reach(near, self.seen, tuple([(m, change(p)) for m, p in self.edges]))

    def append(self, label: str) -> Reach:
        """Every path one op longer at the node's end (crossing ``label`` going downstream)."""
        near, seen, edges = self
        near = tuple([(a, p.append(label)) for a, p in near])
        return _reach(near, seen, tuple([(m, p.append(label)) for m, p in edges]))

    def prepend(self, label: str) -> Reach:
        near, seen, edges = self
        near = tuple([(a, p.prepend(label)) for a, p in near])
        return _reach(near, seen, tuple([(m, p.prepend(label)) for m, p in edges]))

    def without(self, marker: Anchor) -> Reach:
        return Reach(self.near, self.seen, tuple((m, p) for m, p in self.edges if m != marker))

    def with_edge(self, marker: Anchor, path: Path = EMPTY) -> Reach:
        return merge((self, Reach(edges=((marker, path),))))

    def rename(self, anchor: Callable[[Anchor], Anchor]) -> Reach:
        return Reach(tuple((anchor(a), p) for a, p in self.near), self.seen, self.edges)


NOTHING = Reach()


def _reach(near: tuple[tuple[Anchor, Path], ...], seen: int, edges: tuple[tuple[Anchor, Path], ...]) -> Reach:
    """``Reach(near, seen, edges)``, made as cheaply as ``_path`` makes a path."""
    return _new_tuple(Reach, (near, seen, edges))


def _key(item: tuple[Anchor, Path]) -> tuple[int, str, str]:
    return item[1].length, item[0].path, item[0].type


def _shortest(items: Iterable[tuple[Anchor, Path]]) -> dict[Anchor, Path]:
    best: dict[Anchor, Path] = {}
    for anchor, path in items:
        known = best.get(anchor)
        if known is None or path.length < known.length:
            best[anchor] = path
    return best


def merge(reaches: Iterable[Reach]) -> Reach:
    """The union of several reaches, bounded again."""
    reaches = [r for r in reaches if r.near or r.edges or r.seen]
    if len(reaches) <= 1:
        return reaches[0] if reaches else NOTHING
    near = _shortest(item for r in reaches for item in r.near)
    edges = _shortest(item for r in reaches for item in r.edges)
    seen = 0
    for r in reaches:
        seen |= r.seen
    return Reach(
        tuple(sorted(near.items(), key=_key)[:LIMIT]), seen, tuple(sorted(edges.items(), key=_key))
    )


def one(anchor: Anchor, ids: AnchorIds) -> Reach:
    """The reach of a value that has just left ``anchor``."""
    return Reach(((anchor, EMPTY),), ids.bit(anchor))


# -- the two passes ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Transfer:
    """How an opaque node (a region analysed on its own) passes reach through."""

    out_up: Reach  # nearest anchors upstream of its output, INPUT where its input flows through
    in_down: Reach  # nearest anchors downstream of its inputs, OUTPUT where they flow through


@dataclass(frozen=True)
class Relations:
    """Per node, the reach upstream of its inputs and downstream of its output."""

    anchors: tuple[Anchor, ...]
    _upstream: dict[fx.Node, Reach]
    _downstream: dict[fx.Node, Reach]
    #: per node, the inputs whose values reach it (``vocab.VALUE_ARGS``), for later passes
    value_inputs: dict[fx.Node, list[fx.Node]] = field(default_factory=dict)

    def up(self, node: fx.Node) -> Reach:
        """Anchors upstream of ``node``'s inputs, each with the ops from it to the node."""
        return self._upstream.get(node, NOTHING)

    def down(self, node: fx.Node) -> Reach:
        """Anchors downstream of ``node``'s output, each with the ops from the node to it."""
        return self._downstream.get(node, NOTHING)


def relate(
    traced: Traced,
    is_anchor: Callable[[nn.Module], bool],
    transfers: Mapping[fx.Node, Transfer] | None = None,
    *,
    ids: AnchorIds | None = None,
    open_ends: Mapping[fx.Node, Anchor] | None = None,
) -> Relations:
    """Relations in a traced region. ``open_ends``: nodes whose values flow on past the end
    of a partial graph (a ``forward`` that failed part-way), with the marker they reach."""
    nodes = list(traced.graph.nodes)
    computes: set[fx.Node] = set()
    region = _anchor_regions(traced, nodes, is_anchor, computes)
    labels = {node: _label(traced, node) for node in nodes}
    mutations = {node: target for node in nodes if (target := _mutated_input(traced, node)) is not None}
    views = {node: base for node in nodes if (base := _viewed(traced, node)) is not None} if mutations else {}
    return relate_graph(
        nodes, region, labels, value_inputs={n: fx_value_inputs(n) for n in nodes}, computes=computes,
        transfers=transfers, mutations=mutations, ids=ids, open_ends=open_ends, views=views,
    )


def _viewed(traced: Traced, node: fx.Node) -> fx.Node | None:
    """The tensor whose storage ``node`` is a view of (``vocab.VIEWS``), if any."""
    if node.op == "call_method":
        name = str(node.target)
    elif node.op == "call_function":
        name = getattr(node.target, "__name__", "")
    elif node.op == "call_module":
        name = type(traced.submodule(str(node.target))).__name__
    else:
        return None
    first = node.args[0] if node.args else None
    return first if name in vocab.VIEWS and isinstance(first, fx.Node) else None


def _mutated_input(traced: Traced, node: fx.Node) -> fx.Node | None:
    """The input an in-place op overwrites (``x.relu_()``, ``F.relu(x, inplace=True)``); not
    ``requires_grad_()`` and the like, which are named so but write no values (``vocab``)."""
    first = node.args[0] if node.args else None
    if not isinstance(first, fx.Node):
        return None
    if node.op == "call_method":
        inplace = vocab.writes_in_place(str(node.target))
    elif node.op == "call_function":
        name = getattr(node.target, "__name__", "")
        inplace = vocab.writes_in_place(name) or node.kwargs.get("inplace") is True
    elif node.op == "call_module":
        inplace = getattr(traced.submodule(str(node.target)), "inplace", False) is True
    else:
        inplace = False
    return first if inplace else None


def relate_graph(
    nodes: list[fx.Node],
    region: dict[fx.Node, Anchor | None],
    labels: dict[fx.Node, str | None],
    *,
    value_inputs: Mapping[fx.Node, list[fx.Node]] | None = None,
    computes: Collection[fx.Node] = (),
    transfers: Mapping[fx.Node, Transfer] | None = None,
    mutations: Mapping[fx.Node, fx.Node] | None = None,
    ids: AnchorIds | None = None,
    open_ends: Mapping[fx.Node, Anchor] | None = None,
    views: Mapping[fx.Node, fx.Node] | None = None,
) -> Relations:
    """The two passes, for any front end that can say which anchor a node belongs to.

    ``value_inputs`` gives, per node, the inputs whose values reach it (all of them when
    missing). ``mutations`` maps an in-place node to the input it overwrites: that input's
    later readers read the in-place result, though the graph shows no edge (``x.relu_()``).

    ``transfers`` describes opaque nodes analysed apart (the fallback's leaves): what their
    output sees upstream inside them, and what their inputs reach downstream inside them.

    ``computes`` holds the nodes that are an anchor's own computation (a leaf anchor module,
    a functional conv): data always crosses an anchor there, even inside the anchor's region.
    """
    computes = set(computes)
    transfers = transfers or {}
    ids = ids or AnchorIds()
    inputs = {n: (value_inputs[n] if value_inputs is not None and n in value_inputs else n.all_input_nodes)
              for n in nodes}
    crossing = _Crossing(region, labels, computes, ids)
    from_input = Reach(edges=((INPUT, EMPTY),))
    upstream: dict[fx.Node, Reach] = {}
    for node in nodes:
        upstream[node] = merge([
            from_input
            if src.op == "placeholder"
            else crossing(src, node, upstream[src], transfers[src].out_up if src in transfers else None)
            for src in inputs[node]
        ])
    readers, storage = _readers(nodes, inputs, mutations or {}, views or {})
    open_ends = dict(open_ends or {})
    if open_ends and mutations:  # an in-place write into a value that flows on past the end
        open_roots = {storage.get(n, n): marker for n, marker in open_ends.items()}
        for node in mutations:
            if storage.get(node) in open_roots:
                open_ends.setdefault(node, open_roots[storage[node]])
    to_output = Reach(edges=((OUTPUT, EMPTY),))
    downstream: dict[fx.Node, Reach] = {}
    for node in reversed(nodes):
        reached = [
            to_output
            if user.op == "output"
            else crossing(
                user, node, downstream[user], transfers[user].in_down if user in transfers else None, up=False
            )
            for user in readers.get(node, ())
        ]
        if node in open_ends:  # its value flows on past the end of a partial graph
            reached.append(Reach(edges=((open_ends[node], EMPTY),)))
        downstream[node] = merge(reached)
    anchors = tuple(dict.fromkeys(a for a in (region[n] for n in nodes) if a is not None))
    return Relations(anchors, upstream, downstream, {n: list(v) for n, v in inputs.items()})


@dataclass(frozen=True)
class _Crossing:
    """What a node learns from a neighbour: a producer (``up``), or a reader."""

    region: dict[fx.Node, Anchor | None]
    labels: dict[fx.Node, str | None]
    computes: set[fx.Node]
    ids: AnchorIds
    #: per direction (up, down), other -> the reach that passes through ``other``: the same
    #: for each node on its far side (every reader of a value, every input of an add), so
    #: made once
    _passed: tuple[dict[fx.Node, Reach], dict[fx.Node, Reach]] = field(default_factory=lambda: ({}, {}))
    #: anchor node -> the reach of a value that has just left it
    _left: dict[fx.Node, Reach] = field(default_factory=dict)

    def __call__(
        self, other: fx.Node, here: fx.Node, reach: Reach, transfer: Reach | None, *, up: bool = True
    ) -> Reach:
        anchor = self.region[other]
        if anchor is not None and (other in self.computes or anchor != self.region[here]):
            left = self._left.get(other)
            if left is None:
                left = self._left[other] = one(anchor, self.ids)
            return left
        passed = self._passed[0 if up else 1]
        through = passed.get(other)
        if through is None:
            through = passed[other] = self._through(other, reach, transfer, up)
        return through

    def _through(self, other: fx.Node, reach: Reach, transfer: Reach | None, up: bool) -> Reach:
        label = self.labels[other]
        if transfer is not None:
            return _through(transfer, reach, label, up=up)
        if label is None:
            return reach
        return reach.append(label) if up else reach.prepend(label)


def _through(transfer: Reach, outer: Reach, label: str | None, *, up: bool) -> Reach:
    """Crossing an opaque node: anchors inside it, plus what lies beyond where it passes through."""
    edge = INPUT if up else OUTPUT
    inner = transfer.without(edge)
    if not transfer.has(edge):
        return inner
    if label:
        outer = outer.map_paths(lambda p: p.append(label) if up else p.prepend(label))
    return merge((inner, outer))


def across(inner: Reach, edge: Anchor, outer: Reach, *, outer_first: bool) -> Reach:
    """A reach inside a region seen from outside it: its ``edge`` marker replaced by ``outer``
    (what lies beyond the region's boundary), paths joined end to end."""
    through = inner.edge(edge)
    if through is None:
        return inner
    beyond = outer.map_paths(lambda p: p.join(through) if outer_first else through.join(p))
    return merge((inner.without(edge), beyond))


def _readers(
    nodes: list[fx.Node],
    inputs: Mapping[fx.Node, list[fx.Node]],
    mutations: Mapping[fx.Node, fx.Node],
    views: Mapping[fx.Node, fx.Node],
) -> tuple[dict[fx.Node, list[fx.Node]], dict[fx.Node, fx.Node]]:
    """Who reads each node's value; for in-place nodes also the later readers of its aliases.

    An in-place result aliases its input, and a view its base, so a chain ``relu_(relu_(x))``,
    a ``transpose`` of it and the ``x`` saved before are one storage: whoever reads any of
    them after the op reads its result.
    """
    users: dict[fx.Node, list[fx.Node]] = {}
    for node in nodes:
        for src in inputs[node]:
            users.setdefault(src, []).append(node)
    if not mutations:
        return users, {}
    order = {node: index for index, node in enumerate(nodes)}
    storage: dict[fx.Node, fx.Node] = {}  # node -> the first node of its alias chain
    aliases: dict[fx.Node, list[fx.Node]] = {}
    for node in nodes:
        base = mutations.get(node, views.get(node))
        root = storage.get(base, base) if base is not None else node
        storage[node] = root
        aliases.setdefault(root, []).append(node)
    readers = dict(users)
    for node in mutations:
        later = [  # aliases made after the write read it through graph edges already
            user
            for alias in aliases[storage[node]]
            if order[alias] < order[node]
            for user in users.get(alias, ())
            if user is not node and order.get(user, -1) > order[node]
        ]
        readers[node] = list(dict.fromkeys([*users.get(node, ()), *later]))
    return readers, storage


def _anchor_regions(
    traced: Traced,
    nodes: list[fx.Node],
    is_anchor: Callable[[nn.Module], bool],
    computes: set[fx.Node] | None = None,
) -> dict[fx.Node, Anchor | None]:
    """For each node, the anchor it belongs to (itself, or the anchor module owning it).

    A functional conv inside an anchor module's region (a traced ``Conv2d`` subclass calls
    ``F.conv2d``) is that module's computation, not a second anchor — also when the subclass
    is the root of a region analysed on its own. Nodes that compute an anchor are added to
    ``computes``.
    """
    region: dict[fx.Node, Anchor | None] = {}
    owner_anchor: dict[str, Anchor | None] = {}
    for node in nodes:
        own = _own_anchor(traced, node, is_anchor)
        owning = _owning_anchor(traced, node, is_anchor, owner_anchor)
        if own is not None and computes is not None:
            computes.add(node)
        region[node] = owning if own is None or (owning is not None and node.op == "call_function") else own
    return region


def _own_anchor(traced: Traced, node: fx.Node, is_anchor: Callable[[nn.Module], bool]) -> Anchor | None:
    if node.op == "call_module":
        module = traced.submodule(str(node.target))
        return Anchor(traced.qualify(str(node.target)), type(module).__name__) if is_anchor(module) else None
    if node.op == "call_function":
        try:
            name = FUNCTIONAL_ANCHORS.get(node.target)
        except TypeError:
            return None
        if name is not None:
            return Anchor(traced.qualify(node.name), name)
    return None


def _owning_anchor(
    traced: Traced,
    node: fx.Node,
    is_anchor: Callable[[nn.Module], bool],
    cache: dict[str, Anchor | None],
) -> Anchor | None:
    """The outermost anchor module among the modules whose forward created ``node``."""
    if node.op in ("placeholder", "output", "get_attr"):
        return None
    return _outermost_anchor(traced, traced.owner(node).owner_path, is_anchor, cache)


def _outermost_anchor(
    traced: Traced, path: str, is_anchor: Callable[[nn.Module], bool], cache: dict[str, Anchor | None]
) -> Anchor | None:
    """The outermost anchor on the way from the root to the module at ``path`` (qualified),
    from its parent's answer: each module of a deep stack is asked about once, not once per
    module below it."""
    if path in cache:
        return cache[path]
    if not path:  # a region analysed on its own whose root is an anchor (a Conv subclass)
        root = traced.root
        anchor = Anchor(traced.qualify(""), type(root).__name__) if is_anchor(root) else None
    else:
        anchor = _outermost_anchor(traced, path.rpartition(".")[0], is_anchor, cache)
        module = traced.submodule(path) if anchor is None else None
        if module is not None and is_anchor(module):
            anchor = Anchor(traced.qualify(path), type(module).__name__)
    cache[path] = anchor
    return anchor


def _label(traced: Traced, node: fx.Node) -> str | None:
    """How a node is named in ``via``; None for plumbing a reader need not see."""
    if node.op == "call_module":
        module = traced.submodule(str(node.target))
        return f"{type(module).__name__} {traced.qualify(str(node.target))}"
    if node.op == "call_function":
        if node.target is operator.getitem:
            return "getitem" if _indexes(node.args[1] if len(node.args) > 1 else None) else None
        if node.target is getattr:
            return None
        return getattr(node.target, "__name__", str(node.target))
    if node.op == "call_method":
        return str(node.target)
    return None


def _indexes(index: object) -> bool:
    """Indexing or slicing a tensor (``out[:, -1]``), not picking an item of a tuple (``out[0]``)."""
    if isinstance(index, tuple):
        return True
    return isinstance(index, (slice, fx.Node)) or index is None or index is Ellipsis
