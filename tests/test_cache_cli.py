"""The result cache and --jobs through the CLI, as CI runs them: a second run on an unchanged
repository answers without importing torch; an edit re-analyses exactly the targets that
import the edited file; workers keep the output order and survive a crashing target."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

#: runs the CLI and says on stderr whether torch was imported
RUN = textwrap.dedent(
    """
    import sys
    from relufind.launch import main
    sys.argv = ["relufind", *sys.argv[1:]]
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    sys.stderr.write(f"TORCH={'torch' in sys.modules} TYPER={'typer' in sys.modules}\\n")
    sys.exit(code)
    """
)

LAYERS = """
import torch.nn as nn

open("imports.log", "a").write("layers\\n")


class ConvBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 4, 3, padding=1)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.conv(x))
"""

NET = """
import torch.nn as nn
from models.layers import ConvBlock

open("imports.log", "a").write("net\\n")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = ConvBlock()
        self.rnn = nn.GRU(4, 4, batch_first=True)

    def forward(self, x):
        y, _ = self.rnn(self.block(x).transpose(1, 2))
        return y
"""

OTHER = """
import torch
import torch.nn as nn

open("imports.log", "a").write("other\\n")


class Other(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)

    def forward(self, x):
        return torch.relu(self.conv(x)).mean()
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text('[tool.relufind]\nselect = ["RF0"]\n')
    models = tmp_path / "models"
    models.mkdir()
    (models / "__init__.py").write_text("")
    (models / "layers.py").write_text(LAYERS)
    (models / "net.py").write_text(NET)
    (models / "other.py").write_text(OTHER)
    return tmp_path


def relufind(
    repo: Path, *args: str, codes: tuple[int, ...] = (0, 1)
) -> tuple[dict, bool, subprocess.CompletedProcess[str]]:
    env = {k: v for k, v in os.environ.items() if k != "RELUFIND_NO_CACHE"}
    done = subprocess.run(
        [sys.executable, "-c", RUN, "models/", "--format", "json", *args],
        capture_output=True, text=True, cwd=repo, env=env, timeout=300,
    )
    assert done.returncode in codes, done.stderr
    return json.loads(done.stdout), "TORCH=True" in done.stderr, done


def test_a_cached_rerun_loads_neither_torch_nor_typer(repo: Path) -> None:
    """The console script reads a plain command line itself (relufind.argv): a cached CI run
    never pays typer's start-up either."""
    relufind(repo)
    _, torch_loaded, done = relufind(repo)
    assert not torch_loaded and "TYPER=False" in done.stderr, done.stderr


def imports(repo: Path) -> list[str]:
    log = repo / "imports.log"
    lines = log.read_text().split() if log.exists() else []
    log.unlink(missing_ok=True)
    return lines


def summary(document: dict) -> list[tuple[str, str, int]]:
    return [(t["target"], t["status"], len(t["sites"])) for t in document["targets"]]


def test_an_unchanged_repository_is_answered_from_the_cache_without_torch(repo: Path) -> None:
    first, torch_first, _ = relufind(repo)
    assert torch_first and sorted(imports(repo)) == ["layers", "net", "other"]
    second, torch_second, _ = relufind(repo)
    assert not torch_second  # nothing imported: not torch, not the model files
    assert imports(repo) == []
    assert second == first
    assert (repo / ".relufind_cache" / ".gitignore").read_text().splitlines()[-1] == "*"


def test_an_edit_reanalyses_exactly_the_targets_that_import_the_file(repo: Path) -> None:
    first, _, _ = relufind(repo)
    imports(repo)
    layers = repo / "models" / "layers.py"
    twice = layers.read_text().replace("self.act(self.conv(x))", "self.act(self.act(self.conv(x)))")
    layers.write_text(twice)
    second, torch_imported, _ = relufind(repo)
    assert torch_imported
    # layers.py itself (ConvBlock) and net.py (imports it) again; other.py from the cache
    assert sorted(imports(repo)) == ["layers", "net"]
    sites = {t["model"]: len(t["sites"]) for t in second["targets"]}
    assert sites == {"ConvBlock": 2, "Net": 2, "Other": 1}
    assert [t for t in second["targets"] if t["model"] == "Other"] == [
        t for t in first["targets"] if t["model"] == "Other"
    ]


def test_options_are_part_of_the_key_and_no_cache_reads_nothing(repo: Path) -> None:
    relufind(repo)
    imports(repo)
    relufind(repo, "--variants")  # another analysis: not answered from the default run's entries
    assert sorted(imports(repo)) == ["layers", "net", "other"]
    relufind(repo, "--no-cache")
    assert sorted(imports(repo)) == ["layers", "net", "other"]


def test_a_damaged_entry_is_never_trusted(repo: Path) -> None:
    first, _, _ = relufind(repo)
    imports(repo)
    for entry in (repo / ".relufind_cache").glob("*/*.json"):
        entry.write_text('{"format": 1, "key": "x", "files": {}, "payload": {"result": "os.system"}}')
    second, torch_imported, _ = relufind(repo)
    assert torch_imported and second == first
    third, torch_third, _ = relufind(repo)  # rewritten: whole again
    assert not torch_third and third == first


CRASHER = """
import os
import torch.nn as nn


class Crasher(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        os._exit(3)  # what a segfault in an extension looks like
"""


def test_jobs_keep_the_order_and_a_crash_costs_only_its_target(repo: Path) -> None:
    serial, _, _ = relufind(repo, "--no-cache")
    parallel, _, _ = relufind(repo, "--no-cache", "--jobs", "2")
    assert parallel == serial
    (repo / "models" / "crash.py").write_text(CRASHER)
    document, _, done = relufind(repo, "--no-cache", "--jobs", "2", codes=(2,))
    by_model = {t["model"]: t for t in document["targets"]}
    assert by_model["Crasher"]["status"] == "error"
    assert by_model["Crasher"]["error"]["type"] == "WorkerFailed"
    assert "exit code 3" in by_model["Crasher"]["error"]["message"]
    assert summary(document) == [("models/crash.py:Crasher", "error", 0), *summary(serial)]
    assert {m: t["status"] for m, t in by_model.items()} == {
        "ConvBlock": "ok", "Net": "ok", "Other": "ok", "Crasher": "error"
    }
    assert done.stderr.count("models/crash.py:Crasher") == 1
