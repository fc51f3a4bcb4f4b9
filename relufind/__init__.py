"""relufind: every ReLU in a PyTorch model, placed relative to its RNN/LSTM/GRU/Conv layers.

``import relufind`` does not import torch; the analysis stages do, when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Options", "Report", "Site", "TargetResult", "__version__", "scan", "scan_targets"]

if TYPE_CHECKING:
    from .analyze import Options, scan, scan_targets
    from .report import Report, Site, TargetResult


def __getattr__(name: str) -> Any:
    # Lazy: the CLI's --help and --version must not pay for importing torch.
    if name in {"Options", "scan", "scan_targets"}:
        from . import analyze

        return getattr(analyze, name)
    if name in {"Report", "Site", "TargetResult"}:
        from . import report

        return getattr(report, name)
    raise AttributeError(f"module 'relufind' has no attribute {name!r}")
