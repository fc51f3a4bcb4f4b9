"""Path patterns: ``.gitignore`` files and ``exclude`` globs, with git's rules.

One pattern language serves both, as in ruff: a pattern without a slash (``build``,
``*.py``, ``scratch/``) matches a name at any depth; a pattern with a slash
(``legacy/*.py``, ``/docs``) is anchored at the folder that declares it (the ``.gitignore``'s
folder, or the project root for ``exclude``); ``**`` spans folders; a trailing ``/`` matches
folders only; ``!pattern`` re-includes what an earlier pattern excluded. Matching an
excluded folder excludes everything below it, so the walk never enters it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pattern:
    base: Path  # the folder the pattern is relative to
    regex: re.Pattern[str]
    negated: bool
    dir_only: bool
    text: str  # as written, for messages


def compile_pattern(text: str, base: Path) -> Pattern | None:
    """One pattern line; None for blanks and comments."""
    line = text.rstrip("\n")
    if not line.strip() or line.startswith("#"):
        return None
    line = line.rstrip() if not line.endswith("\\ ") else line
    negated = line.startswith("!")
    if negated:
        line = line[1:]
    line = line.removeprefix("\\")  # "\#file" and "\!file" name files starting with # or !
    dir_only = line.endswith("/")
    line = line.rstrip("/")
    if not line:
        return None
    anchored = "/" in line
    line = line.lstrip("/")
    body = _translate(line)
    prefix = "" if anchored else "(?:.*/)?"
    return Pattern(base, re.compile(f"^{prefix}{body}$"), negated, dir_only, text.strip())


def _translate(glob: str) -> str:
    """A gitignore glob as a regular expression over a ``/``-separated relative path."""
    out: list[str] = []
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("/**", i) and i + 3 == len(glob):
            out.append("/.*")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        elif glob[i] == "[" and (end := glob.find("]", i + 2)) != -1:
            inner = glob[i + 1 : end]  # a leading "]" is a member, so the search starts at i + 2
            if inner.startswith("!"):
                inner = "^" + inner[1:]
            out.append("[" + inner.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return "".join(out)


def read_gitignore(folder: Path) -> list[Pattern]:
    path = folder / ".gitignore"
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return [p for p in (compile_pattern(line, folder) for line in lines) if p is not None]


def excluded(path: Path, is_dir: bool, patterns: list[Pattern]) -> Pattern | None:
    """The pattern that excludes ``path`` (absolute), or None; the last matching pattern wins."""
    verdict: Pattern | None = None
    for pattern in patterns:
        if pattern.dir_only and not is_dir:
            continue
        try:
            relative = path.relative_to(pattern.base).as_posix()
        except ValueError:  # the pattern's folder is not above this path
            continue
        if relative in ("", ".") or not pattern.regex.match(relative):
            continue
        verdict = None if pattern.negated else pattern
    return verdict
