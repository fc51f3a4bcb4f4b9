"""Lint through the command line: selection, configuration discovery, suppression, exit codes,
--statistics, --list-rules / --explain, and defined_at; plus the API's promises."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import HEADER, ROOT, cli_runner, marker_line

from relufind.cli import app

MODEL = HEADER + textwrap.dedent(
    """
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv1d(4, 4, 3, padding=1)
            self.conv2 = nn.Conv1d(4, 4, 3, padding=1)
            self.act = nn.ReLU(inplace=True)  # site: act defined
            self.fc = nn.Linear(4, 3)

        def forward(self, x):
            y = self.conv1(x)
            z = self.act(y)  # site: act call
            h = (self.conv2(z) + y).mean(-1)
            return F.relu(self.fc(h))  # site: logits
    """
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository (``.git``) with the model in ``pkg/``; the working directory is ``pkg/``."""
    (tmp_path / ".git").mkdir()
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "net.py").write_text(MODEL)
    monkeypatch.chdir(pkg)
    return pkg


def invoke(*args: str) -> tuple[int, str, str]:
    result = cli_runner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def findings(*args: str) -> tuple[int, list[tuple[str, str, int]]]:
    code, out, err = invoke("net.py:Net", "--format", "json", *args)
    assert code in (0, 1), err
    (target,) = json.loads(out)["targets"]
    return code, [(f["code"], f["module_path"], f["source"]["line"]) for f in target["findings"]]


def codes(*args: str) -> list[str]:
    return sorted({code for code, _, _ in findings(*args)[1]})


# -- defaults, exit codes ------------------------------------------------------------------------

def test_default_rules_fire_with_exact_places_and_exit_1(project: Path) -> None:
    net = project / "net.py"
    code, found = findings()
    assert code == 1
    assert found == [
        ("RF001", "", marker_line(net, "logits")),
        ("RF003", "act", marker_line(net, "act defined")),
    ]


def test_exit_zero_and_errors_win(project: Path) -> None:
    assert invoke("net.py:Net", "--exit-zero")[0] == 0
    assert invoke("net.py:Net", "no_such.py:X")[0] == 2  # an error wins over findings
    assert invoke("net.py:Net", "no_such.py:X", "--exit-zero")[0] == 2
    assert invoke("net.py:Net", "--ignore", "ALL")[0] == 0


# -- selection -------------------------------------------------------------------------------------

def test_selectors_codes_names_prefixes_all(project: Path) -> None:
    assert codes("--select", "RF003") == ["RF003"]
    assert codes("--select", "relu-on-output") == ["RF001"]
    assert codes("--select", "RF1") == ["RF104", "RF107"]  # module and function styles; in place
    assert codes("--select", "ALL") == ["RF001", "RF003", "RF104", "RF107"]
    assert codes("--select", "RF001,inplace-clobber") == ["RF001", "RF003"]
    assert codes("--ignore", "RF001") == ["RF003"]
    assert codes("--extend-select", "RF107") == ["RF001", "RF003", "RF107"]
    assert codes("--select", "RF0", "--ignore", "rf003") == ["RF001"]


def test_unknown_selector_is_a_usage_error_naming_the_valid_ones(project: Path) -> None:
    code, out, err = invoke("net.py:Net", "--select", "RF999")
    assert code == 2 and out == ""
    assert "unknown rule 'RF999'" in err and "RF001" in err and "ALL" in err


# -- configuration ---------------------------------------------------------------------------------

def test_configuration_found_walking_up_and_flags_win(project: Path) -> None:
    (project.parent / "pyproject.toml").write_text('[tool.relufind]\nselect = ["RF003", "RF107"]\n')
    assert codes() == ["RF003", "RF107"]
    assert codes("--ignore", "RF107") == ["RF003"]  # flags on top of the file
    assert codes("--select", "RF001") == ["RF001"]  # a --select replaces the file's
    assert codes("--isolated") == ["RF001", "RF003"]


def test_configuration_search_stops_at_the_repository_root(project: Path) -> None:
    outside = project.parent.parent / "pyproject.toml"
    if outside.exists():
        pytest.skip("a pyproject.toml above the temporary folder")
    # a pyproject without the table is skipped; the .git folder ends the search
    (project / "pyproject.toml").write_text("[tool.other]\nx = 1\n")
    assert codes() == ["RF001", "RF003"]


def test_closest_file_with_the_table_wins(project: Path) -> None:
    (project.parent / "pyproject.toml").write_text('[tool.relufind]\nselect = ["RF107"]\n')
    (project / "pyproject.toml").write_text('[tool.relufind]\nignore = ["RF001"]\n')
    assert codes() == ["RF003"]


def test_config_option_names_the_file(project: Path, tmp_path: Path) -> None:
    other = tmp_path / "lint.toml"
    other.write_text('select = ["RF001"]\n')
    assert codes("--config", str(other)) == ["RF001"]
    code, _, err = invoke("net.py:Net", "--config", str(tmp_path / "missing.toml"))
    assert code == 2 and "no such file" in err


def test_unknown_key_or_code_in_configuration_is_a_usage_error(project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.relufind]\nselekt = ["RF001"]\n')
    code, _, err = invoke("net.py:Net")
    assert code == 2 and "unknown key selekt" in err and "valid keys: select" in err
    (project / "pyproject.toml").write_text('[tool.relufind]\nignore = ["RF0O1"]\n')
    code, _, err = invoke("net.py:Net")
    assert code == 2 and "ignore: unknown rule 'RF0O1'" in err


# -- suppression -----------------------------------------------------------------------------------

def _suppress(project: Path, marker: str, comment: str) -> None:
    net = project / "net.py"
    lines = net.read_text().splitlines()
    line = marker_line(net, marker)
    lines[line - 1] = lines[line - 1].replace(f"# site: {marker}", f"{comment}  # site: {marker}")
    net.write_text("\n".join(lines) + "\n")


def test_suppression_on_the_defined_at_line(project: Path) -> None:
    _suppress(project, "act defined", "# relufind: ignore[RF003]")
    assert codes() == ["RF001"]


def test_suppression_on_the_call_line(project: Path) -> None:
    _suppress(project, "act call", "# RELUFIND: ignore [ rf003 ]")
    assert codes() == ["RF001"]


def test_bare_suppression_and_noqa(project: Path) -> None:
    _suppress(project, "logits", "# relufind: ignore")
    _suppress(project, "act call", "# noqa: RF003")
    code, found = findings()
    assert (code, found) == (0, [])


def test_unused_suppression_is_reported_with_statistics(project: Path) -> None:
    net = project / "net.py"
    _suppress(project, "act defined", "# relufind: ignore[RF004]")  # matches nothing
    code, out, _ = invoke("net.py:Net", "--statistics")
    assert code == 1
    line = marker_line(net, "act defined")
    assert "    1  RF001  relu-on-output" in out and "    1  RF003  inplace-clobber" in out
    assert f"unused suppression  net.py:{line}  # relufind: ignore[RF004] matched no finding" in out
    _, out, _ = invoke("net.py:Net", "--format", "json")
    statistics = json.loads(out)["statistics"]
    assert statistics == {
        "findings": {"RF001": 1, "RF003": 1},
        "unused_suppressions": [{"file": "net.py", "line": line, "codes": ["RF004"]}],
    }


def test_suppression_inside_a_string_is_not_a_comment(project: Path) -> None:
    net = project / "net.py"
    net.write_text(net.read_text().replace("        y = self.conv1(x)", '        y = self.conv1(x)\n        _ = "# relufind: ignore"'))
    assert codes() == ["RF001", "RF003"]


# -- the tree --------------------------------------------------------------------------------------

def test_tree_shows_findings_under_their_site_and_a_count(project: Path) -> None:
    net = project / "net.py"
    code, out, _ = invoke("net.py:Net")
    assert code == 1
    assert f"net.py:{marker_line(net, 'act call')}  defined at line {marker_line(net, 'act defined')}" in out
    assert "✗ RF003 inplace-clobber  Net: the in-place ReLU in act overwrites its input" in out
    assert out.rstrip().endswith("2 findings (RF001, RF003)")


# -- --list-rules / --explain ---------------------------------------------------------------------

def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "relufind", *args],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )


@pytest.mark.parametrize("args", [["--list-rules"], ["--explain", "RF003"], ["--explain=inplace-clobber"], ["--version"]])
def test_instant_answers_import_neither_torch_nor_typer(args: list[str]) -> None:
    done = _run(*args)
    assert done.returncode == 0, done.stderr
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "torch" not in imported and "typer" not in imported


def test_instant_answers_equal_typer_answers() -> None:
    from relufind.rules.catalog import explain_text, list_text, lookup

    code, out, _ = invoke("--list-rules")
    assert code == 0 and out == list_text() == _run("--list-rules").stdout
    code, out, _ = invoke("--explain", "RF003")
    assert code == 0 and out == explain_text(lookup("RF003")) == _run("--explain", "RF003").stdout  # type: ignore[arg-type]
    assert "Fires on:" in out and "Instead:" in out
    code, _, err = invoke("--explain", "RF999")
    assert code == 2 and "unknown rule 'RF999'" in err


def test_instant_answers_are_fast() -> None:
    command = [str(Path(sys.executable).parent / "relufind"), "--explain", "RF001"]
    if not Path(command[0]).exists():
        pytest.skip("no console script")
    best = min(_timed(command) for _ in range(3))
    assert best < 0.3, best


def _timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, check=True, timeout=60)
    return time.perf_counter() - start


# -- defined_at --------------------------------------------------------------------------------

BUILT = """
def conv_relu(c):
    return nn.Sequential(nn.Conv2d(c, c, 3), nn.ReLU())  # site: helper relu


class MyReLU(nn.ReLU):
    def __init__(self):
        super().__init__(inplace=False)


class Built(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = conv_relu(3)
        self.stack = nn.Sequential(
            nn.Conv2d(3, 3, 3),
            nn.ReLU(),  # site: sequential relu
        )
        self.mine = MyReLU()  # site: subclass relu

    def forward(self, x):
        return self.mine(self.stack(self.block(x)))


class NeedsRealTensors(Built):
    def __init__(self):
        super().__init__()
        self.k = int(torch.ones(1).sum().item())
"""


@pytest.mark.parametrize(("name", "how"), [("Built", "meta"), ("NeedsRealTensors", "meta-params")])
def test_defined_at_is_the_construction_line(write_model, name: str, how: str) -> None:  # type: ignore[no-untyped-def]
    from conftest import analyse

    path = write_model(BUILT, "built")
    result = analyse(f"{path}:{name}")
    assert result.build == how
    lines = {s.module_path: s.defined_at.line for s in result.sites if s.defined_at is not None}
    assert lines == {
        "block.1": marker_line(path, "helper relu"),
        "stack.1": marker_line(path, "sequential relu"),
    }  # ("mine" is traced through: its F.relu is a function site, which has no defined_at)


def test_construction_line_of_a_subclass_is_where_it_is_built(write_model, restore_imports) -> None:  # type: ignore[no-untyped-def]
    import importlib.util

    from relufind.construct import recording

    path = write_model(BUILT, "built_subclass")
    spec = importlib.util.spec_from_file_location("_relufind_built_subclass", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with recording() as record:
        model = module.Built()
    assert record[model.mine].line == marker_line(path, "subclass relu")  # not its super().__init__()
    assert record[model.stack[1]].line == marker_line(path, "sequential relu")


# -- the API -----------------------------------------------------------------------------------

def test_scan_restores_training_flags_and_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    import torch.nn as nn

    import relufind

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.drop = nn.Dropout()

        def forward(self, x):  # type: ignore[no-untyped-def]
            print("forward runs")
            return self.drop(nn.functional.relu(self.fc(x)))

    model = Net()
    model.drop.eval()  # a mixed state must survive too
    result = relufind.scan(model, eval=True, rules=["RF001"])
    assert [(f.code, f.module_path) for f in result.findings] == [("RF001", "")]
    assert result.sites[0].defined_at is None  # built before relufind could watch
    assert model.training and model.fc.training and not model.drop.training
    assert capsys.readouterr() == ("", "")
    assert relufind.scan(model, rules="ALL").findings
    assert relufind.scan(model, rules=[]).findings == ()


def test_public_names() -> None:
    code = (
        "import sys, relufind; names = dir(relufind); "
        "assert set(relufind.__all__) <= set(names), names; "
        "[getattr(relufind, n) for n in relufind.__all__ if n not in ('scan', 'scan_targets', 'Options')]; "
        "assert 'torch' not in sys.modules; print(len(relufind.RULES))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "13"
    import relufind

    assert {"scan", "scan_targets", "Finding", "Report", "RULES"} <= set(relufind.__all__)


# -- the README keeps the catalog's table -------------------------------------------------------

def test_readme_rule_table_matches_the_catalog() -> None:
    from relufind.rules.catalog import RULES

    readme = (ROOT / "README.md").read_text()
    rows = [line for line in readme.splitlines() if line.startswith("| RF")]
    expected = [
        f"| {r.code} | {r.name} | {'on' if r.default else 'off'} | {r.severity} | {r.summary} |" for r in RULES
    ]
    assert rows == expected

