"""``--format tree``: the module hierarchy pruned to sites and anchors, with relations.

The only module that imports rich. Plain text (no colour, no control codes) whenever
stdout is not a terminal or ``NO_COLOR`` is set, so it reads well in CI logs and diffs.
"""

from __future__ import annotations

import io
import os
import sys
from collections import defaultdict
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.text import Text
from rich.tree import Tree

from ..report import Relation, Report, Site, TargetResult
from . import display_path

#: columns when not a terminal: wide enough that a site's line is never folded
_PLAIN_WIDTH = 200


def render(report: Report, file: TextIO | None = None, *, color: bool | None = None) -> str:
    """Render ``report``; returns the text (and writes it to ``file`` when one is given)."""
    out = file or sys.stdout
    terminal = color if color is not None else (out.isatty() and "NO_COLOR" not in os.environ)
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        force_terminal=terminal,
        no_color=not terminal,
        color_system="auto" if terminal else None,
        width=_terminal_width() if terminal else _PLAIN_WIDTH,
        highlight=False,
        emoji=False,
    )
    for index, result in enumerate(report.targets):
        if index:
            console.print()
        _render_target(console, result)
    text = buffer.getvalue()
    if file is not None:
        file.write(text)
    return text


def _terminal_width() -> int:
    return os.get_terminal_size().columns if sys.stdout.isatty() else _PLAIN_WIDTH


def _render_target(console: Console, result: TargetResult) -> None:
    title = Text.assemble((result.model or result.target, "bold"), "  ", (result.target, "dim"))
    if result.status == "error":
        assert result.error is not None
        title.append(f"  error ({result.error.type}): {result.error.message}", "red")
        console.print(title)
        return
    if result.status == "skipped":
        title.append(f"  skipped: {result.skip_reason}", "yellow")
        console.print(title)
        return
    title.append(f"  built on {result.device}" + (" (weights only)" if result.build == "meta-params" else ""), "dim")
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
    branches: dict[str, Tree] = {"": root}
    for path, type_name in result.modules:
        if not path:
            continue
        parent = branches[path.rpartition(".")[0]] if path.rpartition(".")[0] in branches else root
        label = Text.assemble((path.rpartition(".")[2], "bold"), "  ", (type_name, "cyan"))
        if path in anchors:
            label.append("  [anchor]", "magenta")
        branches[path] = parent.add(label)
    for untraced in result.untraced:
        branch = branches.get(untraced.module_path, root)
        branch.add(Text(f"! not traced: {untraced.reason}", "yellow"))
    for path, sites in sites_by_path.items():
        branch = branches.get(path, root)
        for site in sites:
            _add_site(branch, site)
    functional = [a for a in result.anchors if a.path not in branches]
    for anchor in functional:
        root.add(Text.assemble((anchor.path, "bold"), "  ", (anchor.type, "cyan"), ("  [anchor]", "magenta")))
    return root


def _add_site(branch: Tree, site: Site) -> None:
    label = Text("● ", "green")
    label.append(site.variant, "bold green")
    label.append(f"  {site.kind} {site.op}")
    if site.inplace:
        label.append("  in-place", "yellow")
    if not site.traced:
        label.append("  (read from source)", "yellow")
    label.append("  " + (f"{display_path(site.source.file)}:{site.source.line}" if site.source else "?"), "dim")
    node = branch.add(label)
    if site.inside is not None:
        node.add(Text(f"inside  {site.inside.type} {site.inside.anchor}"))
    node.add(Text("after   " + _relations(site.after, "input")))
    node.add(Text("before  " + _relations(site.before, "output")))


def _relations(relations: tuple[Relation, ...], none: str) -> str:
    if not relations:
        return none
    return "; ".join(_relation(r) for r in relations)


def _relation(relation: Relation) -> str:
    text = f"{relation.type} {relation.anchor}" if relation.type != relation.anchor else relation.anchor
    if relation.via:
        text += " via " + ", ".join(relation.via)
    return text


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
    return escape(" · ".join(parts))
