"""Parse target strings and import the objects they name.

A target is ``file.py:Name``, ``package.module:Name``, ``file.py`` (every ``nn.Module``
subclass defined in it) or a directory (every such class in the ``.py`` files below it);
which files and classes a file or folder covers is decided without importing, in
``discover`` and ``plan``. Importing a file runs its code, exactly as ``import`` would; it is
never run as ``__main__``.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.util
import inspect
import keyword
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from .errors import TargetFailure, UsageError


def _is_identifier(text: str) -> bool:
    """A Python name, Unicode included (PEP 3131), that is not a keyword."""
    return text.isidentifier() and not keyword.iskeyword(text)


def _is_dotted(text: str) -> bool:
    return all(_is_identifier(part) for part in text.split("."))

@dataclass(frozen=True)
class TargetSpec:
    """One parsed target: where the code is and which name (``None``: every module class)."""

    text: str  # as the user wrote it
    file: Path | None  # a .py file, or None for an importable module name
    module: str | None  # dotted module name when ``file`` is None
    name: str | None


def parse_target(text: str) -> TargetSpec:
    """Split ``text`` into file/module and name; raise UsageError when it is malformed."""
    if not text.strip():
        raise UsageError("empty target; give file.py:Name, package.module:Name, a file or a folder")
    if ":" in text and Path(text).exists():  # a file or folder whose own name holds a colon
        return TargetSpec(text, Path(text), None, None)
    location, sep, name = text.rpartition(":")
    if not sep or _looks_like_drive(location):
        location, name = text, ""
    if sep and not _is_identifier(name) and not _looks_like_drive(location):
        raise UsageError(
            f"'{name}' is not a Python name; write the target as file.py:Name or package.module:Name"
        )
    if sep and not location:
        raise UsageError("no file or module before ':'; write file.py:Name")
    path = Path(location)
    if location.endswith(".py") or os.sep in location or "/" in location or path.exists():
        return TargetSpec(text, path, None, name or None)
    if _is_dotted(location):
        if not name:
            raise UsageError("no such file or folder; for a module write package.module:Name")
        return TargetSpec(text, None, location, name)
    raise UsageError("not a .py file, a folder or a package.module:Name")


def _looks_like_drive(location: str) -> bool:
    return len(location) == 1 and location.isalpha()


def import_file(path: Path) -> ModuleType:
    """Import ``path`` as a module with its folder importable, so relative imports work."""
    if not path.exists():
        raise TargetFailure("FileNotFound", f"no such file '{path}'; check the path")
    if path.is_dir() or path.suffix != ".py":
        raise TargetFailure("BadTarget", f"'{path}' is not a .py file")
    path = path.resolve()
    package_root, dotted = _package_name(path)
    if str(package_root) not in sys.path:
        sys.path.insert(0, str(package_root))
    if dotted in sys.modules and _module_file(sys.modules[dotted]) == path:
        return sys.modules[dotted]
    if "." in dotted:  # inside a package: a real import, so `from .layers import X` works
        return _run_import(lambda: _import_in_package(package_root, dotted), path)
    return _run_import(lambda: _exec_standalone(path, dotted), path)


def _import_in_package(package_root: Path, dotted: str) -> ModuleType:
    """Import ``dotted`` from the package below ``package_root``, even when another package
    or module of the same top-level name (a second `models/`, the stdlib `types`) is
    already imported or comes first on sys.path: then the package gets a unique alias."""
    top, _, rest = dotted.partition(".")
    top_dir = package_root / top
    existing = sys.modules.get(top)
    if existing is not None:
        locations = list(getattr(existing, "__path__", None) or [])
    else:
        found = importlib.util.find_spec(top)
        locations = list(found.submodule_search_locations or []) if found else []
    if any(Path(location).resolve() == top_dir for location in locations):
        return importlib.import_module(dotted)
    alias = _unique_name(top_dir, top)
    if alias not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            alias, top_dir / "__init__.py", submodule_search_locations=[str(top_dir)]
        )
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import the package in {top_dir}", name=top)
        _exec_registered(alias, spec)
    return importlib.import_module(f"{alias}.{rest}")


def _unique_name(path: Path, name: str) -> str:
    return f"_relufind_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}_{name}"


def _exec_registered(name: str, spec: importlib.machinery.ModuleSpec) -> ModuleType:
    """Run a module under ``name`` in sys.modules (as import does), unregistered if it fails."""
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _package_name(path: Path) -> tuple[Path, str]:
    """The folder to put on sys.path and the dotted name the file is imported under."""
    parts = [path.stem]
    folder = path.parent
    while (folder / "__init__.py").exists() and _is_identifier(folder.name):
        parts.insert(0, folder.name)
        folder = folder.parent
    return folder, ".".join(parts)


def _exec_standalone(path: Path, name: str) -> ModuleType:
    # A stand-alone file whose stem is already taken (say `types.py`, or a second
    # `model.py`) gets a unique name, so it never shadows another module.
    existing = sys.modules.get(name)
    if existing is not None and _module_file(existing) != path:
        name = _unique_name(path, name)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise TargetFailure("ImportError", f"cannot import '{path}'")
    return _exec_registered(name, spec)


def _module_file(module: ModuleType) -> Path | None:
    file = getattr(module, "__file__", None)
    return Path(file).resolve() if file else None


def import_module_name(dotted: str) -> ModuleType:
    # As with `python -m`, a package in the working directory is importable (appended, so
    # nothing in the working directory shadows an installed module).
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.append(cwd)
    return _run_import(lambda: importlib.import_module(dotted), None, dotted)


def _run_import(do_import, path: Path | None, dotted: str | None = None) -> ModuleType:  # type: ignore[no-untyped-def]
    from .render import display_path

    where = display_path(str(path)) if path is not None else dotted
    try:
        return do_import()
    except SyntaxError as exc:
        file = display_path(exc.filename) if exc.filename else where
        line = f":{exc.lineno}" if exc.lineno else ""
        raise TargetFailure(
            "SyntaxError", f"syntax error in {file}{line}: {exc.msg}; fix the file"
        ) from exc
    except ModuleNotFoundError as exc:
        if path is None and dotted and exc.name and (dotted + ".").startswith(exc.name + "."):
            # the target module itself, or a package on its way, does not exist
            raise TargetFailure(
                "ImportError", f"no module named '{exc.name}'; check the name or install its package"
            ) from exc
        raise TargetFailure(
            "ImportError",
            f"importing {where} failed: no module named '{exc.name}'; install it or make it importable",
        ) from exc
    except UnicodeDecodeError as exc:
        raise TargetFailure(
            "SyntaxError", f"{where} is not valid UTF-8 text ({exc.reason}); save it as UTF-8"
        ) from exc
    except SystemExit as exc:
        raise TargetFailure(
            "ImportError",
            f"importing {where} called sys.exit({exc.code}); guard it with `if __name__ == '__main__':`",
        ) from exc
    except ImportError as exc:
        hint = ""
        if path is not None and "no known parent package" in str(exc):
            hint = f"; add an __init__.py to {display_path(str(path.parent))} so its relative imports work"
        raise TargetFailure(
            "ImportError", f"importing {where} raised {type(exc).__name__}: {_first_line(exc)}{hint}"
        ) from exc
    except Exception as exc:
        raise TargetFailure(
            "ImportError", f"importing {where} raised {type(exc).__name__}: {_first_line(exc)}"
        ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "(no message)"


def resolve_name(module: ModuleType, name: str, where: str) -> object:
    """``module.name``, or a TargetFailure listing what the module does define."""
    if hasattr(module, name):
        return getattr(module, name)
    defined = describe_candidates(module)
    hint = f"; it defines: {defined}" if defined else "; it defines no nn.Module class, factory or instance"
    raise TargetFailure("NameNotFound", f"no '{name}' in {where}{hint}")


def describe_candidates(module: ModuleType) -> str:
    classes, factories, instances = [], [], []
    import torch.nn as nn

    for attr, value in vars(module).items():
        if attr.startswith("_"):
            continue
        if inspect.isclass(value) and issubclass(value, nn.Module) and _defined_in(value, module):
            classes.append(attr)
        elif inspect.isfunction(value) and _defined_in(value, module):
            factories.append(attr)
        elif isinstance(value, nn.Module):
            instances.append(attr)
    groups = [
        (classes, "nn.Module classes"),
        (factories, "functions"),
        (instances, "nn.Module instances"),
    ]
    return "; ".join(f"{', '.join(names)} ({label})" for names, label in groups if names)


def _defined_in(obj: object, module: ModuleType) -> bool:
    return getattr(obj, "__module__", None) == module.__name__
