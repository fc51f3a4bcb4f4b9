"""Saved model files: TorchScript (``torch.jit.save``), ExportedProgram (``torch.export.save``)
and pickled full models (``torch.save(model)``), told apart by their archive's contents.

TorchScript and ExportedProgram archives are read without unpickling Python objects. A
pickled model runs arbitrary code when loaded, so it is refused unless the user opts in.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Literal

from .errors import TargetFailure

SUFFIXES = {".pt", ".pt2", ".pth", ".ts", ".jit"}
ALLOW_PICKLE_FLAG = "--allow-pickle"
Kind = Literal["torchscript", "exported", "pickle"]


def is_saved_model(path: Path) -> bool:
    return path.suffix.lower() in SUFFIXES


def classify(path: Path) -> Kind:
    """What kind of archive ``path`` is; TargetFailure when it is none of them."""
    try:
        if not zipfile.is_zipfile(path):
            return _legacy_pickle_or_corrupt(path)
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except OSError as exc:
        raise TargetFailure("CorruptFile", f"cannot read '{path}': {exc.strerror or exc}") from exc
    except zipfile.BadZipFile as exc:
        raise _corrupt(path, str(exc)) from exc
    if any(n.endswith("/archive_format") or "/models/" in n for n in names):
        return "exported"
    if any("/code/" in n for n in names):
        return "torchscript"
    if any(n.endswith("/data.pkl") or n == "data.pkl" for n in names):
        return "pickle"
    raise _corrupt(path, "a zip archive, but not one torch writes")


def _legacy_pickle_or_corrupt(path: Path) -> Kind:
    with open(path, "rb") as file:
        head = file.read(2)
    if head[:1] == b"\x80":  # a pickle protocol marker: torch.save's legacy format
        return "pickle"
    raise _corrupt(path, "not a zip archive or a pickle")


def _corrupt(path: Path, why: str) -> TargetFailure:
    return TargetFailure(
        "CorruptFile",
        f"'{path}' is not a readable TorchScript, ExportedProgram or torch.save file ({why}); "
        "check that the file is complete",
    )


def refuse_pickle(path: Path) -> TargetFailure:
    return TargetFailure(
        "PickleRefused",
        f"'{path}' is a pickled full model (torch.save(model)): loading it runs code stored in the file. "
        f"Pass {ALLOW_PICKLE_FLAG} if you trust it, or analyse the model's source (file.py:Class) instead",
    )


def weights_only(path: Path) -> object | None:
    """What ``path`` holds when it is weights and plain data (a state_dict, a checkpoint
    dict), loaded with torch's weights-only unpickler, which runs no code; else None."""
    import torch

    try:
        return torch.load(str(path), map_location="meta", weights_only=True)
    except Exception:  # a pickled model (or anything else the safe unpickler refuses)
        return None


def not_a_model(path: Path, data: object) -> TargetFailure:
    """A file of weights without an architecture: say what it holds and what to name instead."""
    what = _describe_weights(data)
    return TargetFailure(
        "StateDict",
        f"'{path}' holds {what}, not a model: weights without the code that defines the network. "
        "Name the nn.Module class they belong to instead (relufind models/net.py:Net, or a "
        '[[tool.relufind.targets]] entry in pyproject.toml: target = "models/net.py:Net", args = { ... })',
    )


def _describe_weights(data: object) -> str:
    import torch

    if isinstance(data, dict):
        tensors = [k for k, v in data.items() if isinstance(v, torch.Tensor)]
        if tensors and len(tensors) == len(data):
            return f"a state_dict ({len(tensors)} tensors, e.g. '{tensors[0]}')"
        nested = [k for k, v in data.items() if isinstance(v, dict) and v and all(
            isinstance(t, torch.Tensor) for t in v.values())]  # fmt: skip
        keys = ", ".join(repr(k) for k in list(data)[:4])
        if nested:
            return f"a checkpoint dict (keys {keys}; the state_dict is under {nested[0]!r})"
        return f"a dict (keys {keys})"
    return f"{_article(type(data).__name__)} of weights or data"


def _article(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def load_torchscript(path: Path):  # type: ignore[no-untyped-def]
    import torch

    try:
        return torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:
        raise _corrupt(path, _first_line(exc)) from exc


def load_exported(path: Path):  # type: ignore[no-untyped-def]
    import torch

    try:
        return torch.export.load(str(path))
    except Exception as exc:
        raise _corrupt(path, _first_line(exc)) from exc


def load_pickle(path: Path):  # type: ignore[no-untyped-def]
    import torch
    import torch.nn as nn

    try:
        model = torch.load(str(path), map_location="cpu", weights_only=False)
    except Exception as exc:
        raise TargetFailure(
            "ImportError", f"unpickling '{path}' failed: {_first_line(exc)}; is the model's code importable?"
        ) from exc
    if not isinstance(model, nn.Module):
        raise TargetFailure(
            "NotAModule",
            f"'{path}' holds a {type(model).__name__}, not an nn.Module (a state_dict has no graph)",
        )
    return model


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__
