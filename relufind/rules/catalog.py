"""Every rule's metadata, in one table: code, name, default, severity, texts.

Plain data only — no torch, no checks — so ``--list-rules`` and ``--explain`` answer in a
fraction of a second and the SARIF driver, the README table and the selection logic all
read the same rows. The checks live in ``relufind.rules.checks`` and are registered by code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # report's dataclasses cost more to import than --list-rules may take
    from ..report import Severity


@dataclass(frozen=True)
class RuleInfo:
    code: str  # "RF" + three digits, stable forever (a retired code is never reused)
    name: str  # kebab-case, accepted wherever a code is
    default: bool  # selected when nothing else is said
    severity: Severity
    summary: str  # one line, for --list-rules and the SARIF shortDescription
    explanation: str = ""  # the paragraph of --explain: what it catches and why it matters
    bad: str = ""  # a short snippet that fires
    good: str = ""  # the same code, fixed


RULES: tuple[RuleInfo, ...] = (
    RuleInfo(
        "RF001", "relu-on-output", True, "error",
        "a ReLU on a Linear or 1x1 Conv result that reaches a model output: it clips negative logits",
    ),
    RuleInfo(
        "RF002", "redundant-relu", True, "warning",
        "a ReLU whose input is already non-negative (another ReLU, sigmoid, softmax, abs, exp)",
    ),
    RuleInfo(
        "RF003", "inplace-clobber", True, "error",
        "an in-place ReLU whose input is read again afterwards: that reader sees rectified values",
    ),
    RuleInfo(
        "RF004", "mutated-relu-output", True, "error",
        "an in-place op on a ReLU's result, which autograd saved for the backward pass",
    ),
    RuleInfo(
        "RF005", "relu-module-on-tensor", True, "error",
        "nn.ReLU(x) called with a tensor in forward(): it builds a module instead of applying ReLU",
    ),
    RuleInfo(
        "RF101", "shared-relu-module", False, "warning",
        "one nn.ReLU instance called at more than one site: hooks and fusion cannot tell them apart",
    ),
    RuleInfo(
        "RF102", "relu-rnn", False, "warning",
        'nn.RNN / nn.RNNCell with nonlinearity="relu": an unbounded recurrent state',
    ),
    RuleInfo(
        "RF103", "relu-on-recurrent-output", False, "info",
        "a ReLU applied straight to an RNN/LSTM/GRU output",
    ),
    RuleInfo(
        "RF104", "mixed-relu-styles", False, "info",
        "one model spells ReLU in more than one style (module, function, method, clamp)",
    ),
    RuleInfo(
        "RF105", "unseen-relu", False, "info",
        "a ReLU call in forward()'s source that the traced graph does not contain",
    ),
    RuleInfo(
        "RF106", "unfusable-conv-relu", False, "info",
        "a functional or clamp ReLU right after a Conv: eager quantization fuses only module ReLUs",
    ),
    RuleInfo(
        "RF107", "inplace-relu-module", False, "info",
        "nn.ReLU(inplace=True) / F.relu_: breaks forward hooks, attribution tools and some exports",
    ),
    RuleInfo(
        "RF108", "relu-before-norm", False, "info",
        "Conv -> ReLU -> BatchNorm: the norm cannot be folded into the conv",
    ),
)

BY_CODE: dict[str, RuleInfo] = {rule.code: rule for rule in RULES}
BY_NAME: dict[str, RuleInfo] = {rule.name: rule for rule in RULES}


def lookup(code_or_name: str) -> RuleInfo | None:
    """A rule by code (any case) or kebab name."""
    text = code_or_name.strip()
    return BY_CODE.get(text.upper()) or BY_NAME.get(text.lower())


def list_text() -> str:
    """``relufind --list-rules``: one line per rule."""
    width = max(len(rule.name) for rule in RULES)
    lines = []
    for rule in RULES:
        default = "on " if rule.default else "off"
        lines.append(f"{rule.code}  {rule.name:<{width}}  {default}  {rule.severity:<7}  {rule.summary}\n")
    return "".join(lines)


def explain_text(rule: RuleInfo) -> str:
    """``relufind --explain CODE``: the summary, the paragraph, a bad and a good snippet."""
    default = "on by default" if rule.default else "off by default (enable with --extend-select)"
    parts = [f"{rule.code} {rule.name} ({rule.severity}, {default})\n", f"{rule.summary}\n"]
    if rule.explanation:
        parts.append(f"{rule.explanation}\n")
    for heading, snippet in (("Fires on:", rule.bad), ("Instead:", rule.good)):
        if snippet:
            body = "".join(f"    {line}\n" if line else "\n" for line in snippet.strip("\n").splitlines())
            parts.append(f"{heading}\n{body}")
    return "\n".join(parts)
