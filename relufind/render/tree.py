"""``--format tree``: the module hierarchy pruned to sites and anchors, with relations.

The only module that imports rich. Plain text (no colour, no control codes) whenever
stdout is not a terminal or ``NO_COLOR`` is set, so it reads well in CI logs and diffs.
"""

from __future__ import annotations

import io
import math
import os
import shutil
import sys
from collections import Counter, defaultdict
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.text import Text
from rich.tree import Tree

from ..report import Finding, Relation, Report, Site, SourceLoc, TargetResult, Untraced
from . import View, display_path

_BULLET = "●"
_SEP = "·"
_CROSS = "✗"
#: columns when not a terminal: so wide that no line (site, error message) is ever folded
_PLAIN_WIDTH = 10_000


def render(
    report: Report,
    file: TextIO | None = None,
    *,
    color: bool | None = None,
    quiet: bool = False,
    statistics: bool = False,
) -> str:
    """Render ``report``; returns the text (and writes it to ``file`` when one is given).

    ``quiet`` leaves out targets with nothing to act on (no finding, no error); the totals
    line of a multi-target run still counts every target.
    """
    stream = Stream(
        file or sys.stdout, color=color, write=file is not None, quiet=quiet, statistics=statistics
    )
    for result in report.targets:
        stream.result(result)
    stream.end(report)
    return stream.text


def emit(report: Report, out: TextIO, view: View) -> None:
    render(report, out, color=view.color, quiet=view.quiet, statistics=view.statistics)


class Stream:
    """Tree output one target at a time, as each finishes; ``end`` adds the totals.

    Streaming a report gives exactly the text ``render`` gives for it at once.
    """

    def __init__(
        self,
        out: TextIO,
        *,
        color: bool | None = None,
        write: bool = True,
        quiet: bool = False,
        statistics: bool = False,
    ) -> None:
        self.out = out
        self.write = write
        self.quiet = quiet
        self.statistics = statistics
        tty = _isatty(out)
        self.terminal = color if color is not None else (tty and not os.environ.get("NO_COLOR"))
        self.encoding = (getattr(out, "encoding", None) or "utf-8").lower()
        self.unicode = self.encoding.replace("-", "").startswith("utf")
        self.width = _terminal_width() if (tty or self.terminal) else _PLAIN_WIDTH
        self.count = 0
        self.text = ""
        self.streamed: set[int] = set()

    def result(self, result: TargetResult) -> None:
        self.streamed.add(id(result))
        if self.quiet and not (result.findings or result.status == "error"):
            return
        console, buffer = self._console()
        if self.count:
            console.print()
        _render_target(console, result)
        self.count += 1
        self._flush(buffer)

    def end(self, report: Report) -> None:
        for result in report.targets:  # any not streamed (a report made elsewhere): now, in order
            if id(result) not in self.streamed:
                self.result(result)
        console, buffer = self._console()
        if len(report.targets) > 1:
            if self.count:
                console.print()
            console.print(totals_line(report))
        if self.statistics:
            console.print()
            for line in statistics_lines(report):
                console.print(Text(line))
        self._flush(buffer)

    def _console(self) -> tuple[Console, _Buffer]:
        # a non-UTF encoding makes rich draw ASCII guides
        buffer = _Buffer(self.encoding if not self.unicode else "utf-8")
        console = Console(
            file=buffer,
            force_terminal=self.terminal,
            no_color=not self.terminal,
            color_system="auto" if self.terminal else None,
            width=self.width,
            highlight=False,
            emoji=False,
        )
        return console, buffer

    def _flush(self, buffer: _Buffer) -> None:
        text = buffer.getvalue()
        if not self.unicode:  # a cp1252 or ASCII stream: no bullets, and never a UnicodeEncodeError
            text = text.replace(_BULLET, "*").replace(_SEP, "-").replace(_CROSS, "x")
            text = text.encode(self.encoding, errors="replace").decode(self.encoding, errors="replace")
        self.text += text
        if self.write:
            self.out.write(text)
            self.out.flush()


class _Buffer(io.StringIO):
    """A StringIO that reports the real output's encoding, so rich picks guides it can encode."""

    def __init__(self, encoding: str) -> None:
        super().__init__()
        self._encoding = encoding

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._encoding


def _isatty(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False


def _terminal_width() -> int:
    # COLUMNS first, then the terminal; never raises (stdout may be a pipe while stderr is not)
    return shutil.get_terminal_size(fallback=(_PLAIN_WIDTH, 24)).columns


def _render_target(console: Console, result: TargetResult) -> None:
    title = Text(result.model or result.target, "bold")
    if result.model and result.model != result.target:
        title.append(f"  {result.target}", "dim")
    if result.status == "error":
        assert result.error is not None
        title.append(f"  error ({result.error.type}): {result.error.message}", "red")
        console.print(title)
        return
    if result.status == "skipped":
        title.append(f"  skipped: {result.skip_reason}", "yellow")
        console.print(title)
        for line in (result.config_hint or "").splitlines():
            console.print(Text(f"    {line}", "dim"))
        return
    title.append("  " + _built(result), "dim")
    if result.traced_with == "torch.export":
        title.append("  traced with torch.export (--input-shape)", "dim")
    if result.status == "partial":
        title.append("  partial: some regions could not be traced", "yellow")
    console.print(_tree(result, title))
    console.print(summary_line(result))


def _tree(result: TargetResult, title: Text) -> Tree:
    root = Tree(title, guide_style="dim")
    anchors = {a.path for a in result.anchors}
    sites_by_path: dict[str, list[Site]] = defaultdict(list)
    for site in result.sites:
        sites_by_path[site.module_path].append(site)
    keys = _flow_keys(result)
    children: dict[str, list[str]] = defaultdict(list)
    known = {path for path, _ in result.modules}
    for path, _ in result.modules:
        if path:
            parent = path.rpartition(".")[0]
            children[parent if parent in known or not parent else ""].append(path)
    types = dict(result.modules)
    for note in result.notes:
        root.add(Text(f"! {note}", "yellow"))
    findings = _findings_by_place(result, known)
    _fill(root, "", result, children, types, anchors, sites_by_path, keys, findings)
    functional = [a for a in result.anchors if a.path not in known]
    for anchor in functional:
        root.add(Text.assemble((anchor.path, "bold"), "  ", (anchor.type, "cyan"), ("  [anchor]", "magenta")))
    return root


def _add_finding(branch: Tree, finding: Finding, *, with_line: bool = False) -> None:
    style = {"error": "bold red", "warning": "yellow", "info": "cyan"}[finding.severity]
    label = Text(f"{_CROSS} {finding.code} {finding.name}", style)
    label.append(f"  {finding.message}")
    if with_line and finding.source is not None:
        label.append(f"  {display_path(finding.source.file)}:{finding.source.line}", "dim")
    branch.add(label)


def _fill(
    branch: Tree,
    path: str,
    result: TargetResult,
    children: dict[str, list[str]],
    types: dict[str, str],
    anchors: set[str],
    sites_by_path: dict[str, list[Site]],
    keys: dict[object, float],
    findings: dict[object, list[Finding]],
) -> None:
    """The branch of module ``path``: its notes, then its child modules and its own sites in
    data-flow order (a child before the sites its values reach)."""
    for assumption in result.assumptions:
        if assumption.module_path == path:
            where = f"{display_path(assumption.source.file)}:{assumption.source.line}"
            branch.add(Text(f"assumes {assumption.statement}  ({where}, a shape guard followed)", "dim"))
    for untraced in result.untraced:
        if untraced.module_path == path:
            branch.add(_untraced_text(untraced))
    for unseen in result.unseen:
        if unseen.module_path == path:
            where = f"{display_path(unseen.source.file)}:{unseen.source.line}"
            text = f"? {unseen.variant} call {unseen.op} at {where} is not in the traced graph"
            branch.add(Text(text + " (branch not taken?)", "yellow"))
    items: list[tuple[float, int, object]] = []
    following = math.inf  # a child without a data-flow position goes before the next one that has one
    for order, child in reversed(list(enumerate(children.get(path, ())))):
        key = keys.get(child, math.inf)
        following = key if key != math.inf else following
        items.append((following - 0.25 if key == math.inf else key, order, child))
    for site in sites_by_path.get(path, ()):
        items.append((keys[id(site)], 0, site))
    for _, _, item in sorted(items, key=lambda entry: (entry[0], entry[1])):
        if isinstance(item, Site):
            _add_site(branch, item, findings.get(id(item), []))
            continue
        assert isinstance(item, str)
        label = Text.assemble((item.rpartition(".")[2], "bold"), "  ", (types[item], "cyan"))
        if item in anchors:
            label.append("  [anchor]", "magenta")
        calls = sum(1 for site in sites_by_path.get(item, ()) if site.kind == "module")
        if calls > 1:  # one module instance applied at several places
            label.append(f"  shared: called {calls} times", "yellow")
        _fill(branch.add(label), item, result, children, types, anchors, sites_by_path, keys, findings)
    for finding in findings.get(path, ()):  # about source, not about a site: after the module's content
        _add_finding(branch, finding, with_line=True)


def _findings_by_place(result: TargetResult, known: set[str]) -> dict[object, list[Finding]]:
    """Each finding under its site (keyed by the site's id), else under its module's path."""
    places: dict[object, list[Finding]] = defaultdict(list)
    for finding in result.findings:
        if finding.site is not None:
            places[id(result.sites[finding.site])].append(finding)
        else:
            places[finding.module_path if finding.module_path in known else ""].append(finding)
    return places


def _untraced_text(untraced: Untraced) -> Text:
    text = Text(f"! not traced: {untraced.reason}", "yellow")
    if untraced.source is not None:
        where = f"{display_path(untraced.source.file)}:{untraced.source.line}"
        text.append(f"\n  at {where}" + (f": {untraced.statement}" if untraced.statement else ""), "yellow")
    if untraced.hint:
        text.append(f"\n  {untraced.hint}", "cyan")
    return text


def _flow_keys(result: TargetResult) -> dict[object, float]:
    """A data-flow position per site (its graph order) and per module (before the first site
    inside it; an anchor-only module just before the first site it comes after)."""
    keys: dict[object, float] = {}
    for index, site in enumerate(result.sites):
        keys[id(site)] = float(index)
    first: dict[str, float] = {}

    def note(path: str, key: float) -> None:
        parts = path.split(".") if path else []
        for depth in range(1, len(parts) + 1):
            prefix = ".".join(parts[:depth])
            first[prefix] = min(first.get(prefix, math.inf), key)

    for index, site in enumerate(result.sites):
        note(site.module_path, index - 0.5)
    for anchor in result.anchors:
        after = [i for i, s in enumerate(result.sites) if any(r.anchor == anchor.path for r in s.after)]
        before = [i for i, s in enumerate(result.sites) if any(r.anchor == anchor.path for r in s.before)]
        if after:
            note(anchor.path, after[0] - 0.5)
        elif before:
            note(anchor.path, before[-1] + 0.5)
    keys.update(first)
    return keys


def _add_site(branch: Tree, site: Site, findings: list[Finding] = []) -> None:  # noqa: B006
    label = Text(f"{_BULLET} ", "green")
    label.append(site.variant, "bold green")
    label.append(f"  {site.kind} {site.op}")
    if site.inplace:
        label.append("  in-place", "yellow")
    if not site.traced:
        label.append("  (read from source)", "yellow")
    elif site.region is not None:
        label.append(f"  (traced on its own inside untraced {site.region or 'root'})", "yellow")
    where = f"{display_path(site.source.file)}:{site.source.line}" if site.source else "?"
    label.append(f"  {where}", "dim")
    if site.defined_at is not None and site.defined_at != site.source:
        label.append(f"  defined at {_defined(site.defined_at, site.source)}", "dim")
    node = branch.add(label)
    if site.inside is not None:
        node.add(Text(f"inside  {site.inside.type} {site.inside.anchor}"))
    after = _entries(site.after, "input", site.input_path, site.after_more, "upstream", site.after_complete)
    before = _entries(
        site.before, "output", site.output_path, site.before_more, "downstream", site.before_complete
    )
    node.add(Text("after   " + "\n        ".join(after)))
    node.add(Text("before  " + "\n        ".join(before)))
    for finding in findings:
        _add_finding(node, finding)


def _defined(defined_at: SourceLoc, call: SourceLoc | None) -> str:
    """``line 12`` when the module was built in the call's file, else ``file:12``."""
    if call is not None and call.file == defined_at.file:
        return f"line {defined_at.line}"
    return f"{display_path(defined_at.file)}:{defined_at.line}"


def _entries(
    relations: tuple[Relation, ...],
    edge: str,
    path: tuple[str, ...] | None,
    more: int,
    way: str,
    complete: bool,
) -> list[str]:
    """One line per anchor (nearest first), the model input/output, the count of the rest."""
    lines = [_relation(r) for r in relations]
    if path is not None:
        lines.append(edge + (" via " + ", ".join(_short(path)) if path else ""))
    if more:
        lines.append(f"+{more} more {way}")
    if not complete:
        lines.append("unknown beyond an untraced region")
    return lines or ["none"]


def _relation(relation: Relation) -> str:
    text = f"{relation.type} {relation.anchor}" if relation.type != relation.anchor else relation.anchor
    if relation.via:
        text += " via " + ", ".join(_short(relation.via))
    return text


#: the tree keeps this many ops at each end of a ``via`` (JSON keeps six)
TREE_VIA_ENDS = 2


def _short(via: tuple[str, ...]) -> tuple[str, ...]:
    """``via`` for an 80-column screen: the ops at each end and how many lie between."""
    gap = next((v for v in via if v.startswith("… ")), None)
    hidden = int(gap.split()[1]) if gap else 0
    ops = [v for v in via if v is not gap]
    if len(ops) + hidden <= 2 * TREE_VIA_ENDS + 1:
        return tuple(ops)
    between = len(ops) + hidden - 2 * TREE_VIA_ENDS
    return (*ops[:TREE_VIA_ENDS], f"… {between} more …", *ops[-TREE_VIA_ENDS:])


_SAVED_FILES = {"torchscript": "TorchScript", "exported": "ExportedProgram", "pickle": "pickled model"}


def _built(result: TargetResult) -> str:
    if result.build == "meta-params":
        return f"built on {result.device} (weights only: the constructor needed real tensors)"
    if result.build == "cpu":
        return "built on cpu (the constructor failed on meta)"
    if result.build == "given":
        return f"instance on {result.device}"
    if result.build in _SAVED_FILES:
        return f"read from a {_SAVED_FILES[result.build]} file"
    return f"built on {result.device}"


def totals_line(report: Report) -> str:
    """One line for a run over several targets: how many models, by status, and sites."""
    statuses = Counter(t.status for t in report.targets)
    order = ("ok", "partial", "skipped", "error")
    counts = ", ".join(f"{statuses[s]} {s}" for s in order if statuses[s])
    parts = [f"{len(report.targets)} targets: {counts}"]
    sites = sum(len(t.sites) for t in report.targets)
    parts.append(f"{sites} ReLU site{'s' if sites != 1 else ''}")
    findings = sum(len(t.findings) for t in report.targets)
    if findings:
        parts.append(f"{findings} finding{'s' if findings != 1 else ''}")
    return escape(f" {_SEP} ".join(parts))


def summary_line(result: TargetResult) -> str:
    kinds = result.kind_counts()
    total = len(result.sites)
    parts = [f"{total} ReLU site{'s' if total != 1 else ''}"]
    if kinds:
        parts[0] += " (" + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())) + ")"
    parts.append(f"{len(result.anchors)} anchor{'s' if len(result.anchors) != 1 else ''}")
    if result.untraced:
        parts.append(f"{len(result.untraced)} untraced region{'s' if len(result.untraced) != 1 else ''}")
    if result.hidden_variants:
        hidden = ", ".join(f"{n} {variant}" for variant, n in result.hidden_variants)
        parts.append(f"variants not shown: {hidden} (--variants lists them)")
    if result.findings:
        codes = ", ".join(sorted({f.code for f in result.findings}))
        total = len(result.findings)
        parts.append(f"{total} finding{'s' if total != 1 else ''} ({codes})")
    return escape(f" {_SEP} ".join(parts))


def statistics_lines(report: Report) -> list[str]:
    """``--statistics``: findings per rule, then the suppressions that matched nothing."""
    from ..rules.catalog import BY_CODE

    counts = report.finding_counts()
    lines = [f"{n:>5}  {code}  {BY_CODE[code].name}" for code, n in sorted(counts.items())]
    if not lines:
        lines.append("no findings")
    for unused in report.unused_suppressions:
        codes = f"[{', '.join(unused.codes)}]" if unused.codes else ""
        where = f"{display_path(unused.source.file)}:{unused.source.line}"
        lines.append(f"unused suppression  {where}  # relufind: ignore{codes} matched no finding")
    return lines
