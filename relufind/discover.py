"""Which files hold models, decided by reading them (``ast``), never by importing them.

Importing a file runs it: a training script parses ``sys.argv`` and starts a run, a tutorial
downloads its data set, a helper imports an optional dependency the CI machine lacks. So a
folder is walked (skipping tests, hidden folders, virtual environments, build output, what
``.gitignore`` and ``exclude`` name), each ``.py`` file is parsed, and only a file that
defines a class whose bases resolve to an ``nn.Module`` is ever imported.

A base resolves to a module class when it names ``torch.nn.<Class>`` (however ``torch`` or
``nn`` was imported), a Lightning module, or a class of a project file (same file, a
relative import, or an import from the project root) that itself resolves — read from
that file's source, again without importing it. Anything else (a base from another library)
does not count: conservative on purpose; name such a class explicitly or in
``[[tool.relufind.targets]]``.
"""

from __future__ import annotations

import ast
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .ignore import Pattern, excluded, read_gitignore

#: folder names never searched for models (tests, tooling, packaging and environments)
SKIP_DIRS = frozenset(
    {
        "tests", "test", "node_modules", "site-packages", "__pycache__", "venv", "env",
        "build", "dist", ".eggs", "__pypackages__",
    }
)  # fmt: skip
#: files never imported: tests and packaging scripts
SKIP_FILES = frozenset({"conftest.py", "setup.py", "noxfile.py", "fabfile.py"})
#: bases outside torch.nn that are nn.Module subclasses themselves
_KNOWN_MODULE_BASES = frozenset(
    {
        "pytorch_lightning.LightningModule",
        "pytorch_lightning.core.LightningModule",
        "pytorch_lightning.core.module.LightningModule",
        "lightning.LightningModule",
        "lightning.pytorch.LightningModule",
        "lightning.pytorch.core.LightningModule",
    }
)


@dataclass(frozen=True)
class ModelClass:
    name: str
    line: int


@dataclass
class _Source:
    """What one parsed file says: its dotted name, imported names and top-level classes."""

    path: Path
    module: str
    names: dict[str, str] = field(default_factory=dict)  # local name -> qualified name
    classes: dict[str, tuple[int, list[str]]] = field(default_factory=dict)  # name -> (line, bases)
    #: class -> the names its body mentions (``self.head = Head(...)``, ``block=BasicBlock``)
    body_names: dict[str, frozenset[str]] = field(default_factory=dict)
    error: SyntaxError | OSError | ValueError | None = None


def walk(root: Path, exclude: list[Pattern], project_root: Path | None = None) -> list[Path]:
    """The ``.py`` files below ``root`` that may hold models, sorted, in walk order.

    The ``.gitignore`` files of the folders between ``project_root`` and ``root`` apply too,
    as git applies them (``relufind models/`` honours the repository's top-level file).
    """
    found: list[Path] = []
    base = root.resolve()
    inherited = [p for folder in _ancestors(base, project_root) for p in read_gitignore(folder)]
    for folder, dirnames, filenames, patterns in _walk(root, inherited + list(exclude)):
        here = Path(folder)
        dirnames[:] = sorted(d for d in dirnames if not _skip_dir(here / d, patterns))
        for filename in sorted(filenames):
            path = here / filename
            if is_candidate_file(filename) and excluded(path.resolve(), False, patterns) is None:
                found.append(path)
    return found


def _ancestors(folder: Path, project_root: Path | None) -> list[Path]:
    """The folders from the project root (else the repository root) down to above ``folder``."""
    chain: list[Path] = []
    for parent in folder.parents:
        chain.insert(0, parent)
        if parent == project_root or (parent / ".git").exists():
            return chain
    return []  # not inside a project: only the walked folders' own .gitignore files apply


def is_skipped(path: Path, exclude: list[Pattern], root: Path) -> bool:
    """Whether a file named on its own (as a pre-commit hook names changed files) is left out:
    a test or packaging script by its name, or a match of ``exclude`` or a ``.gitignore`` of
    the project. Folder names (``tests/``, ``venv/``) are not second-guessed: a file named in
    such a folder was named on purpose."""
    resolved = path.resolve()
    if not is_candidate_file(resolved.name):
        return True
    patterns = list(exclude)
    try:
        parts = resolved.relative_to(root).parts
    except ValueError:  # outside the project: only its own name and the patterns count
        parts = ()
    folder = root
    patterns += read_gitignore(folder) if parts else []
    for part in parts[:-1]:
        folder = folder / part
        if excluded(folder, True, patterns) is not None:
            return True
        patterns += read_gitignore(folder)
    return excluded(resolved, False, patterns) is not None


def _walk(root: Path, patterns: list[Pattern]) -> Iterator[tuple[str, list[str], list[str], list[Pattern]]]:
    """os.walk with each folder's ``.gitignore`` added to the patterns of the folders below it."""
    by_folder: dict[Path, list[Pattern]] = {}
    for folder, dirnames, filenames in os.walk(root):
        here = Path(folder).resolve()
        inherited = by_folder.get(here.parent, patterns) if here != root.resolve() else patterns
        own = inherited + read_gitignore(here) if ".gitignore" in filenames else inherited
        by_folder[here] = own
        yield folder, dirnames, filenames, own


def _skip_dir(path: Path, patterns: list[Pattern]) -> bool:
    name = path.name
    if name.startswith(".") or name in SKIP_DIRS or name.endswith(".egg-info"):
        return True
    if (path / "pyvenv.cfg").exists() or (path / "conda-meta").is_dir():  # a virtual environment
        return True
    return excluded(path.resolve(), True, patterns) is not None


def is_candidate_file(filename: str) -> bool:
    """A ``.py`` file that is not a test, a packaging script or hidden."""
    if not filename.endswith(".py") or filename.startswith(".") or filename in SKIP_FILES:
        return False
    stem = filename[:-3]
    return not (stem.startswith("test_") or stem.endswith("_test"))


class Scanner:
    """Finds the ``nn.Module`` subclasses of files by reading them, with a cache per run.

    ``roots`` are the folders a dotted name is looked up in (the project root first), as
    the import system would; a file is read at most once.
    """

    def __init__(self, roots: list[Path]) -> None:
        self.roots = list(dict.fromkeys(r.resolve() for r in roots))
        self._sources: dict[Path, _Source] = {}
        self._by_module: dict[str, _Source | None] = {}
        self._verdicts: dict[str, bool] = {}

    def model_classes(self, path: Path) -> tuple[list[ModelClass], SyntaxError | OSError | ValueError | None]:
        """The module classes defined in ``path`` in source order, and a read/parse error."""
        source = self._source(path.resolve())
        if source.error is not None:
            return [], source.error
        found = [
            ModelClass(name, line)
            for name, (line, _) in source.classes.items()
            if self._class_in(source, name, set())
        ]
        return found, None

    # -- reading -----------------------------------------------------------------------------

    def _source(self, path: Path) -> _Source:
        if path not in self._sources:
            package_root, dotted = module_name(path)
            if package_root not in self.roots:  # `from models.layers import X` next to `models/`
                self.roots.append(package_root)
            self._sources[path] = _parse(path, dotted)
        return self._sources[path]

    def _module(self, dotted: str, importer: _Source) -> _Source | None:
        """The source of module ``dotted`` as ``importer`` would import it: its own package
        root first (two projects may both have a `models` package), then the project roots."""
        first = module_name(importer.path)[0]
        key = f"{first}|{dotted}"
        if key not in self._by_module:
            self._by_module[key] = None
            parts = dotted.split(".")
            for root in dict.fromkeys([first, *self.roots]):
                module_file = root.joinpath(*parts[:-1], parts[-1] + ".py")
                for candidate in (module_file, root.joinpath(*parts, "__init__.py")):
                    if candidate.is_file():
                        self._by_module[key] = self._source(candidate.resolve())
                        return self._by_module[key]
        return self._by_module[key]

    # -- resolving ---------------------------------------------------------------------------

    def _is_module_class(self, qualified: str, importer: _Source, seen: set[str]) -> bool:
        """Whether the class ``package.module.Name``, imported by ``importer``, is an nn.Module."""
        if _is_torch_module(qualified) or qualified in _KNOWN_MODULE_BASES:
            return True
        module, _, name = qualified.rpartition(".")
        source = self._module(module, importer) if module else None
        return source is not None and self._class_in(source, name, seen)

    def _class_in(self, source: _Source, name: str, seen: set[str]) -> bool:
        """Whether ``name`` as defined (or imported) in ``source`` is an nn.Module subclass."""
        key = f"{source.path}:{name}"
        if key in self._verdicts:
            return self._verdicts[key]
        if key in seen or source.error is not None:  # an import cycle, a class named like its base
            return False
        seen.add(key)
        if name in source.classes:
            verdict = any(self._base_is_module(source, base, seen) for base in source.classes[name][1])
        else:  # re-exported: `from .layers import ConvBlock` in __init__.py
            verdict = name in source.names and self._is_module_class(source.names[name], source, seen)
        self._verdicts[key] = verdict
        return verdict

    def _base_is_module(self, source: _Source, base: str, seen: set[str]) -> bool:
        head, _, rest = base.partition(".")
        if head in source.classes and not rest:  # a base defined earlier in the same file
            return self._class_in(source, head, seen)
        target = source.names.get(head)
        if target is None:  # a builtin (object, Exception) or a name we cannot follow
            return False
        return self._is_module_class(f"{target}.{rest}" if rest else target, source, seen)


def _is_torch_module(qualified: str) -> bool:
    # torch.nn.Module, torch.nn.Sequential, torch.nn.modules.conv.Conv2d, ...: a class
    # (capitalised) in the torch.nn namespace
    return qualified.startswith("torch.nn.") and qualified.rpartition(".")[2][:1].isupper()


def class_body_names(path: Path) -> dict[str, frozenset[str]]:
    """For each module-level class of ``path``: the names its body mentions (``relufind.blocks``)."""
    return _parse(path, module_name(path)[1]).body_names


#: parsed files of this process by (path, module name), with the digest of the bytes parsed:
#: planning and ``relufind.blocks`` read the same files, and a library user scans again and
#: again; an edited file (another digest) is parsed anew
_PARSED: dict[tuple[Path, str], tuple[bytes, _Source]] = {}
_PARSED_LIMIT = 4096


def _parse(path: Path, module: str) -> _Source:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return _Source(path, module, error=exc)
    digest = hashlib.blake2b(data, digest_size=16).digest()
    known = _PARSED.get((path, module))
    if known is not None and known[0] == digest:
        return known[1]
    source = _parse_bytes(path, module, data)
    if len(_PARSED) >= _PARSED_LIMIT:
        _PARSED.clear()
    _PARSED[(path, module)] = (digest, source)
    return source


def _parse_bytes(path: Path, module: str, data: bytes) -> _Source:
    source = _Source(path, module)
    try:
        tree = ast.parse(data, filename=str(path))
    except (SyntaxError, ValueError) as exc:  # ValueError: a NUL byte in the source
        source.error = exc
        return source
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    source.names[alias.asname] = alias.name
                else:  # `import torch.nn` binds `torch`
                    top = alias.name.partition(".")[0]
                    source.names[top] = top
        elif isinstance(node, ast.ImportFrom):
            origin = _absolute(module, is_package, node.level, node.module)
            if origin is None:
                continue
            for alias in node.names:
                if alias.name != "*":
                    source.names[alias.asname or alias.name] = f"{origin}.{alias.name}"
    for node in _top_level(tree.body):
        bases = [text for text in (_dotted(b) for b in node.bases) if text]
        source.classes.setdefault(node.name, (node.lineno, bases))
        source.body_names.setdefault(node.name, _names_in(node))
    for node in tree.body:  # `Base = nn.Module`: an alias of a class, resolved like an import
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = _dotted(node.value)
            head, _, rest = (value or "").partition(".")
            origin = f"{module}.{head}" if head in source.classes else source.names.get(head)
            if origin is not None and node.targets[0].id not in source.classes:
                source.names[node.targets[0].id] = f"{origin}.{rest}" if rest else origin
    return source


def _names_in(node: ast.ClassDef) -> frozenset[str]:
    """The names and attribute names a class body mentions, not its bases nor its own name."""
    names = set()
    for inner in (n for statement in node.body for n in ast.walk(statement)):
        if isinstance(inner, ast.Name):
            names.add(inner.id)
        elif isinstance(inner, ast.Attribute):
            names.add(inner.attr)
    names.discard(node.name)
    return frozenset(names)


def _top_level(body: list[ast.stmt]) -> Iterator[ast.ClassDef]:
    """Classes at module level, including those under a module-level if/try/with."""
    for node in body:
        if isinstance(node, ast.ClassDef):
            yield node
        elif isinstance(node, ast.If | ast.Try | ast.With):
            for block in ("body", "orelse", "finalbody", "handlers"):
                for child in getattr(node, block, []) or []:
                    if isinstance(child, ast.ExceptHandler):
                        yield from _top_level(child.body)
                    elif isinstance(child, ast.stmt):
                        yield from _top_level([child])


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr}" if head else None
    return None


def _absolute(module: str, is_package: bool, level: int, name: str | None) -> str | None:
    """The absolute module a ``from`` import names (``from ..x import y`` in ``a.b.c`` -> ``a.x``)."""
    if level == 0:
        return name
    package = module if is_package else module.rpartition(".")[0]
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    parts = parts[: len(parts) - (level - 1)]
    if name:
        parts.append(name)
    return ".".join(parts) or None


def module_name(path: Path) -> tuple[Path, str]:
    """The folder to put on sys.path and the dotted name ``path`` is imported under."""
    parts = [path.stem] if path.name != "__init__.py" else []
    folder = path.parent
    while (folder / "__init__.py").exists() and folder.name.isidentifier():
        parts.insert(0, folder.name)
        folder = folder.parent
    return folder, ".".join(parts) or path.parent.name
