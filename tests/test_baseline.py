"""Baselines (``--write-baseline`` / ``--baseline``), ``--output`` and ``--quiet`` on the command line.

The command-line tests swap the analysis for the shared emitter fixture: no rule produces
findings on its own yet, and what is tested here is what happens *after* the analysis.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import cli_runner
from emitter_fixture import RULES, finding, moved, ok, report
from typer.testing import Result

from relufind import baseline
from relufind.cli import app
from relufind.errors import UsageError
from relufind.keys import FindingKey, keyed_findings
from relufind.report import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, Report


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return tmp_path


def analysed(fixture: Report) -> Report:
    """The fixture without its failed target, so exit codes show what the findings do."""
    return replace(fixture, targets=tuple(t for t in fixture.targets if t.status != "error"))


def round_trip(fixture: Report, root: Path) -> baseline.Baseline:
    return baseline.parse(json.loads(baseline.dumps(baseline.collect(fixture, root))), "test")


# -- the baseline itself ---------------------------------------------------------------------------


def test_file_format(root: Path) -> None:
    document = json.loads(baseline.dumps(baseline.collect(report(root), root)))
    assert document["version"] == 1
    assert document["entries"][:2] == [
        {"rule": "RF003", "file": "models/my net/ünï 100%.py", "model": "Encoder", "module_path": "layers.0.act", "count": 1},
        {"rule": "RF003", "file": "models/my net/ünï 100%.py", "model": "Encoder", "module_path": "layers.1.act", "count": 1},
    ]
    assert {"rule": "RF102", "file": "", "model": "scripted", "module_path": "rnn", "count": 1} in document["entries"]
    assert all("line" not in entry for entry in document["entries"])
    assert len(document["entries"]) == 7


def test_a_key_may_occur_several_times(root: Path) -> None:
    net = f"{root}/models/net.py"
    loop = Report("0.1.0", (ok("models/net.py:Net", "Net", finding("RF101", "act", net, 3), finding("RF101", "act", net, 9)),))
    assert baseline.collect(loop, root) == {FindingKey("RF101", "models/net.py", "Net", "act"): 2}


def test_everything_recorded_is_left_out_and_the_exit_code_follows(root: Path) -> None:
    fixture = analysed(report(root))
    assert fixture.exit_code == EXIT_FINDINGS
    applied = baseline.apply(fixture, round_trip(fixture, root), root, "b.json")
    assert not any(t.findings for t in applied.targets)
    assert applied.exit_code == EXIT_OK
    assert applied.baseline is not None and (applied.baseline.matched, applied.baseline.stale) == (7, ())


def test_matching_ignores_line_moves(root: Path) -> None:
    fixture = analysed(report(root))
    applied = baseline.apply(moved(fixture, 25), round_trip(fixture, root), root, "b.json")
    assert applied.exit_code == EXIT_OK


def test_only_new_findings_remain(root: Path) -> None:
    fixture = analysed(report(root))
    recorded = round_trip(fixture, root)
    new = finding("RF101", "head.act", f"{root}/models/net.py", 40)
    net = fixture.targets[0]
    later = replace(fixture, targets=(replace(net, findings=(*net.findings, new)), *fixture.targets[1:]))
    applied = baseline.apply(later, recorded, root, "b.json")
    assert [f for t in applied.targets for f in t.findings] == [new]
    assert applied.exit_code == EXIT_FINDINGS


def test_a_key_that_grows_reports_all_its_findings(root: Path) -> None:
    net = f"{root}/models/net.py"
    one = Report("0.1.0", (ok("models/net.py:Net", "Net", finding("RF101", "act", net, 3)),))
    two = Report("0.1.0", (ok("models/net.py:Net", "Net", finding("RF101", "act", net, 3), finding("RF101", "act", net, 9)),))
    applied = baseline.apply(two, round_trip(one, root), root, "b.json")
    assert len(applied.targets[0].findings) == 2  # which one is new cannot be told


def test_fixed_findings_are_stale_but_only_for_models_that_were_analysed(root: Path) -> None:
    fixture = analysed(report(root))
    recorded = round_trip(fixture, root)
    net, encoder = fixture.targets[0], fixture.targets[1]
    fixed = replace(
        fixture,
        targets=(
            replace(net, findings=net.findings[1:]),  # RF003 block.act in Net fixed
            replace(encoder, status="error", findings=()),  # not analysed: says nothing
            *fixture.targets[2:],
        ),
    )
    applied = baseline.apply(fixed, recorded, root, "b.json")
    assert applied.baseline is not None
    assert [(e.rule, e.file, e.model, e.module_path, e.count) for e in applied.baseline.stale] == [
        ("RF003", "models/net.py", "Net", "block.act", 1)
    ]
    assert baseline.stale_line(applied.baseline.stale[0], "b.json") == (
        "relufind: baseline b.json: RF003 at block.act in Net (models/net.py): 1 fixed; "
        "refresh the file with --write-baseline b.json"
    )


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("not json", "not JSON"),
        ("[]", 'expected an object with "version" and "entries"'),
        ('{"version": 9, "entries": []}', "version 9; this relufind reads version 1"),
        ('{"version": 1, "entries": {}}', '"entries" must be a list'),
        ('{"version": 1, "entries": [{"rule": "RF003"}]}', "entry 1 must have exactly the keys"),
        (
            '{"version": 1, "entries": [{"rule": "RF003", "file": "a.py", "model": "M", "module_path": "", "count": 0}]}',
            "entry 1: count must be a positive integer",
        ),
        (
            '{"version": 1, "entries": [{"rule": 3, "file": "a.py", "model": "M", "module_path": "", "count": 1}]}',
            "entry 1: rule, file, model, module_path must be strings",
        ),
    ],
)
def test_a_malformed_baseline_is_a_usage_error(root: Path, text: str, why: str) -> None:
    path = root / "baseline.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match="is not a relufind baseline") as raised:
        baseline.load(path)
    assert why in str(raised.value)
    assert "\n" not in str(raised.value)


def test_baseline_keys_are_the_sarif_keys(root: Path) -> None:
    """One key function (relufind.keys) for both, as DESIGN asks."""
    from relufind.render import View
    from relufind.render.sarif import to_sarif

    fixture = report(root)
    keyed = {k.key for k in keyed_findings(fixture, root)}
    assert set(baseline.collect(fixture, root)) == keyed
    assert len(to_sarif(fixture, View(root=root, rules=RULES))["runs"][0]["results"]) == 5


# -- on the command line ---------------------------------------------------------------------------


def run(monkeypatch: pytest.MonkeyPatch, fixture: Report, *args: str) -> Result:
    """The CLI with the analysis replaced by ``fixture``."""
    monkeypatch.setattr("relufind.analyze.scan_targets", lambda targets, options, *args, **kwargs: fixture)
    return cli_runner().invoke(app, ["models/", "--isolated", *args], prog_name="relufind")


def test_cli_write_then_apply_a_baseline(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fixture = analysed(report(root))
    written = run(monkeypatch, fixture, "--write-baseline", "baseline.json", "--format", "json")
    assert written.exit_code == EXIT_OK, written.stderr
    assert written.stderr == "relufind: recorded 7 findings under 7 keys in baseline.json\n"
    assert json.loads((root / "baseline.json").read_text(encoding="utf-8"))["version"] == 1
    assert json.loads(written.stdout)["baseline"] == {"file": "baseline.json", "matched": 7, "stale": []}

    same = run(monkeypatch, fixture, "--baseline", "baseline.json", "--format", "github")
    assert (same.exit_code, same.stdout.count("::error"), same.stderr) == (EXIT_OK, 0, "")

    new = finding("RF003", "head.act", f"{root}/models/net.py", 40)
    net = fixture.targets[0]
    grown = replace(fixture, targets=(replace(net, findings=(*net.findings[1:], new)), *fixture.targets[1:]))
    later = run(monkeypatch, grown, "--baseline", "baseline.json", "--format", "github")
    assert later.exit_code == EXIT_FINDINGS
    assert [line for line in later.stdout.splitlines() if "RF" in line.split("::")[1]] == [
        "::error file=models/net.py,line=40,title=relufind (RF003)::models/net.py:40: RF003 inplace-clobber at head.act"
    ]
    assert later.stderr.splitlines() == [
        "relufind: baseline baseline.json: RF003 at block.act in Net (models/net.py): 1 fixed; "
        "refresh the file with --write-baseline baseline.json"
    ]


def test_cli_malformed_baseline_exits_2_before_the_analysis(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (root / "baseline.json").write_text("{", encoding="utf-8")

    def never(targets: object, options: object) -> Report:
        raise AssertionError("analysed despite a malformed baseline")

    monkeypatch.setattr("relufind.analyze.scan_targets", never)
    result = cli_runner().invoke(app, ["models/", "--isolated", "--baseline", "baseline.json"], prog_name="relufind")
    assert result.exit_code == EXIT_ERROR
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("relufind: error: --baseline: baseline.json is not a relufind baseline (not JSON")


def test_cli_exit_zero_keeps_a_tool_error_at_2(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(monkeypatch, analysed(report(root)), "--exit-zero", "-f", "sarif").exit_code == EXIT_OK
    assert run(monkeypatch, report(root), "--exit-zero", "-f", "sarif").exit_code == EXIT_ERROR


def test_cli_output_file(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(monkeypatch, report(root), "--format", "sarif", "--output", "out dir/relufind.sarif")
    assert result.exit_code == EXIT_ERROR and result.stderr.startswith("relufind: error: --output")
    (root / "out dir").mkdir()
    result = run(monkeypatch, report(root), "--format", "sarif", "--output", "out dir/relufind.sarif")
    assert result.exit_code == EXIT_ERROR  # the fixture's failed target
    assert result.stdout == ""
    document = json.loads((root / "out dir" / "relufind.sarif").read_text(encoding="utf-8"))
    assert len(document["runs"][0]["results"]) == 5


def test_cli_output_refuses_a_folder(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(monkeypatch, report(root), "-o", ".")
    assert (result.exit_code, result.stderr) == (EXIT_ERROR, "relufind: error: --output .: is a folder; name a file (see relufind --help)\n")


def test_cli_quiet_tree_shows_only_targets_with_findings_or_errors(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loud = run(monkeypatch, report(root)).stdout
    quiet = run(monkeypatch, report(root), "--quiet").stdout
    assert "Clean" in loud and "CRNN" in loud
    assert "Clean" not in quiet and "CRNN" not in quiet
    assert "Net" in quiet and "Broken" in quiet
    assert quiet.splitlines()[-1] == loud.splitlines()[-1]  # the totals still count every target


def test_cli_paths_are_relative_to_the_repository_root(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pyproject.toml in a subfolder: GitHub still wants paths from the checkout's top."""
    (root / ".git").mkdir()
    project = root / "ml"
    project.mkdir()
    (project / "pyproject.toml").write_text("[tool.relufind]\n", encoding="utf-8")
    monkeypatch.chdir(project)
    sub = Report("0.1.0", (ok("models/net.py:Net", "Net", finding("RF003", "act", f"{project}/models/net.py", 5)),))
    monkeypatch.setattr("relufind.analyze.scan_targets", lambda targets, options, *args, **kwargs: sub)
    result = cli_runner().invoke(app, ["models/", "-f", "github"], prog_name="relufind")
    assert result.stdout.startswith("::error file=ml/models/net.py,line=5,")
