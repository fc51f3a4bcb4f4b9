"""``--format github``: GitHub Actions workflow commands, and a Markdown step summary.

One annotation per (rule, file, line) — ``::error file=models/net.py,line=18,title=relufind
(RF003)::models/net.py:18: RF003 <message>`` — most severe first, then one ``::error`` per
target that could not be analysed and one ``::notice`` per skipped target (not with
``--quiet``). Values are escaped as ``@actions/core`` does: ``%``, CR and LF in the message;
also ``:`` and ``,`` in properties, where they would end the value.

GitHub shows only so many annotations (10 errors and 10 warnings per step, 50 per job), so
at most ``MAX_ANNOTATIONS`` are written as commands and the rest as plain log lines. When
``$GITHUB_STEP_SUMMARY`` is set, a Markdown summary with every finding is appended to it;
it is never capped.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ..report import Report, TargetResult
from . import View
from ._findings import SEVERITY_RANK, LineGroup, group_by_line, group_file, result_file, site_name

#: the most annotations GitHub keeps for one job; the rest go to the log as plain lines
MAX_ANNOTATIONS = 50

_COMMAND = {"error": "error", "warning": "warning", "info": "notice"}


# -- escaping --------------------------------------------------------------------------------------


def escape_data(text: str) -> str:
    """A command's message: ``%`` first, so the escapes it adds are not escaped again."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A property value: also ``:`` and ``,``, which would end it."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(kind: str, message: str, **properties: object) -> str:
    """``::kind name=value,...::message``; properties that are None are left out."""
    given = [(name, value) for name, value in properties.items() if value is not None]
    props = ",".join(f"{name}={escape_property(str(value))}" for name, value in given)
    return f"::{kind}{' ' + props if props else ''}::{escape_data(message)}"


# -- annotations -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Annotation:
    kind: str  # error | warning | notice
    title: str
    message: str
    file: str | None = None
    line: int | None = None

    def command(self) -> str:
        return command(self.kind, self.message, file=self.file, line=self.line, title=self.title)

    def plain(self) -> str:
        """The same, as a plain log line (past the annotation cap)."""
        return f"{self.kind}: {self.title}: {self.message}"


def emit(report: Report, out: TextIO, view: View) -> None:
    annotations = list(_annotations(report, view))
    shown = annotations[:MAX_ANNOTATIONS]
    for annotation in shown:
        out.write(annotation.command() + "\n")
    for annotation in annotations[MAX_ANNOTATIONS:]:
        out.write(annotation.plain() + "\n")
    if len(annotations) > len(shown):
        out.write(f"relufind: {_showing(len(shown), len(annotations))}\n")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        try:
            with open(summary, "a", encoding="utf-8") as handle:
                handle.write(summary_markdown(report, view, shown=len(shown), total=len(annotations)))
        except OSError as exc:
            out.write(f"relufind: cannot append the step summary to {summary}: {exc.strerror or exc}\n")


def _annotations(report: Report, view: View) -> Iterable[Annotation]:
    """Target errors first (a model that was not checked at all), then findings, then skips."""
    for result in report.targets:
        if result.status == "error":
            title = f"relufind: cannot analyse {result.target}"
            yield Annotation("error", title, _error_text(result), result_file(result, view.root))
    for group in sorted(group_by_line(report, view.root), key=lambda g: SEVERITY_RANK[g.severity]):
        yield _finding(group, group_file(group, view.root))
    if view.quiet:
        return
    for result in report.targets:
        if result.status == "skipped":
            title = f"relufind: skipped {result.target}"
            yield Annotation("notice", title, result.skip_reason or "skipped", result_file(result, view.root))


def _finding(group: LineGroup, file: str | None) -> Annotation:
    """``file:line: CODE message``: the log line reads on its own, as ruff's do."""
    where = ":".join(str(part) for part in (file, group.line) if part is not None)
    message = f"{where + ': ' if where else ''}{group.rule} {group.message()}"
    return Annotation(_COMMAND[group.severity], f"relufind ({group.rule})", message, file, group.line)


def _showing(shown: int, total: int) -> str:
    return (
        f"showing {shown} of {total} annotations (GitHub keeps few per job); "
        "the rest are plain lines above, and the step summary lists every finding"
    )


# -- the step summary ------------------------------------------------------------------------------


def summary_markdown(
    report: Report, view: View, *, shown: int | None = None, total: int | None = None
) -> str:
    """The Markdown appended to ``$GITHUB_STEP_SUMMARY``: counts, every finding, skips, errors."""
    groups = group_by_line(report, view.root)
    lines = ["## relufind", "", _headline(report), ""]
    if shown is not None and total is not None and shown < total:
        lines += [f"Annotations: {_showing(shown, total)}.", ""]
    if groups:
        lines += _by_rule(report) + _by_model(report) + _findings_table(groups, view.root)
    skipped = [t for t in report.targets if t.status == "skipped"]
    if skipped:
        rows = [(_code(t.target), _cell(t.skip_reason or "")) for t in skipped]
        lines += _table("Skipped targets", ("Target", "Why, and what would analyse it"), rows)
    failed = [t for t in report.targets if t.status == "error"]
    if failed:
        rows = [(_code(t.target), _cell(_error_text(t))) for t in failed]
        lines += _table("Targets that could not be analysed", ("Target", "Error"), rows)
    return "\n".join(lines).rstrip("\n") + "\n"


def _error_text(result: TargetResult) -> str:
    return f"{result.error.type}: {result.error.message}" if result.error else "error"


def _headline(report: Report) -> str:
    findings = [f for t in report.targets for f in t.findings]
    statuses = Counter(t.status for t in report.targets)
    analysed = statuses["ok"] + statuses["partial"]
    if findings:
        severities = Counter(f.severity for f in findings)
        detail = ", ".join(f"{severities[s]} {s}" for s in SEVERITY_RANK if severities[s])
        text = f"**{_plural(len(findings), 'finding')}** ({detail}) in {_plural(analysed, 'analysed model')}"
    else:
        text = f"No findings in {_plural(analysed, 'analysed model')}"
    extra = [f"{statuses[s]} {s}" for s in ("skipped", "error") if statuses[s]]
    return text + (" · " + " · ".join(extra) if extra else "") + "."


def _by_rule(report: Report) -> list[str]:
    counts = Counter((f.code, f.name, f.severity) for t in report.targets for f in t.findings)
    rows = [(code, _code(name), severity, str(n)) for (code, name, severity), n in sorted(counts.items())]
    return _table("Findings by rule", ("Rule", "Name", "Severity", "Findings"), rows)


def _by_model(report: Report) -> list[str]:
    rows = [
        (_cell(t.model or t.target), _code(t.target), str(len(t.findings)))
        for t in report.targets
        if t.findings
    ]
    return _table("Findings by model", ("Model", "Target", "Findings"), rows)


def _findings_table(groups: list[LineGroup], root: Path | None) -> list[str]:
    rows = []
    for group in groups:
        where = f"{group.file}:{group.line}" if group.file else f"{group_file(group, root) or '?'} (no line)"
        sites = ", ".join(site_name(k) for k in group.members)
        rows.append((_code(where), group.rule, _cell(sites), _cell(group.primary.finding.message)))
    return _table("Findings", ("Location", "Rule", "Sites", "Message"), rows)


def _table(title: str, header: tuple[str, ...], rows: Iterable[tuple[str, ...]]) -> list[str]:
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _cell(text: str) -> str:
    """Text in a table cell: no line breaks, no column separators, no HTML."""
    text = " ".join(text.split())
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def _code(text: str) -> str:
    """A code span in a table cell; HTML is literal there, only ``|`` needs its escape."""
    if "`" in text:  # a code span cannot hold its own delimiter: plain text then
        return _cell(text)
    return "`" + " ".join(text.split()).replace("|", "\\|") + "`"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
