"""``--format tree``: the module hierarchy pruned to sites and anchors, with relations.

With ``progress.py``, the only module that imports rich. Plain text (no colour, no control codes) whenever
stdout is not a terminal or ``NO_COLOR`` is set, so it reads well in CI logs and diffs.
"""

from __future__ import annotations

import io
import math
import os
import re
import shutil
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.text import Text
from rich.tree import Tree

from ..report import Finding, Relation, Report, Site, SourceLoc, TargetResult, Untraced
from . import View, display_path, isatty

_BULLET = "●"
_SEP = "·"
_CROSS = "✗"
_DASH = "–"  # noqa: RUF001  a range of blocks: blocks.0, en dash, 199
_TIMES = "×"  # noqa: RUF001  how many blocks a run stands for
#: columns when not a terminal: so wide that no line (site, error message) is ever folded
_PLAIN_WIDTH = 10_000


def render(
    report: Report,
    file: TextIO | None = None,
    *,
    color: bool | None = None,
    quiet: bool = False,
    statistics: bool = False,
    expand: bool = False,
) -> str:
    """Render ``report``; returns the text (and writes it to ``file`` when one is given).

    ``quiet`` leaves out targets with nothing to act on (no finding, no error); the totals
    line of a multi-target run still counts every target. ``expand`` prints every block of a
    run of identical sibling blocks instead of one branch for the run.
    """
    stream = Stream(
        file or sys.stdout,
        color=color,
        write=file is not None,
        quiet=quiet,
        statistics=statistics,
        expand=expand,
    )
    for result in report.targets:
        stream.result(result)
    stream.end(report)
    return stream.text


def emit(report: Report, out: TextIO, view: View) -> None:
    render(report, out, color=view.color, quiet=view.quiet, statistics=view.statistics, expand=view.expand)


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
        expand: bool = False,
    ) -> None:
        self.out = out
        self.expand = expand
        self.write = write
        self.quiet = quiet
        self.statistics = statistics
        tty = isatty(out)
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
        _render_target(console, result, self.expand)
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
        plain = self.width == _PLAIN_WIDTH and not self.terminal
        console = _Console(
            fold=not plain,
            draw_trees=plain and self.unicode,
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
            text = text.replace(_DASH, "-").replace(_TIMES, "x")
            text = text.encode(self.encoding, errors="replace").decode(self.encoding, errors="replace")
        self.text += text
        if self.write:
            self.out.write(text)
            self.out.flush()


class _Console(Console):
    """Rich's console, with two shortcuts for output that is not a terminal (a CI log, a file).

    Plain output is never folded, so rich need not look for word breaks in every label; and
    with Unicode guides a tree is drawn here, line by line, as rich draws it without colour
    (a test holds the two equal on every sample model). Rich takes a few milliseconds a
    target, which was half of a cached CI run over a folder of models.
    """

    def __init__(self, *, fold: bool, draw_trees: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fold = fold
        self.draw_trees = draw_trees

    def print(self, *objects: Any, **kwargs: Any) -> None:
        if self.draw_trees and len(objects) == 1 and _text_tree(objects[0]) and not kwargs:
            self.file.write("".join(_plain_tree(objects[0])))
            return
        if not self.fold:
            kwargs.setdefault("no_wrap", True)
        super().print(*objects, **kwargs)


def _text_tree(tree: object) -> bool:
    """Whether ``tree`` is a Tree of Text labels only (a str label would be read as markup)."""
    return isinstance(tree, Tree) and isinstance(tree.label, Text) and all(map(_text_tree, tree.children))


def _plain_tree(tree: Tree, prefix: str = "", guide: tuple[str, str] = ("", "")) -> Iterator[str]:
    """The lines of ``tree`` with Unicode guides and no styles, exactly as rich renders them.

    ``guide`` is this node's own pair: before its label's first line, before its other lines
    (and its children's prefix).
    """
    first, rest = guide
    assert isinstance(tree.label, Text)
    for number, line in enumerate(tree.label.plain.split("\n")):
        yield f"{prefix}{first if number == 0 else rest}{line.expandtabs(8)}\n"
    inner = prefix + rest
    for index, child in enumerate(tree.children):
        last = index == len(tree.children) - 1
        yield from _plain_tree(child, inner, ("└── ", "    ") if last else ("├── ", "│   "))


class _Buffer(io.StringIO):
    """A StringIO that reports the real output's encoding, so rich picks guides it can encode."""

    def __init__(self, encoding: str) -> None:
        super().__init__()
        self._encoding = encoding

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._encoding


def _terminal_width() -> int:
    # COLUMNS first, then the terminal; never raises (stdout may be a pipe while stderr is not)
    return shutil.get_terminal_size(fallback=(_PLAIN_WIDTH, 24)).columns


def _render_target(console: Console, result: TargetResult, expand: bool = False) -> None:
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
    console.print(_tree(result, title, expand))
    console.print(summary_line(result))


def _tree(result: TargetResult, title: Text, expand: bool = False) -> Tree:
    root = Tree(title, guide_style="dim")
    sites_by_path: dict[str, list[Site]] = defaultdict(list)
    for site in result.sites:
        sites_by_path[site.module_path].append(site)
    children: dict[str, list[str]] = defaultdict(list)
    known = {path for path, _ in result.modules}
    for path, _ in result.modules:
        if path:
            parent = path.rpartition(".")[0]
            children[parent if parent in known or not parent else ""].append(path)
    for note in result.notes:
        root.add(Text(f"! {note}", "yellow"))
    tree = _Context(
        result=result,
        children=children,
        types=dict(result.modules),
        anchors={a.path for a in result.anchors},
        sites_by_path=sites_by_path,
        keys=_flow_keys(result),
        findings=_findings_by_place(result, known),
        expand=expand,
    )
    _fill(root, "", tree)
    functional = [a for a in result.anchors if a.path not in known]
    for anchor in functional:
        root.add(Text.assemble((anchor.path, "bold"), "  ", (anchor.type, "cyan"), ("  [anchor]", "magenta")))
    return root


@dataclass
class _Context:
    """What every branch of one target's tree reads."""

    result: TargetResult
    children: dict[str, list[str]]
    types: dict[str, str]
    anchors: set[str]
    sites_by_path: dict[str, list[Site]]
    keys: dict[object, float]
    findings: dict[object, list[Finding]]
    #: print every block of a run of identical siblings (``--expand``)
    expand: bool = False


def _add_finding(branch: Tree, finding: Finding, *, with_line: bool = False) -> None:
    style = {"error": "bold red", "warning": "yellow", "info": "cyan"}[finding.severity]
    label = Text(f"{_CROSS} {finding.code} {finding.name}", style)
    label.append(f"  {finding.message}")
    if with_line and finding.source is not None:
        label.append(f"  {display_path(finding.source.file)}:{finding.source.line}", "dim")
    branch.add(label)


def _fill(branch: Tree, path: str, tree: _Context) -> None:
    """The branch of module ``path``: its notes, then its child modules and its own sites in
    data-flow order (a child before the sites its values reach); runs of identical blocks
    collapse to one branch unless ``tree.expand``."""
    result = tree.result
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
    items = _ordered_items(path, tree)
    for run in _runs(items, path, tree):
        item = run[0]
        if isinstance(item, Site):
            _add_site(branch, item, tree.findings.get(id(item), []))
        elif len(run) > 1:
            _add_run(branch, [child for child in run if isinstance(child, str)], tree)
        else:
            assert isinstance(item, str)
            _fill(branch.add(_module_label(item, tree)), item, tree)
    for finding in tree.findings.get(path, ()):  # about source, not about a site: after the module's content
        _add_finding(branch, finding, with_line=True)


def _ordered_items(path: str, tree: _Context) -> list[Site | str]:
    """The child modules (paths) and own sites of ``path`` in data-flow order."""
    items: list[tuple[float, int, Site | str]] = []
    following = math.inf  # a child without a data-flow position goes before the next one that has one
    for order, child in reversed(list(enumerate(tree.children.get(path, ())))):
        key = tree.keys.get(child, math.inf)
        following = key if key != math.inf else following
        items.append((following - 0.25 if key == math.inf else key, order, child))
    for site in tree.sites_by_path.get(path, ()):
        items.append((tree.keys[id(site)], 0, site))
    return [item for _, _, item in sorted(items, key=lambda entry: (entry[0], entry[1]))]


def _module_label(path: str, tree: _Context) -> Text:
    label = Text.assemble((path.rpartition(".")[2], "bold"), "  ", (tree.types[path], "cyan"))
    if path in tree.anchors:
        label.append("  [anchor]", "magenta")
    calls = _calls(path, tree)
    if calls > 1:  # one module instance applied at several places
        label.append(f"  shared: called {calls} times", "yellow")
    return label


def _calls(path: str, tree: _Context) -> int:
    return sum(1 for site in tree.sites_by_path.get(path, ()) if site.kind == "module")


# -- runs of identical blocks --------------------------------------------------------------------

#: a run of identical sibling blocks shorter than this is printed block by block
MIN_RUN = 3


def _runs(items: list[Site | str], parent: str, tree: _Context) -> list[list[Site | str]]:
    """``items`` in order, grouped: each run of MIN_RUN or more identical numbered sibling
    blocks is one group, everything else a group of its own."""
    groups: list[list[Site | str]] = []
    signatures: dict[str, object] = {}
    for item in items:
        last = groups[-1] if groups else None
        if not tree.expand and last is not None and _continues(last, item, parent, tree, signatures):
            last.append(item)
        else:
            groups.append([item])
    # a run too short to be worth a summary line is printed as before, block by block
    return [part for group in groups for part in ([group] if len(group) >= MIN_RUN else [[i] for i in group])]


def _continues(
    run: list[Site | str], item: Site | str, parent: str, tree: _Context, signatures: dict[str, object]
) -> bool:
    """Whether block ``item`` is the next index of the blocks in ``run`` and renders like them."""
    last = run[-1]
    if not (isinstance(last, str) and isinstance(item, str)):
        return False
    index, previous = _index(item, parent), _index(last, parent)
    if index is None or previous is None or index != previous + 1:
        return False  # only numbered children of one container (Sequential, ModuleList), in order
    if tree.types[item] != tree.types[last]:
        return False
    for block in (last, item):
        if block not in signatures:
            signatures[block] = _signature(block, parent, tree)
    return signatures[item] == signatures[last]


def _index(path: str, parent: str) -> int | None:
    name = path[len(parent) + 1 :] if parent else path
    return int(name) if name.isdigit() else None


def _add_run(branch: Tree, blocks: list[str], tree: _Context) -> None:
    """One branch for a run of identical blocks: the range, the count, and the first block's
    subtree standing for all of them."""
    first, last = blocks[0], blocks[-1]
    sites = sum(len(tree.sites_by_path.get(p, ())) for p in _subtree(first, tree))
    label = Text.assemble(
        (f"{first}{_DASH}{last.rpartition('.')[2]}", "bold"),
        "  ",
        (tree.types[first], "cyan"),
        f" {_TIMES}{len(blocks)}: {sites} ReLU site{'s' if sites != 1 else ''} each, same placement",
    )
    if first in tree.anchors:
        label.append("  [anchor]", "magenta")
    findings = sum(len(tree.findings.get(key, ())) for key in _finding_keys(first, tree))
    if findings:
        label.append(f"  {findings} finding{'s' if findings != 1 else ''} each", "yellow")
    label.append(f"  (showing {first}; --expand for all)", "dim")
    _fill(branch.add(label), first, tree)


def _subtree(path: str, tree: _Context) -> list[str]:
    """``path`` and every module below it, in model order."""
    paths = [path]
    for child in tree.children.get(path, ()):
        paths.extend(_subtree(child, tree))
    return paths


def _finding_keys(path: str, tree: _Context) -> list[object]:
    """Where the findings of a block's subtree are filed: its sites' ids and its module paths."""
    paths = _subtree(path, tree)
    return [*paths, *(id(site) for p in paths for site in tree.sites_by_path.get(p, ()))]


def _signature(block: str, parent: str, tree: _Context) -> object:
    """What the tree shows of ``block``, with the block's own index and its neighbours'
    abstracted: two blocks with equal signatures differ only in which index they are."""
    own = _Abstract(parent)
    result = tree.result
    paths = _subtree(block, tree)
    inside = set(paths)
    modules = tuple(
        (own.path(p), tree.types[p], p in tree.anchors, _calls(p, tree), tree.keys.get(p) is None)
        for p in paths
    )
    sites = tuple(
        (_site_signature(site, own), _findings_signature(tree.findings.get(id(site), ()), own))
        for p in paths
        for site in tree.sites_by_path.get(p, ())
    )
    notes = (
        tuple(
            (own.path(a.module_path), a.statement, a.source)
            for a in result.assumptions
            if a.module_path in inside
        ),
        tuple(
            (own.path(u.module_path), own.text(u.reason), u.source, u.statement, u.hint)
            for u in result.untraced
            if u.module_path in inside
        ),
        tuple(
            (own.path(u.module_path), u.op, u.variant, u.source)
            for u in result.unseen
            if u.module_path in inside
        ),
        _findings_signature([f for p in paths for f in tree.findings.get(p, ())], own),
    )
    return modules, sites, notes


def _site_signature(site: Site, own: _Abstract) -> object:
    """A site as the tree shows it, paths abstracted. How many anchors lie beyond the nearest
    eight is kept as whether there are any: in a residual stack every block has one more
    upstream than the last, which is depth, not placement."""
    return (
        site.kind,
        site.variant,
        site.op,
        site.inplace,
        site.traced,
        None if site.region is None else own.path(site.region),
        site.source,
        site.defined_at,
        None if site.inside is None else (own.path(site.inside.anchor), site.inside.type),
        tuple((own.path(r.anchor), r.type, own.via(r.via)) for r in site.after),
        tuple((own.path(r.anchor), r.type, own.via(r.via)) for r in site.before),
        None if site.input_path is None else own.via(site.input_path),
        None if site.output_path is None else own.via(site.output_path),
        site.after_more > 0,
        site.before_more > 0,
        site.after_complete,
        site.before_complete,
    )


def _findings_signature(findings: list[Finding], own: _Abstract) -> tuple[object, ...]:
    return tuple((f.code, f.severity, own.text(f.message), f.source) for f in findings)


class _Abstract:
    """Replaces the index of any block of container ``parent`` (``blocks.7.conv`` ->
    ``blocks.#.conv``) in paths and in text that names paths."""

    def __init__(self, parent: str) -> None:
        self.parent = parent
        prefix = re.escape(parent) + r"\." if parent else ""
        # at the root the blocks are plain numbers: only a number that opens a path counts,
        # so "line 12" or "3 times" in a message stays as it is
        tail = r"(?=[.\s,]|$)" if parent else r"(?=\.[A-Za-z_])"
        self._pattern = re.compile(r"(?<![\w.:])" + prefix + r"\d+" + tail)
        self._replacement = (parent + "." if parent else "") + "#"

    def path(self, path: str) -> str:
        head, _, rest = path.partition(".") if not self.parent else (path, "", "")
        if not self.parent:
            return "#" + ("." + rest if rest else "") if head.isdigit() else path
        return self._pattern.sub(self._replacement, path)

    def text(self, text: str) -> str:
        return self._pattern.sub(self._replacement, text)

    def via(self, via: tuple[str, ...]) -> tuple[str, ...]:
        """A ``via`` as the tree shows it (the middle of a long one is a count: abstracted too,
        as a longer residual chain is depth, not placement)."""
        shown = _short(tuple(self.text(op) for op in via))
        return tuple("…" if op.startswith("… ") else op for op in shown)


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
    # one pass over the (bounded) relation lists, not one per anchor: linear in the sites
    first_after: dict[str, int] = {}
    last_before: dict[str, int] = {}
    for index, site in enumerate(result.sites):
        for relation in site.after:
            first_after.setdefault(relation.anchor, index)
        for relation in site.before:
            last_before[relation.anchor] = index
    for anchor in result.anchors:
        if anchor.path in first_after:
            note(anchor.path, first_after[anchor.path] - 0.5)
        elif anchor.path in last_before:
            note(anchor.path, last_before[anchor.path] + 0.5)
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
