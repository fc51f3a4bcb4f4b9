"""Report records as plain data and back, without loss: what the cache stores.

Encoding is ``dataclasses`` to dicts, lists and scalars; decoding walks each dataclass's type
hints, so a field added to ``report.py`` round-trips without touching this module. Nothing
here can run code: the input is JSON, and only the report's own dataclasses are built.
Unlike ``render/json.py`` (the user-facing schema, paths shortened for display), this keeps
every field exactly, so a cached result renders exactly as a fresh one.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from functools import cache
from typing import Any, Literal, Union

from . import report

SCHEMA = 1


class DecodeError(ValueError):
    """The data does not describe a report record (a damaged or foreign cache entry)."""


def encode(record: Any) -> Any:
    """A report dataclass (or a value inside one) as JSON-ready data."""
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return {f.name: encode(getattr(record, f.name)) for f in dataclasses.fields(record)}
    if isinstance(record, (tuple, list)):
        return [encode(item) for item in record]
    if isinstance(record, dict):
        return {str(key): encode(value) for key, value in record.items()}
    if record is None or isinstance(record, (str, int, float, bool)):
        return record
    raise TypeError(f"cannot encode {type(record).__name__}")


def decode(cls: type, data: Any) -> Any:
    """Rebuild an instance of the report dataclass ``cls`` from ``encode``'s output."""
    return _decode(cls, data, cls.__name__)


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, vars(report))


def _decode(hint: Any, data: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _decode_dataclass(hint, data, where)  # type: ignore[arg-type]
    if origin in (Union, types.UnionType):
        return _decode_union(typing.get_args(hint), data, where)
    if origin is Literal:
        if data not in typing.get_args(hint):
            raise DecodeError(f"{where}: {data!r} is not one of {typing.get_args(hint)}")
        return data
    if origin is tuple:
        return _decode_tuple(typing.get_args(hint), data, where)
    if origin is dict:
        value_type = typing.get_args(hint)[1]
        if not isinstance(data, dict):
            raise DecodeError(f"{where}: expected an object")
        return {k: _decode(value_type, v, f"{where}.{k}") for k, v in data.items()}
    if hint is Any:
        return data
    if hint in (str, int, bool, float, type(None)):
        if not _is_exact(data, hint):
            raise DecodeError(f"{where}: expected {hint.__name__}, got {type(data).__name__}")
        return data
    raise DecodeError(f"{where}: unsupported field type {hint!r}")


def _is_exact(data: Any, hint: type) -> bool:
    if hint is float:
        return isinstance(data, (int, float)) and not isinstance(data, bool)
    if hint is int:
        return isinstance(data, int) and not isinstance(data, bool)
    return isinstance(data, hint)


def _decode_dataclass(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise DecodeError(f"{where}: expected an object for {cls.__name__}")
    hints = _hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            values[f.name] = _decode(hints[f.name], data[f.name], f"{where}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise DecodeError(f"{where}: missing {f.name}")
    return cls(**values)


def _decode_union(options: tuple[Any, ...], data: Any, where: str) -> Any:
    if data is None and type(None) in options:
        return None
    errors = []
    for option in options:
        if option is type(None):
            continue
        try:
            return _decode(option, data, where)
        except DecodeError as exc:
            errors.append(str(exc))
    raise DecodeError("; ".join(errors) or f"{where}: no type matches")


def _decode_tuple(args: tuple[Any, ...], data: Any, where: str) -> tuple[Any, ...]:
    if not isinstance(data, list):
        raise DecodeError(f"{where}: expected a list")
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_decode(args[0], item, f"{where}[{i}]") for i, item in enumerate(data))
    if len(args) != len(data):
        raise DecodeError(f"{where}: expected {len(args)} items")
    pairs = enumerate(zip(args, data, strict=True))
    return tuple(_decode(arg, item, f"{where}[{i}]") for i, (arg, item) in pairs)
