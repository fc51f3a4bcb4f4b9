"""One hand-built report that every CI emitter is snapshot-tested on, as ruff tests its emitters.

No rule produces findings yet on this branch, and the emitters must not depend on what the
analysis finds, so the report is built by hand. It holds what the formats must get right:

- two findings of one rule on one line (a block shared by two models) -> one entry;
- two rules on one line -> two entries;
- two findings of one rule on one line inside one model (a loop over layers);
- a finding with a related location (a module ReLU: defined here, called there);
- a finding without a source line (a TorchScript file);
- paths with a space, non-ASCII letters and ``%``; a message with ``:``, ``,``, ``%`` and
  a line break;
- a skipped target (with the advice that would analyse it) and a target that failed.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from relufind.report import Finding, Report, SourceLoc, TargetError, TargetResult
from relufind.rules.select import DEFAULT

RULES = DEFAULT | {"RF101", "RF102", "RF107"}

CLOBBER = (
    "In-place ReLU at block.act overwrites its input, which the skip connection reads later: "
    "use nn.ReLU() or F.relu(x) without inplace."
)
ODD_MESSAGE = "In-place ReLU at layers.0.act overwrites x, which 100% of paths read: fix it\nsecond line"


def finding(code: str, module_path: str, file: str | None, line: int = 0, **extra: object) -> Finding:
    names = {
        "RF003": ("inplace-clobber", "error"),
        "RF101": ("shared-relu-module", "warning"),
        "RF102": ("relu-rnn", "warning"),
        "RF107": ("inplace-relu-module", "info"),
    }
    name, severity = names[code]
    message = extra.pop("message", f"{name} at {module_path or 'the model'}")
    source = SourceLoc(file, line) if file is not None else None
    return Finding(code, name, severity, message, module_path, source, **extra)  # type: ignore[arg-type]


def ok(target: str, model: str, *findings: Finding) -> TargetResult:
    return TargetResult(target=target, model=model, status="ok", device="meta", findings=findings)


def report(root: Path) -> Report:
    """The fixture, with source files under ``root`` (targets are relative: run from ``root``).

    Nothing is ever opened: the emitters only compute paths.
    """
    net, odd = f"{root}/models/net.py", f"{root}/models/my net/ünï 100%.py"
    return Report(
        "0.1.0",
        (
            ok(
                "models/net.py:Net",
                "Net",
                finding("RF003", "block.act", net, 18, message=CLOBBER, related=(SourceLoc(net, 31),)),
                finding("RF107", "block.act", net, 18),
                finding("RF101", "act", net, 12),
            ),
            ok(
                "models/my net/ünï 100%.py:Encoder",
                "Encoder",
                finding("RF003", "layers.0.act", odd, 7, message=ODD_MESSAGE),
                finding("RF003", "layers.1.act", odd, 7),
            ),
            ok("models/other.py:Other", "Other", finding("RF003", "enc.block.act", net, 18)),
            ok("models/scripted.pt", "scripted", finding("RF102", "rnn", None)),
            ok("models/clean.py:Clean", "Clean"),
            TargetResult(
                target="models/crnn.py:CRNN",
                model="CRNN",
                status="skipped",
                skip_reason="needs arguments img_h, nc: pass --arg img_h=VALUE --arg nc=VALUE",
                needs_args=("img_h", "nc"),
            ),
            TargetResult(
                target="models/broken.py:Broken",
                model="Broken",
                status="error",
                error=TargetError("ImportError", "no module named 'triton'; install it or exclude the file"),
            ),
        ),
    )


def moved(report: Report, shift: int) -> Report:
    """The same report after ``shift`` lines were inserted at the top of every file."""

    def move(loc: SourceLoc | None) -> SourceLoc | None:
        return None if loc is None else SourceLoc(loc.file, loc.line + shift)

    targets = tuple(
        replace(
            t,
            findings=tuple(
                replace(f, source=move(f.source), related=tuple(move(r) for r in f.related))  # type: ignore[misc]
                for f in t.findings
            ),
        )
        for t in report.targets
    )
    return replace(report, targets=targets)
