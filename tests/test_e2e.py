"""End to end, as CI runs it: `relufind .` in a small model repository, in a subprocess.

The repository has what real ones have: a `models/` package with root-relative and
relative imports, a training script that parses arguments at import, modules importing an
optional dependency the machine lacks, a tutorial script that writes files when imported,
tests, a virtual environment, build output, a git-ignored scratch folder, a class configured
with `args` in pyproject.toml, a factory, and classes left needing arguments. Every file
that is not a model writes a marker when imported: no marker may ever appear.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PYPROJECT = """
[project]
name = "speech-models"

[tool.relufind]
exclude = ["models/fused.py"]

[[tool.relufind.targets]]
target = "models/crnn.py:CRNN"
args = { channels = 4, hidden = 8 }

[[tool.relufind.targets]]
target = "models/factories.py:tiny_tacotron"
"""

TORCH = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"


def _marker(name: str) -> str:
    """Code that records that this file was imported (run), as the first thing it does."""
    return f"import pathlib; pathlib.Path(__file__).resolve().parents[0].joinpath('IMPORTED-{name}').touch()\n"


FILES = {
    "models/__init__.py": "",
    # a helper block used by the models below; analysable on its own (defaults only)
    "models/layers.py": TORCH
    + """
class ConvBlock(nn.Module):
    def __init__(self, cin: int = 4, cout: int = 4):
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, 3, padding=1)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.conv(x))
""",
    # root-relative import; configured with args in pyproject.toml
    "models/crnn.py": TORCH
    + """from models.layers import ConvBlock


class CRNN(nn.Module):
    def __init__(self, channels, hidden):
        super().__init__()
        self.block = ConvBlock(channels, channels)
        self.rnn = nn.GRU(channels, hidden, batch_first=True)

    def forward(self, x):
        x = self.block(x)
        out, _ = self.rnn(x.transpose(1, 2))
        return out
""",
    # relative import; its constructor takes an object, so a factory builds it
    "models/tacotron.py": TORCH
    + """from .layers import ConvBlock


class Tacotron(nn.Module):
    def __init__(self, hparams):
        super().__init__()
        self.prenet = ConvBlock(hparams.channels, hparams.channels)
        self.proj = nn.Linear(hparams.channels, hparams.channels)

    def forward(self, x):
        return self.proj(self.prenet(x).mean(-1))
""",
    "models/factories.py": """from types import SimpleNamespace

from .tacotron import Tacotron


def tiny_tacotron():
    return Tacotron(SimpleNamespace(channels=4))
""",
    # left needing arguments: an object-typed one and a literal one
    "models/whisper.py": TORCH
    + """from dataclasses import dataclass


@dataclass
class ModelDimensions:
    n_mels: int = 80


class AudioEncoder(nn.Module):
    def __init__(self, n_mels: int, n_state: int):
        super().__init__()
        self.conv = nn.Conv1d(n_mels, n_state, 3)

    def forward(self, x):
        return F.gelu(self.conv(x))


class Whisper(nn.Module):
    def __init__(self, dims: ModelDimensions):
        super().__init__()
        self.encoder = AudioEncoder(dims.n_mels, 8)

    def forward(self, x):
        return self.encoder(x)
""",
    # a model module that parses the command line at import, as training code often does:
    # it must see only its own path in sys.argv, never relufind's options
    "models/argparse_net.py": TORCH
    + """import argparse
import json
import pathlib
import sys

pathlib.Path(__file__).with_name("ARGV.json").write_text(json.dumps(sys.argv))
parser = argparse.ArgumentParser()
parser.add_argument("--hidden", type=int, default=4)
ARGS = parser.parse_args()


class ArgparseNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(ARGS.hidden, ARGS.hidden, 3)

    def forward(self, x):
        return F.relu(self.conv(x))
""",
    # a model file that needs an optional dependency this machine lacks: excluded in the config
    "models/fused.py": _marker("fused") + "import triton\n" + TORCH + """
class FusedAttention(nn.Module):
    def forward(self, x):
        return x
""",
    # kernels for that dependency: no nn.Module at all, so never imported
    "models/kernels.py": _marker("kernels") + "import triton\n\n\ndef relu_kernel(x):\n    return x\n",
    # a training script: argparse with a required option at import, then training
    "train.py": _marker("train")
    + """import argparse

from models.crnn import CRNN

parser = argparse.ArgumentParser()
parser.add_argument("--data", required=True)
args = parser.parse_args()


class Trainer:
    def __init__(self, model: CRNN):
        self.model = model
""",
    # a tutorial that downloads its data set when imported
    "tutorial_download.py": _marker("tutorial")
    + """import pathlib

pathlib.Path("data/MNIST").mkdir(parents=True, exist_ok=True)
""",
    # a folder of scripts, none of them a model
    "scripts/export_onnx.py": _marker("export") + "import torch\n\ntorch.onnx.export(None, None, 'model.onnx')\n",
    "setup.py": _marker("setup") + "import setuptools\nsetuptools.setup()\n",
    "tests/test_models.py": _marker("tests") + TORCH + "\nclass TestNet(nn.Module):\n    pass\n",
    "scratch/experiment.py": _marker("scratch") + TORCH + "\nclass Experiment(nn.Module):\n    pass\n",
    "build/lib/models/crnn.py": _marker("build") + TORCH + "\nclass CRNN(nn.Module):\n    pass\n",
    ".venv/lib/site.py": _marker("venv") + TORCH + "\nclass Site(nn.Module):\n    pass\n",
    "venv2/pyvenv.cfg": "home = /usr/bin\n",
    "venv2/lib/thing.py": _marker("venv2") + TORCH + "\nclass Thing(nn.Module):\n    pass\n",
    ".gitignore": "scratch/\n*.log\n",
}

#: a Linear -> ReLU -> output head: RF001 (relu-on-output) fires on it, analysed on its own
#: and again as the end of Classifier: the finding at its line is reported once per run
HEAD = TORCH + """

class ReluHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        return F.relu(self.fc(x))


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(8, 8)
        self.head = ReluHead()

    def forward(self, x):
        return self.head(self.body(x))
"""


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("e2e") / "speech-models"
    for name, code in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(code))
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / ".git").mkdir()  # the repository root: configuration discovery stops here
    return root


def relufind(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "relufind", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )


def assert_nothing_else_imported(repo: Path) -> None:
    markers = sorted(p.relative_to(repo).as_posix() for p in repo.rglob("IMPORTED-*"))
    assert markers == [], f"files that are not models (or are excluded) were imported: {markers}"
    assert not (repo / "data").exists(), "the tutorial script ran"


def titles(stdout: str) -> list[str]:
    """The first line of each target's report (model, target, status)."""
    blocks = stdout.strip("\n").split("\n\n")
    return [block.splitlines()[0] for block in blocks]


def test_ci_run_on_the_repository_is_clean(repo: Path) -> None:
    done = relufind(repo, ".")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    assert_nothing_else_imported(repo)
    # configured models first; Tacotron is built by the tiny_tacotron factory, so it is analysed
    # once (as tiny_tacotron), not also reported as skipped for want of its hparams object
    assert titles(done.stdout) == [
        "CRNN  models/crnn.py:CRNN  built on meta",
        "tiny_tacotron  models/factories.py:tiny_tacotron  built on meta",
        "ArgparseNet  models/argparse_net.py:ArgparseNet  built on meta",
        "ConvBlock  models/layers.py:ConvBlock  built on meta",
        "AudioEncoder  models/whisper.py:AudioEncoder  skipped: needs arguments n_mels, n_state: add this "
        "[[tool.relufind.targets]] entry to pyproject.toml",
        "Whisper  models/whisper.py:Whisper  skipped: needs arguments dims; dims is an object no --arg or "
        "pyproject.toml value can give: write a factory function that builds it and name it in "
        "[[tool.relufind.targets]]",
        "6 targets: 4 ok, 2 skipped · 4 ReLU sites",
    ]
    lines = done.stdout.splitlines()
    # each skip names the exact entry to add, with the missing argument names
    encoder = lines.index(titles(done.stdout)[4])
    assert lines[encoder + 1 : encoder + 4] == [
        "    [[tool.relufind.targets]]",
        '    target = "models/whisper.py:AudioEncoder"',
        "    args = { n_mels = <int>, n_state = <int> }",
    ]
    whisper = lines.index(titles(done.stdout)[5])
    assert lines[whisper + 1 : whisper + 3] == [
        "    [[tool.relufind.targets]]",
        '    target = "models/whisper.py:build_whisper"  # a function you write: return Whisper(dims=...)',
    ]
    # model code saw its own path as the command line, not relufind's options
    # (as `python models/argparse_net.py` would, from the repository root)
    assert json.loads((repo / "models" / "ARGV.json").read_text()) == ["models/argparse_net.py"]


def test_json_says_why_each_target_is_there(repo: Path) -> None:
    done = relufind(repo, ".", "--format", "json")
    assert done.returncode == 0, done.stderr
    targets = json.loads(done.stdout)["targets"]  # stdout is exactly one document
    origins = {t["target"]: (t["status"], t["origin"]) for t in targets}
    assert origins["models/crnn.py:CRNN"] == (
        "ok", "inside .: pyproject.toml [[tool.relufind.targets]] entry 1"
    )
    assert origins["models/factories.py:tiny_tacotron"] == (
        "ok", "inside .: pyproject.toml [[tool.relufind.targets]] entry 2"
    )
    assert origins["models/layers.py:ConvBlock"] == ("ok", "found in .: an nn.Module subclass at line 5")
    (whisper,) = [t for t in targets if t["model"] == "Whisper"]
    assert whisper["needs_args"] == ["dims"]
    assert whisper["config_hint"].startswith("[[tool.relufind.targets]]\n")
    assert_nothing_else_imported(repo)


def test_no_target_analyses_the_configured_entries(repo: Path) -> None:
    done = relufind(repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert titles(done.stdout) == [
        "CRNN  models/crnn.py:CRNN  built on meta",
        "tiny_tacotron  models/factories.py:tiny_tacotron  built on meta",
        "2 targets: 2 ok · 2 ReLU sites",
    ]
    assert_nothing_else_imported(repo)


def test_strict_makes_a_skip_exit_2(repo: Path) -> None:
    done = relufind(repo, ".", "--strict")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "relufind: error: 2 targets skipped, an error under --strict; "
        "add [[tool.relufind.targets]] entries for them (see above)"
    ]
    assert_nothing_else_imported(repo)


def test_a_run_that_analysed_nothing_exits_2(repo: Path) -> None:
    done = relufind(repo, "models/whisper.py")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "relufind: error: nothing was analysed: 2 targets skipped; "
        "add [[tool.relufind.targets]] entries for them (see above)"
    ]
    done = relufind(repo, "scripts/")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "relufind: error: nothing to analyse: no nn.Module subclass found in scripts/ "
        "(files are read with ast; only those that define one are imported); name a class as "
        "file.py:Name or list it in [[tool.relufind.targets]]"
    ]
    # files named one by one (a pre-commit hook's changed files), none a model: a pass
    done = relufind(repo, "models/kernels.py", "train.py")
    assert done.returncode == 0
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "relufind: note: no nn.Module subclass in the files named; nothing to analyse"
    ]
    assert_nothing_else_imported(repo)


def test_files_named_one_by_one_obey_exclude_gitignore_and_test_names(repo: Path) -> None:
    # as a pre-commit hook runs it: every changed file on the command line
    files = ["models/fused.py", "tests/test_models.py", "scratch/experiment.py", "setup.py", "models/layers.py"]
    done = relufind(repo, *files)
    assert done.returncode == 0, done.stdout + done.stderr
    assert titles(done.stdout) == ["ConvBlock  models/layers.py:ConvBlock  built on meta"]
    assert_nothing_else_imported(repo)


def test_excluded_file_named_on_the_command_line_would_fail_with_the_fix(repo: Path) -> None:
    # --exclude and [tool.relufind] exclude keep files out of discovery; a file named with
    # its class is still imported, and the missing dependency is one line naming the fix
    done = relufind(repo, "models/fused.py:FusedAttention")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "relufind: error: models/fused.py:FusedAttention: importing models/fused.py failed: "
        "no module named 'triton'; install it or make it importable"
    ]
    (repo / "models" / "IMPORTED-fused").unlink()


def test_findings_exit_1_once_per_line_and_exclude_flag(repo: Path) -> None:
    (repo / "models" / "head.py").write_text(HEAD)
    try:
        done = relufind(repo, ".", "--format", "json")
        assert done.returncode == 1, done.stdout + done.stderr
        targets = {t["model"]: t for t in json.loads(done.stdout)["targets"]}
        findings = [(model, f["code"], f["source"]) for model, t in targets.items() for f in t["findings"]]
        # ReluHead is a block of Classifier: RF001 is judged in Classifier, once for the line
        assert findings == [("Classifier", "RF001", {"file": "models/head.py", "line": 12})]
        assert targets["Classifier"]["status"] == "ok"
        assert relufind(repo, ".", "--exit-zero").returncode == 0
        assert relufind(repo, ".", "--exclude", "models/head.py").returncode == 0
    finally:
        (repo / "models" / "head.py").unlink()
    assert_nothing_else_imported(repo)
