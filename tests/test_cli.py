"""The command line: exit codes, one-line errors on stderr, stdout kept clean, options."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import HEADER, ROOT, cli_runner
from typer.testing import Result

from relufind import __version__
from relufind.cli import app

pytestmark = pytest.mark.usefixtures("restore_imports")

GOOD = """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 4, 1)
        self.rnn = nn.GRU(4, 4, batch_first=True)

    def forward(self, x):
        x = F.relu(self.conv(x))
        x, _ = self.rnn(x.transpose(1, 2))
        return x.relu()


class Needs(nn.Module):
    def __init__(self, width, depth):
        super().__init__()

    def forward(self, x):
        return x


class Broken(nn.Module):
    def __init__(self):
        super().__init__()
        raise ValueError("depth must be even")

    def forward(self, x):
        return x


class AbstractBase(nn.Module):
    pass  # no forward(): a base class for others, not a model


NOT_A_MODULE = 42
"""


def invoke(*args: str) -> Result:
    return cli_runner().invoke(app, list(args), prog_name="relufind")


def stderr_lines(result: Result) -> list[str]:
    return result.stderr.splitlines()


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp_path holding good.py, and the working directory, so targets read `good.py:Net`."""
    (tmp_path / "good.py").write_text(HEADER + GOOD)
    monkeypatch.chdir(tmp_path)
    return tmp_path


# -- success ---------------------------------------------------------------------------------------


def test_tree_output_is_plain_and_exit_zero(models: Path) -> None:
    result = invoke("good.py:Net")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    out = result.stdout
    assert "\x1b[" not in out  # not a terminal: no colour codes
    assert out.splitlines()[0] == "Net  good.py:Net  built on meta"
    assert "good.py:13" in out and "good.py:15" in out
    assert "after   Conv1d conv" in out
    assert out.rstrip().endswith("2 ReLU sites (1 function, 1 method) · 2 anchors")


def test_json_output_is_one_document(models: Path) -> None:
    result = invoke("--format", "json", "good.py:Net")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["version"] == __version__
    (target,) = document["targets"]
    assert (target["target"], target["model"], target["status"], target["device"]) == (
        "good.py:Net",
        "Net",
        "ok",
        "meta",
    )
    assert [s["kind"] for s in target["sites"]] == ["function", "method"]
    assert [s["source"] for s in target["sites"]] == [
        {"file": "good.py", "line": 13},
        {"file": "good.py", "line": 15},
    ]


def test_short_format_option(models: Path) -> None:
    result = invoke("-f", "json", "good.py:Net")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["targets"][0]["status"] == "ok"


def test_skipped_target_names_the_entry_and_options_and_nothing_analysed_exits_2(models: Path) -> None:
    result = invoke("good.py:Needs")
    assert result.exit_code == 2
    assert stderr_lines(result) == [
        "relufind: error: nothing was analysed: 1 target skipped; "
        "add [[tool.relufind.targets]] entries for them (see above)"
    ]
    assert result.stdout.splitlines() == [
        "Needs  good.py:Needs  skipped: needs arguments width, depth: add this [[tool.relufind.targets]] "
        "entry to pyproject.toml, or pass --arg width=VALUE --arg depth=VALUE",
        "    [[tool.relufind.targets]]",
        '    target = "good.py:Needs"',
        "    args = { width = <value>, depth = <value> }",
    ]
    result = invoke("good.py:Needs", "--arg", "width=4", "--arg", "depth=2")
    assert result.exit_code == 0
    assert "built on meta" in result.stdout


def test_file_target_mixes_ok_skipped_and_error(models: Path) -> None:
    result = invoke("-f", "json", "good.py")
    document = json.loads(result.stdout)
    statuses = {t["model"]: t["status"] for t in document["targets"]}
    assert statuses == {"Net": "ok", "Needs": "skipped", "Broken": "error", "AbstractBase": "skipped"}
    (abstract,) = [t for t in document["targets"] if t["model"] == "AbstractBase"]
    assert abstract["skip_reason"] == "has no forward() (a container or helper)"
    assert result.exit_code == 2
    assert stderr_lines(result) == [
        "relufind: error: good.py:Broken: Broken(...) raised ValueError: depth must be even; give it "
        'working arguments in a [[tool.relufind.targets]] entry (target = "good.py:Broken", args = { ... })'
    ]


# -- target errors: one line on stderr, exit 2 -----------------------------------------------------

ERROR_CASES = {
    "missing file": ("absent.py:Net", "no such file 'absent.py'; check the path"),
    "missing folder": ("absent_dir/", "no such file or folder 'absent_dir'"),
    "missing name": (
        "good.py:Nope",
        "no 'Nope' in good.py; it defines: Net, Needs, Broken, AbstractBase (nn.Module classes)",
    ),
    "syntax error": ("syntax.py:Net", "syntax error in syntax.py:4"),
    "import error": ("imports.py:Net", "no module named 'not_installed_qq'"),
    "raises at import": ("raises.py:Net", "raised RuntimeError: CUDA is required"),
    "not a module": ("good.py:NOT_A_MODULE", "'NOT_A_MODULE' is an int, not an nn.Module"),
    "constructor raises": ("good.py:Broken", "Broken(...) raised ValueError: depth must be even"),
    "no forward": (
        "good.py:AbstractBase",
        "AbstractBase has no forward() (a container or helper); name the model that uses it",
    ),
    "malformed target": ("good.py:9lives", "'9lives' is not a Python name"),
    "malformed module target": ("some.module", "for a module write package.module:Name"),
    "unknown module": ("no_such_pkg_qq.models:Net", "no module named 'no_such_pkg_qq'"),
}


def _write_broken_files(root: Path) -> None:
    (root / "syntax.py").write_text("import torch\n\n\ndef f(:\n    pass\n")
    (root / "imports.py").write_text("import torch\nimport not_installed_qq\n")
    (root / "raises.py").write_text("raise RuntimeError('CUDA is required')\n")


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_error_is_one_line_on_stderr_and_exit_2(models: Path, case: str) -> None:
    _write_broken_files(models)
    target, message = ERROR_CASES[case]
    for fmt in ("tree", "json"):
        result = invoke("--format", fmt, target)
        assert result.exit_code == 2, (case, result.stdout, result.stderr)
        lines = stderr_lines(result)
        assert len(lines) == 1, lines
        assert lines[0].startswith(f"relufind: error: {target}: "), lines[0]
        assert message in lines[0]
        assert "Traceback" not in result.stderr + result.stdout
        if fmt == "json":
            (entry,) = json.loads(result.stdout)["targets"]
            assert entry["status"] == "error"
            assert entry["target"] == target
            assert message in entry["error"]["message"]
        else:
            (entry_line,) = result.stdout.splitlines()
            assert target in entry_line and message in entry_line
            assert "  error (" in entry_line


@pytest.mark.parametrize("case", ["constructor raises", "import error", "missing name"])
def test_debug_shows_the_traceback(models: Path, case: str) -> None:
    _write_broken_files(models)
    target, message = ERROR_CASES[case]
    result = invoke("--debug", target)
    assert result.exit_code == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stdout


def test_several_targets_one_bad_others_still_analysed(models: Path) -> None:
    result = invoke("-f", "json", "good.py:Net", "good.py:Missing", "good.py:Needs", "good.py:Net")
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert [(t["target"], t["status"]) for t in document["targets"]] == [
        ("good.py:Net", "ok"),
        ("good.py:Missing", "error"),
        ("good.py:Needs", "skipped"),
        ("good.py:Net", "ok"),
    ]
    assert document["targets"][1]["error"]["type"] == "NameNotFound"
    assert len(document["targets"][0]["sites"]) == 2
    assert len(stderr_lines(result)) == 1


def test_unknown_arg_for_explicit_target(models: Path) -> None:
    result = invoke("good.py:Net", "--arg", "width=3")
    assert result.exit_code == 2
    (line,) = stderr_lines(result)
    assert line.startswith("relufind: error: good.py:Net: Net has no parameter width")


def test_timeout(models: Path) -> None:
    (models / "slow.py").write_text("while True:\n    pass\n")
    result = invoke("--timeout", "0.3", "slow.py:Net", "good.py:Net")
    assert result.exit_code == 2
    (line,) = stderr_lines(result)
    assert line.startswith("relufind: error: slow.py:Net: gave up after 0.3 s")
    assert "Net  good.py:Net  built on meta" in result.stdout


# -- usage errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--arg", "novalue", "good.py:Net"], "--arg 'novalue' is not NAME=VALUE"),
        (["--arg", "=3", "good.py:Net"], "--arg '=3' is not NAME=VALUE"),
        (["--arg", "a-b=3", "good.py:Net"], "--arg 'a-b=3' is not NAME=VALUE"),
        (["--format", "xml", "good.py:Net"], "'xml' is not one of 'tree', 'json'"),
        (["--no-such-option", "good.py:Net"], "No such option: --no-such-option"),
        (["--timeout", "soon", "good.py:Net"], "Invalid value for '--timeout'"),
    ],
)
def test_usage_error_is_one_line_and_exit_2(models: Path, args: list[str], message: str) -> None:
    for extra in ([], ["--debug"]):
        result = invoke(*extra, *args)
        assert result.exit_code == 2
        assert result.stdout == ""
        (line,) = stderr_lines(result)
        assert line.startswith("relufind: error: ")
        assert message in line
        assert line.endswith("(see relufind --help)")
        assert "Usage:" not in result.stderr


def test_no_arguments_and_no_configured_targets_is_a_usage_error(models: Path) -> None:
    result = invoke()
    assert result.exit_code == 2
    assert stderr_lines(result) == [
        "relufind: error: name at least one target (a file.py:Name, a file or a folder), or list models "
        "in [[tool.relufind.targets]] of pyproject.toml (see relufind --help)"
    ]


# -- model output never reaches the report stream --------------------------------------------------

NOISY = """
import logging
import warnings

print("model says hello at import")
warnings.warn("deprecated thing at import")
logging.getLogger("noisy").warning("log line at import")


class Noisy(nn.Module):
    def __init__(self):
        super().__init__()
        print("model says hello in __init__")
        warnings.warn("careful in __init__", UserWarning)
        self.conv = nn.Conv1d(2, 2, 1)

    def forward(self, x):
        print("model says hello in forward")
        warnings.warn("forward warning", RuntimeWarning)
        sys.stderr.write("model writes to stderr\\n")
        return F.relu(self.conv(x))
"""


def _write_noisy(root: Path, raw_fd: bool = False) -> None:
    extra = "import os\nos.write(1, b'raw write to fd 1 at import\\n')\n" if raw_fd else ""
    (root / "noisy.py").write_text(HEADER + "import sys\n" + extra + NOISY)


@pytest.mark.parametrize("fmt", ["json", "tree"])
def test_model_output_never_reaches_stdout(models: Path, fmt: str) -> None:
    _write_noisy(models)
    result = invoke("--format", fmt, "noisy.py:Noisy", "--exit-zero")  # its ReLU is on the output (RF001)
    assert result.exit_code == 0, result.stderr
    assert "model says" not in result.stdout
    assert "warning" not in result.stdout.lower()
    assert "log line" not in result.stdout
    if fmt == "json":
        document = json.loads(result.stdout)
        assert document["targets"][0]["status"] == "ok"
        assert len(document["targets"][0]["sites"]) == 1
    # and without --debug it is not shown at all
    assert "model says" not in result.stderr


def test_debug_shows_model_output_on_stderr(models: Path) -> None:
    _write_noisy(models)
    result = invoke("--debug", "-f", "json", "noisy.py:Noisy", "--exit-zero")
    assert result.exit_code == 0
    json.loads(result.stdout)
    for text in ("model says hello at import", "in __init__", "in forward", "careful in __init__"):
        assert text in result.stderr


def test_model_output_subprocess_stdout_is_exactly_one_json_document(tmp_path: Path) -> None:
    """A real process: C-level writes to file descriptor 1 must not reach stdout either."""
    _write_noisy(tmp_path, raw_fd=True)
    done = subprocess.run(
        [sys.executable, "-m", "relufind", "--format", "json", "--exit-zero", "noisy.py:Noisy"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)  # the whole of stdout, nothing before or after
    assert document["targets"][0]["status"] == "ok"
    assert "raw write to fd 1" in done.stderr
    assert "model says" not in done.stdout


# -- options ---------------------------------------------------------------------------------------


def test_arg_values_are_literals_or_strings(models: Path) -> None:
    (models / "configurable.py").write_text(
        HEADER
        + textwrap.dedent(
            """
            class Configurable(nn.Module):
                def __init__(self, n, act, dims):
                    super().__init__()
                    assert isinstance(n, int) and isinstance(act, str) and isinstance(dims, list)
                    self.act = act
                    self.layers = nn.ModuleList(nn.Conv1d(d, d, 1) for d in dims * n)

                def forward(self, x):
                    for layer in self.layers:
                        x = getattr(F, self.act)(layer(x))
                    return x
            """
        )
    )
    result = invoke(
        "-f", "json", "configurable.py:Configurable", "--arg", "n=3", "-a", "act=relu", "--arg", "dims=[2]",
        "--exit-zero",  # 1x1 conv -> relu -> output fires RF001; this test is about --arg
    )
    assert result.exit_code == 0, result.stdout
    (target,) = json.loads(result.stdout)["targets"]
    assert len(target["sites"]) == 3
    assert len(target["anchors"]) == 3


def test_variants_option(models: Path) -> None:
    (models / "variants.py").write_text(
        HEADER
        + "class V(nn.Module):\n    def forward(self, x):\n        return F.relu(F.relu6(F.leaky_relu(x)))\n"
    )
    hidden = invoke("variants.py:V")
    assert "1 ReLU site (1 function)" in hidden.stdout
    assert "variants not shown: 1 leaky_relu, 1 relu6 (--variants lists them)" in hidden.stdout
    shown = json.loads(invoke("-f", "json", "--variants", "variants.py:V").stdout)
    assert sorted(s["variant"] for s in shown["targets"][0]["sites"]) == ["leaky_relu", "relu", "relu6"]


def test_eval_option(models: Path) -> None:
    (models / "aux.py").write_text(
        HEADER
        + textwrap.dedent(
            """
            class Aux(nn.Module):
                def forward(self, x):
                    if self.training:
                        x = F.relu(x) + 1
                    return torch.relu(x)
            """
        )
    )
    training = json.loads(invoke("-f", "json", "aux.py:Aux").stdout)
    evaluated = json.loads(invoke("-f", "json", "--eval", "aux.py:Aux").stdout)
    assert len(training["targets"][0]["sites"]) == 2
    assert len(evaluated["targets"][0]["sites"]) == 1


def test_anchor_option(models: Path) -> None:
    (models / "custom.py").write_text(
        HEADER
        + textwrap.dedent(
            """
            class Mixer(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.lin = nn.Linear(4, 4)
                def forward(self, x):
                    return self.lin(x)

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.mix = Mixer()
                def forward(self, x):
                    return F.relu(self.mix(x))
            """
        )
    )
    plain = json.loads(invoke("-f", "json", "custom.py:Net").stdout)["targets"][0]
    assert plain["sites"][0]["after"] == []
    anchored = json.loads(invoke("-f", "json", "--anchor", "Mixer", "custom.py:Net").stdout)["targets"][0]
    assert anchored["anchors"] == [{"path": "mix", "type": "Mixer"}]
    assert [r["anchor"] for r in anchored["sites"][0]["after"]] == ["mix"]


# -- --help / --version ----------------------------------------------------------------------------


def test_version_in_process() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout == f"relufind {__version__}\n"


def test_help_in_process() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for option in (
        "--format",
        "--arg",
        "--variants",
        "--eval",
        "--anchor",
        "--timeout",
        "--debug",
        "--version",
    ):
        assert option in result.stdout
    assert "file.py:Name" in result.stdout


CHECK_NO_TORCH = textwrap.dedent(
    """
    import sys
    from relufind.cli import main
    sys.argv = ["relufind", sys.argv[1]]
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    print("EXIT", code, "TORCH" if "torch" in sys.modules else "NO-TORCH")
    """
)


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_do_not_import_torch(flag: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK_NO_TORCH, flag], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.stdout.splitlines()[-1] == "EXIT 0 NO-TORCH", done.stdout + done.stderr


def test_python_dash_m_version() -> None:
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    done = subprocess.run(
        [sys.executable, "-m", "relufind", "--version"], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"relufind {__version__}\n"
    assert done.stderr == ""


def test_a_deleted_working_folder_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    script = (
        f"import os, sys; os.chdir({str(gone)!r}); os.rmdir({str(gone)!r}); "
        "sys.argv = ['relufind', 'model.py']; from relufind.launch import main; main()"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "relufind: error: the current folder no longer exists (deleted or moved); cd into the project "
        "(see relufind --help)"
    ]
