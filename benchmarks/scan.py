"""Big scans: per-target overhead and memory over a generated folder of 1,000 model classes.

    .venv/bin/python benchmarks/scan.py [--classes 1000]

Generates 100 files of 10 small conv / recurrent / MLP classes each in a temporary folder,
analyses them in one process, 100 targets at a time, and prints after every 100 targets the
time per target and the process's current and peak resident memory. Memory that grows from
block to block is memory one target's analysis kept after it was done.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TEMPLATE = '''
import torch
import torch.nn as nn
import torch.nn.functional as F


class Conv{i}(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, {w}, 3, padding=1), nn.BatchNorm2d({w}), nn.ReLU(inplace=True))
        self.head = nn.Linear({w}, 10)

    def forward(self, x):
        x = self.body(x)
        return self.head(F.adaptive_avg_pool2d(x, 1).flatten(1))


class Rec{i}(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(8, {w}, 5, padding=2)
        self.rnn = nn.GRU({w}, {w}, batch_first=True)
        self.fc = nn.Linear({w}, 4)

    def forward(self, x):
        x = F.relu(self.conv(x)).transpose(1, 2)
        x, _ = self.rnn(x)
        return self.fc(torch.relu(x[:, -1]))


class Mlp{i}(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear({w}, {w}) for _ in range(4))

    def forward(self, x):
        for layer in self.layers:
            x = layer(x).clamp(min=0)
        return x
'''


def generate(folder: Path, classes: int) -> list[str]:
    targets = []
    for i in range(0, classes, 3):
        path = folder / f"model_{i:04d}.py"
        path.write_text(TEMPLATE.format(i=i, w=8 + i % 24))
        targets += [f"{path}:{name}{i}" for name in ("Conv", "Rec", "Mlp")]
    return targets[:classes]


def current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * 4096 / 2**20


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--classes", type=int, default=1000)
    args = parser.parse_args()
    import resource

    from relufind.analyze import Options, scan_targets

    with tempfile.TemporaryDirectory() as tmp:
        targets = generate(Path(tmp), args.classes)
        scan_targets(targets[:3], Options(), diagnostics=lambda line: None)  # warm-up: torch, rich
        print(f"{'targets':>8} {'ms/target':>10} {'RSS MB':>8} {'peak MB':>8} {'sites':>7}")
        sites = 0
        for start in range(0, len(targets), 100):
            chunk = targets[start : start + 100]
            times = []
            for target in chunk:
                began = time.perf_counter()
                report = scan_targets([target], Options(), diagnostics=lambda line: None)
                times.append((time.perf_counter() - began) * 1000)
                sites += sum(len(t.sites) for t in report.targets)
                assert all(t.status == "ok" for t in report.targets), report.targets
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"{start + len(chunk):8d} {statistics.median(times):10.1f} {current_rss_mb():8.0f} "
                f"{peak:8.0f} {sites:7d}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
