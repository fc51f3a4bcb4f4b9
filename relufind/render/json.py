"""``--format json``: one document, the schema of the spec (extra keys only add)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict
from itertools import chain
from json.encoder import encode_basestring_ascii as _ascii
from typing import Any, NamedTuple, TextIO

from ..report import BaselineUse, Finding, Inside, Relation, Report, Site, SourceLoc, TargetResult
from . import View, display_path


def render(report: Report) -> str:
    """The document ``dumps(to_dict(report))`` writes, byte for byte; sites are written
    straight from the report's ``Site`` records (see ``_site_text``)."""
    try:
        return _joined(_document(report, _SiteText), "\n", tail="\n")
    finally:
        _VIA_TEXTS.clear()  # the texts live for one document: a repeated path is repeated there


def dumps(document: Any) -> str:
    """``json.dumps(document, indent=2)``, byte for byte, several times faster.

    With ``indent`` the standard library falls back to its pure-Python encoder, a generator
    per container: on a deep model's report (tens of MB, a dozen relations per site) that
    cost seconds, more than the analysis. Here every piece of text is appended to one list
    and joined once: a container made as one string would copy all it holds at each level
    of nesting (a hundred MB, a dozen times over, on the deepest benchmark).
    """
    return _joined(document, "\n")


def _joined(value: Any, newline: str, tail: str = "") -> str:
    """``value`` encoded at the nesting ``newline`` gives, then ``tail``: one join."""
    parts: list[str] = []
    _encode(value, newline, parts)
    parts.append(tail)
    return "".join(parts)


def _encode(value: Any, newline: str, parts: list[str]) -> None:
    """Append ``value`` encoded at the nesting given by ``newline`` ("\\n" and its indent) to
    ``parts``. Strings, most of the values, are encoded inline by the C escaper."""
    kind = type(value)
    if kind is str:
        parts.append(_ascii(value))
    elif kind is _SiteText:
        parts.append(_site_text(value.site, newline))
    elif kind is dict:
        _object(value, newline, parts)
    elif kind is list or kind is tuple:
        _array_of(value, newline, parts)
    else:
        parts.append(_scalar(value, newline))


def _object(value: dict[Any, Any], newline: str, parts: list[str]) -> None:
    _members(((f"{_key(k)}: ", v) for k, v in value.items()), "{}", newline, parts)


def _array_of(value: list[Any] | tuple[Any, ...], newline: str, parts: list[str]) -> None:
    _members((("", v) for v in value), "[]", newline, parts)


def _members(members: Iterable[tuple[str, Any]], brackets: str, newline: str, parts: list[str]) -> None:
    """A container's members (the text before each value, the value) between ``brackets``."""
    inner = newline + "  "
    head = brackets[0] + inner
    for before, v in members:
        parts.append(head + before)
        head = "," + inner
        if type(v) is str:
            parts.append(_ascii(v))
        else:
            _encode(v, inner, parts)
    empty = head[0] != ","  # no member was written: no head either
    parts.append(brackets if empty else newline + brackets[1])


def _scalar(value: Any, newline: str) -> str:
    """Anything but a str, dict, list or tuple (exactly those types) as text."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return int.__repr__(value)
    if isinstance(value, (int, float)):
        return _encoder.encode(value)  # a float (and its NaN / Infinity spelling), an int subclass
    if isinstance(value, (dict, list, tuple)):  # subclasses: as json.dumps takes them
        return _joined(dict(value) if isinstance(value, dict) else list(value), newline)
    if isinstance(value, str):
        return _ascii(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_encoder = json.JSONEncoder()


def _key(key: Any) -> str:
    if type(key) is str:
        return _ascii(key)
    # json.dumps turns other keys into strings first (True -> "true", 1.5 -> "1.5")
    if key is None or isinstance(key, bool):
        return _ascii(_scalar(key, ""))
    return _ascii(_encoder.encode(key).strip('"'))


def emit(report: Report, out: TextIO, view: View) -> None:
    out.write(render(report))


def to_dict(report: Report) -> dict[str, Any]:
    """The JSON document as plain data."""
    return _document(report, _site)


def _document(report: Report, site: Callable[[Site], Any]) -> dict[str, Any]:
    """The document, each site as ``site`` gives it (a dict, or a ``_SiteText`` to encode)."""
    document: dict[str, Any] = {
        "version": report.version,
        "targets": [_target(t, site) for t in report.targets],
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


def _target(result: TargetResult, site: Callable[[Site], Any]) -> dict[str, Any]:
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
        "sites": [site(s) for s in result.sites],
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


class _SiteText(NamedTuple):
    """A site that ``_encode`` writes with ``_site_text``, not through a dict."""

    site: Site


class _Keys:
    """The keys of an object ``_site_text`` writes, and per indentation the constant text
    around its values (``{\n  "kind": ``, ``,\n  "variant": `` ... and the closing brace)."""

    def __init__(self, *names: str) -> None:
        self.names = names
        self._frames: dict[str, tuple[tuple[str, ...], str]] = {}

    def frame(self, newline: str) -> tuple[tuple[str, ...], str]:
        """At the nesting ``newline`` gives: the text before each value, and the end."""
        frame = self._frames.get(newline)
        if frame is None:
            at = newline + "  "
            heads = tuple(("," if i else "{") + at + _ascii(name) + ": " for i, name in enumerate(self.names))
            frame = self._frames[newline] = (heads, newline + "}")
        return frame

    def text(self, newline: str, values: tuple[str, ...]) -> str:
        """The object at the nesting ``newline`` gives, its values already encoded."""
        heads, end = self.frame(newline)
        return "".join(chain.from_iterable(zip(heads, values, strict=True))) + end


_SITE = _Keys(
    "kind", "variant", "op", "module_path", "module_type", "inplace", "source", "after", "before",
    "after_more", "before_more", "input_path", "output_path", "inside", "traced", "after_complete",
    "before_complete", "region", "defined_at",
)
_RELATION = _Keys("anchor", "type", "via")
_PATH = _Keys("via")
_INSIDE = _Keys("anchor", "type")
_SOURCE = _Keys("file", "line")


def _site_text(site: Site, newline: str) -> str:
    """``_encode(_site(site), newline)`` without the dicts: a deep model's report holds
    thousands of sites with a dozen relations each, and building and walking their dicts
    cost more than writing the text. The keys, their order and every value's spelling
    must stay those of ``_site`` (a test compares the two on every sample model)."""
    at = newline + "  "
    return _SITE.text(newline, (
        _ascii(site.kind),
        _ascii(site.variant),
        _ascii(site.op),
        _ascii(site.module_path),
        _ascii(site.module_type),
        _flag(site.inplace),
        _source_text(site.source, at),
        _relations_text(site.after, at),
        _relations_text(site.before, at),
        int.__repr__(site.after_more),
        int.__repr__(site.before_more),
        _path_text(site.input_path, at),
        _path_text(site.output_path, at),
        _inside_text(site.inside, at),
        _flag(site.traced),
        _flag(site.after_complete),
        _flag(site.before_complete),
        "null" if site.region is None else _ascii(site.region),
        _source_text(site.defined_at, at),
    ))


def _array(newline: str, items: list[str]) -> str:
    """A JSON array of already encoded values."""
    if not items:
        return "[]"
    at = newline + "  "
    return "[" + at + ("," + at).join(items) + newline + "]"


def _strings(newline: str, values: tuple[str, ...]) -> str:
    return _array(newline, [*map(_ascii, values)])


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _relations_text(relations: tuple[Relation, ...], newline: str) -> str:
    """The list of relations at ``newline``: the hottest text of a deep model's report (tens of
    thousands of relations), so each relation is one f-string from the constant pieces of
    ``_RELATION`` at its indentation, its ``via`` joined in place."""
    if not relations:
        return "[]"
    at = newline + "  "
    (anchor, type_, via), end = _RELATION.frame(at)
    vias = _VIA_TEXTS.get(at)
    if vias is None:
        vias = _VIA_TEXTS[at] = {}
    texts = []
    for r in relations:
        via_text = vias.get(r.via)
        if via_text is None:
            via_text = vias[r.via] = _strings(at + "  ", r.via)
        texts.append(f"{anchor}{_ascii(r.anchor)}{type_}{_ascii(r.type)}{via}{via_text}{end}")
    return "[" + at + ("," + at).join(texts) + newline + "]"


#: per indentation, a ``via`` -> its text: a deep model repeats the same few ops between
#: anchors at every block (``["clamp", "add", "add"]``), so each is encoded once per document
_VIA_TEXTS: dict[str, dict[tuple[str, ...], str]] = {}


def _path_text(via: tuple[str, ...] | None, newline: str) -> str:
    return "null" if via is None else _PATH.text(newline, (_strings(newline + "  ", via),))


def _inside_text(inside: Inside | None, newline: str) -> str:
    return "null" if inside is None else _INSIDE.text(newline, (_ascii(inside.anchor), _ascii(inside.type)))


def _source_text(source: SourceLoc | None, newline: str) -> str:
    if source is None:
        return "null"
    return _SOURCE.text(newline, (_ascii(display_path(source.file)), int.__repr__(source.line)))


def _relation(relation: Relation) -> dict[str, Any]:
    return {"anchor": relation.anchor, "type": relation.type, "via": list(relation.via)}


def _source(source: SourceLoc | None) -> dict[str, Any] | None:
    return None if source is None else {"file": display_path(source.file), "line": source.line}
