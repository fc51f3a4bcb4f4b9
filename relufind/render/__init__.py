"""One renderer per ``--format``, behind one interface: ``emit(report, out, view)``.

Renderers are looked up by name in ``RENDERERS`` and imported only when chosen, so the
JSON path never imports rich. Only renderers write; nothing below the CLI prints.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

if TYPE_CHECKING:
    from ..report import Report, TargetResult


@dataclass(frozen=True)
class View:
    """How a report is shown (never what is analysed)."""

    #: also print per-rule counts and suppressions that matched nothing
    statistics: bool = False
    #: findings and errors only: no tree of clean targets, no notices
    quiet: bool = False
    #: colour: None decides from the stream (a terminal without NO_COLOR)
    color: bool | None = None
    #: the project root: file locations are shown relative to it (SARIF URIs, GitHub files)
    root: Path | None = None
    #: the enabled rule codes (the SARIF driver lists every one of them)
    rules: frozenset[str] = frozenset()
    #: the tree prints every block of a run of identical sibling blocks (else one branch per run)
    expand: bool = False


Emit = Callable[["Report", TextIO, View], None]

#: format name -> module under relufind.render that defines ``emit``
RENDERERS: dict[str, str] = {"tree": "tree", "json": "json", "sarif": "sarif", "github": "github"}
FORMATS = tuple(RENDERERS)


def isatty(stream: object) -> bool:
    """Whether ``stream`` is a terminal; False for anything that cannot say (closed, a buffer)."""
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):
        return False


def renderer(name: str) -> Emit:
    module = importlib.import_module(f"{__name__}.{RENDERERS[name]}")
    emit: Emit = module.emit
    return emit


class Streamer(Protocol):
    """A renderer that writes each target as soon as it is done (the tree does; documents don't)."""

    def result(self, result: TargetResult) -> None: ...

    def end(self, report: Report) -> None: ...


def streamer(name: str, out: TextIO, view: View) -> Streamer | None:
    """The format's streaming writer, or None when it writes one document at the end."""
    module = importlib.import_module(f"{__name__}.{RENDERERS[name]}")
    stream = getattr(module, "Stream", None)
    if stream is None:
        return None
    streaming: Streamer = stream(
        out, color=view.color, quiet=view.quiet, statistics=view.statistics, expand=view.expand
    )
    return streaming


def display_path(path: str) -> str:
    """A path relative to the working directory when it lies below it, else as given."""
    return _display_path(path, os.getcwd())


# a report names a few files at thousands of sites: each is made relative once per folder
@lru_cache(maxsize=4096)
def _display_path(path: str, cwd: str) -> str:
    try:
        relative = os.path.relpath(path, cwd)
    except ValueError:  # another drive on Windows
        return path
    return path if relative.startswith("..") else relative
