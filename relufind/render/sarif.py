"""``--format sarif``: SARIF 2.1.0 for GitHub code scanning (``upload-sarif``).

What GitHub needs and why it is shaped this way:

- URIs are repository-relative POSIX paths, percent-encoded, with ``uriBaseId: %SRCROOT%``
  and no ``file://``: the upload resolves them against the checkout. (A file outside the
  project, such as an installed library, has no such path and keeps an absolute URI.)
- The driver lists every *enabled* rule, not only those that fired: code scanning compares
  rule sets between runs, and a rule missing from one run reads as "removed".
- One result per (rule, file, line): GitHub's alert identity is per line, so several
  results on one line would collapse anyway. The other sites of that line (the same block
  in several models) are named in the message and listed in ``relatedLocations``.
- ``partialFingerprints["relufind/v1"]`` is the finding's stable key (rule, file, model,
  module path; see ``relufind.keys``), which no line move changes. relufind does not set
  ``primaryLocationLineHash``: upload-sarif computes that one from the line's text (which
  also survives moves) and warns for every result whose given value differs from its own.
- A target that could not be analysed, or was skipped, is not a result (it has no rule and
  no line): it is a tool execution notification, and ``executionSuccessful`` is false when
  a target failed.

Written with ``json.dump`` (ASCII-escaped, so any stdout encoding takes it), never rich.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

from ..keys import FindingKey, Keyed, fingerprint, project_path
from ..report import Report, Severity, SourceLoc, TargetResult
from ..rules.catalog import BY_CODE, RuleInfo
from . import View
from ._findings import LineGroup, group_by_line, result_file, site_name

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"
#: GitHub's limit on the rule descriptions' text
_DESCRIPTION_LIMIT = 1024

_LEVEL: dict[Severity, str] = {"error": "error", "warning": "warning", "info": "note"}
#: with precision, decides what code scanning shows by default; never "security-severity"
_PROBLEM_SEVERITY: dict[Severity, str] = {"error": "error", "warning": "warning", "info": "recommendation"}


def emit(report: Report, out: TextIO, view: View) -> None:
    json.dump(to_sarif(report, view), out, indent=2)
    out.write("\n")


def to_sarif(report: Report, view: View) -> dict[str, Any]:
    groups = group_by_line(report, view.root)
    codes = sorted(view.rules | {group.rule for group in groups})
    rules = [_rule(code, groups) for code in codes]
    index = {code: i for i, code in enumerate(codes)}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "relufind",
                "version": report.version,
                "semanticVersion": report.version,
                "rules": rules,
            }
        },
        "invocations": [_invocation(report, view.root)],
        "results": [_result(group, index[group.rule], view.root) for group in groups],
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


# -- rules -----------------------------------------------------------------------------------------


def _rule(code: str, groups: list[LineGroup]) -> dict[str, Any]:
    info = BY_CODE.get(code)
    if info is None:  # a code the catalog does not know (yet): describe it from its findings
        finding = next(g.primary.finding for g in groups if g.rule == code)
        info = RuleInfo(code, finding.name, True, finding.severity, finding.name)
    return {
        "id": info.code,
        "name": info.name,
        "shortDescription": {"text": _capped(info.summary)},
        "fullDescription": {"text": _capped(info.explanation or info.summary)},
        "help": {"text": help_text(info), "markdown": help_markdown(info)},
        "defaultConfiguration": {"level": _LEVEL[info.severity]},
        "properties": {"problem.severity": _PROBLEM_SEVERITY[info.severity], "tags": ["relufind"]},
    }


def help_text(info: RuleInfo) -> str:
    """The plain help: what ``relufind --explain`` prints, snippets indented."""
    parts = [f"{info.code} {info.name}: {info.summary}"]
    if info.explanation:
        parts.append(info.explanation)
    for heading, snippet in (("Fires on:", info.bad), ("Instead:", info.good)):
        if snippet.strip():
            body = "\n".join(f"    {line}" if line else "" for line in snippet.strip("\n").splitlines())
            parts.append(f"{heading}\n{body}")
    parts.append(_suppression(info))
    return "\n\n".join(parts)


def help_markdown(info: RuleInfo) -> str:
    """The same help as Markdown (code scanning shows it instead of the text)."""
    parts = [f"**{info.code} `{info.name}`**: {info.summary}"]
    if info.explanation:
        parts.append(info.explanation)
    for heading, snippet in (("Fires on:", info.bad), ("Instead:", info.good)):
        if snippet.strip():
            parts.append(f"{heading}\n\n```python\n{snippet.strip(chr(10))}\n```")
    parts.append(_suppression(info, "`"))
    return "\n\n".join(parts)


def _suppression(info: RuleInfo, code: str = "") -> str:
    """How to silence one site; ``code`` wraps the literal parts (a backtick in Markdown)."""
    return (
        f"Suppress one site with {code}# relufind: ignore[{info.code}]{code} on its line; "
        f"{code}relufind --explain {info.code}{code} prints this help."
    )


def _capped(text: str) -> str:
    return text if len(text) <= _DESCRIPTION_LIMIT else text[: _DESCRIPTION_LIMIT - 1] + "…"


# -- results ---------------------------------------------------------------------------------------


def _result(group: LineGroup, rule_index: int, root: Path | None) -> dict[str, Any]:
    primary = group.primary
    result: dict[str, Any] = {
        "ruleId": group.rule,
        "ruleIndex": rule_index,
        "level": _LEVEL[group.severity],
        "message": {"text": group.message()},
        "locations": [_location(primary, root)],
    }
    related = _related(group, root)
    if related:
        result["relatedLocations"] = related
    result["partialFingerprints"] = {"relufind/v1": fingerprint(primary.key, primary.occurrence)}
    return result


def _location(keyed: Keyed, root: Path | None) -> dict[str, Any]:
    location: dict[str, Any] = {}
    if keyed.finding.source is not None:
        location["physicalLocation"] = _physical(keyed.finding.source, root)
    elif (file := result_file(keyed.result, root)) is not None:
        # a finding without a line (TorchScript keeps none) still points at the model's file
        location["physicalLocation"] = {"artifactLocation": artifact(file)}
    location["logicalLocations"] = [_logical(keyed)]
    return location


def _related(group: LineGroup, root: Path | None) -> list[dict[str, Any]]:
    """The primary's other lines (its call line), then every other site of the line."""
    primary = group.primary
    entries = [(loc, primary, "same finding") for loc in primary.finding.related]
    for other in group.others:
        locs = (other.finding.source, *other.finding.related)
        entries += [(loc, other, "also on this line") for loc in locs]
    related: list[dict[str, Any]] = []
    seen: set[tuple[SourceLoc | None, FindingKey]] = set()
    for loc, keyed, why in entries:
        if loc is None or (loc, keyed.key) in seen:
            continue
        seen.add((loc, keyed.key))
        related.append(
            {
                "id": len(related) + 1,
                "physicalLocation": _physical(loc, root),
                "logicalLocations": [_logical(keyed)],
                "message": {"text": f"{why}: {site_name(keyed)}"},
            }
        )
    return related


def _physical(source: SourceLoc, root: Path | None) -> dict[str, Any]:
    uri = artifact(project_path(source.file, root))
    return {"artifactLocation": uri, "region": {"startLine": source.line}}


def artifact(path: str) -> dict[str, Any]:
    """``{"uri": "models/my%20net.py", "uriBaseId": "%SRCROOT%"}`` for a project path."""
    if path.startswith("/"):  # outside the project: an absolute URI, nothing to resolve against
        return {"uri": Path(path).as_uri()}
    return {"uri": quote(path, safe="/"), "uriBaseId": SRCROOT}


def _logical(keyed: Keyed) -> dict[str, Any]:
    path = keyed.key.module_path
    return {
        "name": path or keyed.key.model,
        "fullyQualifiedName": f"{keyed.key.model}.{path}" if path else keyed.key.model,
        "kind": "module",
    }


# -- targets that were not analysed ----------------------------------------------------------------


def _invocation(report: Report, root: Path | None) -> dict[str, Any]:
    notifications = [_notification(t, root) for t in report.targets if t.status in ("error", "skipped")]
    invocation: dict[str, Any] = {
        "executionSuccessful": not any(t.status == "error" for t in report.targets),
    }
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return invocation


def _notification(result: TargetResult, root: Path | None) -> dict[str, Any]:
    if result.status == "error":
        assert result.error is not None
        level, kind = "error", "target-error"
        text = f"{result.target}: cannot analyse ({result.error.type}): {result.error.message}"
    else:
        level, kind = "warning", "target-skipped"
        text = f"{result.target}: skipped: {result.skip_reason}"
    notification: dict[str, Any] = {"level": level, "message": {"text": text}, "descriptor": {"id": kind}}
    file = result_file(result, root)
    if file is not None:
        notification["locations"] = [{"physicalLocation": {"artifactLocation": artifact(file)}}]
    return notification
