"""The command line: parse options, call the core, pick a renderer, exit with the report's code.

Nothing here imports torch at module level, so ``--help`` and ``--version`` stay fast.
"""

from __future__ import annotations

import ast
import contextlib
import os
import sys
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand

from . import __version__
from .cache import DEFAULT_DIR as DEFAULT_CACHE_DIR
from .report import EXIT_ERROR, EXIT_FINDINGS, TargetResult

if TYPE_CHECKING:
    from collections import Counter

    from .keys import FindingKey
    from .render import View
    from .report import Report


class Format(str, Enum):
    """The ``--format`` choices: the names of ``relufind.render.RENDERERS`` (a test keeps them equal)."""

    tree = "tree"
    json = "json"
    sarif = "sarif"
    github = "github"


def _selectors(values: list[str] | None) -> tuple[str, ...]:
    """``--select RF001,RF003 --select RF1``: comma-separated and repeatable, as in ruff."""
    return tuple(part.strip() for value in values or () for part in value.split(",") if part.strip())


app = typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False)


def _usage_error(message: str) -> typer.Exit:
    """Print one line for a command-line mistake; the caller raises the returned Exit(2)."""
    print(f"relufind: error: {message} (see relufind --help)", file=sys.stderr, flush=True)
    return typer.Exit(EXIT_ERROR)


class _Command(TyperCommand):
    """Usage errors (bad --format, unknown option, ...) as one line on stderr, exit 2."""

    def make_context(self, info_name, args, parent=None, **extra):  # type: ignore[no-untyped-def]
        try:  # typer >= 0.26 vendors click; older releases depend on click itself
            from typer._click import exceptions
        except ImportError:
            from click import exceptions
        # NoArgsIsHelpError is click >= 8.2's; with older click, help for no arguments is
        # printed by click itself and never raised
        no_args_is_help = getattr(exceptions, "NoArgsIsHelpError", ())

        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except no_args_is_help:
            raise
        except exceptions.UsageError as exc:
            # typer's coercion words some messages "Value error, ..."; the rest says it all
            raise _usage_error(exc.format_message().replace("Value error, ", "")) from None


def _version(value: bool) -> None:
    if value:
        print(f"relufind {__version__}", flush=True)
        raise typer.Exit()


def _env_flag(name: str) -> bool:
    """An environment switch (``RELUFIND_NO_CACHE=1``, as ruff's ``RUFF_NO_CACHE``)."""
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def _list_rules(value: bool) -> None:
    if value:
        from .rules.catalog import list_text

        print(list_text(), end="", flush=True)
        raise typer.Exit()


def _explain(value: str | None) -> None:
    if value is None:
        return
    from .rules.catalog import explain_text, lookup

    rule = lookup(value)
    if rule is None:
        raise _usage_error(f"--explain: unknown rule '{value}' (relufind --list-rules shows them all)")
    print(explain_text(rule), end="", flush=True)
    raise typer.Exit()


_CONTAINERS = {"[": "list", "{": "dict or set", "(": "tuple"}


def parse_arg(text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` with VALUE read as a Python literal, else kept as a string.

    A value that opens like a list, dict or tuple but does not parse is a mistake (a missing
    bracket, an unquoted word), never a string: the constructor would get "[1, 2" silently.
    """
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise typer.BadParameter(f"--arg '{text}' is not NAME=VALUE (for example --arg hidden_size=64)")
    try:
        return name, ast.literal_eval(raw)
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        kind = _CONTAINERS.get(raw.strip()[:1])
        if kind is not None:
            why = exc.msg if isinstance(exc, SyntaxError) else str(exc).strip() or type(exc).__name__
            raise typer.BadParameter(
                f"--arg {name}={raw} looks like a {kind} but is not a Python literal ({why}); "
                f"close every bracket and quote strings, e.g. --arg {name}=\"['a', 'b']\""
            ) from None
        return name, raw


def parse_input(text: str) -> tuple[tuple[int, ...], str | None]:
    """``8,20:long`` as a shape and a dtype name (None when no ``:dtype`` is given)."""
    from .vocab import INPUT_DTYPES

    shape_text, sep, dtype = text.partition(":")
    dtype = dtype.strip().lower().removeprefix("torch.")
    if sep and dtype not in INPUT_DTYPES:
        known = ", ".join(sorted(INPUT_DTYPES))
        raise typer.BadParameter(f"--input-shape '{text}': unknown dtype '{dtype}' (one of {known})")
    return parse_shape(shape_text), (dtype or None) if sep else None


def parse_shape(text: str) -> tuple[int, ...]:
    """``1,3,224,224`` (or ``1x3x224x224``) as a tuple of positive sizes."""
    parts = text.replace("x", ",").split(",")
    try:
        shape = tuple(int(p) for p in parts if p.strip())
    except ValueError:
        shape = ()
    if not shape or any(d < 0 for d in shape):
        raise typer.BadParameter(f"--input-shape '{text}' is not a shape like 1,3,224,224")
    return shape


@app.command(cls=_Command)
def main_command(
    targets: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="TARGET",
            help="file.py:Name, package.module:Name, file.py or folder/ "
            "(none: the models listed in [[tool.relufind.targets]] of pyproject.toml)",
            show_default=False,
        ),
    ] = None,
    format: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.tree,
    arg: Annotated[
        list[str] | None,
        typer.Option(
            "--arg",
            "-a",
            metavar="NAME=VALUE",
            help="Constructor argument (a Python literal, else a string). Repeatable.",
        ),
    ] = None,
    variants: Annotated[
        bool,
        typer.Option(
            "--variants",
            help="Also list ReLU6, LeakyReLU, PReLU and RReLU sites.",
        ),
    ] = False,
    eval_mode: Annotated[
        bool,
        typer.Option(
            "--eval",
            help="Analyse the model after .eval() (default: as constructed, usually training).",
        ),
    ] = False,
    anchor: Annotated[
        list[str] | None,
        typer.Option(
            "--anchor",
            metavar="TYPE",
            help="Treat modules of this class name as anchors too. Repeatable.",
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            metavar="SECONDS",
            help="Give up on one target after this long (0: never).",
        ),
    ] = 300.0,
    input_shape: Annotated[
        list[str] | None,
        typer.Option(
            "--input-shape",
            metavar="D,D,...",
            help="Where fx cannot trace, retry with torch.export on meta inputs of this shape "
            "(one per forward input, e.g. 1,3,224,224; a dtype after a colon: 8,20:long). Repeatable.",
        ),
    ] = None,
    allow_pickle: Annotated[
        bool,
        typer.Option(
            "--allow-pickle",
            help="Load pickled full models (torch.save(model)): this runs code stored in the file.",
        ),
    ] = False,
    select: Annotated[
        list[str] | None,
        typer.Option(
            "--select",
            metavar="RULES",
            help="Run only these rules: codes, names, prefixes (RF1) or ALL; comma-separated.",
        ),
    ] = None,
    extend_select: Annotated[
        list[str] | None,
        typer.Option("--extend-select", metavar="RULES", help="Run these rules too."),
    ] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option("--ignore", metavar="RULES", help="Do not run these rules."),
    ] = None,
    config_file: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="FILE",
            help="Read [tool.relufind] from this file instead of the closest pyproject.toml.",
        ),
    ] = None,
    isolated: Annotated[
        bool,
        typer.Option("--isolated", help="Ignore every configuration file."),
    ] = False,
    statistics: Annotated[
        bool,
        typer.Option(
            "--statistics",
            help="After the report, count findings per rule and list suppressions that matched nothing.",
        ),
    ] = False,
    exit_zero: Annotated[
        bool,
        typer.Option("--exit-zero", help="Exit 0 even when rules fire (errors still exit 2)."),
    ] = False,
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude",
            metavar="GLOB",
            help="Never import files or folders matching this pattern (relative to the project root, "
            "gitignore syntax; adds to [tool.relufind] exclude). Repeatable.",
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            metavar="N",
            help="Analyse targets in N worker processes (0: one per core). Output order is unchanged.",
        ),
    ] = None,
    no_cache: Annotated[
        bool,
        typer.Option(
            "--no-cache",
            help="Neither read nor write the result cache (.relufind_cache in the project root).",
        ),
    ] = False,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Exit 2 when a target is skipped (needs arguments, no forward())."),
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write the report to FILE instead of stdout (errors and notes still go to stderr).",
        ),
    ] = None,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet",
            "-q",
            help="Only findings and errors: no tree for clean targets, no notices for skipped ones.",
        ),
    ] = False,
    expand: Annotated[
        bool,
        typer.Option(
            "--expand",
            help="Tree: print every block of a run of identical sibling blocks (default: one branch a run).",
        ),
    ] = False,
    baseline_file: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            metavar="FILE",
            help="Leave out findings recorded in FILE (see --write-baseline); report fixed ones as stale.",
        ),
    ] = None,
    write_baseline: Annotated[
        Path | None,
        typer.Option(
            "--write-baseline",
            metavar="FILE",
            help="Record today's findings in FILE, then leave them out as --baseline FILE would.",
        ),
    ] = None,
    list_rules: Annotated[
        bool,
        typer.Option("--list-rules", callback=_list_rules, is_eager=True, help="List the rules and exit."),
    ] = False,
    explain: Annotated[
        str | None,
        typer.Option(
            "--explain",
            metavar="RULE",
            callback=_explain,
            is_eager=True,
            help="Explain one rule (code or name) and exit.",
        ),
    ] = None,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="Show tracebacks and what the model code printed.",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version,
            is_eager=True,
            help="Show the version and exit.",
        ),
    ] = False,
) -> None:
    """Find every ReLU in a PyTorch model and place it relative to its RNN/LSTM/GRU/Conv layers.

    Loading a .py target runs its code, exactly as importing it would. Saved models:
    model.pt (torch.jit.save) and model.pt2 (torch.export.save) are read without
    unpickling Python objects; a pickled full model needs --allow-pickle.
    """
    from . import baseline
    from .analyze import Options, scan_targets
    from .config import Selection, discover, enabled_rules
    from .errors import UsageError
    from .keys import repository_root
    from .render import View

    try:
        args = dict(parse_arg(a) for a in arg or [])
        inputs = [parse_input(s) for s in input_shape or ()]
        config = discover(config_file=config_file, isolated=isolated)
        flags = Selection(
            _selectors(select) if select is not None else None, _selectors(extend_select), _selectors(ignore)
        )
        rules = enabled_rules(config, flags)
        for path, option in ((output, "--output"), (write_baseline, "--write-baseline")):
            _check_writable(path, option)
        # read now: a malformed baseline must stop the run before the analysis, not after
        reading = baseline_file is not None and write_baseline is None
        recorded = baseline.load(baseline_file) if reading else None
    except typer.BadParameter as exc:
        raise _usage_error(exc.message) from None
    except UsageError as exc:
        raise _usage_error(str(exc)) from None
    if not targets and not config.targets:
        raise _usage_error(
            "name at least one target (a file.py:Name, a file or a folder), "
            "or list models in [[tool.relufind.targets]] of pyproject.toml"
        )
    if jobs is not None and jobs < 0:
        raise _usage_error(f"--jobs {jobs}: give a number of worker processes, or 0 for one per core")
    options = Options(
        args=args,
        variants=variants,
        eval=eval_mode,
        anchors=tuple(anchor or ()),
        timeout=timeout or None,
        debug=debug,
        allow_pickle=allow_pickle,
        input_shapes=tuple(shape for shape, _ in inputs),
        input_dtypes=tuple(dtype for _, dtype in inputs),
        rules=rules,
        strict=strict or config.strict,
        jobs=jobs if jobs is not None else (config.jobs or 1),
        # --debug wants to see the model run (its prints, tracebacks): never answer from the cache
        cache_dir=None if no_cache or debug or _env_flag("RELUFIND_NO_CACHE") else (
            config.cache_dir or DEFAULT_CACHE_DIR
        ),
    )
    from .render import streamer

    # paths in reports and baselines are relative to the repository (GitHub resolves them
    # against the checkout), else to the project (the configuration's folder), else the cwd
    root = repository_root(config.root or Path.cwd()) or config.root
    view = View(quiet=quiet, statistics=statistics, root=root, rules=rules, expand=expand)
    # the tree prints each target as it finishes, unless it goes to --output or a baseline
    # must filter the whole report first; the other formats are one document at the end
    streaming = output is None and recorded is None and write_baseline is None
    stream = streamer(format.value, sys.stdout, view) if streaming else None
    progress = _progress()
    errors_to_stderr = _errors_on_stderr(format.value == "tree" and output is None)

    def on_result(result: TargetResult) -> None:
        if stream is not None:
            with progress.paused():
                stream.result(result)
        if errors_to_stderr and result.status == "error" and result.error is not None:
            with progress.paused():
                _stderr(f"relufind: error: {result.target}: {result.error.message}")

    def diagnostics(line: str) -> None:  # --debug output: above the progress line, not through it
        with progress.paused():
            print(line, file=sys.stderr, flush=True)

    try:
        report = scan_targets(
            targets or [],
            options,
            diagnostics,
            config=config,
            exclude=tuple(exclude or ()),
            on_result=on_result,
            on_progress=progress.update,
        )
    except Exception as exc:  # a bug in relufind itself: one line unless --debug
        progress.close()
        if debug:
            raise
        _stderr(f"relufind: internal error: {type(exc).__name__}: {exc} (rerun with --debug)")
        raise typer.Exit(EXIT_ERROR) from None
    progress.close()
    try:
        report = _with_baseline(report, root, recorded, baseline_file, write_baseline)
        if stream is not None:
            stream.end(report)
        else:
            _render(report, format.value, view, output)
    except UsageError as exc:
        raise _usage_error(str(exc)) from None
    sys.stdout.flush()  # before the stderr verdict below, and for test runners' buffered streams
    code = report.exit_code
    if not report.targets and targets and all(Path(t).is_file() for t in targets):
        # files named one by one (a pre-commit hook's changed files) of which none defines a
        # model: nothing to check is a pass, as for a linter given no file it lints
        _stderr("relufind: note: no nn.Module subclass in the files named; nothing to analyse")
        raise typer.Exit(0)
    line = _run_verdict(report, targets or [], strict_flag=strict)
    if line:
        _stderr(f"relufind: error: {line}")
    raise typer.Exit(0 if exit_zero and code == EXIT_FINDINGS else code)


def _stderr(line: str) -> None:
    # flushed at once: it must land between the streamed reports, and test runners' buffers
    print(line, file=sys.stderr, flush=True)


def _errors_on_stderr(tree: bool) -> bool:
    """Whether each target error also gets its line on stderr, so every error shows once.

    The tree on stdout shows each error in place. When that tree lands on the terminal (or
    in the same file or pipe as stderr, ``2>&1``), a stderr line would repeat it; when stdout
    goes elsewhere (a file, a pipe of its own) or holds JSON, stderr is where a person reads it.
    """
    if not tree:
        return True
    return not (_isatty(sys.stdout) or _same_file(sys.stdout, sys.stderr))


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _same_file(a: Any, b: Any) -> bool:
    import os

    try:
        first, second = os.fstat(a.fileno()), os.fstat(b.fileno())
    except (AttributeError, ValueError, OSError):  # not real files (pytest, CliRunner)
        return False
    return (first.st_dev, first.st_ino) == (second.st_dev, second.st_ino)


def _run_verdict(report: Report, targets: list[str], *, strict_flag: bool) -> str | None:
    """One line for a run that must not read as a clean pass: nothing analysed, or a strict skip."""
    skipped = sum(t.status == "skipped" for t in report.targets)
    failed = sum(t.status == "error" for t in report.targets)
    if not report.targets:
        where = ", ".join(targets) or "[[tool.relufind.targets]]"
        return (
            f"nothing to analyse: no nn.Module subclass found in {where} (files are read with ast; "
            "only those that define one are imported); name a class as file.py:Name or list it in "
            "[[tool.relufind.targets]]"
        )
    if not report.analysed and not failed:  # with errors, their own lines already explain exit 2
        return (
            f"nothing was analysed: {skipped} target{'s' if skipped != 1 else ''} skipped; "
            "add [[tool.relufind.targets]] entries for them (see above)"
        )
    if report.strict and skipped:
        source = "--strict" if strict_flag else "strict = true in [tool.relufind]"
        return (
            f"{skipped} target{'s' if skipped != 1 else ''} skipped, an error under {source}; "
            "add [[tool.relufind.targets]] entries for them (see above)"
        )
    return None


class _Progress:
    """A transient progress line on stderr while a scan runs, only when stderr is a terminal."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.task: Any = None
        self.running = False

    def update(self, done: int, total: int, target: str) -> None:
        if self.bar is None:
            self._create()
        if self.task is None:
            self.task = self.bar.add_task("", total=total)
        self.bar.update(self.task, completed=done, total=total, description=f"analysing {target}")
        self._start()

    def _create(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

        # the real stderr, held: model code runs with sys.stderr redirected to a capture buffer
        console = Console(file=sys.stderr, stderr=True)
        self.bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )

    def _start(self) -> None:
        if not self.running:
            self.bar.start()
            self.running = True

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Erase the line while a report or an error line is written, then show it again."""
        was_running = self.running
        self.close()
        try:
            yield
        finally:
            if was_running:
                self._start()

    def close(self) -> None:
        if self.running:
            self.bar.stop()
            self.running = False


class _NoProgress(_Progress):
    def update(self, done: int, total: int, target: str) -> None:
        pass


def _progress() -> _Progress:
    return _Progress() if _isatty(sys.stderr) else _NoProgress()


def _with_baseline(
    report: Report,
    root: Path | None,
    recorded: Counter[FindingKey] | None,
    read_from: Path | None,
    write_to: Path | None,
) -> Report:
    """``--write-baseline`` records the findings; then either flag leaves the recorded ones out."""
    from . import baseline

    if write_to is not None:
        recorded = baseline.collect(report, root)
        baseline.write(write_to, recorded)
        count, keys = sum(recorded.values()), len(recorded)
        _stderr(f"relufind: recorded {count} findings under {keys} keys in {write_to}")
    if recorded is None:
        return report
    report = baseline.apply(report, recorded, root, str(write_to or read_from))
    for entry in report.baseline.stale if report.baseline else ():
        _stderr(baseline.stale_line(entry, str(write_to or read_from)))
    return report


def _check_writable(path: Path | None, option: str) -> None:
    """Refuse an output path that cannot be written before spending minutes on the analysis."""
    from .errors import UsageError

    if path is None:
        return
    if path.is_dir():
        raise UsageError(f"{option} {path}: is a folder; name a file")
    if not path.parent.is_dir():
        raise UsageError(f"{option} {path}: no such folder {path.parent}")


def _render(report: Report, name: str, view: View, output: Path | None) -> None:
    """The chosen renderer, on stdout or on ``--output FILE``."""
    from .errors import UsageError
    from .gcpause import gc_paused
    from .render import renderer

    emit = renderer(name)
    if output is None:
        with gc_paused():  # a deep model's report: a million live objects, no garbage cycles
            emit(report, sys.stdout, view)
        return
    try:
        with output.open("w", encoding="utf-8") as handle, gc_paused():
            emit(report, handle, view)
    except OSError as exc:
        raise UsageError(f"--output {output}: cannot write: {exc.strerror or exc}") from None


def main() -> None:
    app(prog_name="relufind")
