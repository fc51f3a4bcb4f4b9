"""A plan before work: the models a run analyses, each with why it is there.

Planning reads files (``ast``), the configuration's ``[[tool.relufind.targets]]`` entries and
``.gitignore`` files; it imports nothing. What it cannot plan (a malformed target, a missing
path, a file that is not Python 3) becomes a finished ``TargetResult`` in its place, so the
plan keeps the order the user gave.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from . import saved
from .config import TargetEntry
from .discover import Scanner, is_skipped, walk
from .errors import UsageError
from .ignore import Pattern, compile_pattern
from .report import TargetError, TargetResult
from .targets import TargetSpec, parse_target


@dataclass(frozen=True)
class Planned:
    """One model to analyse."""

    target: str  # as shown: "models/net.py:Net", "pkg.mod:make", "weights/model.pt"
    name: str | None  # None only for saved files
    file: Path | None  # the .py (or saved) file; None for a module name
    module: str | None  # the dotted module name when ``file`` is None
    args: tuple[tuple[str, Any], ...]
    why: str
    #: named by the user (command line or configuration): a constructor argument the class
    #: does not take is an error, not silently dropped
    strict_args: bool = False
    saved: bool = False
    #: where a configuration entry would go, relative to the configuration's folder
    config_target: str | None = None
    #: how it got into the plan: "named" on the command line, "found" by discovery, or
    #: "configured" by a [[tool.relufind.targets]] entry
    source: Literal["named", "found", "configured"] = "named"
    #: the configuration entry it comes from ("pyproject.toml [[tool.relufind.targets]] entry 2")
    entry: str | None = None

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.args)

    @property
    def discovered(self) -> bool:
        """Found by walking a folder or file rather than named by the user."""
        return self.source == "found"

    @property
    def configured(self) -> bool:
        """From a ``[[tool.relufind.targets]]`` entry (and not named on the command line)."""
        return self.source == "configured"

    @property
    def named(self) -> bool:
        """Named on the command line (so an --arg would reach it)."""
        return self.source == "named"


PlanItem = Planned | TargetResult


@dataclass(frozen=True)
class Settings:
    """What planning needs besides the target strings."""

    args: Mapping[str, Any] = field(default_factory=dict)  # --arg
    entries: tuple[TargetEntry, ...] = ()
    config_path: Path | None = None
    exclude: tuple[str, ...] = ()  # [tool.relufind] exclude, relative to the configuration's folder
    extra_exclude: tuple[str, ...] = ()  # --exclude, relative to the project root
    project_root: Path | None = None  # None: the working directory

    @property
    def config_root(self) -> Path | None:
        return self.config_path.parent if self.config_path is not None else None


@dataclass(frozen=True)
class _Entry:
    index: int
    entry: TargetEntry
    file: Path | None  # resolved, when the entry names a file (or a module found as one)
    name: str | None


def make_plan(texts: Sequence[str], settings: Settings) -> list[PlanItem]:
    """The plan for ``texts``; with no texts, the configuration's entries."""
    planner = _Planner(settings, single=len(texts) == 1)
    if not texts:
        return [planner.entry_item(e, "") for e in planner.entries]
    items: list[PlanItem] = []
    for text in texts:
        items.extend(planner.expand(text))
    return items


class _Planner:
    def __init__(self, settings: Settings, *, single: bool) -> None:
        self.settings = settings
        # --arg a constructor does not take is an error only when one target is named: with
        # several, each takes the arguments it accepts
        self.single = single
        self.root = (settings.project_root or Path.cwd()).resolve()
        self.config_root = (settings.config_root or self.root).resolve()
        self.scanner = Scanner([self.root])
        self.exclude = _patterns(settings.exclude, self.config_root) + _patterns(
            settings.extra_exclude, self.root
        )
        self.entries = [self._entry(i, e) for i, e in enumerate(settings.entries, 1)]
        self.used: set[int] = set()
        self.seen: set[tuple[Any, ...]] = set()

    # -- entries -----------------------------------------------------------------------------

    def _entry(self, index: int, entry: TargetEntry) -> _Entry:
        location, sep, name = entry.target.rpartition(":")
        if not sep or len(location) == 1:  # a file or folder entry (or a Windows drive)
            location, name = entry.target, ""
        if location.endswith(".py") or "/" in location or saved.is_saved_model(Path(location)):
            return _Entry(index, entry, (self.config_root / location).resolve(), name or None)
        parts = location.split(".")
        for candidate in (
            self.config_root.joinpath(*parts[:-1], parts[-1] + ".py"),
            self.config_root.joinpath(*parts, "__init__.py"),
        ):
            if candidate.is_file():
                return _Entry(index, entry, candidate.resolve(), name or None)
        return _Entry(index, entry, None, name or None)

    def entry_item(self, entry: _Entry, why: str) -> PlanItem:
        """The planned model of a configuration entry; ``why`` prefixes the entry's label."""
        self.used.add(entry.index)
        where = self._entry_label(entry)
        args = {**entry.entry.kwargs, **self.settings.args}
        location, _, name = entry.entry.target.rpartition(":")
        if entry.name is None and entry.file is not None and saved.is_saved_model(entry.file):
            return Planned(
                _display(entry.file), None, entry.file, None, (), f"{why}{where}", True,
                saved=True, source="configured", entry=where,
            )  # fmt: skip
        if entry.name is None:  # an entry is one model: a folder or a bare file is a target's job
            message = f'{where}: name one model, as target = "file.py:Name"'
            return _unplannable(entry.entry.target, "BadTarget", message)
        if entry.file is not None and not location.endswith(".py") and "/" not in location:
            # a module name found as a project file: imported by name, as the user wrote it
            spec = TargetSpec(entry.entry.target, None, location, name)
        else:
            spec = TargetSpec(entry.entry.target, entry.file, None, name)
        shown = f"{_display(entry.file)}:{name}" if spec.file is not None else entry.entry.target
        return Planned(
            target=shown,
            name=name,
            file=spec.file,
            module=spec.module,
            args=tuple(args.items()),
            why=f"{why}{where}",
            strict_args=not self.settings.args,
            config_target=self._config_target(entry.file, name) if entry.file else entry.entry.target,
            source="configured",
            entry=where,
        )

    def _entry_label(self, entry: _Entry) -> str:
        return f"{self._config_name()} [[tool.relufind.targets]] entry {entry.index}"

    def _config_name(self) -> str:
        """The configuration file as a CI log reader finds it: relative to the project root."""
        path = self.settings.config_path
        if path is None:
            return "pyproject.toml"
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def _config_target(self, file: Path, name: str) -> str:
        """``file:name`` as an entry in the configuration would spell it."""
        try:
            location = file.resolve().relative_to(self.config_root).as_posix()
        except ValueError:
            location = str(file.resolve())
        return f"{location}:{name}"

    # -- command-line targets ----------------------------------------------------------------

    def expand(self, text: str) -> list[PlanItem]:
        try:
            spec = parse_target(text)
        except UsageError as exc:
            return [_unplannable(text, "BadTarget", str(exc))]
        if spec.name is not None:
            return [self._named(spec)]
        assert spec.file is not None
        if not spec.file.exists():
            message = f"no such file or folder '{spec.file}'; check the path"
            return [_unplannable(text, "FileNotFound", message)]
        if spec.file.is_file() and saved.is_saved_model(spec.file):
            return [Planned(text, None, spec.file, None, (), "named on the command line", True, saved=True)]
        return self._folder(text, spec.file)

    def _named(self, spec: TargetSpec) -> Planned:
        file = spec.file.resolve() if spec.file is not None else None
        for entry in self.entries:
            same = (file is not None and entry.file == file) or entry.entry.target == spec.text
            if same and entry.name == spec.name:
                item = self.entry_item(entry, "")
                assert isinstance(item, Planned)
                return Planned(
                    spec.text, spec.name, spec.file, spec.module, item.args,
                    f"named on the command line, with the args of {self._entry_label(entry)}",
                    self.single, config_target=item.config_target,
                )  # fmt: skip
        config_target = self._config_target(file, spec.name or "") if file is not None else spec.text
        return Planned(
            spec.text, spec.name, spec.file, spec.module, tuple(self.settings.args.items()),
            "named on the command line", self.single, config_target=config_target,
        )  # fmt: skip

    def _folder(self, text: str, path: Path) -> list[PlanItem]:
        if path.is_file():
            files = [] if is_skipped(path, self.exclude, self.root) else [path]
        else:
            files = walk(path, self.exclude, self.root)
        base = path.resolve()
        items: list[PlanItem] = []
        for file in files:
            items.extend(self._file(text, file, named=path.is_file()))
        for entry in self.entries:  # entries below the folder that discovery did not reach
            inside = entry.file is not None and (entry.file == base or base in entry.file.parents)
            if inside and entry.index not in self.used:
                items.append(self.entry_item(entry, f"inside {text}: "))
        # configured models first: a class a factory builds is then known to be analysed
        # before discovery would report it as skipped
        configured = [i for i in items if isinstance(i, Planned) and i.configured]
        return configured + [i for i in items if not (isinstance(i, Planned) and i.configured)]

    def _file(self, text: str, file: Path, *, named: bool) -> list[PlanItem]:
        classes, error = self.scanner.model_classes(file)
        if error is not None:
            what = _parse_error(file, error)
            if named:  # the user pointed at this file: it is broken, not merely not a model
                return [_unplannable(text, "SyntaxError", f"{what}; fix the file")]
            # found by walking a folder: maybe a Python 2 script; never imported, a notice
            reason = (
                f"cannot be read as Python ({what}), so it was not imported; "
                f"fix it, or add \"{self._relative(file)}\" to exclude in [tool.relufind]"
            )
            return [TargetResult(target=str(file), model=None, status="skipped", skip_reason=reason)]
        resolved = file.resolve()
        here = [e for e in self.entries if e.file == resolved]
        items: list[PlanItem] = []
        for cls in classes:
            configured = [e for e in here if e.name == cls.name and e.index not in self.used]
            if any(e.name == cls.name for e in here):  # the entry's args win over discovery
                items.extend(self.entry_item(e, f"inside {text}: ") for e in configured)
                continue
            key = (resolved, cls.name)
            if key in self.seen:
                continue
            self.seen.add(key)
            items.append(
                Planned(
                    f"{file}:{cls.name}", cls.name, file, None, tuple(self.settings.args.items()),
                    f"found in {text}: an nn.Module subclass at line {cls.line}",
                    config_target=self._config_target(file, cls.name),
                    source="found",
                )
            )
        items.extend(self.entry_item(e, f"inside {text}: ") for e in here if e.index not in self.used)
        return items

    def _relative(self, file: Path) -> str:
        try:
            return file.resolve().relative_to(self.config_root).as_posix()
        except ValueError:
            return str(file)


def _parse_error(file: Path, error: BaseException) -> str:
    if isinstance(error, SyntaxError):
        line = f":{error.lineno}" if error.lineno else ""
        return f"syntax error in {_display(file)}{line}: {error.msg}"
    if isinstance(error, OSError):
        return f"cannot read {_display(file)}: {error.strerror or error}"
    return f"{_display(file)} is not valid Python source ({error})"


def _patterns(globs: Sequence[str], base: Path) -> list[Pattern]:
    return [p for p in (compile_pattern(g, base) for g in globs) if p is not None]


def _unplannable(target: str, type_: str, message: str) -> TargetResult:
    return TargetResult(target=target, model=None, status="error", error=TargetError(type_, message))


def _display(path: Path | None) -> str:
    from .render import display_path

    return display_path(str(path)) if path is not None else ""
