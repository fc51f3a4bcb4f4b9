"""Run the enabled checks over one analysed model and turn their hits into findings.

Modelled on flake8's decision engine (``style_guide.py``) and its ``Violation`` record: a
check only says *what* is wrong *where* (a ``Hit``); the engine decides whether the rule is
selected, fills in the code, name and severity from the catalog, picks the primary location
(a module site's construction line when known, else the call line), and drops what a
``# relufind: ignore`` comment on one of those lines suppresses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING

from ..report import Finding, Site, SourceLoc, Unseen
from .catalog import BY_CODE
from .select import DEFAULT
from .suppress import Suppressions

if TYPE_CHECKING:
    import torch.nn as nn

    from ..facts import Region


@dataclass(frozen=True)
class Hit:
    """What a check found: a message, and the site (or place) it is about."""

    message: str
    site: Site | None = None
    #: where there is no site (a source-level finding): the module path and the line
    module_path: str = ""
    source: SourceLoc | None = None


@dataclass
class Model:
    """What the checks read about one analysed model."""

    name: str
    module: nn.Module | None
    regions: list[Region]
    #: the report's sites (relations and defined_at filled in), in report order
    sites: tuple[Site, ...]
    unseen: tuple[Unseen, ...] = ()
    #: a region's site -> the report's site (the region keeps sites before relations are attached)
    reported: dict[Site, Site] = field(default_factory=dict)

    def final(self, site: Site) -> Site:
        return self.reported.get(site, site)

    @cached_property
    def user_modules(self) -> list[tuple[str, nn.Module]]:
        """(path, module) of the model's own (not torch's) modules, each once: the source
        checks read them; a deep stack's tens of thousands of torch layers are walked once."""
        if self.module is None:
            return []
        return [(p, m) for p, m in self.module.named_modules() if not type(m).__module__.startswith("torch.")]


Check = Callable[[Model], Iterable[Hit]]
CHECKS: dict[str, Check] = {}


def check(code: str) -> Callable[[Check], Check]:
    """Register ``function`` as the check of catalog rule ``code``."""
    if code not in BY_CODE:
        raise ValueError(f"{code} is not in the rule catalog")

    def register(function: Check) -> Check:
        CHECKS[code] = function
        return function

    return register


def run(model: Model, enabled: frozenset[str] | None, suppressions: Suppressions) -> list[Finding]:
    """Every finding of the enabled rules on ``model``, suppressed ones dropped."""
    from . import checks  # noqa: F401  (registers the checks)

    codes = DEFAULT if enabled is None else enabled
    index = {id(site): number for number, site in enumerate(model.sites)}
    findings: list[Finding] = []
    for code in sorted(codes):
        for hit in CHECKS[code](model):
            finding = _finding(code, hit, model, index)
            if not suppressions.suppressed(finding):
                findings.append(finding)
    return _unique(findings)


def _finding(code: str, hit: Hit, model: Model, index: dict[int, int]) -> Finding:
    rule = BY_CODE[code]
    if hit.site is None:
        return Finding(code, rule.name, rule.severity, hit.message, hit.module_path, hit.source)
    site = model.final(hit.site)
    primary = site.defined_at or site.source
    related = (site.source,) if site.defined_at and site.source and site.source != site.defined_at else ()
    return Finding(
        code,
        rule.name,
        rule.severity,
        hit.message,
        site.module_path,
        primary,
        related,
        site=index.get(id(site)),
    )


def _unique(findings: list[Finding]) -> list[Finding]:
    """One finding per (rule, place, module): a loop the trace unrolled gives one site per
    call, all on one line, and one line needs one finding (and one suppression). The first
    call's message stands for all; it says how many calls the line makes."""
    kept: dict[tuple[object, ...], list[Finding]] = {}
    for finding in findings:
        kept.setdefault((finding.code, finding.source, finding.module_path), []).append(finding)
    return [
        group[0] if len(group) == 1 else replace(group[0], message=f"{group[0].message} ({_calls(group)})")
        for group in kept.values()
    ]


def _calls(group: list[Finding]) -> str:
    return f"this line runs {len(group)} times in the traced graph: a loop"
