"""Place sites relative to anchors (RNN/LSTM/GRU and their cells, Conv, ConvTranspose).

One forward pass over the graph computes, for every node, the nearest anchors upstream of
its inputs with the ops between; one backward pass computes the nearest anchors downstream.
Each site then reads its relations off its node. Linear in the graph, not a search per site.

A user module whose class is an anchor (a ``Conv2d`` subclass, or a type named with
``--anchor``) is traced through; all nodes it owns form one *anchor region*, so data that
leaves the region counts as coming from that anchor.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass

import torch
import torch.fx as fx
import torch.nn as nn

from .report import Anchor
from .trace import Traced

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
#: plumbing that says nothing to a reader of ``via``: tuple unpacking, attribute reads
_SILENT_FUNCTIONS = {operator.getitem, getattr}
_SILENT_METHODS = {"size", "dim"}

#: anchor -> ops between it and the node; the shortest path wins
Reach = dict[Anchor, tuple[str, ...]]


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
#: They travel like anchors so that nested analyses can be composed, and are dropped
#: from the relations a site reports (an empty list already means "input"/"output").
INPUT = Anchor("<input>", "input")
OUTPUT = Anchor("<output>", "output")


@dataclass(frozen=True)
class Transfer:
    """How an opaque node (a region analysed on its own) passes reach through."""

    out_up: Reach  # nearest anchors upstream of its output, INPUT where its input flows through
    in_down: Reach  # nearest anchors downstream of its inputs, OUTPUT where they flow through


#: The passes keep each ``via`` as a persistent linked list — (length, label, rest,
#: the first labels pushed) with the label nearest the node at the head — so extending one
#: costs O(1) and a long chain of ops without anchors stays linear. A reported ``via``
#: keeps the ``VIA_ENDS`` ops at each end and counts the ones between, so reporting every
#: site of a long chain stays linear too.
_Chain = tuple[int, str, "_Chain", tuple[str, ...]] | None
_ChainReach = dict[Anchor, _Chain]
VIA_ENDS = 6


def _length(chain: _Chain) -> int:
    return chain[0] if chain is not None else 0


def _push(chain: _Chain, label: str) -> _Chain:
    if chain is None:
        return (1, label, None, (label,))
    first = chain[3] if len(chain[3]) >= VIA_ENDS else (*chain[3], label)
    return (chain[0] + 1, label, chain, first)


def _via(chain: _Chain, *, node_first: bool) -> tuple[str, ...]:
    """The labels in data-flow order: from the node (``node_first``) or towards it."""
    if chain is None:
        return ()
    near: list[str] = []  # nearest the node first
    link: _Chain = chain
    while link is not None and len(near) < (VIA_ENDS if chain[0] > 2 * VIA_ENDS else chain[0]):
        near.append(link[1])
        link = link[2]
    if chain[0] <= 2 * VIA_ENDS:
        return tuple(near) if node_first else tuple(reversed(near))
    far = chain[3]  # nearest the anchor, in the order pushed
    gap = f"… {chain[0] - 2 * VIA_ENDS} more ops …"
    if node_first:
        return (*near, gap, *reversed(far))
    return (*far, gap, *reversed(near))


@dataclass(frozen=True)
class Relations:
    anchors: tuple[Anchor, ...]
    _upstream: dict[fx.Node, _ChainReach]  # nearest anchors feeding a node's inputs (and INPUT)
    _downstream: dict[fx.Node, _ChainReach]  # nearest anchors fed by a node's output (and OUTPUT)

    def up(self, node: fx.Node) -> Reach:
        """Anchors upstream of ``node``'s inputs, each with the ops from it to the node."""
        return {a: _via(c, node_first=False) for a, c in self._upstream.get(node, {}).items()}

    def down(self, node: fx.Node) -> Reach:
        """Anchors downstream of ``node``'s output, each with the ops from the node to it."""
        return {a: _via(c, node_first=True) for a, c in self._downstream.get(node, {}).items()}


def relate(
    traced: Traced,
    is_anchor: Callable[[nn.Module], bool],
    transfers: Mapping[fx.Node, Transfer] | None = None,
) -> Relations:
    nodes = list(traced.graph.nodes)
    computes: set[fx.Node] = set()
    region = _anchor_regions(traced, nodes, is_anchor, computes)
    labels = {node: _label(traced, node) for node in nodes}
    mutations = {node: target for node in nodes if (target := _mutated_input(traced, node)) is not None}
    return relate_graph(
        nodes, region, labels, computes=computes, transfers=transfers, mutations=mutations
    )


def _mutated_input(traced: Traced, node: fx.Node) -> fx.Node | None:
    """The input an in-place op overwrites (``x.relu_()``, ``F.relu(x, inplace=True)``)."""
    first = node.args[0] if node.args else None
    if not isinstance(first, fx.Node):
        return None
    if node.op == "call_method":
        name = str(node.target)
        inplace = name.endswith("_") and not name.endswith("__")
    elif node.op == "call_function":
        name = getattr(node.target, "__name__", "")
        inplace = (name.endswith("_") and not name.endswith("__")) or node.kwargs.get("inplace") is True
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
    computes: Collection[fx.Node] = (),
    transfers: Mapping[fx.Node, Transfer] | None = None,
    mutations: Mapping[fx.Node, fx.Node] | None = None,
) -> Relations:
    """The two passes, for any front end that can say which anchor a node belongs to.

    ``mutations`` maps an in-place node to the input it overwrites: that input's later
    readers read the in-place result, though the graph shows no edge (a bare ``x.relu_()``).

    ``transfers`` describes opaque nodes analysed apart (the fallback's leaves): what their
    output sees upstream inside them, and what their inputs reach downstream inside them.

    ``computes`` holds the nodes that are an anchor's own computation (a leaf anchor module,
    a functional conv): data always crosses an anchor there, even inside the anchor's region.
    """
    computes = set(computes)
    transfers = transfers or {}
    upstream: dict[fx.Node, _ChainReach] = {}
    for node in nodes:
        upstream[node] = _merge(
            {INPUT: None}
            if src.op == "placeholder"
            else _crossing(
                region, src, node, upstream[src], labels[src], downstream=False, computes=computes,
                transfer=transfers[src].out_up if src in transfers else None,
            )
            for src in node.all_input_nodes
        )
    readers = _readers(nodes, mutations or {})
    downstream: dict[fx.Node, _ChainReach] = {}
    for node in reversed(nodes):
        downstream[node] = _merge(
            {OUTPUT: None}
            if user.op == "output"
            else _crossing(
                region, user, node, downstream[user], labels[user], downstream=True, computes=computes,
                transfer=transfers[user].in_down if user in transfers else None,
            )
            for user in readers.get(node, node.users)
        )
    anchors = tuple(dict.fromkeys(a for a in (region[n] for n in nodes) if a is not None))
    return Relations(anchors, upstream, downstream)


def _readers(nodes: list[fx.Node], mutations: Mapping[fx.Node, fx.Node]) -> dict[fx.Node, list[fx.Node]]:
    """For in-place nodes: their users plus the later users of every alias of the tensor.

    An in-place result aliases its input, so a chain ``relu_(relu_(x))`` and the ``x`` saved
    before it are one tensor: whoever reads any of them after the op reads its result.
    """
    if not mutations:
        return {}
    order = {node: index for index, node in enumerate(nodes)}
    storage: dict[fx.Node, fx.Node] = {}  # node -> the first node of its alias chain
    aliases: dict[fx.Node, list[fx.Node]] = {}
    for node in nodes:
        root = storage.get(mutations[node], mutations[node]) if node in mutations else node
        storage[node] = root
        aliases.setdefault(root, []).append(node)
    readers: dict[fx.Node, list[fx.Node]] = {}
    for node in mutations:
        later = [
            user
            for alias in aliases[storage[node]]
            for user in alias.users
            if user is not node and order.get(user, -1) > order[node]
        ]
        readers[node] = list(dict.fromkeys([*node.users, *later]))
    return readers


def _crossing(
    region: dict[fx.Node, Anchor | None],
    other: fx.Node,
    here: fx.Node,
    other_reach: _ChainReach,
    other_label: str | None,
    *,
    downstream: bool,
    computes: Collection[fx.Node] = (),
    transfer: Reach | None = None,
) -> _ChainReach:
    """What ``here`` learns from its neighbour ``other`` (a producer, or a user when ``downstream``)."""
    anchor = region[other]
    if anchor is not None and (anchor != region[here] or other in computes):
        return {anchor: None}
    if transfer is not None:
        return _through(transfer, other_reach, other_label, downstream=downstream)
    if other_label is None:
        return other_reach
    return {a: _push(chain, other_label) for a, chain in other_reach.items()}


def _through(transfer: Reach, outer: _ChainReach, label: str | None, *, downstream: bool) -> _ChainReach:
    """Crossing an opaque node: anchors inside it, plus what lies beyond where it passes through."""
    edge = OUTPUT if downstream else INPUT
    result: _ChainReach = {}
    for anchor, via in transfer.items():
        if anchor != edge:
            result[anchor] = _chain(via, downstream=downstream)
    if edge in transfer:
        for anchor, chain in outer.items():
            extended = _push(chain, label) if label else chain
            if anchor not in result or _length(extended) < _length(result[anchor]):
                result[anchor] = extended
    return result


def _chain(via: tuple[str, ...], *, downstream: bool) -> _Chain:
    """A via tuple (data-flow order) as a chain whose head is the label nearest the node."""
    chain: _Chain = None
    for label in reversed(via) if downstream else via:
        chain = _push(chain, label)
    return chain


def _merge(reaches: Iterable[_ChainReach]) -> _ChainReach:
    merged: _ChainReach = {}
    for reach in reaches:
        for anchor, chain in reach.items():
            if anchor not in merged or _length(chain) < _length(merged[anchor]):
                merged[anchor] = chain
    return merged


def _anchor_regions(
    traced: Traced,
    nodes: list[fx.Node],
    is_anchor: Callable[[nn.Module], bool],
    computes: set[fx.Node] | None = None,
) -> dict[fx.Node, Anchor | None]:
    """For each node, the anchor it belongs to (itself, or the anchor module owning it).

    A functional conv inside an anchor module's region (a traced ``Conv2d`` subclass calls
    ``F.conv2d``) is that module's computation, not a second anchor. Nodes that compute an
    anchor are added to ``computes``.
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
    path = traced.owner(node).owner_path
    if path not in cache:
        anchor = _outermost_anchor_on_path(traced.root, path, is_anchor)
        cache[path] = anchor and Anchor(traced.qualify(anchor.path), anchor.type)
    return cache[path]


def _outermost_anchor_on_path(
    root: nn.Module, path: str, is_anchor: Callable[[nn.Module], bool]
) -> Anchor | None:
    if not path:
        return None
    module = root
    parts = path.split(".")
    for depth, part in enumerate(parts):
        module = getattr(module, part)
        if is_anchor(module):
            return Anchor(".".join(parts[: depth + 1]), type(module).__name__)
    return None


def _label(traced: Traced, node: fx.Node) -> str | None:
    """How a node is named in ``via``; None for nodes a reader need not see."""
    if node.op == "call_module":
        module = traced.submodule(str(node.target))
        return f"{type(module).__name__} {traced.qualify(str(node.target))}"
    if node.op == "call_function":
        if node.target in _SILENT_FUNCTIONS:
            return None
        return getattr(node.target, "__name__", str(node.target))
    if node.op == "call_method":
        return None if node.target in _SILENT_METHODS else str(node.target)
    return None
