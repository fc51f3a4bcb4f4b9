"""Every rule's metadata, in one table: code, name, default, severity, texts.

Plain data only — no torch, no checks — so ``--list-rules`` and ``--explain`` answer in a
fraction of a second and the SARIF driver, the README table and the selection logic all
read the same rows. The checks live in ``relufind.rules.checks`` and are registered by code.
"""

from __future__ import annotations

import textwrap
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
        explanation=(
            'A classifier or regressor whose last layer is followed by a ReLU can never output a negative '
            'value. Logits fed to cross-entropy lose every negative score, and a regression head whose pre-'
            'activation drifts negative outputs a constant 0 with no gradient: the "network always predicts '
            'zero" report. The official PyTorch "build the model" tutorial shipped this bug and removed it '
            'after the loss was found to be wrong. Softmax, log_softmax, sigmoid, dropout and global pooling '
            'between the ReLU and the output do not help. If the output must be positive (counts, densities),'
            ' use softplus or exp, or suppress the finding where the clipping is intended.'
        ),
        bad=(
            'self.head = nn.Sequential(nn.Linear(512, 10), nn.ReLU())\n'
            '\n'
            'def forward(self, x):\n'
            '    return self.head(x)            # logits are clipped at 0'
        ),
        good=(
            'self.head = nn.Linear(512, 10)\n'
            '\n'
            'def forward(self, x):\n'
            '    return self.head(x)            # raw logits; the loss applies softmax'
        ),
    ),
    RuleInfo(
        "RF002", "redundant-relu", True, "warning",
        "a ReLU whose input is already non-negative (another ReLU, sigmoid, softmax, abs, exp)",
        explanation=(
            'ReLU of a tensor that is never negative returns it unchanged: after another ReLU, ReLU6 or '
            'clipped ReLU, after sigmoid, softmax, abs or exp. It is dead compute at best; more often it '
            'marks a ReLU that was meant to act somewhere else, such as a seq2seq attention that applied relu'
            ' to softmax weights, or a ReLU after ReLU6 in a mobile network.'
        ),
        bad='weights = F.softmax(scores, dim=-1)\nweights = F.relu(weights)          # changes nothing',
        good='weights = F.softmax(scores, dim=-1)',
    ),
    RuleInfo(
        "RF003", "inplace-clobber", True, "error",
        "an in-place ReLU whose input is read again afterwards: that reader sees rectified values",
        explanation=(
            'An in-place ReLU overwrites its input. When other code reads that input again afterwards (a skip'
            ' connection or identity branch kept in a variable), it reads the rectified values, not the ones '
            'it saved. There is no error, only a different architecture than the one written: residual blocks'
            ' in VQ-VAE-2 and iResNet implementations shipped with a skip that carried ReLU(x) instead of x. '
            'A bare `F.relu_(x)` statement, whose result is not used, is taken as a deliberate mutation and '
            'not reported.'
        ),
        bad=(
            'def forward(self, x):\n'
            '    y = self.conv1(x)\n'
            '    z = self.relu(y)               # nn.ReLU(inplace=True) rectifies y too\n'
            '    return self.conv2(z) + y       # the skip sees relu(y)'
        ),
        good=(
            'self.relu = nn.ReLU()              # inplace=False\n'
            '\n'
            'def forward(self, x):\n'
            '    y = self.conv1(x)\n'
            '    return self.conv2(self.relu(y)) + y'
        ),
    ),
    RuleInfo(
        "RF004", "mutated-relu-output", True, "error",
        "an in-place op on a ReLU's result, which autograd saved for the backward pass",
        explanation=(
            "ReLU's backward pass computes its gradient from the ReLU's output, which autograd saves. "
            'Modifying that output in place afterwards (`y += skip`, `y.mul_(s)`, an in-place dropout, '
            "`y[..., 0] = 0` read from source when fx cannot trace it) bumps the tensor's version, and the "
            'backward pass fails with "one of the variables needed for gradient computation has been modified'
            ' by an inplace operation ... output 0 of ReluBackward0". The forward pass and inference run '
            'fine, so the bug only shows once training starts. A later in-place ReLU on the same tensor is '
            'left to RF002. clamp and threshold spellings are not reported: their backward reads the input.'
        ),
        bad="y = F.relu(x)\ny += skip                          # in place on ReLU's saved output",
        good='y = F.relu(x)\ny = y + skip',
    ),
    RuleInfo(
        "RF005", "relu-module-on-tensor", True, "error",
        "nn.ReLU(x) called with a tensor in forward(): it builds a module instead of applying ReLU",
        explanation=(
            '`nn.ReLU` is a class. `nn.ReLU(x)` inside `forward` does not apply ReLU to x: it constructs a '
            'new module whose `inplace` argument is the tensor, and the code goes on with a module where it '
            'expected a tensor. It usually surfaces as a confusing error far away, or not at all in a branch '
            'that rarely runs; a transformers model shipped this bug through an activation table that mapped '
            '"relu" to the class. relufind reads every `forward` with ast, so it also finds calls in branches'
            ' the trace did not take.'
        ),
        bad='def forward(self, x):\n    return nn.ReLU(self.fc(x))      # a module, not an activation',
        good=(
            'def forward(self, x):\n'
            '    return F.relu(self.fc(x))       # or self.act = nn.ReLU() in __init__'
        ),
    ),
    RuleInfo(
        "RF101", "shared-relu-module", False, "warning",
        "one nn.ReLU instance called at more than one site: hooks and fusion cannot tell them apart",
        explanation=(
            "One `nn.ReLU` instance called at several places is legal (torchvision's ResNet does it), but "
            'every tool that works per module sees one module for several activations: forward hooks fire '
            'several times and overwrite each other, eager quantization gives all calls one observer and one '
            "scale, Captum's DeepLift rewrites the gradient of the shared module and returns wrong "
            'attributions, and CLIP and open_clip changed their blocks to separate instances for that reason.'
            ' The finding points at the line that constructed the shared module.'
        ),
        bad=(
            'self.relu = nn.ReLU()\n'
            '...\n'
            'x = self.relu(self.conv1(x))\n'
            'x = self.relu(self.conv2(x))       # the same module again'
        ),
        good='self.relu1 = nn.ReLU()\nself.relu2 = nn.ReLU()',
    ),
    RuleInfo(
        "RF102", "relu-rnn", False, "warning",
        'nn.RNN / nn.RNNCell with nonlinearity="relu": an unbounded recurrent state',
        explanation=(
            'An Elman RNN with ReLU has no bound on its hidden state: repeated multiplication by the '
            'recurrent weights lets activations and gradients grow without limit, and losses turn into NaN '
            'after some steps. It works with care (the IRNN recipe: identity-initialised recurrent weights, '
            'small learning rate, gradient clipping), so the rule is off by default.'
        ),
        bad='self.rnn = nn.RNN(64, 128, nonlinearity="relu")',
        good='self.rnn = nn.GRU(64, 128)         # or tanh, or IRNN init + clip_grad_norm_',
    ),
    RuleInfo(
        "RF103", "relu-on-recurrent-output", False, "info",
        "a ReLU applied straight to an RNN/LSTM/GRU output",
        explanation=(
            'An LSTM or GRU output is already bounded by tanh; a ReLU straight on it discards the negative '
            'half of the state. Sometimes intended, often a leftover from a convolutional template. The well-'
            'known real bug of this shape had a Linear between the LSTM and the ReLU, which RF001 reports; '
            'this rule is off by default.'
        ),
        bad='out, _ = self.lstm(x)\nreturn self.fc(F.relu(out[:, -1]))',
        good='out, _ = self.lstm(x)\nreturn self.fc(out[:, -1])',
    ),
    RuleInfo(
        "RF104", "mixed-relu-styles", False, "info",
        "one model spells ReLU in more than one style (module, function, method, clamp)",
        explanation=(
            'A model that mixes `nn.ReLU` modules with `F.relu`, `x.relu()` or `clamp(min=0)` looks complete '
            'to module-based tools while part of its activations are invisible to them: forward hooks, '
            '`print(model)`, eager quantization fusion and attribution see only the modules. transformers '
            'switched T5 to module activations for this reason. The finding is on each ReLU that differs from'
            " the model's most common style."
        ),
        bad='x = self.act(self.fc1(x))          # module\nx = F.relu(self.fc2(x))            # function',
        good='x = self.act1(self.fc1(x))\nx = self.act2(self.fc2(x))',
    ),
    RuleInfo(
        "RF105", "unseen-relu", False, "info",
        "a ReLU call in forward()'s source that the traced graph does not contain",
        explanation=(
            'A ReLU call in a `forward` that the traced graph does not contain ran in no branch of this '
            'configuration (a flag, a training-only path, an `isinstance` test on a proxy). Nothing else '
            'relufind reports covers it: its relations and the other rules were not checked there. Analyse '
            'the configuration that takes the branch (`--arg`, `--eval`) or accept it.'
        ),
        bad=(
            'if self.use_gate:                  # False with the default arguments\n'
            '    x = F.relu(self.gate(x))'
        ),
        good='# analyse with --arg use_gate=True as well',
    ),
    RuleInfo(
        "RF106", "unfusable-conv-relu", False, "info",
        "a functional or clamp ReLU right after a Conv: eager quantization fuses only module ReLUs",
        explanation=(
            'Eager-mode quantization fuses Conv, BatchNorm and ReLU only when the ReLU is an `nn.ReLU` module'
            ' (`fuse_modules(model, [["conv", "bn", "relu"]])`); a functional or clamp ReLU right after a '
            'convolution stays a separate op with its own quantize/dequantize, and module-based compression '
            "tools (NNI, TI's QAT) skip it. FX graph-mode quantization does handle functional ReLUs, so this "
            "rule is off by default. It does not fire when the convolution's output is also used elsewhere, "
            'since that could not be fused anyway.'
        ),
        bad='x = F.relu(self.bn(self.conv(x)))',
        good='self.relu = nn.ReLU()\n...\nx = self.relu(self.bn(self.conv(x)))',
    ),
    RuleInfo(
        "RF107", "inplace-relu-module", False, "info",
        "nn.ReLU(inplace=True) / F.relu_: breaks forward hooks, attribution tools and some exports",
        explanation=(
            '`nn.ReLU(inplace=True)` and `F.relu_` save a little memory and cost elsewhere: a forward hook on'
            " the ReLU receives an input that is already rectified, full backward hooks and Captum's LRP "
            'complain about views modified in place, activation checkpointing loses gradients when the in-'
            "place op ends the segment, and `torch.export` fails on frozen storage. torchvision's "
            'quantization utilities replace every in-place ReLU before they start. The finding reads '
            '`inplace` from the built module, so a flag set after construction counts.'
        ),
        bad='self.act = nn.ReLU(inplace=True)',
        good='self.act = nn.ReLU()',
    ),
    RuleInfo(
        "RF108", "relu-before-norm", False, "info",
        "Conv -> ReLU -> BatchNorm: the norm cannot be folded into the conv",
        explanation=(
            "BatchNorm right after a convolution can be folded into the convolution's weights for inference; "
            'with a ReLU between them it cannot, and the network runs an extra normalisation at inference '
            'time. One deployment compiler even folded it regardless and produced wrong outputs. Conv -> ReLU'
            ' -> BN is sometimes chosen for accuracy, so the rule is off by default.'
        ),
        bad='x = self.bn(F.relu(self.conv(x)))',
        good='x = F.relu(self.bn(self.conv(x)))',
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
        parts.append(textwrap.fill(rule.explanation, 88, break_long_words=False) + "\n")
    for heading, snippet in (("Fires on:", rule.bad), ("Instead:", rule.good)):
        if snippet:
            body = "".join(f"    {line}\n" if line else "\n" for line in snippet.strip("\n").splitlines())
            parts.append(f"{heading}\n{body}")
    return "\n".join(parts)
