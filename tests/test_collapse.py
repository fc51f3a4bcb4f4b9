"""The tree collapses runs of identical sibling blocks (``blocks.0-49  Block x50``, with an en dash
and a multiplication sign); ``--expand`` prints every block. Display only: the summary and the other formats are unchanged."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import cli_runner

from relufind.cli import app
from relufind.render.tree import render
from relufind.report import Anchor, Finding, Relation, Report, Site, SourceLoc, TargetResult

pytestmark = pytest.mark.usefixtures("restore_imports")

FILE = "models/stack.py"
DASH = "\u2013"  # the en dash of a range of blocks
TIMES = "\u00d7"


def block_sites(i: int) -> list[Site]:
    """Three ReLU sites of block ``i``; its relations name its own convs and the next block's."""
    here, after_conv = f"blocks.{i}", Relation(f"blocks.{i}.conv1", "Conv1d")
    return [
        Site(
            "module", "relu", "torch.nn.ReLU", f"{here}.act", "ReLU", False, SourceLoc(FILE, 12),
            after=(after_conv,), before=(Relation(f"blocks.{i}.conv2", "Conv1d"),),
        ),
        Site(
            "function", "relu", "torch.nn.functional.relu", here, "Block", False, SourceLoc(FILE, 14),
            after=(Relation(f"blocks.{i}.conv2", "Conv1d", ("add",)),),
            before=(Relation(f"blocks.{i + 1}.conv1", "Conv1d"),),
        ),
        Site(
            "method", "relu", "relu_", here, "Block", True, SourceLoc(FILE, 15),
            after=(Relation(f"blocks.{i}.conv2", "Conv1d", ("add", "relu")),),
            before=(Relation(f"blocks.{i + 1}.conv1", "Conv1d"),),
        ),
    ]


def block_modules(i: int) -> list[tuple[str, str]]:
    here = f"blocks.{i}"
    return [(here, "Block"), (f"{here}.conv1", "Conv1d"), (f"{here}.act", "ReLU"), (f"{here}.conv2", "Conv1d")]


def stack(n: int, change: Callable[[int, list[Site]], list[Site]] | None = None) -> TargetResult:
    """A target of ``n`` identical blocks; ``change`` may alter the sites of any block."""
    sites: list[Site] = []
    modules = [("blocks", "Sequential")]
    anchors = []
    for i in range(n):
        own = block_sites(i)
        sites.extend(change(i, own) if change else own)
        modules.extend(block_modules(i))
        anchors.extend(m for m in block_modules(i) if m[1] == "Conv1d")
    return TargetResult(
        target=f"{FILE}:Stack", model="Stack", status="ok", device="meta", build="meta",
        sites=tuple(sites), anchors=tuple(Anchor(p, t) for p, t in anchors), modules=tuple(modules),
    )


def tree(result: TargetResult, *, expand: bool = False) -> str:
    return render(Report(version="1", targets=(result,)), color=False, expand=expand)


def block_lines(text: str) -> list[str]:
    """The branches directly under ``blocks``: one per block or per run."""
    return [line.split("── ", 1)[1] for line in text.splitlines() if re.match(r"^    [├└]── ", line)]


def test_fifty_identical_blocks_are_one_branch() -> None:
    text = tree(stack(50))
    assert block_lines(text) == [
        f"blocks.0{DASH}49  Block {TIMES}50: 3 ReLU sites each, same placement  (showing blocks.0; --expand for all)"
    ]
    # the representative is the first block, with its own paths
    assert "after   Conv1d blocks.0.conv1" in text
    assert "blocks.1.conv1" in text and "blocks.2." not in text
    # the summary still counts every site
    assert text.rstrip().splitlines()[-1].startswith("150 ReLU sites (50 function, 50 method, 50 module)")


def extra_site(i: int, sites: list[Site]) -> list[Site]:
    return [*sites, dataclasses.replace(sites[1], source=SourceLoc(FILE, 16))] if i == 22 else sites


def other_op(i: int, sites: list[Site]) -> list[Site]:
    return [sites[0], dataclasses.replace(sites[1], op="torch.relu", kind="method"), sites[2]] if i == 22 else sites


def other_anchor(i: int, sites: list[Site]) -> list[Site]:
    """Block 22's ReLU comes after another layer: a different placement, not another index."""
    changed = dataclasses.replace(sites[1], after=(Relation(f"blocks.{i}.conv1", "Conv1d", ("add",)),))
    return [sites[0], changed, sites[2]] if i == 22 else sites


@pytest.mark.parametrize("change", [extra_site, other_op, other_anchor])
def test_a_different_block_splits_the_run(change: Callable[[int, list[Site]], list[Site]]) -> None:
    names = [line.split("  ")[0] for line in block_lines(tree(stack(50, change)))]
    assert names == [f"blocks.0{DASH}21", "22", f"blocks.23{DASH}49"]


def test_a_finding_in_one_block_splits_the_run() -> None:
    result = stack(50)
    finding = Finding(
        "RF003", "inplace-clobber", "warning", "Stack: blocks.22 applies relu_ in place", "blocks.22",
        SourceLoc(FILE, 15), site=22 * 3 + 2,
    )
    text = tree(dataclasses.replace(result, findings=(finding,)))
    names = [line.split("  ")[0] for line in block_lines(text)]
    assert names == [f"blocks.0{DASH}21", "22", f"blocks.23{DASH}49"]
    assert "RF003 inplace-clobber" in text


def test_the_same_finding_in_every_block_keeps_the_run() -> None:
    result = stack(5)
    findings = tuple(
        Finding(
            "RF003", "inplace-clobber", "warning", f"Stack: blocks.{i} applies relu_ in place", f"blocks.{i}",
            SourceLoc(FILE, 15), site=i * 3 + 2,
        )
        for i in range(5)
    )
    lines = block_lines(tree(dataclasses.replace(result, findings=findings)))
    assert len(lines) == 1 and "1 finding each" in lines[0]


def test_runs_of_two_stay_expanded() -> None:
    # block 2 differs: blocks 0 and 1 are a run of two, printed block by block
    def third(i: int, sites: list[Site]) -> list[Site]:
        return extra_site(22, sites) if i == 2 else sites

    names = [line.split("  ")[0] for line in block_lines(tree(stack(50, third)))]
    assert names == ["0", "1", "2", f"blocks.3{DASH}49"]
    assert [line.split("  ")[0] for line in block_lines(tree(stack(2)))] == ["0", "1"]


def test_expand_prints_every_block() -> None:
    text = tree(stack(50), expand=True)
    assert [line.split("  ")[0] for line in block_lines(text)] == [str(i) for i in range(50)]
    assert TIMES not in text
    assert tree(stack(50)).splitlines()[-1] == text.splitlines()[-1]


def test_a_gap_in_the_indices_breaks_the_run() -> None:
    # blocks.3 has no site and no anchor, so it is not in the tree: 0 to 2 and 4 to 9 are two runs
    result = stack(10)
    keep = [s for s in result.sites if not s.module_path.startswith("blocks.3")]
    result = dataclasses.replace(
        result,
        sites=tuple(keep),
        modules=tuple(m for m in result.modules if not m[0].startswith("blocks.3")),
        anchors=tuple(a for a in result.anchors if not a.path.startswith("blocks.3")),
    )
    names = [line.split("  ")[0] for line in block_lines(tree(result))]
    assert names == [f"blocks.0{DASH}2", f"blocks.4{DASH}9"]


RESIDUAL_STACK = '''
import torch.nn as nn
import torch.nn.functional as F


class ResidualBlock(nn.Module):
    def __init__(self, ch=8):
        super().__init__()
        self.conv = nn.Conv1d(ch, ch, 3, padding=1)
        self.act = nn.ReLU()

    def forward(self, x):
        return F.relu(x + self.act(self.conv(x)))


class Stack(nn.Module):
    def __init__(self, n=30):
        super().__init__()
        self.stem = nn.Conv1d(1, 8, 3, padding=1)
        self.blocks = nn.Sequential(*[ResidualBlock() for _ in range(n)])

    def forward(self, x):
        return self.blocks(F.relu(self.stem(x)))
'''


def run(args: list[str]) -> tuple[int, str]:
    result = cli_runner().invoke(app, args, prog_name="relufind")
    return result.exit_code, result.stdout


def test_a_residual_stack_collapses_through_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "stack.py").write_text(RESIDUAL_STACK)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RELUFIND_NO_CACHE", "1")
    code, collapsed = run(["stack.py:Stack"])
    expand_code, expanded = run(["stack.py:Stack", "--expand"])
    assert code == expand_code == 0
    # the same summary, counting all 30 blocks' sites, in a shorter tree
    assert collapsed.splitlines()[-1] == expanded.splitlines()[-1]
    assert collapsed.splitlines()[-1].startswith("61 ReLU sites (31 function, 30 module) · 31 anchors")
    assert len(collapsed.splitlines()) < len(expanded.splitlines())
    assert len(block_lines(expanded)) == 30
    # the first blocks come after the stem, the last ones before fewer than eight convs: only
    # the middle of the stack, where each block sees eight blocks either side, is one placement
    names = [line.split("  ")[0] for line in block_lines(collapsed)]
    assert names == [*map(str, range(7)), f"blocks.7{DASH}20", *map(str, range(21, 30))]
    assert f"ResidualBlock {TIMES}14: 2 ReLU sites each, same placement" in collapsed
    # display only: the JSON document does not know about --expand
    assert run(["stack.py:Stack", "-f", "json"])[1] == run(["stack.py:Stack", "-f", "json", "--expand"])[1]
