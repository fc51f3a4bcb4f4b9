"""The CI formats (SARIF, GitHub workflow commands, step summary) on one shared report fixture.

Snapshots live in tests/golden/emitters/. After an intended change, regenerate them with

    RELUFIND_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_emitters.py

and read the diff before committing.
"""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import cli_runner
from emitter_fixture import CLOBBER, ODD_MESSAGE, RULES, finding, moved, ok, report

from relufind.keys import project_path
from relufind.render import FORMATS, View, renderer
from relufind.render.github import MAX_ANNOTATIONS, command, escape_data, escape_property, summary_markdown
from relufind.render.sarif import help_markdown, help_text, to_sarif
from relufind.report import Report
from relufind.rules.catalog import RULES as CATALOG
from relufind.rules.catalog import RuleInfo

GOLDEN = Path(__file__).resolve().parent / "golden" / "emitters"
UPDATE = os.environ.get("RELUFIND_UPDATE_GOLDEN") == "1"
#: the OASIS SARIF 2.1.0 schema: the shared copy beside the checkout when present, else the
#: copy kept with the tests (identical), so a clone validates SARIF on any machine
SHARED_SCHEMA = Path(__file__).resolve().parents[2] / "shared" / "schemas" / "sarif-schema-2.1.0.json"
SCHEMA = SHARED_SCHEMA if SHARED_SCHEMA.exists() else Path(__file__).resolve().parent / "fixtures" / SHARED_SCHEMA.name


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project root; the fixture's relative targets are read from it, as the CLI runs."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return tmp_path


def view(root: Path, **extra: Any) -> View:
    return View(root=root, rules=RULES, **extra)


def output(name: str, report: Report, view: View) -> str:
    out = io.StringIO()
    renderer(name)(report, out, view)
    return out.getvalue()


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path}; run with RELUFIND_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} changed; if intended, regenerate:\n{text}"


def sarif_schema() -> dict[str, Any]:
    return json.loads(SCHEMA.read_text(encoding="utf-8"))


def validate(document: dict[str, Any]) -> None:
    schema = sarif_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


def test_every_renderer_is_a_format_choice() -> None:
    from relufind.cli import Format

    assert [f.value for f in Format] == list(FORMATS)


# -- SARIF -----------------------------------------------------------------------------------------


def test_sarif_snapshot(root: Path) -> None:
    check_golden("fixture.sarif", output("sarif", report(root), view(root)))


def test_sarif_validates_against_the_schema(root: Path) -> None:
    validate(to_sarif(report(root), view(root)))
    validate(to_sarif(Report("0.1.0", ()), View()))  # nothing at all: still a valid log
    clean = Report("0.1.0", (ok("models/clean.py:Clean", "Clean"),))
    validate(to_sarif(clean, view(root)))


def test_sarif_is_plain_ascii_json(root: Path) -> None:
    text = output("sarif", report(root), view(root))
    assert text.isascii() and text.endswith("}\n")
    assert json.loads(text)["version"] == "2.1.0"


def test_sarif_uris_are_repository_relative_and_percent_encoded(root: Path) -> None:
    run = to_sarif(report(root), view(root))["runs"][0]
    uris = {
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for result in run["results"]
        for loc in (*result["locations"], *result.get("relatedLocations", ()))
        if "physicalLocation" in loc
    }
    assert uris == {"models/net.py", "models/my%20net/%C3%BCn%C3%AF%20100%25.py", "models/scripted.pt"}
    artifacts = [
        loc["physicalLocation"]["artifactLocation"]
        for result in run["results"]
        for loc in result["locations"]
    ]
    assert all(a["uriBaseId"] == "%SRCROOT%" for a in artifacts)
    assert "file:" not in json.dumps(run)


def test_a_file_outside_the_project_keeps_an_absolute_uri(root: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    elsewhere = tmp_path_factory.mktemp("site-packages") / "lib.py"
    outside = Report("0.1.0", (ok("models/net.py:Net", "Net", finding("RF101", "act", str(elsewhere), 3)),))
    result = to_sarif(outside, view(root))["runs"][0]["results"][0]
    artifact = result["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": elsewhere.as_uri()}


def test_sarif_driver_lists_every_enabled_rule_not_only_those_that_fired(root: Path) -> None:
    run = to_sarif(report(root), view(root))["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted(RULES)
    for rule in rules:
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"] and rule["help"]["text"]
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
    by_id = {r["id"]: i for i, r in enumerate(rules)}
    assert all(result["ruleIndex"] == by_id[result["ruleId"]] for result in run["results"])
    levels = {r["id"]: r["defaultConfiguration"]["level"] for r in rules}
    assert (levels["RF003"], levels["RF101"], levels["RF107"]) == ("error", "warning", "note")


def test_sarif_help_is_the_explanation_with_its_snippets() -> None:
    rule = RuleInfo(
        "RF003", "inplace-clobber", True, "error", "the summary",
        explanation="Why it matters.", bad="y = F.relu_(x)\nreturn x + y\n", good="y = F.relu(x)\nreturn x + y\n",
    )
    assert help_text(rule) == (
        "RF003 inplace-clobber: the summary\n\nWhy it matters.\n\n"
        "Fires on:\n    y = F.relu_(x)\n    return x + y\n\n"
        "Instead:\n    y = F.relu(x)\n    return x + y\n\n"
        "Suppress one site with # relufind: ignore[RF003] on its line; "
        "relufind --explain RF003 prints this help."
    )
    markdown = help_markdown(rule)
    assert "```python\ny = F.relu_(x)\nreturn x + y\n```" in markdown
    assert "`# relufind: ignore[RF003]`" in markdown


def test_sarif_descriptions_come_from_the_catalog(root: Path) -> None:
    rules = to_sarif(report(root), view(root))["runs"][0]["tool"]["driver"]["rules"]
    catalog = {rule.code: rule for rule in CATALOG}
    for rule in rules:
        info = catalog[rule["id"]]
        assert rule["name"] == info.name
        assert rule["shortDescription"]["text"] == info.summary
        assert rule["fullDescription"]["text"] == (info.explanation or info.summary)[:1024]


def test_one_result_per_rule_file_and_line(root: Path) -> None:
    results = to_sarif(report(root), view(root))["runs"][0]["results"]
    where = [
        (r["ruleId"], r["locations"][0].get("physicalLocation", {}).get("region", {}).get("startLine"))
        for r in results
    ]
    # 7 findings: two RF003 on net.py:18 (Net and Other) and two on line 7 (a loop) are one each
    assert where == [("RF003", 7), ("RF101", 12), ("RF003", 18), ("RF107", 18), ("RF102", None)]
    shared = results[2]
    assert shared["message"]["text"] == CLOBBER + " Also on this line: enc.block.act in Other."
    assert [r["message"]["text"] for r in shared["relatedLocations"]] == [
        "same finding: block.act in Net",  # its call line
        "also on this line: enc.block.act in Other",
    ]
    assert shared["relatedLocations"][0]["physicalLocation"]["region"] == {"startLine": 31}


def fingerprints(document: dict[str, Any]) -> list[str]:
    return [r["partialFingerprints"]["relufind/v1"] for r in document["runs"][0]["results"]]


def test_fingerprints_survive_line_moves_and_are_distinct(root: Path) -> None:
    before = fingerprints(to_sarif(report(root), view(root)))
    after = fingerprints(to_sarif(moved(report(root), 40), view(root)))
    assert before == after
    assert len(set(before)) == len(before)


def test_fingerprint_changes_with_the_module_path(root: Path) -> None:
    base = report(root)
    net = base.targets[0]
    renamed = replace(net, findings=(replace(net.findings[2], module_path="activation"), *net.findings[:2]))
    changed = replace(base, targets=(renamed, *base.targets[1:]))
    assert fingerprints(to_sarif(base, view(root)))[1] != fingerprints(to_sarif(changed, view(root)))[1]


def test_sarif_notifications_for_skipped_and_failed_targets(root: Path) -> None:
    invocation = to_sarif(report(root), view(root))["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    skipped, failed = invocation["toolExecutionNotifications"]
    assert skipped["level"] == "warning"
    assert skipped["message"]["text"] == (
        "models/crnn.py:CRNN: skipped: needs arguments img_h, nc: pass --arg img_h=VALUE --arg nc=VALUE"
    )
    assert skipped["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "models/crnn.py"
    assert failed["level"] == "error" and "ImportError" in failed["message"]["text"]
    clean = Report("0.1.0", (ok("models/clean.py:Clean", "Clean"),))
    assert to_sarif(clean, view(root))["runs"][0]["invocations"] == [{"executionSuccessful": True}]


# -- GitHub workflow commands ----------------------------------------------------------------------

COMMAND = re.compile(r"^::(?P<kind>error|warning|notice)(?: (?P<props>[^:]*))?::(?P<data>.*)$")


def unescape(text: str) -> str:
    for escaped, char in (("%2C", ","), ("%3A", ":"), ("%0A", "\n"), ("%0D", "\r"), ("%25", "%")):
        text = text.replace(escaped, char)
    return text


def parse(line: str) -> tuple[str, dict[str, str], str]:
    match = COMMAND.match(line)
    assert match, f"not a workflow command: {line!r}"
    props = dict(p.split("=", 1) for p in match["props"].split(",")) if match["props"] else {}
    return match["kind"], {k: unescape(v) for k, v in props.items()}, unescape(match["data"])


def test_github_snapshot(root: Path) -> None:
    check_golden("fixture.github", output("github", report(root), view(root)))


def test_github_lines_parse_back_to_the_original_messages(root: Path) -> None:
    lines = output("github", report(root), view(root)).splitlines()
    parsed = [parse(line) for line in lines]
    assert [kind for kind, _, _ in parsed] == ["error", "error", "error", "warning", "warning", "notice", "notice"]
    _, props, data = parsed[0]
    assert props == {"file": "models/broken.py", "title": "relufind: cannot analyse models/broken.py:Broken"}
    assert data == "ImportError: no module named 'triton'; install it or exclude the file"
    _, props, data = parsed[1]
    assert props == {"file": "models/my net/ünï 100%.py", "line": "7", "title": "relufind (RF003)"}
    assert data == f"models/my net/ünï 100%.py:7: RF003 {ODD_MESSAGE} Also on this line: layers.1.act in Encoder."
    _, props, data = parsed[4]
    assert props == {"file": "models/scripted.pt", "title": "relufind (RF102)"}  # no line: a file annotation
    assert data == "models/scripted.pt: RF102 relu-rnn at rnn"
    _, props, data = parsed[-1]
    assert props["title"] == "relufind: skipped models/crnn.py:CRNN" and "--arg img_h=VALUE" in data


def test_github_escaping() -> None:
    assert escape_data("50% done\r\nnext: a, b") == "50%25 done%0D%0Anext: a, b"
    assert escape_property("a:b,c%d\ne") == "a%3Ab%2Cc%25d%0Ae"
    assert escape_data("%0A") == "%250A"  # an escape already in the text is not taken for one
    assert command("warning", "x", file=None, line=3, title="t: u") == "::warning line=3,title=t%3A u::x"
    assert command("notice", "only a message") == "::notice::only a message"


def test_github_quiet_leaves_out_skip_notices(root: Path) -> None:
    lines = output("github", report(root), view(root, quiet=True)).splitlines()
    assert len(lines) == 6 and not any("skipped" in line for line in lines)


def test_github_caps_annotations_and_says_so(root: Path) -> None:
    net = f"{root}/models/net.py"
    many = tuple(finding("RF101", f"layer{i}.act", net, i + 1) for i in range(MAX_ANNOTATIONS + 7))
    big = Report("0.1.0", (ok("models/net.py:Net", "Net", *many),))
    lines = output("github", big, view(root)).splitlines()
    commands = [line for line in lines if line.startswith("::")]
    assert len(commands) == MAX_ANNOTATIONS
    assert lines[MAX_ANNOTATIONS] == "warning: relufind (RF101): models/net.py:51: RF101 shared-relu-module at layer50.act"
    assert lines[-1].startswith(f"relufind: showing {MAX_ANNOTATIONS} of {MAX_ANNOTATIONS + 7} annotations")
    assert len(lines) == MAX_ANNOTATIONS + 7 + 1
    summary = summary_markdown(big, view(root), shown=MAX_ANNOTATIONS, total=MAX_ANNOTATIONS + 7)
    assert f"showing {MAX_ANNOTATIONS} of {MAX_ANNOTATIONS + 7} annotations" in summary
    assert len(re.findall(r"^\| `models/net.py:\d+` \|", summary, re.M)) == MAX_ANNOTATIONS + 7  # all of them


def test_github_errors_come_first(root: Path) -> None:
    net = f"{root}/models/net.py"
    mixed = Report(
        "0.1.0",
        (ok("models/net.py:Net", "Net", finding("RF107", "a", net, 1), finding("RF003", "b", net, 2)),),
    )
    kinds = [parse(line)[0] for line in output("github", mixed, view(root)).splitlines()]
    assert kinds == ["error", "notice"]


# -- the step summary ------------------------------------------------------------------------------


def test_step_summary_snapshot(root: Path) -> None:
    check_golden("fixture_summary.md", summary_markdown(report(root), view(root)))


def test_step_summary_is_appended_when_the_variable_is_set(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = root / "summary.md"
    summary.write_text("# an earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    stdout = output("github", report(root), view(root))
    text = summary.read_text(encoding="utf-8")
    assert text == "# an earlier step\n" + summary_markdown(report(root), view(root))
    assert "## relufind" not in stdout  # the log gets commands only


def test_step_summary_not_written_without_the_variable(root: Path) -> None:
    output("github", report(root), view(root))
    assert list(root.iterdir()) == []


def test_step_summary_that_cannot_be_written_is_one_line_in_the_log(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(root / "missing" / "summary.md"))
    lines = output("github", report(root), view(root)).splitlines()
    assert lines[-1].startswith("relufind: cannot append the step summary to ")


def test_step_summary_of_a_clean_run(root: Path) -> None:
    clean = Report("0.1.0", (ok("models/clean.py:Clean", "Clean"),))
    assert summary_markdown(clean, view(root)) == "## relufind\n\nNo findings in 1 analysed model.\n"


def test_step_summary_escapes_table_cells(root: Path) -> None:
    net = f"{root}/models/net.py"
    odd = finding("RF101", "act", net, 4, message="a | b <script> & c\nd")
    text = summary_markdown(Report("0.1.0", (ok("models/net.py:Net", "Net", odd),)), view(root))
    assert "| a \\| b &lt;script&gt; &amp; c d |" in text


def test_paths_are_relative_to_the_root_not_the_working_directory(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (root / "sub").mkdir()
    monkeypatch.chdir(root / "sub")
    assert project_path(str(root / "models" / "net.py"), root) == "models/net.py"
    assert project_path("x.py", None) == "x.py"
    assert project_path("x.py", root) == "sub/x.py"


# -- on real targets, through the command line -----------------------------------------------------


@pytest.mark.usefixtures("restore_imports")
@pytest.mark.parametrize("fmt", ["sarif", "github"])
def test_cli_on_real_targets(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import ROOT

    from relufind.cli import app

    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    models = "tests/fixtures/golden_models.py"
    targets = [f"{models}:NeedsArgs", f"{models}:Broken", f"{models}:ConvStack"]
    result = cli_runner().invoke(app, [*targets, "--format", fmt], prog_name="relufind")
    assert result.exit_code == 2  # Broken fails to build
    if fmt == "sarif":
        document = json.loads(result.stdout)
        validate(document)
        invocation = document["runs"][0]["invocations"][0]
        assert invocation["executionSuccessful"] is False
        assert [n["level"] for n in invocation["toolExecutionNotifications"]] == ["warning", "error"]
        assert [r["id"] for r in document["runs"][0]["tool"]["driver"]["rules"]] == sorted(
            rule.code for rule in CATALOG if rule.default
        )
    else:
        parsed = [parse(line) for line in result.stdout.splitlines()]
        assert [(kind, props["title"]) for kind, props, _ in parsed] == [
            ("error", f"relufind: cannot analyse {models}:Broken"),
            ("notice", f"relufind: skipped {models}:NeedsArgs"),
        ]
        assert all(props["file"] == models for _, props, _ in parsed)
