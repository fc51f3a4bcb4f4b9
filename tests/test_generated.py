"""Generated models (tests/modelgen.py) checked three ways: construction, oracle, relufind.

Each seed gives a model source file with random nesting of custom blocks, Sequential /
ModuleList / ModuleDict, a shared ReLU instance, every spelling (also bare in-place
statements), variants and look-alikes, RNN/LSTM/GRU/cells/Conv anchors in random order,
residual adds, transposes and a second output. For every model:

1. the generator's expected sites equal the runtime oracle's calls (the generator and the
   oracle checked against each other);
2. relufind's sites equal the oracle's as a multiset of (module_path, kind, variant);
3. relufind's sites, in graph order, equal the generator's in execution order, each with
   the same source line, the same ``after`` and ``before`` anchor paths (the nearest
   anchors along every path, from the generator's own data-flow graph: a residual add
   gives the anchors of both branches) and, for RNN ReLUs, the same ``inside`` anchor;
   the anchor sets are equal; a fully traced model reports no ``unseen`` calls.

``RELUFIND_GENERATED`` sets how many models run (default 500, 25 per test and one source
file per batch, so the per-target overhead is paid once per batch);
``RELUFIND_GENERATED_SEED`` moves the seed range. A failure names each failing seed;
``python tests/modelgen.py SEED`` prints that model's source to reproduce it.

Mutation checks (``test_mutated_relufind_is_caught``): the same checks are run on a
deliberately broken relufind and must fail on exactly the models the breakage affects.
With the clamp rows removed from the spelling table (``relufind.detect.FUNCTIONS`` /
``METHODS``, which the source reader shares) every model with a clamp ReLU fails with
"missed by relufind: (..., 'clamp', 'relu')" (or, inside an untraceable block, "ran in an
untraced region but not reported"), and no other model fails; with ``nn.RNNCellBase``
dropped from the anchor types every model with an RNN/LSTM/GRU cell fails on its anchors
(and its sites' after/before). With relufind intact, every generated model passes.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from conftest import analyse_all
from modelgen import ACTS, BARE, CALLS, INPUT_SHAPE, Generated, generate, write_batch
from oracle import compare, lost_in_untraced, record, record_relations, relation_problems

from relufind.report import Site, TargetResult
from relufind.rules.select import expand

ALL_RULES = expand("ALL")

COUNT = int(os.environ.get("RELUFIND_GENERATED", "500"))
FIRST_SEED = int(os.environ.get("RELUFIND_GENERATED_SEED", "1000"))
BATCH = 25
BATCHES = [
    list(range(FIRST_SEED + start, FIRST_SEED + min(start + BATCH, COUNT)))
    for start in range(0, COUNT, BATCH)
]

@dataclass(frozen=True)
class Problem:
    text: str


def _import(path: Path) -> object:
    name = f"_oracle_generated_{path.stem}_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _paths(relations: tuple) -> frozenset[str]:  # type: ignore[type-arg]
    return frozenset(r.anchor for r in relations)


def problems_of(g: Generated, result: TargetResult, module: object) -> list[Problem]:
    """Everything wrong with relufind's ``result`` for the generated model ``g``."""
    regions = {u.module_path for u in result.untraced}
    if result.status != ("partial" if g.untraced else "ok") or regions != g.untraced:
        return [Problem(f"status {result.status}: {result.error}; untraced {sorted(regions)}, expected {sorted(g.untraced)}")]
    problems: list[Problem] = []
    torch.manual_seed(g.seed)
    model = getattr(module, g.name)()
    calls = record(model, (torch.randn(*INPUT_SHAPE),))
    expected = Counter(s.key() for s in g.sites)
    ran = Counter((c.module_path, c.kind, c.variant) for c in calls)
    if expected != ran:  # the generator and the oracle disagree: a bug in the tests
        problems.append(Problem(f"GENERATOR/ORACLE MISMATCH: expected {sorted(expected - ran)}, ran {sorted(ran - expected)}"))
    problems += oracle_relation_problems(g, result, module)
    if len(result.assumptions) != g.guards:
        problems.append(Problem(f"{len(result.assumptions)} assumptions, expected {g.guards} (shape guards)"))
    if g.untraced:
        return problems + partial_problems(g, result, calls, model)
    sites: tuple[Site, ...] = result.sites
    for text in compare(calls, [(s.module_path, s.kind, s.variant) for s in sites]):
        problems.append(Problem("oracle: " + text))
    for u in result.unseen:
        problems.append(Problem(f"unseen call in a fully traced model: {u.module_path} line {u.source.line}"))
    if len(sites) != len(g.sites):
        problems.append(Problem(f"{len(sites)} sites, expected {len(g.sites)}"))
    for i, (want, got) in enumerate(zip(g.sites, sites, strict=False)):
        where = f"site {i} ({want.path or '<root>'} {want.kind} {want.variant} line {want.line})"
        if (got.module_path, got.kind, got.variant) != want.key():
            problems.append(Problem(f"{where}: got {(got.module_path, got.kind, got.variant)}"))
            break  # later sites are misaligned; the multiset check above tells the rest
        if got.source is None or got.source.line != want.line:
            problems.append(Problem(f"{where}: source {got.source}"))
        if _paths(got.after) != want.after:
            problems.append(Problem(f"{where}: after {sorted(_paths(got.after))} != {sorted(want.after)}"))
        if _paths(got.before) != want.before:
            problems.append(Problem(f"{where}: before {sorted(_paths(got.before))} != {sorted(want.before)}"))
        if (got.input_path is not None) != want.input_path:
            problems.append(Problem(f"{where}: input_path {got.input_path}, expected {'a path' if want.input_path else None}"))
        if (got.output_path is not None) != want.output_path:
            problems.append(Problem(f"{where}: output_path {got.output_path}, expected {'a path' if want.output_path else None}"))
        if want.inside is not None and (got.inside is None or got.inside.anchor != want.inside):
            problems.append(Problem(f"{where}: inside {got.inside} != {want.inside}"))
    anchors = {a.path for a in result.anchors}
    if anchors != g.anchors:
        problems.append(Problem(f"anchors {sorted(anchors)} != {sorted(g.anchors)}"))
    return problems


#: (models, sites compared, disagreements) by the relation oracle over this session
RELATION_FIGURES = {"models": 0, "sites": 0, "problems": 0}


def oracle_relation_problems(g: Generated, result: TargetResult, module: object) -> list[Problem]:
    """The runtime relation oracle (tags of anchor outputs and the input, through values only)
    against relufind's ``after`` and ``input_path``."""
    torch.manual_seed(g.seed)
    model = getattr(module, g.name)()
    compared, texts = relation_problems(record_relations(model, (torch.randn(*INPUT_SHAPE),)), result.sites)
    RELATION_FIGURES["models"] += 1
    RELATION_FIGURES["sites"] += compared
    RELATION_FIGURES["problems"] += len(texts)
    return [Problem("relation oracle: " + t) for t in texts]


def partial_problems(g: Generated, result: TargetResult, calls: list, model: nn.Module) -> list[Problem]:  # type: ignore[type-arg]
    """For a model with untraceable blocks (relufind reads them from source).

    Inside those regions a site is a call expression: the oracle's calls there must all be
    reported (as a set). Outside them, sites must match the oracle's calls exactly, and each
    must match an expected site (same key and line) whose relations equal relufind's where
    relufind says they are complete, and contain them where it says they are not (anchors
    beyond an untraced region are unknown). Module anchors are all listed.
    """
    problems: list[Problem] = []
    keys = [(s.module_path, s.kind, s.variant, s.region is None) for s in result.sites]
    regions = sorted(g.untraced)
    for text in compare(calls, keys, untraced=regions):
        if not text.startswith("ran in an untraced region"):  # those are told one by one below
            problems.append(Problem("oracle: " + text))
    for key in lost_in_untraced(calls, keys, regions):
        problems.append(Problem(f"oracle: ran in an untraced region but not reported: {key}"))
    for site in result.sites:
        if site.region is not None or not site.traced:  # counted per call expression: no relations
            continue
        line = site.source.line if site.source else None
        candidates = [w for w in g.sites if w.region is None and w.key() == (site.module_path, site.kind, site.variant) and w.line == line]
        after, before = _paths(site.after), _paths(site.before)

        def fits(want, after=after, before=before, site=site) -> bool:  # type: ignore[no-untyped-def]
            ok_after = after == want.after if site.after_complete else after <= want.after
            ok_before = before == want.before if site.before_complete else before <= want.before
            return ok_after and ok_before

        if not candidates:
            problems.append(Problem(f"site {site.module_path or '<root>'} {site.kind} {site.variant} line {line}: not expected outside the untraced regions"))
        elif not any(fits(w) for w in candidates):
            want = candidates[0]
            problems.append(Problem(
                f"site {site.module_path or '<root>'} {site.kind} {site.variant} line {line}: "
                f"after {sorted(after)} (complete={site.after_complete}) / before {sorted(before)} "
                f"(complete={site.before_complete}), expected {sorted(want.after)} / {sorted(want.before)}"
            ))
    anchors = {a.path for a in result.anchors}
    outside = {a for a in g.anchors if not a.startswith("<") and not g.in_untraced(a)}
    if {a for a in anchors if not g.in_untraced(a)} != outside:
        problems.append(Problem(f"anchors outside untraced regions {sorted(a for a in anchors if not g.in_untraced(a))} != {sorted(outside)}"))
    missing = {a for a in g.anchors if not a.startswith("<") and g.in_untraced(a)} - anchors
    if missing:
        problems.append(Problem(f"anchors in untraced regions not listed: {sorted(missing)}"))
    return problems


def check_batch(seeds: list[int], folder: Path) -> dict[int, list[Problem]]:
    """Generate, analyse and check ``seeds``: the problems of each failing seed."""
    path = folder / f"generated_{seeds[0]}.py"
    generated = write_batch(seeds, str(path))
    # every lint rule runs too (ALL): a check that crashes turns the target into an error
    report = analyse_all([f"{path}:{g.name}" for g in generated], variants=True, rules=ALL_RULES)
    module = _import(path)
    failures: dict[int, list[Problem]] = {}
    for g, result in zip(generated, report.targets, strict=True):
        problems = problems_of(g, result, module)
        if problems:
            failures[g.seed] = problems
    return failures


_RESULTS: dict[int, dict[int, list[Problem]]] = {}


def batch_results(index: int, tmp_path_factory: pytest.TempPathFactory) -> dict[int, list[Problem]]:
    """The problems of batch ``index``, computed once per session."""
    if index not in _RESULTS:
        _RESULTS[index] = check_batch(BATCHES[index], tmp_path_factory.mktemp("generated"))
    return _RESULTS[index]


def _summary(failures: dict[int, list[Problem]]) -> str:
    lines = [f"{len(failures)} generated model(s) disagree (reproduce: python tests/modelgen.py SEED):"]
    for seed, problems in sorted(failures.items()):
        lines.append(f"  seed {seed}:")
        lines.extend(f"    {p.text}" for p in problems[:6])
    return "\n".join(lines)


@pytest.mark.parametrize("index", range(len(BATCHES)), ids=lambda i: f"seeds{BATCHES[i][0]}-{BATCHES[i][-1]}")
def test_generated_models(index: int, tmp_path_factory: pytest.TempPathFactory) -> None:
    results = batch_results(index, tmp_path_factory)
    assert not results, _summary(results)


def test_generator_covers_every_spelling() -> None:
    """Over the CI seed range, every spelling and structure is generated at least once."""
    seen: set[str] = set()
    for seed in range(FIRST_SEED, FIRST_SEED + COUNT):
        seen |= generate(seed).spellings
    wanted = {label for label, *_ in CALLS + BARE} | {label for label, *_ in ACTS}
    wanted |= {
        "shared", "nn.Conv1d", "nn.ConvTranspose1d", "F.conv1d", "nn.RNN", "nn.RNN-relu", "nn.LSTM",
        "nn.GRU", "nn.RNNCell", "nn.RNNCell-relu", "nn.LSTMCell", "nn.GRUCell", "transformer-relu",
        "transformer-module", "transformer-None", "nn.Sequential", "nn.ModuleList", "nn.ModuleDict",
        "loop", "residual", "block-twice", "conv-call", "aux-output", "metadata", "skip-to-output",
        "guard-shape", "guard-data", "guard-partial",
    }
    assert wanted <= seen, f"never generated: {sorted(wanted - seen)}"


def _drop_clamp(monkeypatch: pytest.MonkeyPatch) -> None:
    import relufind.detect as detect

    for table in (detect.FUNCTIONS, detect.METHODS):
        for key, spelling in list(table.items()):
            if spelling.kind == "clamp":
                monkeypatch.delitem(table, key)


def _drop_cell_anchors(monkeypatch: pytest.MonkeyPatch) -> None:
    import relufind.relate as relate

    monkeypatch.setattr(relate, "ANCHOR_TYPES", tuple(t for t in relate.ANCHOR_TYPES if t is not nn.RNNCellBase))


def _has_clamp(g: Generated) -> bool:
    return any(site.kind == "clamp" for site in g.sites)


def _follow_size_edges(monkeypatch: pytest.MonkeyPatch) -> None:
    """A relate pass that walks every graph edge, ``size()`` and ``new_zeros`` included."""
    import relufind.relate as relate

    monkeypatch.setattr(relate, "fx_value_inputs", lambda node: list(node.all_input_nodes))


def _metadata_matters(g: Generated) -> bool:
    """Would a pass following metadata report other relations for ``g``? (the generator's
    own flow, rebuilt as if ``s.size(0)`` / ``s.new_zeros`` carried the conv's values)"""
    import modelgen

    modelgen.FOLLOW_METADATA = True
    try:
        followed = generate(g.seed)
    finally:
        modelgen.FOLLOW_METADATA = False
    return any((a.after, a.input_path) != (b.after, b.input_path) for a, b in zip(g.sites, followed.sites, strict=True))


def _has_cell(g: Generated) -> bool:
    return any(label in g.spellings for label in ("nn.RNNCell", "nn.RNNCell-relu", "nn.LSTMCell", "nn.GRUCell"))


@pytest.mark.parametrize(
    ("mutate", "affected", "symptom"),
    [
        pytest.param(_drop_clamp, _has_clamp, ("missed by relufind", "not reported"), id="no-clamp-spellings"),
        pytest.param(_drop_cell_anchors, _has_cell, ("anchors",), id="no-cell-anchors"),
        pytest.param(_follow_size_edges, _metadata_matters, ("relation oracle",), id="follows-size-edges"),
    ],
)
def test_mutated_relufind_is_caught(mutate, affected, symptom, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """A deliberately broken relufind fails the checks on exactly the models it affects."""
    seeds = [g.seed for g in map(generate, range(FIRST_SEED, FIRST_SEED + 100)) if not g.untraced][:BATCH]
    expect = {g.seed for g in map(generate, seeds) if affected(g)}
    assert expect, "the batch must contain affected models for this check to mean anything"
    mutate(monkeypatch)
    failures = check_batch(seeds, tmp_path)
    failing = set(failures)
    assert failing == expect, _summary(failures)
    for seed in expect:
        assert any(s in p.text for p in failures[seed] for s in symptom), _summary({seed: failures[seed]})


def test_chained_inplace_relus_reach_the_saved_skip(write_model) -> None:  # type: ignore[no-untyped-def]
    """A hand-written instance of the in-place chain the generator found."""
    from conftest import analyse

    path = write_model(
        """
        class InplaceChain(nn.Module):
            def __init__(self):
                super().__init__()
                self.gru = nn.GRU(4, 4, batch_first=True)
                self.conv = nn.Conv1d(4, 4, 1)
                self.head = nn.Conv1d(4, 4, 1)

            def forward(self, x):
                x, _ = self.gru(x)
                skip = x
                x = torch.relu_(x)
                x = F.relu_(x)
                x = self.conv(x.transpose(1, 2)).transpose(1, 2)
                x = x + skip  # skip is the tensor both ReLUs rectified in place
                return self.head(x.transpose(1, 2))
        """
    )
    result = analyse(f"{path}:InplaceChain")
    assert [(s.op, sorted(_paths(s.after)), sorted(_paths(s.before))) for s in result.sites] == [
        ("torch.relu_", ["gru"], ["conv", "head"]),
        ("torch.relu_", ["gru"], ["conv", "head"]),
    ]
