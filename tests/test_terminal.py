"""Terminal behaviour: results stream as each target finishes, progress shows only on a
terminal's stderr, and every error is printed once wherever the streams go."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import HEADER, analyse_all

from relufind.analyze import Options, scan_targets
from relufind.render.tree import Stream
from relufind.render.tree import render as render_tree

pytestmark = pytest.mark.usefixtures("restore_imports")

MODELS = """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 4, 1)

    def forward(self, x):
        return F.relu(self.conv(x))


class Broken(nn.Module):
    def __init__(self):
        super().__init__()
        raise ValueError("depth must be even")

    def forward(self, x):
        return x


class Other(nn.Module):
    def forward(self, x):
        return x.relu()
"""

ERROR_LINE = (
    "relufind: error: models.py:Broken: Broken(...) raised ValueError: depth must be even; give it working "
    'arguments in a [[tool.relufind.targets]] entry (target = "models.py:Broken", args = { ... })'
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "models.py").write_text(HEADER + textwrap.dedent(MODELS))
    return tmp_path


def test_each_result_is_delivered_before_the_next_target_starts(project: Path) -> None:
    events: list[str] = []
    report = scan_targets(
        [str(project / "models.py")],
        Options(),
        on_result=lambda r: events.append(f"result {r.model} {r.status}"),
        on_progress=lambda done, total, target: events.append(f"start {done}/{total} {target.rpartition(':')[2]}"),
    )
    assert events == [
        "start 0/3 Net",
        "result Net ok",
        "start 1/3 Broken",
        "result Broken error",
        "start 2/3 Other",
        "result Other ok",
    ]
    assert [t.model for t in report.targets] == ["Net", "Broken", "Other"]


def test_streamed_tree_is_exactly_the_tree_of_the_whole_report(project: Path) -> None:
    report = analyse_all([str(project / "models.py")])
    out = io.StringIO()
    stream = Stream(out)
    for result in report.targets:
        stream.result(result)
    stream.end(report)
    assert out.getvalue() == render_tree(report)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "COLUMNS", "TTY_COMPATIBLE")}
    return {**env, "NO_COLOR": "1", "TERM": "xterm-256color"}


def _run_with_pty(args: list[str], cwd: Path, pty_for: str) -> tuple[str, str, int]:
    """Run relufind with stdout or stderr on a pseudo-terminal; (terminal text, other stream, rc)."""
    master, slave = pty.openpty()
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, pty_for: slave}
    proc = subprocess.Popen(
        [sys.executable, "-m", "relufind", *args], cwd=cwd, env=_env(), **streams  # type: ignore[call-overload]
    )
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    out, err = proc.communicate(timeout=120)
    other = (err if pty_for == "stdout" else out).decode()
    return b"".join(chunks).decode(errors="replace"), other, proc.returncode


def test_progress_shows_on_a_terminal_stderr_and_is_erased(project: Path) -> None:
    terminal, stdout, code = _run_with_pty(["models.py", "--format", "json"], project, "stderr")
    assert code == 2
    assert "analysing models.py:Net" in terminal
    assert "3/3" in terminal or "2/3" in terminal
    # the error line, once, on a line of its own (the bar is erased while it is written)
    assert f"\x1b[2K{ERROR_LINE}\n" in terminal.replace("\r\n", "\n")
    assert terminal.count("raised ValueError") == 1
    assert terminal.endswith("\x1b[2K")  # the bar erased at the end: the terminal is left clean
    assert stdout.startswith("{")  # the JSON document is untouched


def test_tree_on_a_terminal_shows_each_error_once_and_stderr_stays_empty(project: Path) -> None:
    terminal, stderr, code = _run_with_pty(["models.py"], project, "stdout")
    assert code == 2
    assert stderr == ""
    assert terminal.count("raised ValueError: depth must be even") == 1
    assert "Broken  models.py:Broken  error (ConstructorError)" in terminal


def _run(args: list[str], cwd: Path, **streams: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "relufind", *args], cwd=cwd, env=_env(), text=True, timeout=120, **streams
    )


def test_piped_runs_show_no_progress_and_each_error_once(project: Path) -> None:
    # stdout and stderr to separate pipes: the tree has the error, and stderr its one line
    # (a person reading a terminal while stdout goes to a file sees it there)
    done = _run(["models.py"], project, capture_output=True)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [ERROR_LINE]
    assert "analysing" not in done.stderr
    # both into one pipe (2>&1, as many CI logs are): the error is printed once, in the tree
    done = _run(["models.py"], project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert done.stdout.count("raised ValueError: depth must be even") == 1
    assert ERROR_LINE not in done.stdout
