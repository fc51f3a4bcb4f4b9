"""Baselines: adopt relufind in a repository that already has findings.

``--write-baseline FILE`` records today's findings; ``--baseline FILE`` then removes the
findings it records from the report (and so from the exit code), leaving only new ones.
Entries are keyed as SARIF fingerprints are (``relufind.keys``: rule, project-relative
file, model, module path — never a line number, so editing code above a finding does not
make it "new") with a count, since one key may cover several findings.

When a key occurs more often than recorded, all of its findings are reported: which of
them is the new one cannot be told, and showing only some could point at an old line.
A recorded key that occurs less often than recorded in a model this run analysed is
*stale* (fixed); models that were not analysed (an error, a skip, another target list)
say nothing about their entries.

The file is plain JSON: ``{"version": 1, "entries": [{"rule", "file", "model",
"module_path", "count"}, ...]}``, sorted, so it diffs well under version control.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from .errors import UsageError
from .keys import FindingKey, finding_key, keyed_findings
from .report import BaselineEntry, BaselineUse, Report

FORMAT_VERSION = 1
_FIELDS = FindingKey._fields  # ("rule", "file", "model", "module_path")

Baseline = Counter[FindingKey]


def collect(report: Report, root: Path | None) -> Baseline:
    """The baseline of ``report``: how many findings each key has."""
    return Counter(keyed.key for keyed in keyed_findings(report, root))


def dumps(baseline: Baseline) -> str:
    entries = [{**key._asdict(), "count": count} for key, count in sorted(baseline.items()) if count > 0]
    return json.dumps({"version": FORMAT_VERSION, "entries": entries}, indent=2, ensure_ascii=False) + "\n"


def write(path: Path, baseline: Baseline) -> None:
    try:
        path.write_text(dumps(baseline), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--write-baseline: cannot write {path}: {exc.strerror or exc}") from None


def load(path: Path) -> Baseline:
    """Read a baseline file; anything malformed is a usage error naming what is wrong."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"--baseline: cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"--baseline: {path} is not a relufind baseline (not JSON: {exc})") from None
    return parse(document, str(path))


def parse(document: Any, where: str) -> Baseline:
    def bad(why: str) -> UsageError:
        advice = "write one with --write-baseline"
        return UsageError(f"--baseline: {where} is not a relufind baseline ({why}); {advice}")

    if not isinstance(document, dict) or "version" not in document or "entries" not in document:
        raise bad('expected an object with "version" and "entries"')
    if document["version"] != FORMAT_VERSION:
        raise bad(f"version {document['version']!r}; this relufind reads version {FORMAT_VERSION}")
    if not isinstance(document["entries"], list):
        raise bad('"entries" must be a list')
    baseline: Baseline = Counter()
    for index, entry in enumerate(document["entries"], 1):
        if not isinstance(entry, dict) or set(entry) != {*_FIELDS, "count"}:
            raise bad(f"entry {index} must have exactly the keys {', '.join(_FIELDS)}, count")
        count = entry["count"]
        if not all(isinstance(entry[name], str) for name in _FIELDS):
            raise bad(f"entry {index}: {', '.join(_FIELDS)} must be strings")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise bad(f"entry {index}: count must be a positive integer")
        baseline[FindingKey(*(entry[name] for name in _FIELDS))] += count
    return baseline


def apply(report: Report, baseline: Baseline, root: Path | None, path: str) -> Report:
    """``report`` without the findings ``baseline`` records, and what was matched or stale."""
    current = collect(report, root)
    covered = {key for key, count in current.items() if count <= baseline.get(key, 0)}
    targets = tuple(
        replace(t, findings=tuple(f for f in t.findings if finding_key(f, t, root) not in covered))
        if t.findings
        else t
        for t in report.targets
    )
    analysed = {t.model or t.target for t in report.targets if t.status in ("ok", "partial")}
    stale = tuple(
        BaselineEntry(*key, count=count - current[key])
        for key, count in sorted(baseline.items())
        if key.model in analysed and current[key] < count
    )
    matched = sum(current[key] for key in covered)
    return replace(report, targets=targets, baseline=BaselineUse(path, matched, stale))


def stale_line(entry: BaselineEntry, path: str) -> str:
    """One stderr line per stale entry: what was fixed, and how to drop it from the file."""
    site = f"{entry.module_path} in {entry.model}" if entry.module_path else entry.model
    where = f" ({entry.file})" if entry.file else ""
    return (
        f"relufind: baseline {path}: {entry.rule} at {site}{where}: {entry.count} fixed; "
        f"refresh the file with --write-baseline {path}"
    )
