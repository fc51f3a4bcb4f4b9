"""relufind: every ReLU in a PyTorch model, placed relative to its RNN/LSTM/GRU/Conv layers.

``import relufind`` does not import torch; the analysis stages do, when first used.

Public API: ``scan(model)`` (an already-built model), ``scan_targets(["file.py:Net"])``
(what the command line does), the report records they return (``Report``, ``TargetResult``,
``Site``, ``Finding``, ``SourceLoc``), ``Options``, and the lint rule catalog (``RULES``,
each a ``RuleInfo``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = [
    "RULES",
    "Finding",
    "Options",
    "Report",
    "RuleInfo",
    "Site",
    "SourceLoc",
    "TargetResult",
    "__version__",
    "scan",
    "scan_targets",
]

if TYPE_CHECKING:
    from .analyze import Options, scan, scan_targets
    from .report import Finding, Report, Site, SourceLoc, TargetResult
    from .rules.catalog import RULES, RuleInfo

#: public name -> the submodule that defines it (imported on first use)
_LAZY = {
    "Options": "analyze",
    "scan": "analyze",
    "scan_targets": "analyze",
    "Finding": "report",
    "Report": "report",
    "Site": "report",
    "SourceLoc": "report",
    "TargetResult": "report",
    "RULES": "rules.catalog",
    "RuleInfo": "rules.catalog",
}


def __getattr__(name: str) -> Any:
    # Lazy: the CLI's --help and --version must not pay for importing torch.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'relufind' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
