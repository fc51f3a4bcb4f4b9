"""Read ReLU calls from a module's ``forward`` source with ``ast``.

Two uses: a module whose ``forward`` cannot be traced at all is analysed this way (each
call expression one site, ``traced: false``), and a traced ``forward`` is checked for
ReLU calls the graph lacks (a branch not taken, ``isinstance(x, Tensor)`` on a proxy).
Spellings come from the detector's own table, so both readings agree on what a ReLU is.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType
from typing import Any

import torch.nn as nn

from . import vocab
from .detect import FUNCTIONS, METHODS, Spelling, embedded_in, module_op, read_module
from .report import SiteKind, SourceLoc


@dataclass(frozen=True)
class SourceCall:
    """One ReLU call expression in a ``forward``."""

    file: str
    line: int
    end_line: int
    kind: SiteKind
    variant: str
    op: str
    inplace: bool
    child: str | None  # ``self.<child>(...)``: the child attribute called
    sub_path: str = ""  # a ReLU inside that child (a Transformer layer's activation module)


#: what one call expression applies: (kind, variant, op, inplace, child, sub_path)
_Applied = tuple[SiteKind, str, str, bool, "str | None", str]


class _Unknown:
    """An argument whose value cannot be read from source (a variable, an expression)."""


_UNKNOWN = _Unknown()


def relu_calls(module: nn.Module) -> list[SourceCall]:
    """ReLU-family calls in ``type(module).forward``; [] when it has no readable source."""
    return _relu_calls(_parsed_forward(type(module)), module)


def function_relu_calls(function: Any) -> list[SourceCall]:
    """ReLU-family calls in a plain function's body (one fx keeps opaque: ``torch.fx.wrap``)."""
    if not inspect.isfunction(function):
        return []
    return _relu_calls(_parsed_function(function, has_self=False), None)


def _relu_calls(parsed: _Parsed | None, module: nn.Module | None) -> list[SourceCall]:
    if parsed is None:
        return []
    tree, file, first_line, self_name, namespace = parsed
    return [
        SourceCall(
            file,
            first_line + call.lineno - 1,
            first_line + (call.end_lineno or call.lineno) - 1,
            *applied,
        )
        for call in _calls(tree)  # source order
        for applied in _read_call(call, module, self_name, namespace)
    ]


@dataclass(frozen=True)
class ResultWrite:
    """An index assignment (``y[:, 0] = 0``, ``y[i] += 1``) into a ReLU call's result."""

    relu: SourceCall  # the ReLU whose result is written
    line: int  # the assignment's line


#: a name's (re)binding in a ``forward``: where, and the expression bound (None: not known)
_Binding = tuple[tuple[int, int], "ast.expr | None"]


def relu_result_writes(module: nn.Module) -> list[ResultWrite]:
    """Index assignments in ``type(module).forward`` into a name bound to a ReLU's result
    (through views: ``z = y.view(-1)``; ``y[0] = 0``) with no rebinding in between.

    fx cannot trace item assignment on a Proxy, so a graph never shows these writes; they
    are read here. "In between" is source order: a rebinding in any branch before the write
    counts, so a branch can only make the check stay silent, never fire by guess.
    """
    parsed = _parsed_forward(type(module))
    if parsed is None:
        return []
    tree, file, first_line, self_name, namespace = parsed
    bindings, writes = _bindings_and_writes(tree)
    found: list[ResultWrite] = []
    for name, at in writes:
        call = _relu_bound(name, at, bindings, module, self_name, namespace, depth=8)
        if call is not None:
            found.append(ResultWrite(_source_call(call, file, first_line, module, self_name, namespace),
                                     first_line + at[0] - 1))
    return found


@lru_cache(maxsize=1024)  # per parsed forward: a class is instantiated many times in a model
def _bindings_and_writes(
    tree: ast.AST,
) -> tuple[dict[str, list[_Binding]], list[tuple[str, tuple[int, int]]]]:
    """Per name, its bindings in source order; and every index assignment ``name[...] = ...``
    (read only: the result is shared between calls)."""
    bindings: dict[str, list[_Binding]] = {}
    writes: list[tuple[str, tuple[int, int]]] = []
    for node in ast.walk(tree):
        at = (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))
        if isinstance(node, ast.Assign):
            for target in node.targets:
                value = node.value if isinstance(target, ast.Name) else None
                _bind_target(target, at, value, bindings, writes)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)) and isinstance(node.target, ast.Subscript):
            _bind_target(node.target, at, None, bindings, writes)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            _bind_target(node.target, at, node.value, bindings, writes)
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            _bind_target(node.target, at, None, bindings, writes)
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            _bind_target(node.optional_vars, (node.context_expr.lineno, 0), None, bindings, writes)
        elif isinstance(node, ast.NamedExpr):
            _bind_target(node.target, at, node.value, bindings, writes)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                _bind_target(target, at, None, bindings, writes)
    for named in bindings.values():
        named.sort(key=lambda binding: binding[0])
    return bindings, writes


def _bind_target(
    target: ast.expr,
    at: tuple[int, int],
    value: ast.expr | None,
    bindings: dict[str, list[_Binding]],
    writes: list[tuple[str, tuple[int, int]]],
) -> None:
    if isinstance(target, ast.Name):
        bindings.setdefault(target.id, []).append((at, value))
    elif isinstance(target, (ast.Tuple, ast.List)):
        for item in target.elts:  # unpacking: each name gets a value not read here
            _bind_target(item, at, None, bindings, writes)
    elif isinstance(target, ast.Starred):
        _bind_target(target.value, at, None, bindings, writes)
    elif isinstance(target, ast.Subscript) and isinstance(target.ctx, ast.Store):
        base = target.value
        while isinstance(base, ast.Subscript):  # y[0][1] = 0 writes into y
            base = base.value
        if isinstance(base, ast.Name):
            writes.append((base.id, at))


def _relu_bound(
    name: str,
    at: tuple[int, int],
    bindings: dict[str, list[_Binding]],
    module: nn.Module,
    self_name: str,
    namespace: dict[str, Any],
    depth: int,
) -> ast.Call | None:
    """The ReLU call whose result ``name`` holds at ``at`` (its last binding before), if any."""
    earlier = [b for b in bindings.get(name, ()) if b[0] < at]
    if not earlier or depth == 0:
        return None
    where, value = earlier[-1]
    if isinstance(value, ast.Call) and _saves_output(value, module, self_name, namespace):
        return value
    base = _viewed_name(value)
    if base is None:
        return None
    return _relu_bound(base, where, bindings, module, self_name, namespace, depth - 1)


def _saves_output(call: ast.Call, module: nn.Module, self_name: str, namespace: dict[str, Any]) -> bool:
    """A plain ReLU whose backward reads its output (``vocab.SAVES_OUTPUT_OPS``)."""
    return any(
        variant == "relu" and op in vocab.SAVES_OUTPUT_OPS
        for _, variant, op, *_ in _read_call(call, module, self_name, namespace)
    )


def _viewed_name(value: ast.expr | None) -> str | None:
    """``y`` for a view of it: ``y[...]``, ``y.view(...)`` and the other ``vocab.VIEWS``."""
    if isinstance(value, ast.Subscript) and isinstance(value.value, ast.Name):
        return value.value.id
    if (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and value.func.attr in vocab.VIEWS
        and isinstance(value.func.value, ast.Name)
    ):
        return value.func.value.id
    if isinstance(value, ast.Attribute) and value.attr in vocab.VALUE_ATTRIBUTES and isinstance(
        value.value, ast.Name
    ):
        return value.value.id
    return None


def _source_call(
    call: ast.Call, file: str, first_line: int, module: nn.Module, self_name: str, namespace: dict[str, Any]
) -> SourceCall:
    applied = _read_call(call, module, self_name, namespace)[0]
    return SourceCall(file, first_line + call.lineno - 1, first_line + (call.end_lineno or call.lineno) - 1,
                      *applied)


def readable(module: nn.Module) -> bool:
    """Whether ``type(module).forward`` has source that could be read and parsed."""
    forward = getattr(type(module), "forward", None)
    return forward is nn.Module.forward or _parsed_forward(type(module)) is not None


def called_children(module: nn.Module) -> dict[str, SourceLoc]:
    """The attributes ``forward`` calls as ``self.<name>(...)``, each with its first call's line."""
    parsed = _parsed_forward(type(module))
    if parsed is None:
        return {}
    tree, file, first_line, self_name, _ = parsed
    called: dict[str, SourceLoc] = {}
    for call in _calls(tree):
        if _is_self_call(call, self_name):
            assert isinstance(call.func, ast.Attribute)
            called.setdefault(call.func.attr, SourceLoc(file, first_line + call.lineno - 1))
    return called


def referenced_attributes(module: nn.Module) -> set[str]:
    """Every ``self.<name>`` the class reads in a method other than ``__init__``."""
    return set(_class_attributes(type(module)))


@lru_cache(maxsize=1024)
def _class_attributes(cls: type) -> frozenset[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass.__module__.startswith("torch.") or klass is object:
            continue
        try:
            tree = ast.parse(textwrap.dedent("".join(_source_lines(klass)[0])))
        except (OSError, TypeError, SyntaxError, IndentationError):
            continue
        for function in ast.walk(tree):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if function.name == "__init__" or not function.args.args:
                continue
            names.update(_self_reads(function, function.args.args[0].arg))
    return frozenset(names)


def _self_reads(function: ast.AST, self_name: str) -> Iterator[str]:
    for node in ast.walk(function):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Load)
            and isinstance(node.value, ast.Name)
            and node.value.id == self_name
        ):
            yield node.attr


#: a parsed function: its tree, file, first line, the name of ``self`` ("" for none), globals
_Parsed = tuple[ast.AST, str, int, str, dict[str, Any]]


@lru_cache(maxsize=1024)
def _parsed_forward(cls: type) -> _Parsed | None:
    forward = getattr(cls, "forward", None)
    if forward is None or forward is nn.Module.forward:
        return None
    return _parsed_function(inspect.unwrap(forward), has_self=True)


@lru_cache(maxsize=1024)
def _parsed_function(function: Any, *, has_self: bool) -> _Parsed | None:
    try:
        lines, first_line = _source_lines(function)
        file = inspect.getsourcefile(function) or "<unknown>"
        tree = ast.parse(textwrap.dedent("".join(lines)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return None
    definition = tree.body[0] if tree.body else None
    if not isinstance(definition, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    if has_self and not definition.args.args:
        return None
    self_name = definition.args.args[0].arg if has_self else ""
    return tree, file, first_line, self_name, getattr(function, "__globals__", {})


def _source_lines(obj: Any) -> tuple[list[str], int]:
    """``inspect.getsourcelines``, and where the file is not valid in its encoding (Python
    imports a file with a stray non-UTF-8 byte in a comment; linecache cannot read it) the
    same block cut from the file's bytes decoded with replacement characters."""
    try:
        return inspect.getsourcelines(obj)
    except OSError:
        file = inspect.getsourcefile(obj)
        if file is None:
            raise
    with open(file, "rb") as handle:
        lines = handle.read().decode("utf-8", errors="replace").splitlines(keepends=True)
    start = _first_line(obj, lines)
    return inspect.getblock(lines[start - 1 :]), start


def _first_line(obj: Any, lines: list[str]) -> int:
    code = getattr(obj, "__code__", None)
    if code is not None:
        return code.co_firstlineno
    pattern = re.compile(rf"^\s*class\s+{re.escape(getattr(obj, '__name__', ''))}\b")
    for number, text in enumerate(lines, 1):
        if pattern.match(text):
            return number
    raise OSError(f"cannot find the source of {obj!r}")


@lru_cache(maxsize=512)
def _calls(tree: ast.AST) -> tuple[ast.Call, ...]:
    """The calls in ``tree`` in source order; cached per parsed ``forward`` (a block class
    repeated thousands of times is walked once, not once per instance)."""
    calls = (node for node in ast.walk(tree) if isinstance(node, ast.Call))
    return tuple(sorted(calls, key=lambda c: (c.lineno, c.col_offset)))


def _read_call(
    call: ast.Call, module: nn.Module | None, self_name: str, namespace: dict[str, Any]
) -> list[_Applied]:
    func = call.func
    if _is_self_call(call, self_name):
        assert isinstance(func, ast.Attribute)
        return _read_child_call(module, func.attr) if module is not None else []
    # Any other call reads the built module only for its ``self.<name>`` arguments: it is
    # read once per call expression and those values, not once per instance of the class
    # (``literal_eval`` of every argument, per block of a deep stack, cost a millisecond each).
    # A call expression belongs to one function, so ``namespace`` is the same every time.
    attributes = _self_arguments(call, self_name) if module is not None else ()
    values = tuple(_self_number(module, name) for name in attributes)
    key = (call, self_name, tuple((type(v), v) for v in values))  # typed: 1 and 1.0 stay apart
    applied = _READ_CALLS.get(key)
    if applied is None:
        self_values = dict(zip(attributes, values, strict=True))
        applied = _READ_CALLS[key] = _read_other_call(call, self_values, self_name, namespace)
    return list(applied)


#: (call expression, name of self, its ``self.<name>`` argument values) -> what it applies;
#: the key holds the parsed tree alive, as the parse caches do
_READ_CALLS: dict[tuple[ast.Call, str, tuple[tuple[type, Any], ...]], tuple[_Applied, ...]] = {}


@lru_cache(maxsize=4096)
def _self_arguments(call: ast.Call, self_name: str) -> tuple[str, ...]:
    """The ``self.<name>`` arguments of ``call`` (their values come from the built module)."""
    expressions = [*call.args, *(k.value for k in call.keywords)]
    return tuple(dict.fromkeys(
        e.attr for e in expressions
        if isinstance(e, ast.Attribute) and isinstance(e.value, ast.Name) and e.value.id == self_name
    ))


def _self_number(module: nn.Module | None, name: str) -> Any:
    """``self.<name>`` when it holds a number (the bound of ``F.hardtanh(x, 0, self.clip)``)."""
    value = getattr(module, name, _UNKNOWN)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else _UNKNOWN


def _read_other_call(
    call: ast.Call, self_values: dict[str, Any], self_name: str, namespace: dict[str, Any]
) -> tuple[_Applied, ...]:
    func = call.func
    module = _SelfValues(self_values)
    target = _resolve(func, namespace)
    if target is not _UNKNOWN:
        spelling = _function_spelling(target)
        args = _literal_args(call, prepend_self=False, module=module, self_name=self_name)
        applied = _apply(spelling, args) if spelling else None
    elif isinstance(func, ast.Attribute):  # a method on a value: x.relu(), x.clamp(min=0)
        spelling = METHODS.get(func.attr)
        args = _literal_args(call, prepend_self=True, module=module, self_name=self_name)
        applied = _apply(spelling, args) if spelling else None
    else:
        applied = None
    return (applied,) if applied else ()


class _SelfValues:
    """The ``self.<name>`` argument values of one call, read from the built module, standing in
    for it in ``_literal``."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values


def _is_self_call(call: ast.Call, self_name: str) -> bool:
    """``self.<name>(...)``."""
    func = call.func
    return isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == self_name


def _read_child_call(module: nn.Module, attr: str) -> list[_Applied]:
    """A ReLU module child, or every ReLU inside a torch layer child, applied by one call."""
    child = getattr(module, attr, None)
    if not isinstance(child, nn.Module) or not _is_torch_leaf(child):
        return []  # user modules are analysed on their own, not per call
    reading = read_module(child)
    if reading is not None:
        return [("module", reading[0], module_op(child), reading[1], attr, "")]
    return [
        ("embedded", found[0], op, found[1], attr, sub_path)
        for sub_path, _, found, op, _ in embedded_in(child, "", lambda m: False)
        if found is not None
    ]


def _is_torch_leaf(module: nn.Module) -> bool:
    return type(module).__module__.startswith(("torch.nn", "torch.ao.nn")) and not isinstance(
        module, nn.Sequential
    )


def _function_spelling(target: Any) -> Spelling | None:
    try:
        return FUNCTIONS.get(target)
    except TypeError:
        return None


def _apply(spelling: Spelling, args: tuple[tuple[Any, ...], dict[str, Any]] | None) -> _Applied | None:
    if args is None:
        return None
    reading = spelling.read(args[0], args[1], spelling.inplace)
    if reading is None:
        return None
    return spelling.kind, reading[0], spelling.op, reading[1], None, ""


def _resolve(expr: ast.expr, namespace: dict[str, Any]) -> Any:
    """The object a dotted name like ``F.relu`` or ``torch.nn.functional.relu`` names."""
    if isinstance(expr, ast.Name):
        if expr.id in namespace:
            return namespace[expr.id]
        return getattr(builtins, expr.id, _UNKNOWN)
    if isinstance(expr, ast.Attribute):
        base = _resolve(expr.value, namespace)
        if isinstance(base, (ModuleType, type)):  # only through modules and classes, never values
            return getattr(base, expr.attr, _UNKNOWN)
    return _UNKNOWN


def _literal_args(
    call: ast.Call, *, prepend_self: bool, module: _SelfValues | None = None, self_name: str = ""
) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    """Positional and keyword arguments, each a literal value or _UNKNOWN; None with ``*args``.

    ``self.<name>`` is read from the built module when it holds a number (the bound of
    ``F.hardtanh(x, 0, self.clip)``), so a bound set in ``__init__`` is known.
    """
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return None
    positional = tuple(_literal(a, module, self_name) for a in call.args)
    if prepend_self:
        positional = (_UNKNOWN, *positional)
    keywords = {k.arg: _literal(k.value, module, self_name) for k in call.keywords if k.arg is not None}
    return positional, keywords


def _literal(expr: ast.expr, module: _SelfValues | None = None, self_name: str = "") -> Any:
    if (
        module is not None
        and isinstance(expr, ast.Attribute)
        and isinstance(expr.value, ast.Name)
        and expr.value.id == self_name
    ):
        return module.values.get(expr.attr, _UNKNOWN)
    try:
        return ast.literal_eval(expr)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return _UNKNOWN
