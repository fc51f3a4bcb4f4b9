"""``--format json``: one document, the schema of the spec (extra keys only add)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any, TextIO

from ..report import BaselineUse, Finding, Relation, Report, Site, SourceLoc, TargetResult
from . import View, display_path


def render(report: Report) -> str:
    return json.dumps(to_dict(report), indent=2) + "\n"


def emit(report: Report, out: TextIO, view: View) -> None:
    out.write(render(report))


def to_dict(report: Report) -> dict[str, Any]:
    document: dict[str, Any] = {
        "version": report.version,
        "targets": [_target(t) for t in report.targets],
        "statistics": {
            "findings": dict(sorted(report.finding_counts().items())),
            "unused_suppressions": [
                {**(_source(s.source) or {}), "codes": list(s.codes)} for s in report.unused_suppressions
            ],
        },
    }
    if report.baseline is not None:  # only with --baseline: the schema otherwise stays as it was
        document["baseline"] = _baseline(report.baseline)
    return document


def _baseline(use: BaselineUse) -> dict[str, Any]:
    return {"file": use.path, "matched": use.matched, "stale": [asdict(entry) for entry in use.stale]}


def _target(result: TargetResult) -> dict[str, Any]:
    return {
        "target": result.target,
        "model": result.model,
        "status": result.status,
        "device": result.device,
        "build": result.build,
        "traced_with": result.traced_with,
        "error": None
        if result.error is None
        else {"type": result.error.type, "message": result.error.message},
        "skip_reason": result.skip_reason,
        "needs_args": list(result.needs_args),
        "config_hint": result.config_hint,
        "origin": result.origin,
        "sites": [_site(s) for s in result.sites],
        "anchors": [{"path": a.path, "type": a.type} for a in result.anchors],
        "untraced": [
            {
                "module_path": u.module_path,
                "reason": u.reason,
                "source": _source(u.source),
                "statement": u.statement,
                "hint": u.hint,
            }
            for u in result.untraced
        ],
        "assumptions": [
            {"module_path": a.module_path, "source": _source(a.source), "statement": a.statement}
            for a in result.assumptions
        ],
        "notes": list(result.notes),
        "unseen": [
            {"module_path": u.module_path, "op": u.op, "variant": u.variant, "source": _source(u.source)}
            for u in result.unseen
        ],
        "findings": [_finding(f) for f in result.findings],
        "hidden_variants": dict(result.hidden_variants),
    }


def _site(site: Site) -> dict[str, Any]:
    return {
        "kind": site.kind,
        "variant": site.variant,
        "op": site.op,
        "module_path": site.module_path,
        "module_type": site.module_type,
        "inplace": site.inplace,
        "source": _source(site.source),
        "after": [_relation(r) for r in site.after],
        "before": [_relation(r) for r in site.before],
        "after_more": site.after_more,
        "before_more": site.before_more,
        "input_path": None if site.input_path is None else {"via": list(site.input_path)},
        "output_path": None if site.output_path is None else {"via": list(site.output_path)},
        "inside": None if site.inside is None else {"anchor": site.inside.anchor, "type": site.inside.type},
        "traced": site.traced,
        "after_complete": site.after_complete,
        "before_complete": site.before_complete,
        "region": site.region,
        "defined_at": _source(site.defined_at),
    }


def _finding(finding: Finding) -> dict[str, Any]:
    return {
        "code": finding.code,
        "name": finding.name,
        "severity": finding.severity,
        "message": finding.message,
        "module_path": finding.module_path,
        "source": _source(finding.source),
        "related": [_source(loc) for loc in finding.related],
        "site": finding.site,
    }


def _relation(relation: Relation) -> dict[str, Any]:
    return {"anchor": relation.anchor, "type": relation.type, "via": list(relation.via)}


def _source(source: SourceLoc | None) -> dict[str, Any] | None:
    return None if source is None else {"file": display_path(source.file), "line": source.line}
