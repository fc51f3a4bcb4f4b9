"""The console script's first reading of a command line: the plain ones, without typer.

A CI rerun answered from the cache takes about 0.3 s; typer's start-up (it builds pydantic
validators for every option) would add 0.2 to 0.3 s to that. So ``relufind.launch`` first tries
this reader, which understands the common spellings of every analysis option and nothing
more: ``--name VALUE``, ``--name=VALUE``, the short ``-f VALUE`` and bare flags. Anything it
is not sure of (an unknown option, ``--help``, a bad number, ``--``, ``-qf json``, a value that
starts with ``-``) returns None, and the typer application reads the command line instead,
with its help and its error messages. A test runs both readers over the same command lines
and requires the same ``Invocation``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .command import Invocation

#: the kinds of option: a bare flag, one value (the last one given wins, as in click), repeatable
FLAG, ONE, MANY = "flag", "one", "many"


def _plain_number(text: str) -> float:
    # typer accepts more spellings (1e3, inf); those, and mistakes, go to typer
    if not re.fullmatch(r"\d+(\.\d+)?", text):
        raise ValueError(text)
    return float(text)


def _count(text: str) -> int:
    if not re.fullmatch(r"\d+", text):
        raise ValueError(text)
    return int(text)


def _format(text: str) -> str:
    from .render import FORMATS

    if text not in FORMATS:
        raise ValueError(text)
    return text


def _path(text: str) -> Path:
    if not text:
        raise ValueError(text)
    return Path(text)


def _text(text: str) -> str:
    return text


#: every spelling of every option this reader takes -> (Invocation field, kind, value reader)
OPTIONS: dict[str, tuple[str, str, Callable[[str], Any] | None]] = {}
for _spellings, _field, _kind, _read in (
    (("--format", "-f"), "format", ONE, _format),
    (("--arg", "-a"), "arg", MANY, _text),
    (("--variants",), "variants", FLAG, None),
    (("--eval",), "eval_mode", FLAG, None),
    (("--anchor",), "anchor", MANY, _text),
    (("--timeout",), "timeout", ONE, _plain_number),
    (("--input-shape",), "input_shape", MANY, _text),
    (("--allow-pickle",), "allow_pickle", FLAG, None),
    (("--select",), "select", MANY, _text),
    (("--extend-select",), "extend_select", MANY, _text),
    (("--ignore",), "ignore", MANY, _text),
    (("--config",), "config_file", ONE, _path),
    (("--isolated",), "isolated", FLAG, None),
    (("--statistics",), "statistics", FLAG, None),
    (("--exit-zero",), "exit_zero", FLAG, None),
    (("--exclude",), "exclude", MANY, _text),
    (("--jobs", "-j"), "jobs", ONE, _count),
    (("--no-cache",), "no_cache", FLAG, None),
    (("--strict",), "strict", FLAG, None),
    (("--output", "-o"), "output", ONE, _path),
    (("--quiet", "-q"), "quiet", FLAG, None),
    (("--expand",), "expand", FLAG, None),
    (("--baseline",), "baseline_file", ONE, _path),
    (("--write-baseline",), "write_baseline", ONE, _path),
    (("--debug",), "debug", FLAG, None),
):
    for _spelling in _spellings:
        OPTIONS[_spelling] = (_field, _kind, _read)


class _NotPlain(Exception):
    """The command line needs typer: its help, its checks, its error messages."""


def fast_invocation(argv: list[str]) -> Invocation | None:
    """The ``Invocation`` of a plain command line, or None when typer must read it."""
    try:
        return Invocation(**_values(argv))
    except _NotPlain:
        return None


def _values(argv: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    targets: list[str] = []
    tokens = iter(argv)
    for token in tokens:
        if not token.startswith("-"):
            targets.append(token)
            continue
        spelling, has_value, attached = token.partition("=")
        if spelling not in OPTIONS or (has_value and not spelling.startswith("--")):
            raise _NotPlain(token)  # --help, -qf, -fjson, -, --, an unknown option
        field, kind, read = OPTIONS[spelling]
        if kind == FLAG:
            if has_value:
                raise _NotPlain(token)
            values[field] = True
            continue
        assert read is not None  # every option with a value has its reader
        raw = attached if has_value else next(tokens, None)
        if raw is None or (not has_value and raw.startswith("-")):
            raise _NotPlain(token)  # a missing value, or one typer reads its own way
        try:
            value = read(raw)
        except ValueError:
            raise _NotPlain(token) from None
        if kind == MANY:
            values[field] = (*values.get(field, ()), value)
        else:
            values[field] = value
    if targets:
        values["targets"] = tuple(targets)
    return values
