"""RF001 on a helper block is judged in the model that uses it, not on the block alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

MODELS = '''
import torch.nn as nn
import torch.nn.functional as F


class Head(nn.Module):  # a hidden layer of Net: its ReLU is not on Net's output
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(8, 8)

    def forward(self, x):
        return F.relu(self.proj(x))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = Head()
        self.classifier = nn.Linear(8, 3)

    def forward(self, x):
        return self.classifier(self.head(x))


class Clipped(nn.Module):  # a model of its own that clips its logits
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        return F.relu(self.fc(x))


class ClippedDeeper(Clipped):  # a subclass does not make its base a block
    pass
'''


def rf001(tmp_path: Path, *targets: str) -> dict[str, int]:
    (tmp_path / "models.py").write_text(MODELS)
    done = subprocess.run(
        [sys.executable, "-m", "relufind", *targets, "--format", "json", "--select", "RF001"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert done.returncode in (0, 1), done.stderr
    return {t["model"]: len(t["findings"]) for t in json.loads(done.stdout)["targets"]}


def test_a_block_used_by_another_model_of_the_run_is_judged_there(tmp_path: Path) -> None:
    # ClippedDeeper shares Clipped's line: a finding at one line is reported once per run
    assert rf001(tmp_path, "models.py") == {"Head": 0, "Net": 0, "Clipped": 1, "ClippedDeeper": 0}


def test_a_block_named_on_the_command_line_is_judged_on_its_own(tmp_path: Path) -> None:
    assert rf001(tmp_path, "models.py:Head") == {"Head": 1}
