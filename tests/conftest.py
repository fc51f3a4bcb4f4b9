"""Shared test helpers: write a model file, analyse it in-process, summarise sites."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from relufind.analyze import Options, scan_targets
from relufind.report import Report, Site, TargetResult

# the CLI caches results by default; tests that run the CLI want it to run the model each
# time (output capture, hostile models): only tests/test_cache_cli.py turns the cache on
os.environ["RELUFIND_NO_CACHE"] = "1"

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_models"

HEADER = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n"


@pytest.fixture
def write_model(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write ``code`` (dedented, with torch imports prepended) to tmp_path/<name>.py."""

    def write(code: str, name: str = "model") -> Path:
        path = tmp_path / f"{name}.py"
        path.write_text(HEADER + textwrap.dedent(code))
        return path

    return write


def analyse(target: str, **options: object) -> TargetResult:
    """Analyse one ``file.py:Name`` target in-process and return its single result."""
    report = analyse_all([target], **options)
    assert len(report.targets) == 1, report.targets
    return report.targets[0]


def analyse_all(targets: list[str], **options: object) -> Report:
    lines: list[str] = []
    return scan_targets(targets, Options(**options), diagnostics=lines.append)  # type: ignore[arg-type]


def site_keys(result: TargetResult) -> list[tuple[str, str, str]]:
    """(module_path, kind, variant) of every site, in graph order."""
    return [(s.module_path, s.kind, s.variant) for s in result.sites]


def after_anchors(site: Site) -> list[str]:
    return sorted(r.anchor for r in site.after)


def before_anchors(site: Site) -> list[str]:
    return sorted(r.anchor for r in site.before)


FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def restore_imports(tmp_path_factory: pytest.TempPathFactory) -> object:
    """Undo what loading model files does to sys.path and sys.modules after the test.

    Only modules loaded from pytest's temp folders or tests/fixtures are forgotten — never
    torch's own lazily imported submodules, even when the checkout (and its .venv) lies
    under /tmp: re-importing those registers torch operator libraries twice.
    """
    import sys

    saved_path = list(sys.path)
    before = set(sys.modules)
    roots = (str(tmp_path_factory.getbasetemp().resolve()) + "/", str(FIXTURES) + "/")
    yield
    sys.path[:] = saved_path
    for name in set(sys.modules) - before:
        file = str(getattr(sys.modules.get(name), "__file__", None) or "")
        if name.startswith("_relufind_") or file.startswith(roots):
            sys.modules.pop(name, None)


def marker_line(path: Path | str, marker: str) -> int:
    """The 1-based line of ``path`` that ends with the comment ``# site: <marker>`` (exactly one)."""
    lines = Path(path).read_text().splitlines()
    hits = [n for n, text in enumerate(lines, 1) if text.rstrip().endswith(f"# site: {marker}")]
    assert len(hits) == 1, f"marker {marker!r} found {len(hits)} times in {path}"
    return hits[0]


def cli_runner() -> CliRunner:
    """A CliRunner with stdout and stderr apart on every click: 8.2+ always keeps them apart,
    older releases (those the lowest admitted typer runs on) only with ``mix_stderr=False``."""
    try:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        return CliRunner()
