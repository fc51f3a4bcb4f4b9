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
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # scan.py: the generated folder
BIN = Path(sys.executable).parent
TARGETS = [
    "sample_models/placements.py:ConvRNNClassifier",
    "benchmarks/models.py:ResNet50",
    "benchmarks/models.py:ResNet152",
    "benchmarks/models.py:SpeechEncoder",
    "benchmarks/models.py:Giant",
    "sample_models/untraceable.py:DataDependentBranch",
    "benchmarks/models.py:DenseNet121",
]
#: synthetic deep residual stacks (about 16k and 64k graph nodes): fewer runs, not in-process
SCALE_TARGETS = ["benchmarks/models.py:ResidualStack16k", "benchmarks/models.py:ResidualStack64k"]
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


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mb: float  # this process's own peak resident memory
    stdout_bytes: int
    stdout: str


def timed(cmd: list[str]) -> Run:
    """One whole process: wall seconds, its own peak RSS (os.wait4), what it printed."""
    return timed_in(cmd, ROOT)


def timed_in(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> Run:
    start = time.perf_counter()
    pipe, devnull = subprocess.PIPE, subprocess.DEVNULL
    proc = subprocess.Popen(cmd, stdout=pipe, stderr=devnull, cwd=cwd, env=env, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0  # reaped by wait4; keep Popen from waiting again
    elapsed = time.perf_counter() - start
    return Run(elapsed, usage.ru_maxrss / 1024, len(out.encode()), out)


@dataclass(frozen=True)
class Pair:
    ours: float  # median seconds
    floor: float
    ratio: float  # median of the per-pair ratios: robust to the machine's drift
    ours_mb: float
    floor_mb: float
    last: Run


def paired(ours_cmd: list[str], floor_cmd: list[str], runs: int) -> Pair:
    """relufind and the floor in turn, A B A B ..., so both see the same machine."""
    return paired_in(ours_cmd, floor_cmd, ROOT, runs)


def paired_in(
    ours_cmd: list[str], floor_cmd: list[str], cwd: Path, runs: int, env: dict[str, str] | None = None
) -> Pair:
    ours, floor = [], []
    for _ in range(runs):
        ours.append(timed_in(ours_cmd, cwd, env))
        floor.append(timed_in(floor_cmd, cwd, env))
    ratios = [a.seconds / b.seconds for a, b in zip(ours, floor, strict=True)]
    return Pair(
        statistics.median(r.seconds for r in ours),
        statistics.median(r.seconds for r in floor),
        statistics.median(ratios),
        max(r.peak_mb for r in ours),
        max(r.peak_mb for r in floor),
        ours[-1],
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="leave out the 64k-node stack")
    parser.add_argument(
        "--only", choices=("targets", "cached", "parallel", "in-process"), help="run one part only"
    )
    args = parser.parse_args()
    python, relufind = str(BIN / "python"), str(BIN / "relufind")
    parts: dict[str, Callable[[], None]] = {
        "targets": lambda: targets(relufind, python, args.runs, args.quick),
        "cached": lambda: cached_run(relufind, python, args.runs),
        "parallel": lambda: parallel_scan(relufind, args.runs),
        "in-process": lambda: in_process(args.runs),
    }
    for name, part in parts.items():
        if args.only in (None, name):
            part()
    return 0


def targets(relufind: str, python: str, runs: int, quick: bool) -> None:
    """Each target against the floor, whole processes, alternating; the 16k/64k growth."""
    import_torch = statistics.median(timed([python, "-c", "import torch"]).seconds for _ in range(runs))
    print(f"python -c 'import torch': {import_torch:.2f} s (median of {runs})\n")
    print(
        f"{'target':44} {'floor':>7} {'relufind':>9} {'ratio':>6} {'MB':>6} {'MB ratio':>8} "
        f"{'sites':>6} {'JSON':>8} {'status':>8}"
    )
    pairs: dict[str, Pair] = {}
    for target in TARGETS + [t for t in SCALE_TARGETS if not (quick and "64k" in t)]:
        pairs_run = runs if target not in SCALE_TARGETS else max(1, min(runs, 3))
        ours = [relufind, target, "--format", "json", "--no-cache"]  # every run analyses
        pair = paired(ours, [python, "-c", FLOOR, target], pairs_run)
        pairs[target] = pair
        result = json.loads(pair.last.stdout)["targets"][0]
        print(
            f"{target:44} {pair.floor:6.2f}s {pair.ours:8.2f}s {pair.ratio:5.2f}x {pair.ours_mb:6.0f} "
            f"{pair.ours_mb / pair.floor_mb:7.2f}x {len(result['sites']):6d} "
            f"{pair.last.stdout_bytes / 1e6:6.1f}MB {result['status']:>8}"
        )
    small, large = (pairs.get(t) for t in SCALE_TARGETS)
    if small and large:
        growth, floor_growth = large.ours / small.ours, large.floor / small.floor
        print(f"\n64k / 16k nodes: relufind {growth:.2f}x, floor {floor_growth:.2f}x (linear: about 4x)")
    print()


def cached_run(relufind: str, python: str, runs: int) -> None:
    """A rerun on an unchanged repository: answered from the cache, neither torch nor typer
    imported, in every output format. Timed with compiled bytecode, as pip installs relufind
    (this environment may set PYTHONDONTWRITEBYTECODE, which makes every run compile the
    package anew: about 0.05 s more)."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "pyproject.toml").write_text("[tool.relufind]\n")
        shutil.copytree(ROOT / "sample_models", folder / "sample_models")
        first = [relufind, "sample_models/", "--format", "json"]
        cold = timed_in(first, folder, env)
        targets = len(json.loads(cold.stdout)["targets"])
        print(f"cached rerun of sample_models/ ({targets} targets; first run {cold.seconds:.2f} s):")
        for format in ("json", "tree", "sarif", "github"):
            command = [relufind, "sample_models/", "--format", format]
            pair = paired_in(command, [python, "-c", "import torch"], folder, runs, env)
            print(
                f"  --format {format:6}  cached {pair.ours:.2f} s, `import torch` alone {pair.floor:.2f} s "
                f"(cached / import torch: {pair.ratio:.2f}x)"
            )
        print()


def parallel_scan(relufind: str, runs: int) -> None:
    """--jobs 2 against one process on a generated folder of 300 model classes."""
    from scan import generate

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "models"
        folder.mkdir()
        generate(folder, 300)
        base = [relufind, str(folder), "--format", "json", "--no-cache"]
        pair = paired_in([*base, "--jobs", "2"], [*base, "--jobs", "1"], Path(tmp), max(1, min(runs, 3)))
        print(
            f"300 generated targets: --jobs 1 {pair.floor:.2f} s, --jobs 2 {pair.ours:.2f} s "
            f"(speed-up {1 / pair.ratio:.2f}x on {os.cpu_count()} cores)\n"
        )


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
