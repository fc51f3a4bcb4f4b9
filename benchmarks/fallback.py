"""What the untraceable-model fallback recovers, and what it costs.

For every class in sample_models/untraceable.py: the ReLU calls a real forward pass makes
(the runtime oracle's count), the sites plain ``torch.fx.symbolic_trace`` yields (none: it
raises), the sites relufind reports (traced / read from source), and the time of a failed
bare trace against relufind's whole analysis (medians, in-process, model built on meta).

    .venv/bin/python benchmarks/fallback.py
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from pathlib import Path

import torch
import torch.fx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "benchmarks")]

from bench import median_ms  # noqa: E402
from oracle import record  # noqa: E402

from relufind.analyze import Options, scan_targets  # noqa: E402

FILE = ROOT / "sample_models" / "untraceable.py"


def main() -> int:
    spec = importlib.util.spec_from_file_location("bench_untraceable", FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    names = [n for n, v in vars(module).items() if isinstance(v, type) and issubclass(v, torch.nn.Module)
             and v.__module__ == module.__name__ and hasattr(v, "example_input")]
    print(f"{'model':22} {'run-time':>8} {'fx':>4} {'relufind':>8} {'traced':>6} {'source':>6} {'unseen':>6} "
          f"{'covered':>8} {'status':>8} {'fx fail ms':>10} {'relufind ms':>11}")
    totals = [0, 0]
    for name in names:
        cls = getattr(module, name)
        torch.manual_seed(0)
        calls = [c for c in record(cls(), cls.example_input()) if c.variant == "relu"]
        report = scan_targets([f"{FILE}:{name}"], Options(), diagnostics=lambda line: None)
        result = report.targets[0]
        traced = sum(s.traced for s in result.sites)
        fx_ms = median_ms(lambda cls=cls: _bare_trace(cls))
        ours_ms = median_ms(lambda name=name: scan_targets([f"{FILE}:{name}"], Options(), lambda line: None))
        fx_sites = 0 if _bare_trace(cls) else "?"
        totals[0] += len(calls)
        totals[1] += len(result.sites)
        ran = {(c.module_path, c.variant) for c in calls}
        seen = {(s.module_path, s.variant) for s in result.sites}
        seen |= {(u.module_path, u.variant) for u in result.unseen}
        covered = f"{len(ran & seen)}/{len(ran)}"
        print(f"{name:22} {len(calls):8d} {fx_sites!s:>4} {len(result.sites):8d} {traced:6d} "
              f"{len(result.sites) - traced:6d} {len(result.unseen):6d} {covered:>8} {result.status:>8} "
              f"{fx_ms:10.1f} {ours_ms:11.1f}")
    print(f"\nrun-time ReLU calls {totals[0]}, relufind sites {totals[1]} "
          "(a site read from source stands for every call of its expression)")
    return 0


def _bare_trace(cls: type) -> bool:
    """Build on meta and symbolic_trace; True when tracing failed (as fx does on most of these)."""
    with torch.device("meta"):
        model = cls()
    with contextlib.suppress(Exception):
        torch.fx.symbolic_trace(model)
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
