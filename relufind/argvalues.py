"""The text values of command-line options: ``--arg NAME=VALUE`` and ``--input-shape 8,20:long``.

Plain functions shared by both front ends (``relufind.cli`` and ``relufind.argv``); a bad
value raises ``UsageError`` with the one line the user sees.
"""

from __future__ import annotations

import ast
from typing import Any

from .errors import UsageError

_CONTAINERS = {"[": "list", "{": "dict or set", "(": "tuple"}


def parse_arg(text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` with VALUE read as a Python literal, else kept as a string.

    A value that opens like a list, dict or tuple but does not parse is a mistake (a missing
    bracket, an unquoted word), never a string: the constructor would get "[1, 2" silently.
    """
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise UsageError(f"--arg '{text}' is not NAME=VALUE (for example --arg hidden_size=64)")
    try:
        return name, ast.literal_eval(raw)
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        kind = _CONTAINERS.get(raw.strip()[:1])
        if kind is not None:
            why = exc.msg if isinstance(exc, SyntaxError) else str(exc).strip() or type(exc).__name__
            raise UsageError(
                f"--arg {name}={raw} looks like a {kind} but is not a Python literal ({why}); "
                f"close every bracket and quote strings, e.g. --arg {name}=\"['a', 'b']\""
            ) from None
        return name, raw


def parse_input(text: str) -> tuple[tuple[int, ...], str | None]:
    """``8,20:long`` as a shape and a dtype name (None when no ``:dtype`` is given)."""
    from .vocab import INPUT_DTYPES

    shape_text, sep, dtype = text.partition(":")
    dtype = dtype.strip().lower().removeprefix("torch.")
    if sep and dtype not in INPUT_DTYPES:
        known = ", ".join(sorted(INPUT_DTYPES))
        raise UsageError(f"--input-shape '{text}': unknown dtype '{dtype}' (one of {known})")
    return parse_shape(shape_text), (dtype or None) if sep else None


def parse_shape(text: str) -> tuple[int, ...]:
    """``1,3,224,224`` (or ``1x3x224x224``) as a tuple of positive sizes."""
    parts = text.replace("x", ",").split(",")
    try:
        shape = tuple(int(p) for p in parts if p.strip())
    except ValueError:
        shape = ()
    if not shape or any(d < 0 for d in shape):
        raise UsageError(f"--input-shape '{text}' is not a shape like 1,3,224,224")
    return shape
