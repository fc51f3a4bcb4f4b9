"""What the CI formats (SARIF, GitHub) share: findings grouped by line, target files, levels.

Code scanning and annotations both collapse results of one rule on one line (GitHub derives
an alert's identity from the line), so both formats emit one entry per (rule, file, line)
and name the other sites of that line — the same helper block inside several models, say —
in the entry instead of repeating it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from ..keys import Keyed, keyed_findings, project_path
from ..report import Report, Severity, TargetResult

#: severity order for "most important first"
SEVERITY_RANK: dict[Severity, int] = {"error": 0, "warning": 1, "info": 2}
#: how many other sites one entry's message names before it only counts them
_NAMED_OTHERS = 5


@dataclass(frozen=True)
class LineGroup:
    """One rule firing on one line: the primary finding and the other sites of that line."""

    primary: Keyed
    others: tuple[Keyed, ...]

    @property
    def rule(self) -> str:
        return self.primary.key.rule

    @property
    def severity(self) -> Severity:
        return self.primary.finding.severity

    @property
    def file(self) -> str:
        """The project-relative file, "" when the finding has no source location."""
        return self.primary.key.file

    @property
    def line(self) -> int | None:
        source = self.primary.finding.source
        return source.line if source is not None else None

    @property
    def members(self) -> tuple[Keyed, ...]:
        return (self.primary, *self.others)

    def message(self) -> str:
        text = self.primary.finding.message
        if not self.others:
            return text
        named = ", ".join(site_name(k) for k in self.others[:_NAMED_OTHERS])
        more = len(self.others) - _NAMED_OTHERS
        if more > 0:
            named += f" and {more} more"
        return f"{text} Also on this line: {named}."


def site_name(keyed: Keyed) -> str:
    """``block.act in Net`` (``Net`` alone for the model's own forward)."""
    path = keyed.key.module_path
    return f"{path} in {keyed.key.model}" if path else keyed.key.model


def group_by_line(report: Report, root: Path | None) -> list[LineGroup]:
    """One group per (rule, file, line), sorted by file, line and rule.

    A finding without a source location is a group of its own. The primary finding is the
    smallest key, so which one leads does not depend on the order targets were analysed in.
    """
    buckets: dict[tuple[str, str, int], list[Keyed]] = defaultdict(list)
    alone: list[Keyed] = []
    for keyed in keyed_findings(report, root):
        source = keyed.finding.source
        if source is None:
            alone.append(keyed)
        else:
            buckets[(keyed.key.rule, keyed.key.file, source.line)].append(keyed)
    groups = [LineGroup(items[0], tuple(items[1:])) for items in map(_ordered, buckets.values())]
    groups.extend(LineGroup(keyed, ()) for keyed in alone)
    # findings without a line last: they point at a whole file at best
    groups.sort(key=lambda g: (not g.file, g.file, g.line or 0, g.rule, g.primary.key, g.primary.occurrence))
    return groups


def group_file(group: LineGroup, root: Path | None) -> str | None:
    """The group's project-relative file; for a finding without a line, its target's file."""
    return group.file or result_file(group.primary.result, root)


def result_file(result: TargetResult, root: Path | None) -> str | None:
    """The project-relative file a target names, if it names one."""
    file = target_file(result.target)
    return project_path(file, root) if file is not None else None


def _ordered(items: list[Keyed]) -> list[Keyed]:
    return sorted(items, key=lambda k: (k.key, k.occurrence))


def target_file(target: str) -> str | None:
    """The file a target names (``models/net.py:Net`` -> ``models/net.py``), read from its text.

    ``None`` for ``package.module:Name`` targets and folders: the renderers never touch the
    file system, so only names that end like a model file count.
    """
    location, sep, name = target.rpartition(":")
    if sep and name.isidentifier() and location.endswith(".py"):
        return location
    if target.endswith((".py", ".pt", ".pt2", ".pth")):
        return target
    return None
