"""A content-hash cache of target results, so an unchanged repository is answered without torch.

An entry is found by a *key* — relufind's and torch's versions, the options that change the
analysis (arguments, rules, eval mode, anchors, ...), and the target — and is valid while
every project file the target's analysis depended on still has the content hash recorded
with it. Those files are the target file's static import closure inside the project (read
with ``ast``) plus every project file actually loaded while the target was analysed, so a
change to any of them reanalyses exactly the targets that depend on it.

Entries are plain JSON (``relufind.serialize``), never pickles: a cache folder that arrives
with a pull request must not be able to run code in CI. A damaged, foreign or stale entry is
ignored and rewritten, never trusted. Writes go to a temporary file and are renamed into
place, so concurrent runs never see half an entry.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import importlib.util
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__

DEFAULT_DIR = ".relufind_cache"
_FORMAT = 1


@functools.cache
def torch_version() -> str:
    """torch's version without importing torch (``torch/version.py`` read as text); read once
    per run, not once per target key."""
    spec = importlib.util.find_spec("torch")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            with contextlib.suppress(OSError):
                text = Path(location, "version.py").read_text(encoding="utf-8")
                match = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", text, re.M)
                if match:
                    return match.group(1)
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("torch")
    except PackageNotFoundError:
        return "none"


def make_key(target: str, analysis: Mapping[str, Any], root: Path) -> str:
    """The entry key: versions, the analysis-changing options, the target and where it is run."""
    material = {
        "format": _FORMAT,
        "relufind": __version__,
        "torch": torch_version(),
        "python": sys.version_info[:2],
        "root": str(root.resolve()),
        "target": target,
        "analysis": analysis,
    }
    text = json.dumps(material, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def file_digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


@dataclass
class Cache:
    folder: Path
    #: entries found unusable (damaged, foreign); they are overwritten on the next store
    rejected: list[str] = field(default_factory=list)

    def lookup(self, key: str) -> dict[str, Any] | None:
        """The stored payload, if the entry is sound and every file it depends on is unchanged."""
        path = self._entry(key)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            self.rejected.append(str(path))
            return None
        if not _well_formed(document, key):
            self.rejected.append(str(path))
            return None
        if any(file_digest(Path(name)) != digest for name, digest in document["files"].items()):
            return None  # a dependency changed: stale, not damaged
        payload: dict[str, Any] = document["payload"]
        return payload

    def reject(self, key: str) -> None:
        """The caller could not use the entry's payload: note it (the next store rewrites it)."""
        self.rejected.append(str(self._entry(key)))

    def store(self, key: str, payload: dict[str, Any], files: Iterable[Path]) -> None:
        """Record ``payload`` (plain JSON data) with the content hashes of ``files``; never fails
        the run."""
        digests = {str(p.resolve()): file_digest(p) for p in files}
        if None in digests.values():
            return  # a dependency vanished while analysing: nothing sound to record
        document = {"format": _FORMAT, "key": key, "files": digests, "payload": payload}
        with contextlib.suppress(OSError, TypeError, ValueError):
            text = json.dumps(document)
            self._prepare()
            _atomic_write(self._entry(key), text)

    def _entry(self, key: str) -> Path:
        return self.folder / f"{key[:2]}" / f"{key}.json"

    def _prepare(self) -> None:
        """Create the folder with its own ``.gitignore`` (so it is never committed), once."""
        ignore = self.folder / ".gitignore"
        if not ignore.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            _atomic_write(ignore, "# Automatically created by relufind.\n*\n")


def _well_formed(document: Any, key: str) -> bool:
    return (
        isinstance(document, dict)
        and document.get("format") == _FORMAT
        and document.get("key") == key
        and isinstance(document.get("files"), dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in document["files"].items())
        and isinstance(document.get("payload"), dict)
    )


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


# -- what a target depends on ----------------------------------------------------------------

def static_imports(path: Path, root: Path) -> set[Path]:
    """``path`` and every project file it imports, transitively, as ``ast`` reads the imports.

    A module resolves against the project root and against the importing file's folder (both
    are on the import path when relufind imports a model file); anything outside ``root``
    (torch, the standard library) is not followed.
    """
    root = root.resolve()
    seen: set[Path] = set()
    pending = [path.resolve()]
    while pending:
        current = pending.pop()
        if current in seen or not current.is_file():
            continue
        seen.add(current)
        pending.extend(p for p in _imported_files(current, root) if p not in seen)
    return seen


def _imported_files(path: Path, root: Path) -> Iterator[Path]:
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return
    bases = [root, path.parent]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield from _resolve(alias.name, bases, root)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = path.parent
                for _ in range(node.level - 1):
                    base = base.parent
                module_bases = [base]
            else:
                module_bases = bases
            module = node.module or ""
            yield from _resolve(module, module_bases, root)
            for alias in node.names:  # `from pkg import submodule`
                yield from _resolve(f"{module}.{alias.name}" if module else alias.name, module_bases, root)


def _resolve(dotted: str, bases: list[Path], root: Path) -> Iterator[Path]:
    parts = [p for p in dotted.split(".") if p]
    for base in bases:
        folder = base
        for depth, part in enumerate(parts):
            # every package on the way runs its __init__.py
            init = folder / "__init__.py"
            if depth and init.is_file() and _inside(init, root):
                yield init
            candidate = folder / part
            if depth == len(parts) - 1:
                for found in (candidate.with_suffix(".py"), candidate / "__init__.py"):
                    if found.is_file() and _inside(found, root):
                        yield found.resolve()
            folder = candidate
        if not parts:
            init = base / "__init__.py"
            if init.is_file() and _inside(init, root):
                yield init.resolve()


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
    except ValueError:
        return False
    return True


def loaded_project_files(root: Path, modules: Iterable[Any]) -> set[Path]:
    """Files of the given (newly loaded) modules that lie inside the project."""
    root = root.resolve()
    files = set()
    for module in modules:
        name = getattr(module, "__file__", None)
        if name and name.endswith(".py") and _inside(Path(name), root):
            files.add(Path(name).resolve())
    return files
