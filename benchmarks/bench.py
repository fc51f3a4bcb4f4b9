"""Whole-process timing of relufind against the floor, and in-process stage timing.

The floor is what any tool must pay: a fresh process that imports torch, builds the same
model on ``meta`` and runs a bare ``torch.fx.symbolic_trace``. relufind is timed as a user
runs it: ``relufind file.py:Class --format json`` in a fresh process. Medians of --runs.

    .venv/bin/python benchmarks/bench.py [--runs 5]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TARGETS = [
    "sample_models/placements.py:ConvRNNClassifier",
    "benchmarks/models.py:ResNet50",
    "benchmarks/models.py:ResNet152",
    "benchmarks/models.py:SpeechEncoder",
    "benchmarks/models.py:Giant",
    "sample_models/untraceable.py:DataDependentBranch",
]
FLOOR = """
import importlib.util, sys, torch, torch.fx
path, name = sys.argv[1].rsplit(":", 1)
spec = importlib.util.spec_from_file_location("m", path)
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
with torch.device("meta"):
    model = getattr(module, name)()
try:
    torch.fx.symbolic_trace(model)
except Exception as exc:
    print("trace failed:", type(exc).__name__, file=sys.stderr)
"""


def timed(cmd: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS of the child in MB, stdout."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    return elapsed, peak_mb, proc.stdout


def median_time(cmd: list[str], runs: int) -> float:
    return statistics.median(timed(cmd)[0] for _ in range(runs))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    python, relufind = str(BIN / "python"), str(BIN / "relufind")
    import_torch = median_time([python, "-c", "import torch"], args.runs)
    print(f"python -c 'import torch': {import_torch:.2f} s (median of {args.runs})\n")
    print(f"{'target':52} {'floor':>7} {'relufind':>9} {'ratio':>6} {'sites':>6} {'status':>8}")
    for target in TARGETS:
        floor = median_time([python, "-c", FLOOR, target], args.runs)
        ours = median_time([relufind, target, "--format", "json"], args.runs)
        _, _, out = timed([relufind, target, "--format", "json"])
        result = json.loads(out)["targets"][0]
        print(
            f"{target:52} {floor:6.2f}s {ours:8.2f}s {ours / floor:5.2f}x "
            f"{len(result['sites']):6d} {result['status']:>8}"
        )
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    print(f"\npeak RSS of any child process: {peak} MB\n")
    in_process(args.runs)
    return 0


def in_process(runs: int) -> None:
    """The same comparison without process start-up and `import torch`: analysis cost alone."""
    import importlib.util

    import torch
    import torch.fx

    from relufind.analyze import Options, scan_targets

    print(f"{'in-process (median ms)':52} {'build+fx':>9} {'relufind':>9} {'ratio':>6}")
    for target in TARGETS:
        path, name = target.rsplit(":", 1)
        spec = importlib.util.spec_from_file_location(f"bench_{Path(path).stem}", ROOT / path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)

        def floor(module=module, name=name) -> None:  # type: ignore[no-untyped-def]
            with torch.device("meta"):
                model = getattr(module, name)()
            with contextlib.suppress(Exception):  # untraceable models: the floor is the attempt
                torch.fx.symbolic_trace(model)

        def ours(target=target) -> None:  # type: ignore[no-untyped-def]
            scan_targets([str(ROOT / target)], Options(), diagnostics=lambda line: None)

        floor_ms = median_ms(floor, runs)
        ours_ms = median_ms(ours, runs)
        print(f"{target:52} {floor_ms:8.0f} {ours_ms:9.0f} {ours_ms / floor_ms:5.2f}x")


def median_ms(function, runs: int = 7) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


if __name__ == "__main__":
    sys.exit(main())
