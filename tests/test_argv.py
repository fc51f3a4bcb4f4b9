"""The console script's typer-free reading of plain command lines (``relufind.argv``).

It must read every command line it accepts exactly as the typer application does, and hand
everything else to typer; a cached CI run must then finish without importing typer or torch.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
from conftest import ROOT, cli_runner

from relufind import cli
from relufind.argv import OPTIONS, fast_invocation
from relufind.command import Invocation


def typer_invocation(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> Invocation | None:
    """The Invocation the typer application builds for ``argv`` (None: it refused the line)."""
    seen: list[Invocation] = []

    def capture(invocation: Invocation) -> int:
        seen.append(invocation)
        return 0

    monkeypatch.setattr(cli, "run", capture)
    cli_runner().invoke(cli.app, argv, prog_name="relufind")
    return seen[0] if seen else None


PLAIN = [
    [],
    ["."],
    ["models/", "train.py", "net.py:Net"],
    ["--format", "json"],
    ["--format=sarif", "--output", "out.sarif", "."],
    ["-f", "github", "-q", "src"],
    ["--select", "RF001,RF003", "--select", "RF1", "--extend-select=RF106", "--ignore", "RF002"],
    ["--select", ""],
    ["--arg", "hidden=64", "-a", "name=lstm", "--arg", "dims=[1, 2]", "m.py:Net"],
    ["--input-shape", "1,3,224,224", "--input-shape=8,20:long", "--anchor", "MyConv", "--anchor", "Other"],
    ["--timeout", "30", "--timeout", "12.5", "-j", "2", "--jobs=0"],
    ["--variants", "--eval", "--allow-pickle", "--isolated", "--statistics", "--exit-zero", "--no-cache"],
    ["--strict", "--expand", "--debug", "--config", "other.toml", "--exclude", "legacy/", "--exclude=*.gen.py"],
    ["--baseline", "base.json", "--write-baseline", "new.json", "a.py", "--format", "tree", "b.py"],
    ["--format", "json", "--format", "tree"],  # the last one wins, as in click
    ["--output=report.json", "-o", "second.json"],
]

NOT_PLAIN = [
    ["--help"],
    ["--version", "."],
    ["--list-rules", "--format", "json"],
    ["--explain", "RF001", "."],
    ["--format", "xml"],
    ["--format"],
    ["-fjson"],
    ["-qf", "json"],
    ["--jobs", "-1"],
    ["--jobs", "two"],
    ["--timeout", "1e3"],
    ["--quiet=yes"],
    ["--output", ""],
    ["--", "-weird.py"],
    ["-"],
    ["--no-such-option"],
    ["--selec", "RF001"],  # click does not take abbreviations either
]


@pytest.mark.parametrize("argv", PLAIN, ids=" ".join)
def test_plain_command_lines_read_as_typer_reads_them(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    fast = fast_invocation(argv)
    assert fast is not None, argv
    assert fast == typer_invocation(argv, monkeypatch)


@pytest.mark.parametrize("argv", NOT_PLAIN, ids=" ".join)
def test_anything_else_goes_to_typer(argv: list[str]) -> None:
    assert fast_invocation(argv) is None


def test_every_analysis_option_is_read_without_typer() -> None:
    """A new option in cli.py must be added to relufind.argv too (else every run that uses it
    pays typer's start-up), with the same Invocation field and the same default."""
    import typer.main

    command = typer.main.get_command(cli.app)
    instant = {"--help", "--version", "--list-rules", "--explain"}
    fields = {f.name: f for f in dataclasses.fields(Invocation)}
    for param in command.params:
        spellings = [*param.opts, *param.secondary_opts]
        if param.name == "targets" or instant & set(spellings):
            continue
        for spelling in spellings:
            assert spelling in OPTIONS, f"{spelling} is not read by relufind.argv"
            assert OPTIONS[spelling][0] == param.name, spelling
        default = fields[param.name].default
        declared = param.default.value if hasattr(param.default, "value") else param.default
        assert declared == default or (declared is None and default == ()), (param.name, declared, default)


def test_the_console_script_hands_help_and_mistakes_to_typer() -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "relufind", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
        )

    helped = run("--help")
    assert helped.returncode == 0 and "--write-baseline" in helped.stdout, helped.stderr
    wrong = run("--format", "xml", "sample_models/")
    assert wrong.returncode == 2 and wrong.stdout == ""
    assert wrong.stderr.startswith("relufind: error: ") and "xml" in wrong.stderr, wrong.stderr
    assert len(wrong.stderr.splitlines()) == 1
