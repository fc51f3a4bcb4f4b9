"""What one command line asks for, run: options -> configuration -> scan -> renderer -> exit code.

``Invocation`` holds the command line's values as typed (no typer, no torch here); ``run``
does the work and returns the exit code. Both front ends build an ``Invocation`` and call
``run``: the typer application (``relufind.cli``: help, every error message) and the small
parser the console script tries first (``relufind.argv``), which spares a cached CI run the
0.2 to 0.3 s that typer's start-up costs.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import UsageError
from .report import EXIT_ERROR, EXIT_FINDINGS

if TYPE_CHECKING:
    from collections import Counter

    from .analyze import Options
    from .config import Config
    from .keys import FindingKey
    from .render import Streamer, View
    from .report import Report, TargetResult


@dataclass(frozen=True)
class Invocation:
    """The values of one command line, as given (repeatable options in the order given).

    The defaults are the command line's defaults; a test keeps them equal to the typer
    declarations in ``relufind.cli``.
    """

    targets: tuple[str, ...] = ()
    format: str = "tree"
    arg: tuple[str, ...] = ()
    variants: bool = False
    eval_mode: bool = False
    anchor: tuple[str, ...] = ()
    timeout: float = 300.0
    input_shape: tuple[str, ...] = ()
    allow_pickle: bool = False
    #: None: not given (the configuration decides); () would be ``--select ""``
    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    config_file: Path | None = None
    isolated: bool = False
    statistics: bool = False
    exit_zero: bool = False
    exclude: tuple[str, ...] = ()
    jobs: int | None = None
    no_cache: bool = False
    strict: bool = False
    output: Path | None = None
    quiet: bool = False
    expand: bool = False
    baseline_file: Path | None = None
    write_baseline: Path | None = None
    debug: bool = False


@dataclass(frozen=True)
class _Prepared:
    """What the command line and the configuration settle before any target is touched."""

    options: Options
    config: Config
    view: View
    recorded: Counter[FindingKey] | None


def run(inv: Invocation) -> int:
    """Run one command line; return its exit code. Usage mistakes are one line on stderr, exit 2."""
    try:
        prepared = _prepare(inv)
    except UsageError as exc:
        return usage_error(str(exc))
    try:
        report, stream = _scan(inv, prepared)
    except Exception as exc:  # a bug in relufind itself: one line unless --debug
        if inv.debug:
            raise
        _stderr(f"relufind: internal error: {type(exc).__name__}: {exc} (rerun with --debug)")
        return EXIT_ERROR
    try:
        report = _emit(inv, prepared, report, stream)
    except UsageError as exc:  # --output that cannot be written after all
        return usage_error(str(exc))
    sys.stdout.flush()  # before the stderr verdict below, and for test runners' buffered streams
    return _verdict(inv, report)


def _prepare(inv: Invocation) -> _Prepared:
    """Parse the values, read the configuration and the baseline: every usage error, up front."""
    from . import baseline
    from .analyze import Options
    from .argvalues import parse_arg, parse_input
    from .cache import DEFAULT_DIR as DEFAULT_CACHE_DIR
    from .config import Selection, discover, enabled_rules
    from .keys import repository_root
    from .render import View

    if not _cwd_exists():  # every relative path below is read against it
        raise UsageError("the current folder no longer exists (deleted or moved); cd into the project")
    args = dict(parse_arg(a) for a in inv.arg)
    inputs = [parse_input(s) for s in inv.input_shape]
    config = discover(config_file=inv.config_file, isolated=inv.isolated)
    flags = Selection(
        _selectors(inv.select) if inv.select is not None else None,
        _selectors(inv.extend_select),
        _selectors(inv.ignore),
    )
    rules = enabled_rules(config, flags)
    for path, option in ((inv.output, "--output"), (inv.write_baseline, "--write-baseline")):
        _check_writable(path, option)
    # read now: a malformed baseline must stop the run before the analysis, not after
    reading = inv.baseline_file is not None and inv.write_baseline is None
    recorded = baseline.load(inv.baseline_file) if reading else None
    if not inv.targets and not config.targets:
        raise UsageError(
            "name at least one target (a file.py:Name, a file or a folder), "
            "or list models in [[tool.relufind.targets]] of pyproject.toml"
        )
    if inv.jobs is not None and inv.jobs < 0:
        raise UsageError(f"--jobs {inv.jobs}: give a number of worker processes, or 0 for one per core")
    options = Options(
        args=args,
        variants=inv.variants,
        eval=inv.eval_mode,
        anchors=inv.anchor,
        timeout=inv.timeout or None,
        debug=inv.debug,
        allow_pickle=inv.allow_pickle,
        input_shapes=tuple(shape for shape, _ in inputs),
        input_dtypes=tuple(dtype for _, dtype in inputs),
        rules=rules,
        strict=inv.strict or config.strict,
        jobs=inv.jobs if inv.jobs is not None else (config.jobs or 1),
        # --debug wants to see the model run (its prints, tracebacks): never answer from the cache
        cache_dir=None
        if inv.no_cache or inv.debug or _env_flag("RELUFIND_NO_CACHE")
        else (config.cache_dir or DEFAULT_CACHE_DIR),
    )
    # paths in reports and baselines are relative to the repository (GitHub resolves them
    # against the checkout), else to the project (the configuration's folder), else the cwd
    root = repository_root(config.root or Path.cwd()) or config.root
    view = View(quiet=inv.quiet, statistics=inv.statistics, root=root, rules=rules, expand=inv.expand)
    return _Prepared(options, config, view, recorded)


def _scan(inv: Invocation, prepared: _Prepared) -> tuple[Report, Streamer | None]:
    """Analyse every target, the tree streamed as each finishes; the report and that stream."""
    from .analyze import scan_targets
    from .render import streamer
    from .render.progress import progress as progress_line

    # the tree prints each target as it finishes, unless it goes to --output or a baseline
    # must filter the whole report first; the other formats are one document at the end
    streaming = inv.output is None and prepared.recorded is None and inv.write_baseline is None
    stream = streamer(inv.format, sys.stdout, prepared.view) if streaming else None
    progress = progress_line()
    errors_to_stderr = _errors_on_stderr(inv.format == "tree" and inv.output is None)

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
            list(inv.targets),
            prepared.options,
            diagnostics,
            config=prepared.config,
            exclude=inv.exclude,
            on_result=on_result,
            on_progress=progress.update,
        )
    finally:
        progress.close()
    return report, stream


def _emit(inv: Invocation, prepared: _Prepared, report: Report, stream: Streamer | None) -> Report:
    """The baseline applied, then the report written: the end of the stream or one document."""
    report = _with_baseline(
        report, prepared.view.root, prepared.recorded, inv.baseline_file, inv.write_baseline
    )
    if stream is not None:
        stream.end(report)
    else:
        _render(report, inv.format, prepared.view, inv.output)
    return report


def _verdict(inv: Invocation, report: Report) -> int:
    """The exit code, with one stderr line for a run that must not read as a clean pass."""
    code = report.exit_code
    if not report.targets and inv.targets and all(Path(t).is_file() for t in inv.targets):
        # files named one by one (a pre-commit hook's changed files) of which none defines a
        # model: nothing to check is a pass, as for a linter given no file it lints
        _stderr("relufind: note: no nn.Module subclass in the files named; nothing to analyse")
        return 0
    line = _run_verdict(report, list(inv.targets), strict_flag=inv.strict)
    if line:
        _stderr(f"relufind: error: {line}")
    return 0 if inv.exit_zero and code == EXIT_FINDINGS else code


def usage_error(message: str) -> int:
    """One line for a command-line mistake; the exit code to return."""
    print(f"relufind: error: {message} (see relufind --help)", file=sys.stderr, flush=True)
    return EXIT_ERROR


def _cwd_exists() -> bool:
    try:
        os.getcwd()
    except OSError:
        return False
    return True


def _selectors(values: tuple[str, ...]) -> tuple[str, ...]:
    """``--select RF001,RF003 --select RF1``: comma-separated and repeatable, as in ruff."""
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


def _env_flag(name: str) -> bool:
    """An environment switch (``RELUFIND_NO_CACHE=1``, as ruff's ``RUFF_NO_CACHE``)."""
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def _stderr(line: str) -> None:
    # flushed at once: it must land between the streamed reports, and test runners' buffers
    print(line, file=sys.stderr, flush=True)


def _errors_on_stderr(tree: bool) -> bool:
    """Whether each target error also gets its line on stderr, so every error shows once.

    The tree on stdout shows each error in place. When that tree lands on the terminal (or
    in the same file or pipe as stderr, ``2>&1``), a stderr line would repeat it; when stdout
    goes elsewhere (a file, a pipe of its own) or holds JSON, stderr is where a person reads it.
    """
    from .render import isatty

    if not tree:
        return True
    return not (isatty(sys.stdout) or _same_file(sys.stdout, sys.stderr))


def _same_file(a: Any, b: Any) -> bool:
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
    if path is None:
        return
    if path.is_dir():
        raise UsageError(f"{option} {path}: is a folder; name a file")
    if not path.parent.is_dir():
        raise UsageError(f"{option} {path}: no such folder {path.parent}")


def _render(report: Report, name: str, view: View, output: Path | None) -> None:
    """The chosen renderer, on stdout or on ``--output FILE``."""
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
