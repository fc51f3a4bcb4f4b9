"""The result cache: exact round trips, invalidation by content, distrust of damaged entries."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from test_render import synthetic_report

from relufind import serialize
from relufind.cache import Cache, make_key, static_imports, torch_version
from relufind.report import TargetResult


def test_every_report_field_round_trips_exactly() -> None:
    for result in synthetic_report().targets:
        data = json.loads(json.dumps(serialize.encode(result)))
        assert serialize.decode(TargetResult, data) == result


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(status="exploded"),  # not one of the Literal values
        lambda d: d.update(sites="not a list"),
        lambda d: d.pop("target"),  # a required field
        lambda d: d["findings"][0].update(severity=3),
    ],
)
def test_decoding_rejects_what_is_not_a_report(mutate) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(json.dumps(serialize.encode(synthetic_report().targets[0])))
    mutate(data)
    with pytest.raises(serialize.DecodeError):
        serialize.decode(TargetResult, data)


def _project(tmp_path: Path) -> tuple[Path, Path, Path]:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "__init__.py").write_text("")
    layers = tmp_path / "models" / "layers.py"
    layers.write_text("import torch\nfrom .blocks import Block\n")
    (tmp_path / "models" / "blocks.py").write_text("X = 1\n")
    net = tmp_path / "models" / "net.py"
    net.write_text("import os\nfrom models.layers import Conv\nfrom . import blocks\n")
    (tmp_path / "unrelated.py").write_text("Y = 2\n")
    return tmp_path, net, layers


def test_static_imports_follow_root_relative_and_relative_imports_inside_the_project(tmp_path: Path) -> None:
    root, net, _ = _project(tmp_path)
    names = {p.relative_to(root.resolve()).as_posix() for p in static_imports(net, root)}
    assert names == {"models/net.py", "models/layers.py", "models/blocks.py", "models/__init__.py"}


def _stored(cache: Cache, key: str) -> TargetResult | None:
    payload = cache.lookup(key)
    return None if payload is None else serialize.decode(TargetResult, payload)


def test_a_hit_until_a_dependency_changes(tmp_path: Path) -> None:
    root, net, layers = _project(tmp_path)
    cache = Cache(tmp_path / ".relufind_cache")
    result = synthetic_report().targets[0]
    key = make_key("models/net.py:Net", {"rules": ["RF001"]}, root)
    assert cache.lookup(key) is None
    cache.store(key, serialize.encode(result), static_imports(net, root))
    assert _stored(cache, key) == result
    (root / "unrelated.py").write_text("Y = 3\n")  # not imported by the target: still a hit
    assert _stored(cache, key) == result
    layers.write_text(layers.read_text() + "# edited\n")
    assert cache.lookup(key) is None
    assert (tmp_path / ".relufind_cache" / ".gitignore").read_text().splitlines()[-1] == "*"


def test_the_key_holds_versions_options_and_target(tmp_path: Path) -> None:
    base = make_key("m.py:A", {"eval": False}, tmp_path)
    assert base == make_key("m.py:A", {"eval": False}, tmp_path)
    assert base != make_key("m.py:B", {"eval": False}, tmp_path)
    assert base != make_key("m.py:A", {"eval": True}, tmp_path)
    assert torch_version().startswith("2.")


def test_damaged_and_foreign_entries_are_ignored_and_rewritten(tmp_path: Path) -> None:
    root, net, _ = _project(tmp_path)
    cache = Cache(tmp_path / "c")
    result = synthetic_report().targets[1]
    key = make_key("t", {}, root)
    cache.store(key, serialize.encode(result), [net])
    entry = next((tmp_path / "c").glob("*/*.json"))
    entry.write_text('{"format": 1, "key": "')  # truncated
    assert cache.lookup(key) is None and cache.rejected == [str(entry)]
    entry.write_text(json.dumps({"format": 1, "key": "other", "files": {}, "payload": {}}))
    assert cache.lookup(key) is None
    document = {"format": 1, "key": key, "files": {}, "payload": {"__class__": "os.system", "target": 1}}
    entry.write_text(json.dumps(document))
    with pytest.raises(serialize.DecodeError):  # only the report's own records are ever built
        _stored(cache, key)
    cache.store(key, serialize.encode(result), [net])
    assert _stored(cache, key) == result


def test_concurrent_writers_never_expose_half_an_entry(tmp_path: Path) -> None:
    root, net, _ = _project(tmp_path)
    result = synthetic_report().targets[0]
    key = make_key("t", {}, root)
    errors: list[str] = []

    def writer() -> None:
        cache = Cache(tmp_path / "c")
        for _ in range(40):
            cache.store(key, serialize.encode(result), [net])

    def reader() -> None:
        cache = Cache(tmp_path / "c")
        for _ in range(200):
            got = _stored(cache, key)
            if got is not None and got != result:
                errors.append("wrong result")
        errors.extend(cache.rejected)

    threads = [threading.Thread(target=writer) for _ in range(3)] + [threading.Thread(target=reader)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert not list((tmp_path / "c").glob("*/.tmp-*"))
