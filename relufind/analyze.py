"""The pipeline: target -> build -> trace -> detect -> relate -> report.

``scan`` analyses a model object; ``scan_targets`` loads targets named on the command line
and analyses each, turning every failure a user can cause into a ``TargetResult`` with
status ``error`` so that one bad target never stops the others.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import signal
import sys
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__, saved
from .errors import TargetFailure, UsageError
from .report import Report, Site, SourceLoc, TargetError, TargetResult

if TYPE_CHECKING:
    import torch.nn as nn

    from .hierarchy import Analysis


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


@dataclass(frozen=True)
class _Job:
    """One model to analyse: its display target, its name, how to get the object."""

    target: str
    name: str
    load: Callable[[], object]
    strict_args: bool
    #: a saved model file (TorchScript, ExportedProgram, pickle) rather than Python code
    saved: Path | None = None


#: where diagnostics go (the CLI swaps in its own writer); never stdout
Diagnostics = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


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
    targets: Sequence[str], options: Options = Options(), diagnostics: Diagnostics = _stderr
) -> Report:
    """Load and analyse every target; failures become ``error`` entries, never exceptions."""
    from .capture import import_torch_quietly
    from .rules import suppress

    import_torch_quietly()
    results: list[TargetResult] = []
    # --arg a constructor does not take is an error only when one target is named: with
    # several, each takes the arguments it accepts
    strict = len(targets) == 1
    suppressions, token = suppress.begin()
    try:
        for text in targets:
            for job in _jobs(text, options, results, diagnostics, strict):
                results.append(_run_job(job, options, diagnostics))
    finally:
        suppress.end(token)
    return Report(__version__, tuple(results), unused_suppressions=suppressions.unused())


# -- loading ---------------------------------------------------------------------------------

def _jobs(
    text: str, options: Options, results: list[TargetResult], diagnostics: Diagnostics, strict: bool
) -> Iterator[_Job]:
    from . import targets as t

    try:
        spec = t.parse_target(text)
    except UsageError as exc:
        failure = TargetFailure("BadTarget", str(exc))
        results.append(_error_result(text, None, failure, options, diagnostics, None))
        return
    if spec.name is not None:
        yield _Job(text, spec.name, lambda: _resolve(spec), strict_args=strict)
        return
    assert spec.file is not None
    if not spec.file.exists():
        failure = TargetFailure("FileNotFound", f"no such file or folder '{spec.file}'; check the path")
        results.append(_error_result(text, None, failure, options, diagnostics, None))
        return
    if spec.file.is_file() and saved.is_saved_model(spec.file):
        yield _Job(text, spec.file.stem, lambda: None, strict_args=True, saved=spec.file)
        return
    for path in t.expand_paths(spec):
        try:
            with _guarded(options, diagnostics, text):
                module = t.import_file(path)
                names = t.module_classes(module)
        except TargetFailure as failure:
            results.append(_error_result(str(path), None, failure, options, diagnostics, None))
            continue
        for name in names:
            target = f"{path}:{name}"
            if not _has_forward(getattr(module, name)):
                reason = "defines no forward() (an abstract base class); name a subclass that does"
                results.append(TargetResult(target=target, model=name, status="skipped", skip_reason=reason))
                continue
            yield _Job(target, name, lambda m=module, n=name: getattr(m, n), strict_args=False)


def _has_forward(cls: type) -> bool:
    import torch.nn as nn

    return getattr(cls, "forward", None) is not nn.Module.forward


def _resolve(spec: Any) -> object:
    from . import targets as t

    if spec.file is not None:
        module = t.import_file(spec.file)
        where = str(spec.file)
    else:
        module = t.import_module_name(spec.module)
        where = spec.module
    return t.resolve_name(module, spec.name, where)


def _run_job(job: _Job, options: Options, diagnostics: Diagnostics) -> TargetResult:
    from .build import NeedsArguments, build

    log = io.StringIO()
    try:
        with _guarded(options, diagnostics, job.target, log):
            if job.saved is not None:
                return _analyse_saved(job.saved, job.target, options)
            obj = job.load()
            built = build(obj, job.name, options.args, strict_args=job.strict_args)
            if not _has_forward(type(built.model)):
                message = f"{job.name} defines no forward(); name a subclass that does"
                raise TargetFailure("NoForward", message)
            return _analyse(
                built.model, job.target, job.name, options, built.device, built.how, built.constructed
            )
    except NeedsArguments as needs:
        return _skipped(job, needs.missing)
    except TargetFailure as failure:
        return _error_result(job.target, job.name, failure, options, diagnostics, failure)
    finally:
        if options.debug and log.getvalue():
            diagnostics(f"relufind: output of {job.target}:\n{log.getvalue().rstrip()}")


def _skipped(job: _Job, missing: list[str]) -> TargetResult:
    options = " ".join(f"--arg {name}=VALUE" for name in missing)
    return TargetResult(
        target=job.target,
        model=job.name,
        status="skipped",
        skip_reason=f"needs arguments {', '.join(missing)}: pass {options}",
        needs_args=tuple(missing),
    )


def _error_result(
    target: str,
    model: str | None,
    failure: TargetFailure,
    options: Options,
    diagnostics: Diagnostics,
    cause: BaseException | None,
) -> TargetResult:
    diagnostics(f"relufind: error: {target}: {failure.message}")
    if options.debug and cause is not None:
        diagnostics("".join(traceback.format_exception(cause)).rstrip())
    return TargetResult(
        target=target, model=model, status="error", error=TargetError(failure.type, failure.message)
    )


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
    from .hierarchy import analyse
    from .relate import anchor_predicate

    if options.eval:
        model.eval()
    is_anchor = anchor_predicate(options.anchors)
    analysis = analyse(model, is_anchor)
    modules = [(path, type(m).__name__) for path, m in model.named_modules(remove_duplicate=False)]
    warnings = _unmatched_anchors(model, options.anchors)
    traced_with = "fx"
    if analysis.untraced and options.input_shapes:
        exported, failure = _second_opinion(model, options, is_anchor)
        if exported is not None:
            exported.assumptions[:0] = analysis.assumptions
            analysis, traced_with = exported, "torch.export"
        else:
            warnings.append(
                f"--input-shape: the torch.export retry failed too ({failure}); kept fx's analysis"
            )
    lint = _Lint(model, _defined_at(model, constructed or {}))
    return _result(analysis, target, name, options, device, build, modules, traced_with, warnings, lint)


@dataclass(frozen=True)
class _Lint:
    """What the rules need beyond the analysis: the model object, construction lines."""

    model: nn.Module | None = None
    defined_at: Mapping[str, SourceLoc] = field(default_factory=dict)


def _defined_at(model: nn.Module, constructed: Mapping[nn.Module, SourceLoc]) -> dict[str, SourceLoc]:
    """Module path -> the line that constructed that module."""
    if not constructed:
        return {}
    lines: dict[str, SourceLoc] = {}
    for path, module in model.named_modules(remove_duplicate=False):
        line = constructed.get(module)
        if line is not None:
            lines[path] = line
    return lines


def _unmatched_anchors(model: nn.Module, names: Sequence[str]) -> list[str]:
    """A warning per ``--anchor`` name that matches no module class in the model."""
    classes: set[str] = set()
    for module in model.modules():
        for cls in type(module).__mro__:
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
        site = finish(found)
        if site.kind in ("module", "embedded") and site.module_path in lint.defined_at:
            site = dataclasses.replace(site, defined_at=lint.defined_at[site.module_path])
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

