"""``# relufind: ignore[RF001, RF004]`` comments: reading them, matching them, and the unused ones.

A comment suppresses a finding when it sits on the finding's primary line (a module site's
construction line) or on one of its related lines (the call line). Bare ``# relufind: ignore``
suppresses every rule there; ``# noqa: RF001`` is accepted too (bare ``# noqa`` is not: it
belongs to other linters). Codes may be names or prefixes (``RF1``), as in selection.

One ``Suppressions`` object lives for one run: each file is read and parsed once, and every
comment that suppressed something is remembered, so that the ones that matched nothing can be
reported (``--statistics``), like ruff's unused-noqa — a stale suppression must not silently
hide the next real finding on its line. No torch here.
"""

from __future__ import annotations

import contextvars
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

from ..report import Finding, SourceLoc, Suppression
from .catalog import lookup

_COMMENT = re.compile(
    r"#\s*relufind\s*:\s*ignore\b(?:\s*\[(?P<codes>[^\]]*)\])?"
    r"|#\s*noqa\s*:\s*(?P<noqa>RF[0-9]+(?:\s*,\s*RF[0-9]+)*)",
    re.IGNORECASE,
)


#: the same pattern over a file's bytes: Python's source encodings are all ASCII-compatible, so
#: a file without a match has no suppression comment (a match may still be inside a string)
_MAY_SUPPRESS = re.compile(_COMMENT.pattern.encode(), re.IGNORECASE)


def parse_comment(text: str) -> tuple[str, ...] | None:
    """The codes a comment names: () for a bare ``# relufind: ignore``, None for no suppression."""
    match = _COMMENT.search(text)
    if match is None:
        return None
    listed = match.group("codes") if match.group("codes") is not None else match.group("noqa")
    if listed is None:
        return ()
    return tuple(part.strip() for part in re.split(r"[,\s]+", listed) if part.strip())


def _covers(selectors: tuple[str, ...], code: str) -> bool:
    if not selectors:
        return True
    for selector in selectors:
        rule = lookup(selector)
        if rule is not None and rule.code == code:
            return True
        if selector.upper() == "ALL" or (
            rule is None and selector.upper().startswith("RF") and code.startswith(selector.upper())
        ):
            return True
    return False


def _comments(path: str) -> dict[int, tuple[str, ...]]:
    """Line -> codes for every suppression comment in ``path`` (comments only, not strings)."""
    found: dict[int, tuple[str, ...]] = {}
    try:
        # most files have no suppression at all: skip tokenizing those (a cached run reads
        # every analysed file here, and tokenizing is most of its cost)
        if not _MAY_SUPPRESS.search(Path(path).read_bytes()):
            return found
        with tokenize.open(path) as handle:
            for token in tokenize.generate_tokens(handle.readline):
                if token.type == tokenize.COMMENT:
                    codes = parse_comment(token.string)
                    if codes is not None:
                        found[token.start[0]] = codes
    except (OSError, SyntaxError, UnicodeDecodeError, tokenize.TokenError):
        return found
    return found


@dataclass(frozen=True)
class Usage:
    """What one target did with the run's suppressions: the files it noted, the comments it used.

    Replayed into the run's ``Suppressions`` when the target was analysed elsewhere (a worker
    process) or earlier (the cache), so unused suppressions come out the same either way.
    """

    files: tuple[str, ...] = ()
    used: tuple[tuple[str, int], ...] = ()


@dataclass
class Suppressions:
    """The suppression comments of one run, read once per file."""

    def __post_init__(self) -> None:
        self._files: dict[str, dict[int, tuple[str, ...]]] = {}
        self._used: set[tuple[str, int]] = set()
        # every note and use in order, repeats included: a target's share is a slice
        self._noted: list[str] = []
        self._used_log: list[tuple[str, int]] = []

    def comments(self, path: str) -> dict[int, tuple[str, ...]]:
        if path not in self._files:
            self._files[path] = _comments(path) if path and not path.startswith("<") else {}
        return self._files[path]

    def note_file(self, path: str | None) -> None:
        """A file of an analysed model: its unused suppressions are reported."""
        if path:
            self.comments(path)
            self._noted.append(path)

    def suppressed(self, finding: Finding) -> bool:
        places = [loc for loc in (finding.source, *finding.related) if loc is not None]
        hit = False
        for loc in places:
            codes = self.comments(loc.file).get(loc.line)
            if codes is not None and _covers(codes, finding.code):
                self._use((loc.file, loc.line))
                hit = True
        return hit

    def mark(self) -> tuple[int, int]:
        """A point to measure ``usage_since`` from."""
        return len(self._noted), len(self._used_log)

    def usage_since(self, mark: tuple[int, int]) -> Usage:
        """Every file noted and comment used since ``mark`` — also those noted or used before,
        so a target's usage does not depend on which targets ran ahead of it."""
        files = tuple(dict.fromkeys(self._noted[mark[0] :]))
        return Usage(files, tuple(dict.fromkeys(self._used_log[mark[1] :])))

    def replay(self, usage: Usage) -> None:
        for path in usage.files:
            self.note_file(path)
        for place in usage.used:
            self._use(place)

    def _use(self, place: tuple[str, int]) -> None:
        self._used.add(place)
        self._used_log.append(place)

    def unused(self) -> tuple[Suppression, ...]:
        return tuple(
            Suppression(SourceLoc(path, line), codes)
            for path, comments in sorted(self._files.items())
            for line, codes in sorted(comments.items())
            if (path, line) not in self._used
        )


_CURRENT: contextvars.ContextVar[Suppressions | None] = contextvars.ContextVar(
    "relufind_suppressions", default=None
)


def begin() -> tuple[Suppressions, contextvars.Token[Suppressions | None]]:
    """Start a run's suppression bookkeeping (``scan_targets`` does, around all its targets)."""
    run = Suppressions()
    return run, _CURRENT.set(run)


def end(token: contextvars.Token[Suppressions | None]) -> None:
    _CURRENT.reset(token)


def current() -> Suppressions:
    """The run's bookkeeping, or a fresh one for a lone ``scan(model)``."""
    return _CURRENT.get() or Suppressions()
