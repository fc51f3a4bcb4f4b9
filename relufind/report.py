"""The report model: immutable data produced by the analysis, consumed by the renderers.

Nothing here imports torch, so renderers and the CLI can use these types cheaply.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

SiteKind = Literal["module", "function", "method", "clamp", "threshold", "embedded"]
Status = Literal["ok", "partial", "skipped", "error"]
Severity = Literal["error", "warning", "info"]

#: Exit codes, per the spec.
EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2


@dataclass(frozen=True)
class SourceLoc:
    file: str
    line: int


@dataclass(frozen=True)
class Relation:
    """One nearest anchor upstream (``after``) or downstream (``before``) of a site."""

    anchor: str  # module path of the anchor, or the op name of a functional anchor
    type: str  # anchor class name (``Conv1d``) or function name (``conv2d``)
    via: tuple[str, ...] = ()  # the ops between the anchor and the site, in data-flow order


@dataclass(frozen=True)
class Inside:
    anchor: str
    type: str


@dataclass(frozen=True)
class Site:
    kind: SiteKind
    variant: str
    op: str
    module_path: str
    module_type: str
    inplace: bool
    source: SourceLoc | None
    after: tuple[Relation, ...] = ()
    before: tuple[Relation, ...] = ()
    inside: Inside | None = None
    traced: bool = True
    #: False when the site sits in a region analysed apart from its surroundings (an
    #: untraced parent), so anchors beyond that region's edge are unknown, not absent
    after_complete: bool = True
    before_complete: bool = True
    #: the untraced region (module path) the site was found in: there a site is one call
    #: expression in the source, not one call, since loops and branches could not be followed
    region: str | None = None
    #: graph node name (traced sites) — lets rules and debugging point back at the graph
    node: str | None = None
    #: module sites: where the module was constructed (the ``nn.ReLU(...)`` inside an
    #: ``nn.Sequential(...)``), recorded while relufind built the model; None otherwise
    defined_at: SourceLoc | None = None
    #: anchors reached beyond the (at most 8) listed in ``after`` / ``before``
    after_more: int = 0
    before_more: int = 0
    #: ``via`` of the shortest path from the model input to the site (output: from the site
    #: to the model output) that crosses no anchor; None when no such path exists
    input_path: tuple[str, ...] | None = None
    output_path: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Anchor:
    path: str
    type: str


@dataclass(frozen=True)
class Untraced:
    module_path: str
    reason: str
    #: the user's statement where tracing failed: ``file:line`` and its text
    source: SourceLoc | None = None
    statement: str | None = None
    #: what may resolve it ("try --input-shape 1,1,32,100") when the failure was about shapes
    hint: str | None = None


@dataclass(frozen=True)
class Assumption:
    """A shape guard (``assert h == 1``, ``if x.size(1) != 1: raise``) tracing took the way
    forward of: relations hold for inputs that pass it."""

    module_path: str
    source: SourceLoc
    statement: str


@dataclass(frozen=True)
class Unseen:
    """A ReLU call in a traced ``forward``'s source that the traced graph does not contain."""

    module_path: str
    op: str
    variant: str
    source: SourceLoc


@dataclass(frozen=True)
class Finding:
    """One rule firing at one place of one model."""

    code: str  # "RF003"
    name: str  # "inplace-clobber"
    severity: Severity
    message: str  # names the model, the module path and what to do
    module_path: str  # the site's owning module ('' = the root)
    #: the primary location: a module site's construction line (defined_at) when known, else
    #: the call line; None when neither is known (TorchScript)
    source: SourceLoc | None = None
    #: other locations of the same finding (the call line when ``source`` is the defined_at line)
    related: tuple[SourceLoc, ...] = ()
    #: index of the site it is about in ``TargetResult.sites`` (None: a source-level finding)
    site: int | None = None


@dataclass(frozen=True)
class Suppression:
    """A ``# relufind: ignore[...]`` comment; ``codes`` is empty for a bare one."""

    source: SourceLoc
    codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TargetError:
    type: str
    message: str


@dataclass(frozen=True)
class TargetResult:
    """Everything relufind learned about one target."""

    target: str
    model: str | None
    status: Status
    device: str | None = None
    #: how the model was built: "meta", "meta-params" (only weights on meta), "cpu", "given"
    build: str | None = None
    #: how the graph was obtained: "fx" (with fallbacks), "torch.export" (--input-shape
    #: resolved what fx could not), "torchscript", "exported" (saved files)
    traced_with: str | None = None
    error: TargetError | None = None
    sites: tuple[Site, ...] = ()
    anchors: tuple[Anchor, ...] = ()
    untraced: tuple[Untraced, ...] = ()
    unseen: tuple[Unseen, ...] = ()
    findings: tuple[Finding, ...] = ()
    #: sites of ReLU-family variants (relu6, leaky_relu, ...) left out because --variants was off
    hidden_variants: tuple[tuple[str, int], ...] = ()
    #: for status "skipped": why, and the options that would build the model
    skip_reason: str | None = None
    needs_args: tuple[str, ...] = ()
    #: (path, class name) of the modules on the way to every site and anchor, in model order
    modules: tuple[tuple[str, str], ...] = ()
    #: for a skipped target: the pyproject.toml text that would analyse it (a TOML snippet)
    config_hint: str | None = None
    #: why the target is in the run ("named on the command line", "found in models/: ...",
    #: "pyproject.toml [[tool.relufind.targets]] entry 2")
    origin: str | None = None
    #: shape guards tracing took the one way forward of
    assumptions: tuple[Assumption, ...] = ()
    #: warnings about this target's analysis for the user (an --anchor that matches no
    #: module class, an --input-shape retry that failed): returned, never printed
    notes: tuple[str, ...] = ()

    def kind_counts(self) -> Counter[str]:
        return Counter(site.kind for site in self.sites)

    def variant_counts(self) -> Counter[str]:
        return Counter(site.variant for site in self.sites)

    @property
    def hidden_variant_total(self) -> int:
        return sum(count for _, count in self.hidden_variants)


@dataclass(frozen=True)
class BaselineEntry:
    """Findings recorded in a baseline under one key (rule, file, model, module path)."""

    rule: str
    file: str  # project-relative POSIX path; "" for findings without a source line
    model: str
    module_path: str
    count: int


@dataclass(frozen=True)
class BaselineUse:
    """What applying ``--baseline FILE`` did to a report."""

    path: str
    #: findings the baseline matched, and which were therefore left out of the report
    matched: int
    #: recorded findings of analysed models that no longer occur (count: how many fewer)
    stale: tuple[BaselineEntry, ...] = ()


@dataclass(frozen=True)
class Report:
    version: str
    targets: tuple[TargetResult, ...] = field(default_factory=tuple)
    #: set when a baseline was applied (its findings are already gone from ``targets``)
    baseline: BaselineUse | None = None
    #: suppression comments in the analysed models' files that suppressed nothing in this run
    unused_suppressions: tuple[Suppression, ...] = ()
    #: a skipped target fails the run (--strict / strict = true)
    strict: bool = False

    def finding_counts(self) -> Counter[str]:
        """Findings per rule code, over every target."""
        return Counter(f.code for t in self.targets for f in t.findings)

    @property
    def analysed(self) -> int:
        """How many targets were analysed (status ok or partial)."""
        return sum(t.status in ("ok", "partial") for t in self.targets)

    @property
    def exit_code(self) -> int:
        """2 (an error, nothing analysed, a skip under strict) wins over 1 (findings)."""
        if any(t.status == "error" for t in self.targets) or not self.analysed:
            return EXIT_ERROR
        if self.strict and any(t.status == "skipped" for t in self.targets):
            return EXIT_ERROR
        if any(t.findings for t in self.targets):
            return EXIT_FINDINGS
        return EXIT_OK
