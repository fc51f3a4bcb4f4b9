"""Running planned targets: one at a time, in worker processes (``--jobs``), or from the cache.

Every way of getting a target's result yields the same ``Outcome``: the result plus what
the rest of the run needs to know about it — whether its file failed to import, which model
classes it built (a configured factory's model is not analysed again as a discovered class),
which project files it loaded (the cache's dependencies) and which suppression comments it
read and used (so unused ones are reported the same with or without the cache or workers).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import serialize
from .report import TargetError, TargetResult
from .rules import suppress

if TYPE_CHECKING:
    from .analyze import Options
    from .plan import Planned

#: (resolved file, class name) of a model class
ClassKey = tuple[str, str]


@dataclass(frozen=True)
class Outcome:
    #: None: the class was already built and analysed by an earlier target (a factory's model)
    result: TargetResult | None
    import_failed: bool = False
    built: tuple[ClassKey, ...] = ()
    #: project files loaded while the target was analysed (beyond its static imports)
    loaded: tuple[str, ...] = ()
    usage: suppress.Usage = field(default_factory=suppress.Usage)
    #: diagnostics a worker process could not print itself, in order
    diagnostics: tuple[str, ...] = ()


def class_key(item: Planned) -> ClassKey | None:
    """The class a discovered target names, as the built models are recorded."""
    if item.file is None or item.name is None:
        return None
    return (str(item.file.resolve()), item.name)


def run_one(
    item: Planned, options: Options, diagnostics: Callable[[str], None], root: Path
) -> Outcome:
    """Analyse one target in this process, recording what the run and the cache need."""
    from .analyze import _run_job
    from .gcpause import next_model

    next_model()
    before = set(sys.modules)
    run = suppress.current()
    mark = run.mark()
    result, import_failed, built = _run_job(item, options, diagnostics)
    loaded = _project_files([sys.modules[name] for name in set(sys.modules) - before], root)
    return Outcome(result, import_failed, built, tuple(sorted(loaded)), run.usage_since(mark))


def _project_files(modules: Sequence[Any], root: Path) -> set[str]:
    from .cache import loaded_project_files

    return {str(path) for path in loaded_project_files(root, modules)}


# -- worker processes ------------------------------------------------------------------------

@dataclass(frozen=True)
class Task:
    item: Planned
    options: Options
    root: str


def work(task: Task) -> Outcome:
    """A worker's job (module level: workers import it by name). Torch is imported once per
    worker; diagnostics come back with the outcome, to be printed by the parent in order."""
    from .analyze import _on_import_path
    from .capture import import_torch_quietly

    import_torch_quietly()
    root = Path(task.root)
    _on_import_path(root)
    lines: list[str] = []
    _, token = suppress.begin()
    try:
        outcome = run_one(task.item, task.options, lines.append, root)
    finally:
        suppress.end(token)
    return Outcome(
        outcome.result, outcome.import_failed, outcome.built, outcome.loaded, outcome.usage, tuple(lines)
    )


def crashed(task: Task, why: str) -> Outcome:
    """The outcome of a target whose worker died or hung: an error for that target alone."""
    message = f"{why}; rerun it alone (without --jobs) or with --debug to see more"
    error = TargetResult(
        target=task.item.target,
        model=task.item.name,
        status="error",
        error=TargetError("WorkerFailed", message),
        origin=task.item.why,
    )
    return Outcome(error)  # the CLI reports error targets like any other


def run_parallel(tasks: Sequence[Task], jobs: int, deadline: float | None) -> Iterator[Outcome]:
    """Outcomes in the order of ``tasks``, from ``jobs`` worker processes."""
    from .workers import Pool

    yield from Pool(work, jobs, crashed, deadline=deadline).map(tasks)


# -- the cache -------------------------------------------------------------------------------

class ResultCache:
    """Outcomes by content hash (``relufind.cache``); a null object when caching is off."""

    def __init__(self, cache: Any, options: Options, root: Path) -> None:
        self._cache = cache
        self._material = {"options": options.cache_material(), "code": _own_code()}
        self._root = root

    @classmethod
    def open(cls, options: Options, root: Path) -> ResultCache:
        from .cache import Cache

        folder = None if options.cache_dir is None else root / options.cache_dir
        return cls(Cache(folder) if folder is not None else None, options, root)

    def _key(self, item: Planned) -> str | None:
        from .cache import make_key

        if self._cache is None or item.file is None:  # a module name: its files are not known
            return None
        return make_key(repr(item), self._material, self._root)

    def get(self, item: Planned) -> Outcome | None:
        key = self._key(item)
        payload = None if key is None else self._cache.lookup(key)
        if payload is None:
            return None
        try:
            return _decode(payload)
        except (serialize.DecodeError, KeyError, TypeError, ValueError):
            self._cache.reject(key)
            return None

    def put(self, item: Planned, outcome: Outcome) -> None:
        """Keep what is a fact about the files (not a timeout, a crash or a missing package)."""
        from .cache import static_imports

        key = self._key(item)
        if key is None or (outcome.result is not None and outcome.result.status == "error"):
            return
        assert item.file is not None
        files = {Path(p) for p in outcome.loaded} | {item.file.resolve()}
        if not item.saved:
            files |= static_imports(item.file, self._root)
        self._cache.store(key, _encode(outcome), files)


def _encode(outcome: Outcome) -> dict[str, Any]:
    return {
        "result": None if outcome.result is None else serialize.encode(outcome.result),
        "import_failed": outcome.import_failed,
        "built": [list(key) for key in outcome.built],
        "usage": {"files": list(outcome.usage.files), "used": [list(u) for u in outcome.usage.used]},
    }


def _decode(payload: dict[str, Any]) -> Outcome:
    raw = payload["result"]
    result = None if raw is None else serialize.decode(TargetResult, raw)
    usage = suppress.Usage(
        tuple(str(f) for f in payload["usage"]["files"]),
        tuple((str(f), int(line)) for f, line in payload["usage"]["used"]),
    )
    built = tuple((str(f), str(name)) for f, name in payload["built"])
    return Outcome(result, bool(payload["import_failed"]), built, (), usage)


def _own_code() -> list[tuple[str, int, int]]:
    """relufind's own files (name, size, mtime): a changed relufind never reads old results,
    even while its version number stays the same (a development checkout)."""
    package = Path(__file__).parent
    return sorted(
        (str(p.relative_to(package)), p.stat().st_size, p.stat().st_mtime_ns) for p in package.rglob("*.py")
    )
