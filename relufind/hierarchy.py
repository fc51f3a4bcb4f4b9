"""Analyse a model region by region, so that no ReLU is lost to a tracing failure.

Trace the model; when tracing fails, the innermost module whose ``forward`` raised (the
top of the tracer's module stack) becomes a leaf — with every other instance of its
class, so there is one retrace per failing class, not per instance — and the rest is
traced again. Each such leaf is then analysed on its own, recursively. A module whose
own ``forward`` cannot be traced is read from source (``srcread``) and its children are
analysed in turn. Sites keep raw reaches with boundary markers, so a leaf's sites can be
placed relative to the anchors around the leaf's call in the parent graph.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import torch.fx as fx
import torch.nn as nn

from .detect import Detected, detect, embedded_in, module_op, read_module
from .facts import Region
from .relate import (
    EMPTY,
    INPUT,
    OUTPUT,
    AnchorIds,
    Reach,
    Relations,
    Transfer,
    across,
    merge,
    relate,
)
from .report import Anchor, Assumption, Inside, Relation, Site, SourceLoc, Unseen, Untraced
from .srcread import (
    SourceCall,
    called_children,
    function_relu_calls,
    readable,
    referenced_attributes,
    relu_calls,
)
from .trace import Failure, RelufindTracer, Traced, concrete_defaults, failure_point

#: a site's reach leaves a region analysed apart from its surroundings: beyond is unknown
UNKNOWN_IN = Anchor("<unknown-in>", "unknown")
UNKNOWN_OUT = Anchor("<unknown-out>", "unknown")
_MARKERS = frozenset((INPUT, OUTPUT, UNKNOWN_IN, UNKNOWN_OUT))
#: what a site in a region read from source knows: nothing beyond the region
UNKNOWN_UP = Reach(edges=((UNKNOWN_IN, EMPTY),))
UNKNOWN_DOWN = Reach(edges=((UNKNOWN_OUT, EMPTY),))

IsAnchor = Callable[[nn.Module], bool]


@dataclass(frozen=True)
class Found:
    """A site with its raw reaches (boundary markers included); relations come last."""

    site: Site
    up: Reach
    down: Reach


@dataclass
class Analysis:
    found: list[Found] = field(default_factory=list)
    anchors: list[Anchor] = field(default_factory=list)
    untraced: list[Untraced] = field(default_factory=list)
    unseen: list[Unseen] = field(default_factory=list)
    assumptions: list[Assumption] = field(default_factory=list)
    #: how the region passes reach from its inputs to its output (for its callers' graphs)
    transfer: Transfer = field(default_factory=lambda: Transfer(UNKNOWN_UP, UNKNOWN_DOWN))
    #: every traced graph with what lint rules query (regions read from source have none)
    regions: list[Region] = field(default_factory=list)

    def absorb(self, other: Analysis, found: list[Found]) -> None:
        """Take in a sub-region's findings; ``found`` are its sites placed in this region.

        A module called twice is absorbed twice: its sites count per call, its anchors,
        untraced regions and unseen calls once.
        """
        self.found.extend(found)
        self.regions.extend(r for r in other.regions if all(r is not mine for mine in self.regions))
        for mine, theirs in (
            (self.anchors, other.anchors),
            (self.untraced, other.untraced),
            (self.unseen, other.unseen),
            (self.assumptions, other.assumptions),
        ):
            mine.extend(item for item in theirs if item not in mine)


class _Analyser:
    def __init__(self, is_anchor: IsAnchor, root: nn.Module | None = None) -> None:
        self.is_anchor = is_anchor
        self.root = root
        self.ids = AnchorIds()  # one bit per anchor across every region, to count the anchors reached
        self._cache: dict[tuple[int, str], Analysis] = {}

    def module(self, module: nn.Module, prefix: str) -> Analysis:
        key = (id(module), prefix)
        if key not in self._cache:
            self._cache[key] = self._analyse(module, prefix)
        return self._cache[key]

    def _analyse(self, module: nn.Module, prefix: str) -> Analysis:
        leaf_classes: set[type] = set()
        while True:
            tracer = RelufindTracer(
                extra_leaves=lambda m: type(m) in leaf_classes and m is not module, prefix=prefix
            )
            try:
                graph = tracer.trace(module, concrete_args=concrete_defaults(module) or None)
                break
            except Exception as exc:
                failing = _innermost_failing(tracer)
                if failing is None or failing in leaf_classes or failing is type(module):
                    if isinstance(exc, RecursionError):  # too deep to look at the frames again
                        return self._from_source(module, prefix, Untraced(prefix, _reason(exc)))
                    return self._failed(module, prefix, tracer, exc, leaf_classes)
                leaf_classes.add(failing)
        traced = Traced(module, graph, tracer.node_info, prefix, frozenset(tracer.entered))
        result = self._from_graph(traced, leaf_classes)
        result.assumptions[:0] = [a for a in tracer.assumptions if a not in result.assumptions]
        return result

    def _failed(
        self, module: nn.Module, prefix: str, tracer: RelufindTracer, exc: Exception, leaf_classes: set[type]
    ) -> Analysis:
        """A ``forward`` that fails part-way: keep what was traced before the failing statement
        (full relations inside it; values flowing past the failure reach "unknown"), read the
        rest from source. Without a usable graph, the whole ``forward`` is read from source."""
        failure = failure_point(exc)
        untraced = Untraced(
            prefix, _reason(exc), failure.source, failure.statement,
            self._hint() if _shape_related(exc, tracer, failure) else None,
        )
        line = _forward_line(module, exc)
        partial = _partial_graph(tracer) if line is not None else None
        if partial is None or line is None:
            result = self._from_source(module, prefix, untraced)
        else:
            traced = Traced(module, partial, tracer.node_info, prefix, frozenset(tracer.entered))
            result = self._from_graph(traced, leaf_classes, open_ends=failure.live)
            # the graph stops at the failure: its output is not the model's (rules must know)
            result.regions[0] = dataclasses.replace(result.regions[0], complete=False)
            result.transfer = Transfer(UNKNOWN_UP, result.transfer.in_down)
            self._after_failure(result, traced, module, prefix, line)
            result.untraced.insert(0, untraced)
        result.assumptions[:0] = [a for a in tracer.assumptions if a not in result.assumptions]
        return result

    def _after_failure(
        self, result: Analysis, traced: Traced, module: nn.Module, prefix: str, line: int
    ) -> None:
        """What ``forward`` does from the failing statement on, read from source: its ReLU calls
        (one site per call expression) and the children it has not called yet."""
        first_read = len(result.found)
        after = [c for c in relu_calls(module) if c.end_line >= line and c.file == _forward_file(module)]
        at = {(c.file, c.line) for c in after}
        result.unseen = [u for u in result.unseen if (u.source.file, u.source.line) not in at]
        graph_sites = {(f.site.source.file, f.site.source.line) for f in result.found if f.site.source}
        for call in after:
            if (call.file, call.line) not in graph_sites:
                result.found.append(self._source_found(module, prefix, call))
        used = _paths_in_graph(traced)
        called = called_children(module)
        referenced = referenced_attributes(module)
        for name, child in module.named_children():
            if name not in referenced:
                continue
            if isinstance(child, (nn.ModuleList, nn.ModuleDict)):  # the members not called yet
                for key, member in child.named_children():
                    if not _used(f"{name}.{key}", used):
                        self._child_of_unread(result, member, _join(prefix, f"{name}.{key}"), None)
            elif not _used(name, used):
                self._child_of_unread(result, child, _join(prefix, name), called.get(name))
        # found from here on is counted per call expression (or analysed apart): say where
        result.found[first_read:] = [
            Found(dataclasses.replace(f.site, region=prefix), f.up, f.down) if f.site.region is None else f
            for f in result.found[first_read:]
        ]

    def _hint(self) -> str | None:
        shape = suggest_input_shape(self.root) if self.root is not None else None
        return f"try --input-shape {shape}" if shape else "try --input-shape (one per forward input)"

    # -- a traced region ------------------------------------------------------------------

    def _from_graph(
        self, traced: Traced, leaf_classes: set[type], open_ends: frozenset[fx.Node] = frozenset()
    ) -> Analysis:
        def opaque(m: nn.Module) -> bool:
            return type(m) in leaf_classes

        inner_by_node = {
            node: self.module(sub, traced.qualify(str(node.target)))
            for node, sub in _module_calls(traced)
            if opaque(sub)
        }
        relations = relate(
            traced, self.is_anchor, {n: a.transfer for n, a in inner_by_node.items()}, ids=self.ids,
            open_ends={n: UNKNOWN_OUT for n in open_ends if n.graph is traced.graph},
        )
        by_node: dict[fx.Node, list[Found]] = {}
        for detected in detect(traced, self.is_anchor, opaque):
            by_node.setdefault(detected.node, []).append(_found(detected, relations))
        result = Analysis(anchors=list(relations.anchors), transfer=_transfer(traced, relations))
        for node in traced.graph.nodes:  # graph order, a leaf's sites where the leaf is called
            result.found.extend(by_node.get(node, ()))
            inner = inner_by_node.get(node)
            if inner is not None:
                outer_up = relations.up(node)
                outer_down = relations.down(node)
                result.absorb(inner, [_placed(f, outer_up, outer_down) for f in inner.found])
            elif _is_wrapped_function(node):
                self._wrapped_function(result, traced, node, relations)
        result.unseen.extend(unseen_calls(traced, result.found))
        opaque = {*inner_by_node, *(n for n in traced.graph.nodes if _is_wrapped_function(n))}
        sites = {node: [f.site for f in found] for node, found in by_node.items()}
        complete = not traced.prefix and traced.root is self.root
        region = Region(traced, relations, sites, frozenset(opaque), complete, self.is_anchor)
        result.regions.insert(0, region)
        return result

    def _wrapped_function(
        self, result: Analysis, traced: Traced, node: fx.Node, relations: Relations
    ) -> None:
        """A function fx kept as one node (``torch.fx.wrap``): its ReLUs read from its source."""
        info = traced.owner(node)
        owner = traced.qualify(info.owner_path)
        name = getattr(node.target, "__qualname__", str(node.target))
        untraced = Untraced(owner, f"{name}() is wrapped (torch.fx.wrap): fx keeps it as one node")
        if untraced not in result.untraced:
            result.untraced.append(untraced)
        up = relations.up(node).with_edge(UNKNOWN_IN)
        down = relations.down(node).with_edge(UNKNOWN_OUT)
        for call in function_relu_calls(node.target):
            site = Site(
                kind=call.kind, variant=call.variant, op=call.op, module_path=owner,
                module_type=info.owner_type.__name__, inplace=call.inplace,
                source=SourceLoc(call.file, call.line), traced=False, region=owner,
            )
            result.found.append(Found(site, up, down))

    # -- a region read from source ----------------------------------------------------------

    def _from_source(self, module: nn.Module, prefix: str, untraced: Untraced) -> Analysis:
        if not readable(module):
            reason = untraced.reason
            reason += "; its forward() source could not be read either, so ReLUs it calls itself are unknown"
            untraced = dataclasses.replace(untraced, reason=reason)
        result = Analysis(untraced=[untraced])
        if self.is_anchor(module):
            result.anchors.append(Anchor(prefix, type(module).__name__))
        for call in relu_calls(module):
            result.found.append(self._source_found(module, prefix, call))
        called = called_children(module)
        referenced = referenced_attributes(module)
        for name, child in module.named_children():
            if name in referenced:
                self._child_of_unread(result, child, _join(prefix, name), called.get(name))
        # everything found here is counted per call expression, not per call: say where
        result.found = [
            Found(dataclasses.replace(f.site, region=prefix), f.up, f.down) if f.site.region is None else f
            for f in result.found
        ]
        return result

    def _source_found(self, module: nn.Module, prefix: str, call: SourceCall) -> Found:
        """A ReLU call expression read from ``module``'s source: nothing known around it."""
        child = getattr(module, call.child) if call.child else None
        owner = child.get_submodule(call.sub_path) if child is not None else module
        child_path = _join(prefix, call.child) if call.child else prefix
        path = _join(child_path, call.sub_path) if call.sub_path else child_path
        site = Site(
            kind=call.kind,
            variant=call.variant,
            op=call.op,
            module_path=path,
            module_type=type(owner).__name__,
            inplace=call.inplace,
            source=SourceLoc(call.file, call.line),
            inside=self._inside(child, child_path, path) if call.kind == "embedded" else None,
            traced=False,
        )
        return Found(site, UNKNOWN_UP, UNKNOWN_DOWN)

    def _child_of_unread(
        self, result: Analysis, child: nn.Module, path: str, call: SourceLoc | None
    ) -> None:
        """A child that the source of a module read from source uses (``call``: where
        ``forward`` calls it as ``self.child(``, if it does).

        A torch leaf called that way was counted per call expression; one used otherwise
        (held in a ModuleList iterated in a loop, passed to a helper) is counted once. A child
        the class never mentions applies no ReLU and is left out. Sites of a child analysed on
        its own that have no line of their own (torch code such as ``nn.Sequential`` made the
        call) get the line that calls the child.
        """
        if isinstance(child, (nn.ModuleList, nn.ModuleDict)):
            for name, grandchild in child.named_children():
                self._child_of_unread(result, grandchild, _join(path, name), None)
            return
        if self.is_anchor(child) and not isinstance(child, nn.Sequential):
            result.anchors.append(Anchor(path, type(child).__name__))
        if _is_torch_leaf(child):
            if call is None:
                result.found.extend(self._embedded_uncalled(child, path))
            return
        inner = self.module(child, path)
        placed = [_placed(f, UNKNOWN_UP, UNKNOWN_DOWN) for f in inner.found]
        if call is not None:
            placed = [
                Found(dataclasses.replace(f.site, source=call), f.up, f.down) if f.site.source is None else f
                for f in placed
            ]
        result.absorb(inner, placed)

    def _embedded_uncalled(self, child: nn.Module, path: str) -> list[Found]:
        """ReLUs of a torch leaf used other than by a ``self.child(`` call in ``forward``."""
        found = []
        reading = read_module(child)
        if reading is not None:
            site = Site(
                "module", reading[0], module_op(child), path, type(child).__name__, reading[1], None,
                traced=False,
            )
            found.append(Found(site, UNKNOWN_UP, UNKNOWN_DOWN))
            return found
        for sub_path, sub, sub_reading, op, inside in embedded_in(child, path, self.is_anchor):
            assert sub_reading is not None
            site = Site(
                "embedded", sub_reading[0], op, sub_path, type(sub).__name__, sub_reading[1], None,
                inside=inside, traced=False,
            )
            found.append(Found(site, UNKNOWN_UP, UNKNOWN_DOWN))
        return found

    def _inside(self, leaf: nn.Module | None, leaf_path: str, path: str) -> Inside | None:
        """Where an embedded site at ``path`` inside the torch layer ``leaf`` sits."""
        if leaf is None:
            return None
        for sub_path, _, _, _, inside in embedded_in(leaf, leaf_path, self.is_anchor):
            if sub_path == path:
                return inside
        return None


def _is_wrapped_function(node: fx.Node) -> bool:
    """A user's Python function as a graph node: fx only does that for wrapped functions."""
    if node.op != "call_function" or not inspect.isfunction(node.target):
        return False
    package = (node.target.__module__ or "").partition(".")[0]
    return package not in ("torch", "relufind")


def _module_calls(traced: Traced) -> list[tuple[fx.Node, nn.Module]]:
    return [
        (node, traced.submodule(str(node.target)))
        for node in traced.graph.nodes
        if node.op == "call_module"
    ]


def _transfer(traced: Traced, relations: Relations) -> Transfer:
    """What the region's output sees upstream, and what its inputs reach downstream."""
    out_up = Reach()
    for node in traced.graph.nodes:
        if node.op == "output":
            out_up = relations.up(node)
    in_down = merge(relations.down(n) for n in traced.graph.nodes if n.op == "placeholder")
    return Transfer(out_up, in_down)


def analyse(model: nn.Module, is_anchor: IsAnchor) -> Analysis:
    return _canonical(_Analyser(is_anchor, model).module(model, ""), model)


def _canonical(analysis: Analysis, model: nn.Module) -> Analysis:
    """Every module under its first registered path, as the tracer names it.

    A module registered twice (one ReLU shared by a block and its parent) reached through a
    region analysed on its own would otherwise be reported under a second, local path.
    """
    first_path: dict[int, str] = {}
    module_at: dict[str, nn.Module] = {}
    for path, module in model.named_modules(remove_duplicate=False):
        first_path.setdefault(id(module), path)
        module_at[path] = module
    if len(first_path) == len(module_at):  # no module registered twice: every path is canonical
        return analysis

    def canon(path: str) -> str:
        module = module_at.get(path)  # None: a functional anchor's node name, not a module
        return path if module is None else first_path[id(module)]

    canonical: dict[Anchor, Anchor] = {}

    def anchor(a: Anchor) -> Anchor:
        if a not in canonical:
            canonical[a] = a if a in _MARKERS else Anchor(canon(a.path), a.type)
        return canonical[a]

    def site(s: Site) -> Site:
        inside = s.inside and Inside(canon(s.inside.anchor), s.inside.type)
        return dataclasses.replace(s, module_path=canon(s.module_path), inside=inside)

    def reach(r: Reach) -> Reach:
        return r.rename(anchor)

    analysis.found = [Found(site(f.site), reach(f.up), reach(f.down)) for f in analysis.found]
    analysis.anchors = list(dict.fromkeys(anchor(a) for a in analysis.anchors))
    analysis.unseen = [dataclasses.replace(u, module_path=canon(u.module_path)) for u in analysis.unseen]
    analysis.regions = [region.canonical(site) for region in analysis.regions]
    return analysis


def finish(found: Found, defined_at: SourceLoc | None = None) -> Site:
    """The report's Site: relations without markers, boundaries and completeness from them;
    ``defined_at``, when given, the line that constructed the site's module."""
    input_path, output_path = found.up.edge(INPUT), found.down.edge(OUTPUT)
    return dataclasses.replace(
        found.site,
        defined_at=found.site.defined_at if defined_at is None else defined_at,
        after=_relations(found.up),
        before=_relations(found.down),
        after_more=found.up.more,
        before_more=found.down.more,
        input_path=None if input_path is None else input_path.via(),
        output_path=None if output_path is None else output_path.via(),
        after_complete=not found.up.has(UNKNOWN_IN),
        before_complete=not found.down.has(UNKNOWN_OUT),
    )


def _relations(reach: Reach) -> tuple[Relation, ...]:
    return tuple(Relation(a.path, a.type, path.via()) for a, path in reach.near)


def _found(detected: Detected, relations: Relations) -> Found:
    site = Site(
        kind=detected.kind,
        variant=detected.variant,
        op=detected.op,
        module_path=detected.module_path,
        module_type=detected.module_type,
        inplace=detected.inplace,
        source=detected.source,
        inside=detected.inside,
        node=detected.node.name,
    )
    return Found(site, relations.up(detected.node), relations.down(detected.node))


def _placed(found: Found, outer_up: Reach, outer_down: Reach) -> Found:
    """A leaf's site seen from the parent: its region edges replaced by what lies beyond,
    full paths joined (never the display form)."""
    return Found(
        found.site,
        across(found.up, INPUT, outer_up, outer_first=True),
        across(found.down, OUTPUT, outer_down, outer_first=False),
    )


def unseen_calls(traced: Traced, found: list[Found]) -> list[Unseen]:
    """ReLU calls in the source of traced ``forward``s that produced no site in the graph."""
    # a shared child reports under its first registered path, so child calls compare objects
    modules_at = traced.modules
    if traced.prefix:
        modules_at = {traced.qualify(p): m for p, m in modules_at.items()}
    # per (file, line) of traced sites: the paths holding a site there with all their ancestors,
    # and the modules owning one — set lookups, so a block repeated N times costs N, not N^2
    covered: dict[tuple[str, int], set[str]] = {}
    owners: dict[tuple[str, int], set[int]] = {}
    for f in found:
        if f.site.traced and f.site.source is not None:
            key = (f.site.source.file, f.site.source.line)
            covered.setdefault(key, set()).update(_ancestors(f.site.module_path))
            owner = modules_at.get(f.site.module_path)
            if owner is not None:
                owners.setdefault(key, set()).add(id(owner))
    unseen = []
    for relative in sorted(traced.entered):
        module = traced.submodule(relative)
        if _is_torch_module(module):
            continue
        path = traced.qualify(relative)
        for call in relu_calls(module):
            keys = [(call.file, line) for line in range(call.line, call.end_line + 1)]
            if call.child is not None:
                owner = id(getattr(module, call.child).get_submodule(call.sub_path))
                seen = any(owner in owners.get(key, ()) for key in keys)
            else:
                seen = any(path in covered.get(key, ()) for key in keys)
            if not seen:
                owner_path = _join(path, call.child) if call.child else path
                if call.sub_path:
                    owner_path = _join(owner_path, call.sub_path)
                unseen.append(Unseen(owner_path, call.op, call.variant, SourceLoc(call.file, call.line)))
    return unseen


def _ancestors(path: str) -> list[str]:
    """``a.b.c`` -> ``['', 'a', 'a.b', 'a.b.c']``: every module path that contains it."""
    parts = path.split(".") if path else []
    return ["", *(".".join(parts[: depth + 1]) for depth in range(len(parts)))]


def _innermost_failing(tracer: RelufindTracer) -> type | None:
    """The class of the innermost module whose forward was running when tracing failed."""
    if not tracer.module_stack:
        return None
    _, module_type = next(reversed(tracer.module_stack.values()))
    return module_type


def _is_torch_module(module: nn.Module) -> bool:
    return type(module).__module__.startswith(("torch.nn", "torch.ao.nn"))


def _is_torch_leaf(module: nn.Module) -> bool:
    return _is_torch_module(module) and not isinstance(module, nn.Sequential)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _forward_file(module: nn.Module) -> str | None:
    code = getattr(inspect.unwrap(type(module).forward), "__code__", None)
    return code.co_filename if code is not None else None


def _forward_line(module: nn.Module, exc: BaseException) -> int | None:
    """The line of ``module``'s own ``forward`` that was running when ``exc`` was raised."""
    code = getattr(inspect.unwrap(type(module).forward), "__code__", None)
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code is code:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _partial_graph(tracer: RelufindTracer) -> fx.Graph | None:
    """The graph traced before a failure, closed with an output of nothing; None when empty."""
    graph = getattr(tracer, "graph", None)
    if graph is None or not any(n.op not in ("placeholder", "get_attr") for n in graph.nodes):
        return None
    if not any(n.op == "output" for n in graph.nodes):
        graph.output(None)
    return graph


def _paths_in_graph(traced: Traced) -> set[str]:
    """Paths of the modules the graph calls or traced through."""
    used = {path for path in traced.entered if path}
    for node in traced.graph.nodes:
        if node.op == "call_module":
            used.add(str(node.target))
        info = traced.info.get(node)
        if info is not None and info.owner_path:
            used.add(info.owner_path)
    return used


def _used(path: str, used: set[str]) -> bool:
    return any(u == path or u.startswith(path + ".") for u in used)


_SHAPE_WORDS = (".shape", ".size(", ".dim(", "len(", ".ndim", ".numel(")


def _shape_related(exc: BaseException, tracer: RelufindTracer, failure: Failure) -> bool:
    """Did tracing fail on a question about sizes (control flow, int(), range(), len() on a
    size) that concrete input shapes answer? Values (``x.sum() > 0``, ``.numpy()``) do not."""
    if tracer.shape_question:
        return True
    statement = failure.statement or ""
    text = str(exc)
    proxy_in_python = isinstance(exc, TypeError) or "'len' is not supported" in text
    return proxy_in_python and any(word in statement for word in _SHAPE_WORDS)


def suggest_input_shape(model: nn.Module) -> str | None:
    """An ``--input-shape`` read off the first layer whose input size is known."""
    for module in model.modules():
        shape = _input_shape_of(module)
        if shape is not None:
            return shape
    return None


def _input_shape_of(module: nn.Module) -> str | None:
    if isinstance(module, nn.modules.conv._ConvNd) and int(getattr(module, "in_channels", 0) or 0) > 0:
        spatial = {1: "100", 2: "32,100", 3: "8,32,32"}.get(len(module.kernel_size), "32,32")
        return f"1,{module.in_channels},{spatial}"
    if isinstance(module, nn.Embedding):
        return "1,20:long"
    if isinstance(module, nn.RNNBase):
        return f"1,20,{module.input_size}" if module.batch_first else f"20,1,{module.input_size}"
    if isinstance(module, nn.Linear) and module.in_features > 0:
        return f"1,{module.in_features}"
    return None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__

