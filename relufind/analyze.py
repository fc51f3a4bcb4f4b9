"""The pipeline: target -> build -> trace -> detect -> relate -> report.

``scan`` analyses a model object; ``scan_targets`` loads targets named on the command line
and analyses each, turning every failure a user can cause into a ``TargetResult`` with
status ``error`` so that one bad target never stops the others.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import os
import signal
import sys
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from . import __version__, saved
from .blocks import OUTPUT_RULES, used_as_blocks
from .errors import TargetFailure
from .execute import ClassKey, Outcome, ResultCache, class_key
from .report import Report, Site, SourceLoc, TargetError, TargetResult

if TYPE_CHECKING:
    import torch.nn as nn

    from .config import Config
    from .hierarchy import Analysis
    from .plan import Planned


@dataclass(frozen=True)
class Options:
    """What the user asked for; the CLI builds one, API callers may too."""

    args: Mapping[str, Any] = field(default_factory=dict)
    variants: bool = False
    eval: bool = False
    anchors: tuple[str, ...] = ()
    timeout: float | None = None
    debug: bool = False
    #: load pickled full models (torch.save(model)), which runs code stored in the file
    allow_pickle: bool = False
    #: input shapes for a torch.export second opinion where fx leaves regions untraced
    input_shapes: tuple[tuple[int, ...], ...] = ()
    #: the lint rules that run (codes); None: the default set (see ``relufind.rules.select``)
    rules: frozenset[str] | None = None
    #: a dtype name per input shape ("long" for token ids; None: the default float)
    input_dtypes: tuple[str | None, ...] = ()
    #: a skipped target fails the run (``--strict`` / ``strict = true``)
    strict: bool = False
    #: worker processes for many targets (1: this process; see ``relufind.workers``)
    jobs: int = 1
    #: where results are cached by content hash; None: no cache (the CLI's default is
    #: ``.relufind_cache`` in the project root)
    cache_dir: str | None = None

    def cache_material(self) -> dict[str, Any]:
        """The options that change a target's result (not how the run goes): the cache key."""
        return {
            "args": sorted((k, repr(v)) for k, v in self.args.items()),
            "variants": self.variants,
            "eval": self.eval,
            "anchors": list(self.anchors),
            "allow_pickle": self.allow_pickle,
            "input_shapes": [list(s) for s in self.input_shapes],
            "input_dtypes": list(self.input_dtypes),
            "rules": None if self.rules is None else sorted(self.rules),
        }


#: where diagnostics go (the CLI swaps in its own writer); never stdout
Diagnostics = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# -- public API ------------------------------------------------------------------------------

def scan(
    model: nn.Module,
    *,
    name: str | None = None,
    variants: bool = False,
    anchors: Sequence[str] = (),
    eval: bool = False,
    rules: Iterable[str] | None = None,
) -> TargetResult:
    """Analyse an already-built model object. Nothing is printed, and the model is left as
    it was given (``eval=True`` analyses it in eval mode and restores every training flag).

    ``rules`` selects lint rules like ``--select`` (codes, names, prefixes, ``ALL``); None
    runs the default set. Sites have no ``defined_at``: the model was built before relufind
    could watch its construction.
    """
    from .rules.select import resolve

    enabled = None if rules is None else resolve(select=[rules] if isinstance(rules, str) else list(rules))
    options = Options(variants=variants, anchors=tuple(anchors), eval=eval, rules=enabled)
    model_name = name or type(model).__name__
    from .build import device_of
    from .capture import captured_output

    modes = [(module, module.training) for module in model.modules()]
    try:
        # what the model's own code prints while traced is kept, like scan_targets does
        with captured_output(io.StringIO()):
            return _analyse(model, model_name, model_name, options, device=device_of(model), build="given")
    finally:
        for module, training in modes:
            module.training = training


def scan_targets(
    targets: Sequence[str],
    options: Options = Options(),
    diagnostics: Diagnostics = _stderr,
    *,
    config: Config | None = None,
    exclude: Sequence[str] = (),
    on_result: Callable[[TargetResult], None] | None = None,
    on_progress: Progress | None = None,
) -> Report:
    """Plan, then load and analyse every planned model; failures become ``error`` entries.

    ``config`` supplies ``[[tool.relufind.targets]]`` entries (and, with no ``targets``, the
    whole list) and ``exclude``; ``exclude`` adds patterns relative to the project root.
    ``on_result`` receives each result as soon as it is final, in report order, so a
    renderer can stream; ``on_progress(done, total, target)`` fires before each model.
    """
    from .capture import import_torch_quietly
    from .config import project_root
    from .plan import Planned, Settings, make_plan
    from .rules import suppress

    root = project_root()
    settings = Settings(
        args=options.args,
        entries=config.targets if config else (),
        config_path=config.path if config else None,
        exclude=config.exclude if config else (),
        extra_exclude=tuple(exclude),
        project_root=root,
    )
    items = make_plan(targets, settings)  # nothing imported yet
    store = ResultCache.open(options, root)
    blocks = used_as_blocks(items)
    hits = {i: hit for i, item in enumerate(items) if isinstance(item, Planned) and (hit := store.get(item))}
    pending = [item for i, item in enumerate(items) if isinstance(item, Planned) and i not in hits]
    parallel = _in_workers(pending, options, root)
    if pending and parallel is None:  # from the cache or in workers, torch is not needed here
        import_torch_quietly()
        _on_import_path(root)
    total = sum(isinstance(item, Planned) for item in items)
    results: list[TargetResult] = []
    findings = _FirstFindings()
    unimportable: set[Path] = set()
    built: set[ClassKey] = set()  # classes of the models built so far (a factory's model included)
    done = 0
    suppressions, token = suppress.begin()
    try:
        for index, item in enumerate(items):
            if isinstance(item, Planned):
                # a file that failed to import said so once; a class a configured factory built
                # was analysed as that factory's model
                failed_file = item.file is not None and item.file.resolve() in unimportable
                skip = item.discovered and (failed_file or class_key(item) in built)
                if on_progress is not None and not skip:
                    on_progress(done, total, item.target)
                outcome = _outcome(index, item, hits, parallel, skip, options, diagnostics, root)
                done += 1
                if outcome is None or skip:
                    continue
                if index not in hits:
                    store.put(item, outcome)
                for line in outcome.diagnostics:
                    diagnostics(line)
                if index in hits or parallel is not None:  # recorded elsewhere: replay it here
                    suppressions.replay(outcome.usage)
                built.update(outcome.built)
                if outcome.import_failed and item.discovered and item.file is not None:
                    unimportable.add(item.file.resolve())
                if outcome.result is None:
                    continue
                result = outcome.result
                if class_key(item) in blocks:  # judged as a part of the model that uses it
                    result = _without(result, OUTPUT_RULES)
            else:
                result = item
            result = findings.keep_first(result)
            results.append(result)
            if on_result is not None:
                on_result(result)
    finally:
        suppress.end(token)
    return Report(
        __version__, tuple(results), unused_suppressions=suppressions.unused(), strict=options.strict
    )


def _without(result: TargetResult, codes: frozenset[str]) -> TargetResult:
    kept = tuple(f for f in result.findings if f.code not in codes)
    return result if len(kept) == len(result.findings) else replace(result, findings=kept)


def _in_workers(pending: list[Planned], options: Options, root: Path) -> Iterator[Outcome] | None:
    """Outcomes of ``pending`` from worker processes (``--jobs``), in order; None: run here."""
    if len(pending) <= 1 or options.jobs == 1:  # (a cached run: multiprocessing never loaded)
        return None
    from .execute import Task, run_parallel
    from .workers import default_jobs

    jobs = options.jobs if options.jobs > 0 else default_jobs()
    if jobs <= 1:
        return None
    tasks = [Task(item, options, str(root)) for item in pending]
    return run_parallel(tasks, min(jobs, len(tasks)), options.timeout)


def _outcome(
    index: int,
    item: Planned,
    hits: dict[int, Outcome],
    parallel: Iterator[Outcome] | None,
    skip: bool,
    options: Options,
    diagnostics: Diagnostics,
    root: Path,
) -> Outcome | None:
    """The item's outcome: from the cache, from the workers (always taken, to keep the order),
    or analysed here; None for an item skipped here."""
    from .execute import run_one

    if index in hits:
        return hits[index]
    if parallel is not None:
        return next(parallel)
    return None if skip else run_one(item, options, diagnostics, root)


#: on_progress(done, total, target about to be analysed)
Progress = Callable[[int, int, str], None]


def _on_import_path(root: Path) -> None:
    """The project root first on sys.path, as pytest's rootdir is: `from models.x import Y` works."""
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))


class _FirstFindings:
    """A finding at one source line is reported once per run, by the first model that has it.

    A helper block analysed on its own and again inside each model that uses it would
    otherwise repeat its findings once per model. Incremental, so results can stream.
    """

    def __init__(self) -> None:
        self.seen: set[tuple[str, str, int]] = set()
        self._real: dict[str, str] = {}  # a file's real path (a loop's findings share one line)

    def keep_first(self, result: TargetResult) -> TargetResult:
        if not result.findings:
            return result
        kept = []
        for finding in result.findings:
            if finding.source is None:  # no line to key on (TorchScript): always kept
                kept.append(finding)
                continue
            file = finding.source.file
            real = self._real.get(file)
            if real is None:
                real = self._real[file] = os.path.realpath(file)
            key = (finding.code, real, finding.source.line)
            if key not in self.seen:
                self.seen.add(key)
                kept.append(finding)
        return replace(result, findings=tuple(kept)) if len(kept) != len(result.findings) else result


# -- loading ---------------------------------------------------------------------------------

def _has_forward(cls: type) -> bool:
    import torch.nn as nn

    return getattr(cls, "forward", None) is not nn.Module.forward


def _load(job: Planned) -> tuple[ModuleType, str]:
    """Import the job's file or module (the 'import' stage): the module and how to name it."""
    from . import targets as t

    if job.file is not None:
        module = t.import_file(job.file)
        where = _display(job.file)
    else:
        assert job.module is not None
        module = t.import_module_name(job.module)
        where = job.module
    return module, where


@contextlib.contextmanager
def _script_argv(job: Planned) -> Iterator[None]:
    """Model code sees ``sys.argv == [its file]``, never relufind's own options.

    A file that calls ``argparse`` at import would otherwise parse ``--format json`` and exit.
    """
    saved_argv = sys.argv
    sys.argv = [str(job.file) if job.file is not None else str(job.module)]
    try:
        yield
    finally:
        sys.argv = saved_argv


def _run_job(
    job: Planned, options: Options, diagnostics: Diagnostics
) -> tuple[TargetResult, bool, tuple[ClassKey, ...]]:
    """The job's result, whether it failed importing its file, and the model class it built."""
    from . import targets as t
    from .build import NeedsArguments, build

    log = io.StringIO()
    stage = "import"
    try:
        with _guarded(options, diagnostics, job.target, log), _script_argv(job):
            if job.saved:
                assert job.file is not None
                return _analyse_saved(job.file, job.target, options), False, ()
            module, where = _load(job)
            stage = "build"
            assert job.name is not None
            obj = t.resolve_name(module, job.name, where)
            if isinstance(obj, type) and not _has_forward(obj) and not job.named:
                return _no_forward(job), False, ()
            given_by = "the entry's args" if job.configured else "--arg"
            built = build(obj, job.name, job.kwargs, strict_args=job.strict_args, given_by=given_by)
            made = _class_key(type(built.model))
            if not _has_forward(type(built.model)):
                message = f"{job.name} has no forward() (a container or helper); name the model that uses it"
                raise TargetFailure("NoForward", message)
            result = _analyse(
                built.model, job.target, job.name, options, built.device, built.how, built.constructed
            )
            return replace(result, origin=job.why), False, made
    except NeedsArguments as needs:
        return _skipped(job, needs), False, ()
    except TargetFailure as failure:
        failed_import = stage == "import"
        return _failed(job, failure, options, diagnostics, failed_import), failed_import, ()
    finally:
        if options.debug and log.getvalue():
            diagnostics(f"relufind: output of {job.target}:\n{log.getvalue().rstrip()}")


def _class_key(cls: type) -> tuple[ClassKey, ...]:
    """How a built model's class is recorded: its file and name (no file: not recorded)."""
    try:
        file = inspect.getsourcefile(cls)
    except TypeError:
        file = None
    return ((str(Path(file).resolve()), cls.__qualname__),) if file else ()


def _no_forward(job: Planned) -> TargetResult:
    return TargetResult(
        target=job.target,
        model=job.name,
        status="skipped",
        skip_reason="has no forward() (a container or helper)",
        origin=job.why,
    )


def _skipped(job: Planned, needs: Any) -> TargetResult:
    from .advice import needs_arguments

    reason, hint = needs_arguments(
        job.config_target or job.target,
        needs.missing,
        needs.objects,
        needs.annotations,
        named=job.named,
    )
    return TargetResult(
        target=job.target,
        model=job.name,
        status="skipped",
        skip_reason=reason,
        needs_args=tuple(needs.missing),
        config_hint=hint,
        origin=job.why,
    )


def _failed(
    job: Planned, failure: TargetFailure, options: Options, diagnostics: Diagnostics, failed_import: bool
) -> TargetResult:
    """An error result that says which option or pyproject.toml entry would fix it."""
    from .advice import constructor_hint, exclude_hint

    message = failure.message
    target, model = job.target, job.name
    if job.discovered and job.file is not None and failed_import:
        # the whole file failed: one error for the file, not one per class in it
        target, model = str(job.file), None
        message += "; " + exclude_hint(_relative_to_root(job.file))
    elif job.discovered and failure.type == "ConstructorError":
        message += "; " + constructor_hint(job.config_target or job.target)
    elif job.entry is not None:  # the fix goes in the configuration: say which entry
        message += f" (from {job.entry})"
    if options.debug:
        diagnostics("".join(traceback.format_exception(failure)).rstrip())
    return TargetResult(
        target=target, model=model, status="error", error=TargetError(failure.type, message), origin=job.why
    )


def _display(path: Path) -> str:
    from .render import display_path

    return display_path(str(path))


def _relative_to_root(path: Path) -> str:
    from .config import project_root

    try:
        return path.resolve().relative_to(project_root()).as_posix()
    except ValueError:
        return str(path)


@contextlib.contextmanager
def _guarded(
    options: Options, diagnostics: Diagnostics, target: str, log: io.StringIO | None = None
) -> Iterator[None]:
    """Capture the model's own output, enforce the timeout, and turn crashes into failures."""
    from .capture import captured_output

    sink = log if log is not None else io.StringIO()
    # process state model code may change; it must not leak into the next target
    recursion_limit = sys.getrecursionlimit()
    cwd = _getcwd()
    try:
        with _deadline(options.timeout, target), captured_output(sink):
            yield
    except TargetFailure:
        raise
    except RecursionError as exc:
        raise TargetFailure(
            "RecursionError",
            f"the model is nested too deeply to analyse (Python's recursion limit, "
            f"{sys.getrecursionlimit()}, was reached), or its code recurses without end",
        ) from exc
    except SystemExit as exc:
        raise TargetFailure("SystemExit", f"model code called sys.exit({exc.code})") from exc
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        if options.debug:
            diagnostics("".join(traceback.format_exception(exc)).rstrip())
        raise TargetFailure("InternalError", _first_line(exc)) from exc
    except BaseException as exc:  # raised by model code: it must not end the other targets' run
        raise TargetFailure("BaseException", f"model code raised {_first_line(exc)}") from exc
    finally:
        sys.setrecursionlimit(recursion_limit)
        if cwd is not None and _getcwd() != cwd:
            with contextlib.suppress(OSError):
                os.chdir(cwd)


def _getcwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:  # the working directory was removed
        return None


@contextlib.contextmanager
def _deadline(seconds: float | None, target: str) -> Iterator[None]:
    """Raise TargetFailure when the body runs longer than ``seconds`` (main thread only)."""
    usable = (
        seconds is not None
        and seconds > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise _Expired

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _Expired:
        raise TargetFailure(
            "Timeout",
            f"gave up after {seconds:g} s (import, build or trace did not finish); "
            "raise --timeout or fix the loop",
        ) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _Expired(BaseException):
    """Raised by the timer; a BaseException so model code's `except Exception` cannot eat it."""


# -- analysis --------------------------------------------------------------------------------

def _analyse(
    model: nn.Module,
    target: str,
    name: str,
    options: Options,
    device: str | None,
    build: str | None,
    constructed: Mapping[nn.Module, SourceLoc] | None = None,
) -> TargetResult:
    from .gcpause import gc_paused as _gc_paused
    from .hierarchy import analyse
    from .relate import anchor_predicate

    if options.eval:
        model.eval()
    is_anchor = anchor_predicate(options.anchors)
    with _gc_paused():
        analysis = analyse(model, is_anchor)
        named = list(model.named_modules(remove_duplicate=False))  # walked once: a deep model has 10^4
        modules = [(path, type(m).__name__) for path, m in named]
        warnings = _unmatched_anchors(model, options.anchors)
        traced_with = "fx"
        if analysis.untraced and options.input_shapes:
            with _gc_paused(False):  # torch.export makes real cyclic garbage: collected as usual
                exported, failure = _second_opinion(model, options, is_anchor)
            if exported is not None:
                exported.assumptions[:0] = analysis.assumptions
                analysis, traced_with = exported, "torch.export"
            else:
                warnings.append(
                    f"--input-shape: the torch.export retry failed too ({failure}); kept fx's analysis"
                )
        lint = _Lint(model, _defined_at(named, constructed or {}))
        return _result(analysis, target, name, options, device, build, modules, traced_with, warnings, lint)


@dataclass(frozen=True)
class _Lint:
    """What the rules need beyond the analysis: the model object, construction lines."""

    model: nn.Module | None = None
    defined_at: Mapping[str, SourceLoc] = field(default_factory=dict)


def _defined_at(
    named: list[tuple[str, nn.Module]], constructed: Mapping[nn.Module, SourceLoc]
) -> dict[str, SourceLoc]:
    """Module path -> the line that constructed that module (``named``: every module, by path)."""
    if not constructed:
        return {}
    lines: dict[str, SourceLoc] = {}
    for path, module in named:
        line = constructed.get(module)
        if line is not None:
            lines[path] = line
    return lines


def _unmatched_anchors(model: nn.Module, names: Sequence[str]) -> list[str]:
    """A warning per ``--anchor`` name that matches no module class in the model."""
    if not any(names):  # no --anchor: nothing to match (the walk below is per module class)
        return []
    classes: set[str] = set()
    for module_type in {type(module) for module in model.modules()}:
        for cls in module_type.__mro__:
            classes.update((cls.__name__, f"{cls.__module__}.{cls.__qualname__}"))
    return [
        f"--anchor {name} matches no module class in the model; check the spelling (class name, "
        "e.g. Linear)"
        for name in dict.fromkeys(names)
        if name and name not in classes
    ]


def _second_opinion(
    model: nn.Module, options: Options, is_anchor: Callable[[nn.Module], bool]
) -> tuple[Analysis | None, str | None]:
    """torch.export on meta inputs of --input-shape: resolves shape-dependent code fx cannot.

    Returns the analysis, or None and why export failed (data-dependent control flow defeats
    export too, as can a wrong shape or dtype).
    """
    from . import aten

    try:
        graph = aten.export_on_meta(model, options.input_shapes, is_anchor, options.input_dtypes)
    except Exception as exc:
        return None, _first_line(exc)
    return aten.analyse(graph, options.anchors), None


def _analyse_saved(path: Path, target: str, options: Options) -> TargetResult:
    from . import aten

    kind = saved.classify(path)
    if kind == "pickle":
        weights = saved.weights_only(path)  # safe: loads tensors and plain containers only
        if weights is not None:
            raise saved.not_a_model(path, weights)
        if not options.allow_pickle:
            raise saved.refuse_pickle(path)
        model = saved.load_pickle(path)
        return _analyse(model, target, type(model).__name__, options, "cpu", "pickle")
    if kind == "torchscript":
        script = saved.load_torchscript(path)
        graph = aten.from_torchscript(script)
        modules = [(p, m.original_name) for p, m in script.named_modules()]
    else:
        graph = aten.from_exported(saved.load_exported(path))
        modules = list(dict.fromkeys(pair for info in graph.info.values() for pair in info.chain))
    analysis = aten.analyse(graph, options.anchors)
    return _result(analysis, target, graph.root_type, options, "cpu", kind, modules, kind, [])


def _result(
    analysis: Analysis,
    target: str,
    name: str,
    options: Options,
    device: str | None,
    build: str | None,
    modules: list[tuple[str, str]],
    traced_with: str,
    warnings: list[str],
    lint: _Lint | None = None,
) -> TargetResult:
    from .hierarchy import finish
    from .rules import engine, suppress

    lint = lint or _Lint()
    reported: dict[Site, Site] = {}  # a region's site -> the report's (first) site for it
    finished = []
    for found in analysis.found:
        built = found.site.kind in ("module", "embedded")  # a module's site: its construction line
        site = finish(found, lint.defined_at.get(found.site.module_path) if built else None)
        finished.append(site)
        reported.setdefault(found.site, site)
    shown, hidden = _split_variants(finished, options.variants)
    unseen = [u for u in analysis.unseen if options.variants or u.variant == "relu"]
    suppressions = suppress.current()
    for loc in (loc for s in shown for loc in (s.source, s.defined_at) if loc is not None):
        suppressions.note_file(loc.file)
    regions = list(getattr(analysis, "regions", ()))  # a saved model's aten graph keeps none
    model = engine.Model(name, lint.model, regions, tuple(shown), tuple(analysis.unseen), reported)
    findings = engine.run(model, options.rules, suppressions)
    paths = [s.module_path for s in shown] + [a.path for a in analysis.anchors]
    paths += [u.module_path for u in analysis.untraced] + [u.module_path for u in unseen]
    return TargetResult(
        target=target,
        model=name,
        status="partial" if analysis.untraced else "ok",
        device=device,
        build=build,
        traced_with=traced_with,
        sites=tuple(shown),
        anchors=tuple(analysis.anchors),
        untraced=tuple(analysis.untraced),
        unseen=tuple(unseen),
        hidden_variants=tuple(sorted(hidden.items())),
        modules=_module_chain(modules, paths),
        findings=tuple(findings),
        assumptions=tuple(dict.fromkeys(analysis.assumptions)),
        notes=tuple(warnings),
    )


def _module_chain(modules: list[tuple[str, str]], paths: list[str]) -> tuple[tuple[str, str], ...]:
    """(path, class) for every module on the way to ``paths``, in the model's own order."""
    wanted: set[str] = set()
    for path in paths:
        parts = path.split(".") if path else []
        wanted.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return tuple(dict.fromkeys((path, type_) for path, type_ in modules if path in wanted))


def _split_variants(sites: list[Site], variants: bool) -> tuple[list[Site], Counter[str]]:
    if variants:
        return sites, Counter()
    shown = [s for s in sites if s.variant == "relu"]
    return shown, Counter(s.variant for s in sites if s.variant != "relu")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__

