"""The stable identity of a finding: one key for SARIF fingerprints and baselines alike.

A finding is identified by its rule, the project-relative file it points at, the model it
was found in and the owning module's path — never by its line number, so an alert or a
baseline entry survives code moving up or down the file. Several findings can share a key
(one ``forward`` calling ``F.relu`` on two lines); the occurrence number (1, 2, ... in line
order) tells them apart where one identity per finding is needed.
"""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePath
from typing import NamedTuple

from .report import Finding, Report, TargetResult

#: the version of the key scheme; bump it (and the baseline format) if the fields change
KEY_VERSION = 1


class FindingKey(NamedTuple):
    rule: str  # "RF003"
    file: str  # project-relative POSIX path; "" when the finding has no source
    model: str  # the model (class or factory) name, else the target as given
    module_path: str  # the owning module's path ("" = the model itself)


def project_path(file: str, root: Path | None) -> str:
    """``file`` as a POSIX path relative to ``root`` (else the working directory).

    Symlinks are resolved on both sides so a checkout reached through a link still gives
    repository-relative paths. A file outside the root keeps its absolute path: it is not
    part of the project (an installed library), and a ``..`` path would name nothing there.
    """
    base = os.path.realpath(root if root is not None else os.getcwd())
    path = os.path.realpath(file)
    try:
        relative = os.path.relpath(path, base)
    except ValueError:  # another drive on Windows
        return PurePath(path).as_posix()
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return PurePath(path).as_posix()
    return PurePath(relative).as_posix()


def finding_key(finding: Finding, result: TargetResult, root: Path | None) -> FindingKey:
    file = project_path(finding.source.file, root) if finding.source is not None else ""
    return FindingKey(finding.code, file, result.model or result.target, finding.module_path)


def fingerprint(key: FindingKey, occurrence: int = 1) -> str:
    """``"<sha256 of the key>:<occurrence>"``: the shape of GitHub's ``primaryLocationLineHash``."""
    digest = hashlib.sha256("\0".join((f"v{KEY_VERSION}", *key)).encode("utf-8")).hexdigest()
    return f"{digest[:32]}:{occurrence}"


class Keyed(NamedTuple):
    """A finding with the target it came from, its key and its occurrence among equal keys."""

    finding: Finding
    result: TargetResult
    key: FindingKey
    occurrence: int


def keyed_findings(report: Report, root: Path | None) -> list[Keyed]:
    """Every finding of ``report`` with its key; occurrences numbered in line order."""
    by_key: dict[FindingKey, list[tuple[Finding, TargetResult]]] = defaultdict(list)
    for result, finding in _findings(report.targets):
        by_key[finding_key(finding, result, root)].append((finding, result))
    keyed: list[Keyed] = []
    for key, items in by_key.items():
        items.sort(key=lambda item: item[0].source.line if item[0].source else 0)
        keyed.extend(Keyed(finding, result, key, n) for n, (finding, result) in enumerate(items, 1))
    return keyed


def _findings(results: Iterable[TargetResult]) -> Iterator[tuple[TargetResult, Finding]]:
    for result in results:
        for finding in result.findings:
            yield result, finding


def repository_root(start: Path) -> Path | None:
    """The closest folder at or above ``start`` holding ``.git`` or ``.hg``, if any.

    CI formats want paths relative to the repository (GitHub resolves them against the
    checkout), which is above the project root when ``pyproject.toml`` sits in a subfolder.
    """
    folder = start.resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists() or (candidate / ".hg").exists():
            return candidate
    return None
