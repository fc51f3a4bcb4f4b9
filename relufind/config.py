"""``[tool.relufind]`` in ``pyproject.toml``: found once, validated once, merged under the flags.

Discovery follows ruff: the closest ``pyproject.toml`` *that has a ``[tool.relufind]`` table*,
walking up from the working directory and stopping at the repository root (a folder with
``.git`` or ``.hg``); no merging of parent files. ``--config FILE`` names the file,
``--isolated`` ignores every file. An unknown key or a value of the wrong type is a usage
error that names the valid keys — a typo must not silently switch a rule off.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib


@dataclass(frozen=True)
class TargetEntry:
    """One ``[[tool.relufind.targets]]`` entry: a model to analyse and how to build it."""

    target: str  # "models/crnn.py:CRNN" (relative to the configuration's folder) or "pkg.mod:Name"
    args: tuple[tuple[str, Any], ...] = ()  # constructor keyword arguments

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.args)


@dataclass(frozen=True)
class Config:
    """What the configuration file says; every field has the meaning of its command-line flag."""

    path: Path | None = None  # the file read; None when defaults apply
    select: tuple[str, ...] | None = None  # None: the default rule set
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    strict: bool = False
    targets: tuple[TargetEntry, ...] = ()
    cache_dir: str | None = None
    jobs: int | None = None

    @property
    def root(self) -> Path | None:
        """The project root: the folder holding the configuration file."""
        return self.path.parent if self.path is not None else None


_LIST_KEYS = {"select": "select", "extend-select": "extend_select", "ignore": "ignore", "exclude": "exclude"}
_VALID_KEYS = (*_LIST_KEYS, "strict", "targets", "cache-dir", "jobs")
_TARGET_KEYS = ("target", "args")


def find(start: Path | None = None) -> Path | None:
    """The closest ``pyproject.toml`` with a ``[tool.relufind]`` table, up to the repository root."""
    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file() and _has_table(pyproject):
            return pyproject
        if (candidate / ".git").exists() or (candidate / ".hg").exists():
            return None
    return None


def _has_table(pyproject: Path) -> bool:
    try:
        return "relufind" in _read(pyproject).get("tool", {})
    except UsageError:
        return True  # a broken file that may be ours: load() says what is wrong with it


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise UsageError(f"cannot read configuration {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}") from None


def load(path: Path) -> Config:
    """Read and validate ``path`` (a ``pyproject.toml``, or any TOML file named by ``--config``)."""
    document = _read(path)
    table = document.get("tool", {}).get("relufind")
    if table is None:
        # --config may name a plain relufind.toml holding the keys at top level
        table = document if path.name != "pyproject.toml" else {}
    if not isinstance(table, Mapping):
        raise UsageError(f"{path}: [tool.relufind] must be a table")
    unknown = sorted(set(table) - set(_VALID_KEYS))
    if unknown:
        raise UsageError(
            f"{path}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} in [tool.relufind]; "
            f"valid keys: {', '.join(_VALID_KEYS)}"
        )
    values: dict[str, Any] = {"path": path.resolve()}
    for key, attr in _LIST_KEYS.items():
        if key in table:
            values[attr] = _strings(path, key, table[key])
    if "strict" in table:
        values["strict"] = _typed(path, "strict", table["strict"], bool)
    if "cache-dir" in table:
        values["cache_dir"] = _typed(path, "cache-dir", table["cache-dir"], str)
    if "jobs" in table:
        values["jobs"] = _typed(path, "jobs", table["jobs"], int)
    if "targets" in table:
        values["targets"] = _targets(path, table["targets"])
    return Config(**values)


def discover(*, config_file: Path | None = None, isolated: bool = False, start: Path | None = None) -> Config:
    """The configuration a run uses: ``--config``, else the closest file, else defaults."""
    if isolated:
        return Config()
    if config_file is not None:
        if not config_file.is_file():
            raise UsageError(f"--config {config_file}: no such file")
        return load(config_file)
    found = find(start)
    return load(found) if found is not None else Config()


def _strings(path: Path, key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise UsageError(f'{path}: [tool.relufind] {key} must be a list of strings, like ["RF0"]')
    return tuple(value)


def _typed(path: Path, key: str, value: Any, kind: type) -> Any:
    # bool is an int in Python; "jobs = true" must not pass as 1
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        article = "an" if kind is int else "a"
        raise UsageError(f"{path}: [tool.relufind] {key} must be {article} {kind.__name__}")
    return value


def _targets(path: Path, value: Any) -> tuple[TargetEntry, ...]:
    if not isinstance(value, list):
        raise UsageError(f"{path}: [[tool.relufind.targets]] must be an array of tables")
    entries = []
    for index, item in enumerate(value, 1):
        where = f"{path}: [[tool.relufind.targets]] entry {index}"
        if not isinstance(item, Mapping) or not isinstance(item.get("target"), str):
            raise UsageError(f'{where} needs target = "file.py:Name"')
        unknown = sorted(set(item) - set(_TARGET_KEYS))
        if unknown:
            valid = ", ".join(_TARGET_KEYS)
            raise UsageError(f"{where}: unknown key {', '.join(unknown)}; valid keys: {valid}")
        args = item.get("args", {})
        if not isinstance(args, Mapping) or not all(isinstance(k, str) and k.isidentifier() for k in args):
            raise UsageError(f"{where}: args must be a table of keyword arguments, like {{ hidden = 256 }}")
        entries.append(TargetEntry(item["target"], tuple(args.items())))
    return tuple(entries)


@dataclass(frozen=True)
class Selection:
    """Rule selectors from the command line; merged over the configuration's."""

    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = field(default_factory=tuple)


def enabled_rules(config: Config, flags: Selection) -> frozenset[str]:
    """Command line over configuration, layer by layer, as ruff does.

    A ``--select`` on the command line replaces everything the configuration says; otherwise
    the configuration's layer applies first and the flags' ``--extend-select`` / ``--ignore``
    on top (so ``--extend-select RF003`` re-enables what the file ignores).
    """
    from .rules.select import DEFAULT, apply_layer

    enabled = DEFAULT
    if flags.select is None:
        where = f"{config.path}: " if config.path else ""
        enabled = apply_layer(enabled, config.select, config.extend_select, config.ignore, origin=where)
    return apply_layer(enabled, flags.select, flags.extend_select, flags.ignore, origin="--")


def project_root(start: Path | None = None) -> Path:
    """The folder of the closest ``pyproject.toml`` (up to the repository root), else ``start``.

    It goes on the import path, so `from models.layers import X` works as under pytest, and
    ``--exclude`` patterns are relative to it.
    """
    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / "pyproject.toml").is_file():
            return candidate
        if (candidate / ".git").exists() or (candidate / ".hg").exists():
            break
    return folder
