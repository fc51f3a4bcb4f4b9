"""Symbolic tracing that remembers, for every node, who made it and where.

``RelufindTracer`` records per node the owning module path and class, and the user's source
``file:line`` — the innermost frame outside torch and relufind, found by walking the Python
stack when the node is created. That is cheaper than ``record_stack_traces`` and points at
the user's code rather than into torch.

It also follows shape guards: fx asks ``Tracer.to_bool`` what a proxy in control flow is.
When the statement asking is an ``assert``, or an ``if`` whose body only raises, and its
condition is built from metadata alone (sizes, ranks: ``vocab``), there is one way forward
and the tracer takes it, recording the guard as an assumption. Anything else (``if x.sum()
> 0``) fails as fx would.
"""

from __future__ import annotations

import ast
import inspect
import os
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from types import CodeType, FrameType, TracebackType
from typing import Any

import torch
import torch.fx as fx
import torch.nn as nn

from . import vocab
from .report import Assumption, SourceLoc

_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
_FX_DIR = os.path.dirname(fx.__file__) + os.sep
_THIS_FILE = os.path.abspath(__file__)
_RELUFIND_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
#: non-tensor defaults of ``forward`` that are specialised, so `if mask is not None:`
#: takes the branch a real call without that argument takes
_CONCRETE_DEFAULT_TYPES = (type(None), bool, int, float, str)


@dataclass(frozen=True)
class NodeInfo:
    """What relufind knows about one graph node beyond fx's own fields."""

    owner_path: str  # innermost module whose forward created the node ('' = root)
    owner_type: type
    source: SourceLoc | None


@dataclass
class Traced:
    """A traced model: the root module, its graph and per-node information."""

    root: nn.Module
    graph: fx.Graph
    info: dict[fx.Node, NodeInfo]
    #: path of ``root`` in the whole model, when a submodule is analysed on its own
    prefix: str = ""
    #: paths (relative to ``root``) of the modules whose ``forward`` was traced through
    entered: frozenset[str] = frozenset({""})

    @cached_property
    def modules(self) -> dict[str, nn.Module]:
        """Path (relative to ``root``) -> module, every registered path: built once, asked per node."""
        return dict(self.root.named_modules(remove_duplicate=False))

    def submodule(self, path: str) -> nn.Module:
        """``root.get_submodule(path)``, from the ``modules`` table."""
        module = self.modules.get(path)
        return module if module is not None else self.root.get_submodule(path)

    def qualify(self, path: str) -> str:
        """A path relative to ``root`` as a path in the whole model."""
        return f"{self.prefix}.{path}" if self.prefix and path else (path or self.prefix)

    def owner(self, node: fx.Node) -> NodeInfo:
        return self.info.get(node) or NodeInfo("", type(self.root), None)


class RelufindTracer(fx.Tracer):
    def __init__(self, extra_leaves: Callable[[nn.Module], bool] | None = None, prefix: str = "") -> None:
        super().__init__()
        self._extra_leaves = extra_leaves
        self._prefix = prefix
        self.node_info: dict[fx.Node, NodeInfo] = {}
        self.entered: set[str] = {""}
        #: shape guards followed, in trace order
        self.assumptions: list[Assumption] = []
        #: control flow on a condition built from sizes alone was refused (a shape question
        #: ``--input-shape`` can answer)
        self.shape_question = False

    def to_bool(self, obj: fx.Proxy) -> bool:
        """A shape guard has one way forward: take it. Anything else fails as fx would."""
        metadata_only = not value_dependent(obj.node)
        frame = _asking_frame()
        guard = _guard_at(frame.f_code, frame.f_lineno) if frame is not None and metadata_only else None
        if guard is None:
            self.shape_question = self.shape_question or metadata_only
            return super().to_bool(obj)
        way, statement, line = guard
        assert frame is not None
        path = next(reversed(self.module_stack.values()))[0] if self.module_stack else ""
        path = f"{self._prefix}.{path}" if self._prefix and path else (path or self._prefix)
        assumption = Assumption(path, SourceLoc(frame.f_code.co_filename, line), statement)
        if assumption not in self.assumptions:
            self.assumptions.append(assumption)
        return way

    def iter(self, obj: fx.Proxy):  # type: ignore[no-untyped-def]
        self.shape_question = self.shape_question or not value_dependent(obj.node)
        return super().iter(obj)

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        """fx asks this once per module call, just before it traces the module's ``forward``
        or records a leaf: so a non-leaf is noted as entered here (overriding ``call_module``
        would look the path and leafness up twice per call, and add a frame to every
        ``user_source_location`` walk)."""
        if self._extra_leaves is not None and self._extra_leaves(m):
            return True
        if super().is_leaf_module(m, module_qualified_name):
            return True
        self.entered.add(module_qualified_name)
        return False

    def create_node(self, kind, target, args, kwargs, name=None, type_expr=None):  # type: ignore[no-untyped-def]
        node = super().create_node(kind, target, args, kwargs, name, type_expr)
        if self.module_stack:
            path, owner_type = next(reversed(self.module_stack.values()))
        else:
            path, owner_type = "", type(self.root)
        self.node_info[node] = NodeInfo(path, owner_type, user_source_location())
        return node


def user_source_location() -> SourceLoc | None:
    """The innermost stack frame outside torch and relufind: the user's line.

    The walk goes out through the tracer's hooks (this file) and torch; reaching the rest
    of relufind means the call was made by torch code alone (say, ``nn.Sequential``
    analysed on its own): there is no user line, and relufind's caller is not one.

    It runs once per graph node, through a dozen torch frames each: a file's verdict is
    looked up (``_frame_kind``), and a line's ``SourceLoc`` is made once and shared.
    """
    frame = sys._getframe(1)
    kinds = _FILE_KINDS
    while frame is not None:
        filename = frame.f_code.co_filename
        kind = kinds.get(filename)
        if kind is None:
            kind = kinds[filename] = _frame_kind(filename)
        if kind is _USER:
            return _source_loc(filename, frame.f_lineno)
        if kind is _STOP:
            return None
        frame = frame.f_back  # type: ignore[assignment]
    return None


_PASS, _USER, _STOP = "pass", "user", "stop"
#: file name -> what ``user_source_location`` does at a frame of that file
_FILE_KINDS: dict[str, str] = {}


def _frame_kind(filename: str) -> str:
    if filename.startswith(_RELUFIND_DIR) and filename != _THIS_FILE:
        return _STOP
    if filename == _THIS_FILE or filename.startswith(_TORCH_DIR) or filename.startswith("<"):
        return _PASS
    return _USER


@lru_cache(maxsize=65536)
def _source_loc(file: str, line: int) -> SourceLoc:
    """One ``SourceLoc`` per line (a line in a block's forward makes a node per block)."""
    return SourceLoc(file, line)


def concrete_defaults(module: nn.Module) -> dict[str, Any]:
    """``forward``'s parameters whose defaults are plain values (None, bool, int, str)."""
    try:
        sig = inspect.signature(module.forward)
    except (TypeError, ValueError):
        return {}
    return {
        name: p.default
        for name, p in sig.parameters.items()
        if p.default is not p.empty
        and isinstance(p.default, _CONCRETE_DEFAULT_TYPES)
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def fx_value_inputs(node: fx.Node) -> list[fx.Node]:
    """The inputs of an fx node whose tensor values reach its result (``vocab`` decides)."""
    if node.op == "call_function" and node.target is getattr:
        attribute = node.args[1] if len(node.args) > 1 else None
        if attribute in vocab.METADATA_ATTRIBUTES:
            return []
    if node.op == "call_method":
        name = str(node.target)
    elif node.op == "call_function":
        name = getattr(node.target, "__name__", "")
    else:
        return list(node.all_input_nodes)
    keys = vocab.value_args(name)
    if keys is None:
        return list(node.all_input_nodes)
    chosen: list[fx.Node] = []
    for key, value in [*enumerate(node.args), *node.kwargs.items()]:
        if key in keys:
            fx.node.map_arg(value, chosen.append)
    return list(dict.fromkeys(chosen))


def value_dependent(node: fx.Node) -> bool:
    """Does ``node`` depend on a tensor's values (not only on sizes and other metadata)?"""
    seen: set[fx.Node] = set()
    todo = [node]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        if current.op in ("placeholder", "get_attr", "call_module"):
            return True
        if not current.all_input_nodes and current.op != "output":
            return True  # a tensor made from nothing (torch.rand): a value, not a size
        todo.extend(fx_value_inputs(current))
    return False


def _outside(filename: str, *dirs: str) -> bool:
    return not (filename == _THIS_FILE or filename.startswith("<") or filename.startswith(dirs))


def _asking_frame() -> FrameType | None:
    """The frame whose code turned a proxy into a bool: the first outside torch.fx and here."""
    frame = sys._getframe(1)
    while frame is not None and not _outside(frame.f_code.co_filename, _FX_DIR):
        frame = frame.f_back  # type: ignore[assignment]
    return frame


@lru_cache(maxsize=512)
def _guard_at(code: CodeType, line: int) -> tuple[bool, str, int] | None:
    """(the way forward, the statement, its first line) when ``line`` of ``code`` is the test
    of an ``assert`` or of an ``if`` whose body (or else branch) only raises; else None."""
    try:
        lines, first = inspect.getsourcelines(code)
        tree = ast.parse(textwrap.dedent("".join(lines)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return None
    relative = line - first + 1
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Assert, ast.If)):
            continue
        if node.test.lineno <= relative <= (node.test.end_lineno or 0):
            return _guard_way(node, node.lineno + first - 1)
    return None


def _guard_way(node: ast.Assert | ast.If, line: int) -> tuple[bool, str, int] | None:
    if isinstance(node, ast.Assert):
        return True, f"assert {ast.unparse(node.test)}", line
    if _only_raises(node.body):
        return False, f"if {ast.unparse(node.test)}: {_raise_text(node.body)}", line
    if node.orelse and _only_raises(node.orelse):
        return True, f"if not ({ast.unparse(node.test)}): {_raise_text(node.orelse)}", line
    return None


def _only_raises(body: list[ast.stmt]) -> bool:
    return bool(body) and all(isinstance(s, (ast.Raise, ast.Pass, ast.Expr)) for s in body) and any(
        isinstance(s, ast.Raise) for s in body
    )


def _raise_text(body: list[ast.stmt]) -> str:
    exc = next(s for s in body if isinstance(s, ast.Raise)).exc
    if isinstance(exc, ast.Call):
        return f"raise {ast.unparse(exc.func)}(...)"
    return f"raise {ast.unparse(exc)}" if exc is not None else "raise"


@dataclass(frozen=True)
class Failure:
    """Where a trace failed in the user's code, and the values alive there."""

    source: SourceLoc | None
    statement: str | None
    live: frozenset[fx.Node]


def failure_point(exc: BaseException) -> Failure:
    """The innermost user frame of ``exc``'s traceback, its statement, and the proxies the
    user frames held: the values that would have flowed on past the failure."""
    tb: TracebackType | None = exc.__traceback__
    user: list[FrameType] = []
    lines: list[int] = []
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if _outside(filename, _TORCH_DIR, _RELUFIND_DIR):
            user.append(tb.tb_frame)
            lines.append(tb.tb_lineno)
        tb = tb.tb_next
    if not user:
        return Failure(None, None, frozenset())
    frame, line = user[-1], lines[-1]
    live: set[fx.Node] = set()
    for held in user:
        for value in list(held.f_locals.values()):
            _proxies(value, live, depth=2)
    return Failure(SourceLoc(frame.f_code.co_filename, line), statement_at(frame.f_code.co_filename, line),
                   frozenset(live))


def _proxies(value: object, found: set[fx.Node], depth: int) -> None:
    if isinstance(value, fx.Proxy):
        found.add(value.node)
    elif depth and isinstance(value, (tuple, list)):
        for item in value:
            _proxies(item, found, depth - 1)
    elif depth and isinstance(value, dict):
        for item in value.values():
            _proxies(item, found, depth - 1)


def statement_at(file: str, line: int) -> str | None:
    """The text of the innermost statement at ``file:line`` (one line, at most 120 chars)."""
    tree = _parsed_file(file)
    if tree is None:
        return None
    best: ast.stmt | None = None
    for node in ast.walk(tree):
        inside = isinstance(node, ast.stmt) and node.lineno <= line <= (node.end_lineno or node.lineno)
        if inside and (best is None or node.lineno >= best.lineno):
            best = node
    if best is None:
        return None
    if isinstance(best, (ast.If, ast.For, ast.While, ast.With, ast.FunctionDef, ast.ClassDef, ast.Try)):
        text = _first_line(file, best.lineno)
    else:
        text = " ".join(ast.unparse(best).split())
    return text if len(text) <= 120 else text[:117] + "..."


def _first_line(file: str, line: int) -> str:
    import linecache

    return linecache.getline(file, line).strip()


@lru_cache(maxsize=64)
def _parsed_file(file: str) -> ast.AST | None:
    try:
        with open(file, encoding="utf-8", errors="replace") as handle:
            return ast.parse(handle.read())
    except (OSError, SyntaxError, ValueError):
        return None
