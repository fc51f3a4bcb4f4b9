"""Hostile inputs: every one is a clear one-line error (or a correct analysis), and the
other targets of the same run still complete.

The fixture files are in tests/hostile/; files whose names or bytes are awkward to keep in
a repository (non-UTF-8 source, colons and spaces in names) are written at test time.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
import torch
from conftest import ROOT
from oracle import compare, record

from relufind.analyze import Options, scan_targets
from relufind.report import Report, TargetResult

HOSTILE = Path(__file__).resolve().parent / "hostile"
GOOD = f"{HOSTILE / 'good.py'}:Good"
ALSO_GOOD = f"{HOSTILE / 'good.py'}:AlsoGood"
TIMEOUT = 2.0


def run(targets: Sequence[str], **options: object) -> tuple[Report, list[str]]:
    """scan_targets in-process; the report and the diagnostic lines it wrote."""
    lines: list[str] = []
    report = scan_targets(list(targets), Options(**options), diagnostics=lines.append)  # type: ignore[arg-type]
    return report, lines


def by_target(report: Report) -> dict[str, TargetResult]:
    return {t.target: t for t in report.targets}


def assert_good_complete(report: Report) -> None:
    """The well-behaved targets of a hostile run were analysed in full."""
    results = by_target(report)
    good, also = results[GOOD], results[ALSO_GOOD]
    assert good.status == "ok" and [(s.module_path, s.kind) for s in good.sites] == [
        ("act", "module"),
        ("", "function"),
    ]
    assert also.status == "ok" and sorted((s.module_path, s.kind) for s in also.sites) == [
        ("", "clamp"),
        ("rnn", "embedded"),
    ]


def assert_one_line_errors(report: Report, lines: list[str]) -> None:
    """Each error is one line in the report (the CLI prints it once); nothing printed below the CLI."""
    assert lines == [], lines
    for result in (t for t in report.targets if t.status == "error"):
        assert result.error is not None
        assert "\n" not in result.error.message and "Traceback" not in result.error.message


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The real command line in a subprocess, run from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "relufind", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env if env is not None else dict(os.environ),
        timeout=timeout,
    )


# -- loops: a per-target timeout ------------------------------------------------------------------

LOOPS = [
    f"{HOSTILE / 'loop_import.py'}",
    f"{HOSTILE / 'loops.py'}:LoopInInit",
    f"{HOSTILE / 'loops.py'}:SwallowingLoop",
    f"{HOSTILE / 'loops.py'}:LoopInForward",
]


def test_endless_loops_time_out_and_the_run_moves_on() -> None:
    start = time.monotonic()
    report, lines = run([GOOD, *LOOPS, ALSO_GOOD], timeout=TIMEOUT)
    elapsed = time.monotonic() - start
    results = by_target(report)
    for target in LOOPS:
        result = results[target]
        assert result.status == "error" and result.error is not None, result
        assert result.error.type == "Timeout"
        assert f"{TIMEOUT:g} s" in result.error.message and "--timeout" in result.error.message
    assert_good_complete(report)
    assert_one_line_errors(report, lines)
    assert report.exit_code == 2
    assert elapsed < len(LOOPS) * TIMEOUT + 20, f"took {elapsed:.1f} s"


def test_timeout_is_generous_by_default() -> None:
    from relufind.cli import main_command

    default = inspect.signature(main_command).parameters["timeout"].default
    assert default >= 60, default
    assert Options().timeout is None  # the Python API never times out unless asked


def test_cli_timeout_reports_error_and_continues() -> None:
    done = cli(LOOPS[1], GOOD, "--timeout", str(TIMEOUT), "--format", "json")
    assert done.returncode == 2, done.stderr
    document = json.loads(done.stdout)
    statuses = {t["target"]: (t["status"], (t["error"] or {}).get("type")) for t in document["targets"]}
    assert statuses == {LOOPS[1]: ("error", "Timeout"), GOOD: ("ok", None)}
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"relufind: error: {LOOPS[1]}: {document['targets'][0]['error']['message']}"
    ]


# -- sys.exit and other BaseExceptions -----------------------------------------------------------

def test_exit_and_base_exceptions_are_errors() -> None:
    exits = HOSTILE / "exits.py"
    report, lines = run([GOOD, str(HOSTILE / "exit_import.py"), str(exits), ALSO_GOOD], timeout=30)
    results = by_target(report)
    expected = {
        str(HOSTILE / "exit_import.py"): "sys.exit(3)",
        f"{exits}:ExitInInit": "sys.exit(4)",
        f"{exits}:ExitInForward": "sys.exit(forward refuses to run)",
        f"{exits}:BuiltinExit": "sys.exit(None)",
        f"{exits}:RaisesBaseException": "Abort: constructor aborted",
        f"{exits}:RaisesBaseExceptionInForward": "Abort: forward aborted",
    }
    for target, text in expected.items():
        result = results[target]
        assert result.status == "error" and result.error is not None, (target, result.status)
        assert text in result.error.message, result.error
    assert_good_complete(report)
    assert_one_line_errors(report, lines)


# -- output to stdout ----------------------------------------------------------------------------

@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
def test_model_printing_to_stdout_keeps_json_valid(unbuffered: bool) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    noisy = f"{HOSTILE / 'noisy.py'}:Noisy"
    done = cli(noisy, GOOD, "--format", "json", "--exit-zero", env=env)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)  # nothing the model wrote is on stdout
    assert "noisy:" not in done.stdout
    assert [t["status"] for t in document["targets"]] == ["ok", "ok"]
    assert [(s["module_path"], s["kind"]) for s in document["targets"][0]["sites"]] == [
        ("act", "module"),
        ("", "function"),
    ]
    # what the model wrote below Python (fd 1, C stdio) is not lost: it went to stderr
    assert "noisy: os.write(1) at import" in done.stderr


def test_model_closing_its_streams() -> None:
    report, lines = run([str(HOSTILE / "closes_streams.py"), GOOD, ALSO_GOOD])
    closer = by_target(report)[f"{HOSTILE / 'closes_streams.py'}:Closer"]
    assert closer.status == "ok" and [s.kind for s in closer.sites] == ["method"]
    assert_good_complete(report)
    assert not lines
    print("the test's own stdout still works")


def test_model_changing_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    good = "tests/hostile/good.py:Good"
    report, lines = run(["tests/hostile/chdir.py", good])
    assert [t.status for t in report.targets] == ["ok", "ok"], (report.targets, lines)
    assert Path.cwd() == ROOT


# -- deep nesting ----------------------------------------------------------------------------------

def test_deeply_nested_model_is_a_clear_error_not_a_crash() -> None:
    deep = HOSTILE / "deep.py"
    report, lines = run([GOOD, f"{deep}:DeepNest", f"{deep}:Shallow", ALSO_GOOD], timeout=60)
    result = by_target(report)[f"{deep}:DeepNest"]
    if result.status == "error":
        assert result.error is not None and result.error.type == "RecursionError", result.error
        assert "nested too deeply" in result.error.message
    else:  # analysed after all: then the one ReLU at the bottom is found
        assert [(s.module_path.rsplit(".", 1)[-1], s.variant) for s in result.sites] == [("inner", "relu")]
    assert by_target(report)[f"{deep}:Shallow"].status == "ok"
    assert_good_complete(report)
    assert_one_line_errors(report, lines)


def test_deeply_nested_model_on_the_command_line() -> None:
    done = cli(f"{HOSTILE / 'deep.py'}:DeepNest", GOOD, "--format", "json")
    document = json.loads(done.stdout)
    assert [t["status"] for t in document["targets"]][1] == "ok"
    assert "Traceback" not in done.stderr and "RecursionError:" not in done.stderr
    assert all(line.startswith("relufind: error: ") for line in done.stderr.strip().splitlines()), done.stderr


@pytest.mark.parametrize("depth", [20, 100, 200])
def test_nesting_a_model_can_run_with_is_analysed(depth: int) -> None:
    """Depths a forward pass survives: the ReLU at the bottom is found."""
    report, _ = run([f"{HOSTILE / 'deep.py'}:DeepNest"], args={"depth": depth})
    result = report.targets[0]
    assert result.status in ("ok", "partial"), result.error
    assert [s.variant for s in result.sites] == ["relu"]
    assert result.sites[0].module_path == ".".join(["body", *["inner"] * depth])


# -- source files that are not UTF-8 ---------------------------------------------------------------

NET = "import torch.nn as nn\n{extra}class Net(nn.Module):\n    def forward(self, x):\n        return x.relu()\n"


def _write(path: Path, data: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


def test_non_utf8_sources(tmp_path: Path) -> None:
    bad_literal = _write(tmp_path / "latin1_literal.py", NET.format(extra='NAME = "caf\xe9"\n').encode("latin-1"))
    declared = _write(
        tmp_path / "declared.py",
        ("# -*- coding: latin-1 -*-\n" + NET.format(extra='NAME = "caf\xe9"  # r\xe9sum\xe9\n')).encode("latin-1"),
    )
    bom = _write(tmp_path / "bom.py", b"\xef\xbb\xbf" + NET.format(extra="").encode())
    utf16 = _write(tmp_path / "utf16.py", NET.format(extra="").encode("utf-16"))
    report, lines = run([GOOD, bad_literal, declared + ":Net", bom + ":Net", utf16, ALSO_GOOD])
    results = by_target(report)
    for target in (bad_literal, utf16):
        result = results[target]
        assert result.status == "error" and result.error is not None, result
        assert result.error.type == "SyntaxError" and target in result.error.message, result.error
    for target in (declared, bom):  # valid Python in another encoding: analysed
        text = Path(target).read_bytes().decode("latin-1")
        line = text.splitlines().index("        return x.relu()") + 1
        result = results[target + ":Net"]
        assert result.status == "ok", result.error
        assert [(s.kind, s.source.line if s.source else None) for s in result.sites] == [("method", line)]
    assert_good_complete(report)
    assert_one_line_errors(report, lines)


def test_untraceable_region_in_a_non_utf8_file(tmp_path: Path) -> None:
    source = (
        "import torch.nn as nn\nimport torch.nn.functional as F\n# caf\xe9\n"
        "class Gate(nn.Module):\n    def forward(self, x):\n        if x.sum() > 0:\n"
        "            return F.relu(x)\n        return x\n"
        "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.gate = Gate()\n"
        "    def forward(self, x):\n        return self.gate(x).relu()\n"
    )
    path = tmp_path / "latin1_gate.py"
    path.write_bytes(source.encode("latin-1"))
    report, _ = run([f"{path}:Net"])
    result = report.targets[0]
    namespace: dict[str, object] = {}
    exec(compile(path.read_bytes(), str(path), "exec"), namespace)
    calls = record(namespace["Net"](), (torch.ones(2, 3),))  # type: ignore[operator]
    problems = compare(
        calls,
        [(s.module_path, s.kind, s.variant, s.region is None) for s in result.sites],
        untraced=[u.module_path for u in result.untraced],
    )
    assert not problems, problems


# -- odd characters in target names ----------------------------------------------------------------

def test_odd_target_names(tmp_path: Path) -> None:
    model = NET.format(extra="").encode()
    spaced = _write(tmp_path / "with space" / "my model.py", model)
    accented = _write(tmp_path / "mödel ü" / "ñet 模型.py", model)
    colon = _write(tmp_path / "a:b.py", model)
    analysed = [f"{spaced}:Net", f"{accented}:Net", accented, f"{colon}:Net"]
    clear_errors = [
        f"{spaced}:Net:Extra",  # ':' twice
        f"{spaced}::Net",
        f"{spaced}:",
        ":Net",
        f"{spaced}:Net ",
        f"{spaced}:Ne t",
        f"{spaced}:1Net",
        f"{tmp_path / 'missing'}\x01.py:Net",
        "not.a.module.at.all:Net",
        "",
    ]
    report, lines = run([GOOD, *analysed, *clear_errors, ALSO_GOOD])
    assert_good_complete(report)
    results = by_target(report)
    for target in analysed:
        result = results[target if target.endswith(":Net") else f"{target}:Net"]
        assert result.status == "ok" and [s.kind for s in result.sites] == ["method"], (target, result)
    for target in clear_errors:
        result = results[target]
        assert result.status == "error" and result.error is not None, (target, result.status)
    assert_one_line_errors(report, lines)


def test_file_target_with_a_colon_in_its_name(tmp_path: Path) -> None:
    colon = _write(tmp_path / "a:b.py", NET.format(extra="").encode())
    report, _ = run([colon])
    assert [(t.status, len(t.sites)) for t in report.targets] == [("ok", 1)]


def test_unicode_class_name(tmp_path: Path) -> None:
    path = _write(tmp_path / "uni.py", NET.replace("class Net", "class Ünet").format(extra="").encode())
    report, _ = run([f"{path}:Ünet"])
    assert [(t.status, len(t.sites)) for t in report.targets] == [("ok", 1)]
