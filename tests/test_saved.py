"""Saved model files: TorchScript, ExportedProgram, refused pickles and corrupt files."""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import pytest
import torch
from conftest import ROOT, after_anchors, analyse, before_anchors, cli_runner
from saved_models import SavedNet

from relufind.cli import app

SOURCE_TARGET = f"{ROOT / 'tests' / 'saved_models.py'}:SavedNet"
#: (module_path, kind, variant) the source analysis reports, in graph order
EXPECTED = [
    ("block.act", "module", "relu"),
    ("block", "clamp", "relu"),
    ("block.cap", "module", "relu6"),
    ("", "function", "relu"),
    ("rnn", "embedded", "relu"),
    ("", "function", "relu"),
]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("saved")
    model = SavedNet().eval()
    paths = {
        "torchscript": folder / "net.pt",
        "exported": folder / "net.pt2",
        "pickle": folder / "pickled.pt",
    }
    with warnings.catch_warnings():  # torch's own deprecation notes on writing these files
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.script(model), str(paths["torchscript"]))
        program = torch.export.export(model, SavedNet.example_input(), strict=False)
        torch.export.save(program, str(paths["exported"]))
        torch.save(model, str(paths["pickle"]))
    return paths


def _keys(result) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    return [(s.module_path, s.kind, s.variant) for s in result.sites]


def test_source_analysis_is_the_reference() -> None:
    assert _keys(analyse(SOURCE_TARGET, variants=True)) == EXPECTED


@pytest.mark.parametrize("kind", ["torchscript", "exported"])
def test_saved_graph_matches_source(saved: dict[str, Path], kind: str) -> None:
    result = analyse(str(saved[kind]), variants=True)
    assert result.status == "ok" and result.build == kind and result.model == "SavedNet"
    assert _keys(result) == EXPECTED
    assert [(a.path, a.type) for a in result.anchors] == [("block.conv", "Conv1d"), ("rnn", "RNN")]
    by_key = dict(zip(_keys(result), result.sites, strict=False))
    act = by_key[("block.act", "module", "relu")]
    assert after_anchors(act) == ["block.conv"] and before_anchors(act) == ["rnn"]
    embedded = by_key[("rnn", "embedded", "relu")]
    assert embedded.inside is not None and embedded.inside.anchor == "rnn"
    last = result.sites[-1]
    assert last.inplace and after_anchors(last) == ["rnn"] and last.before == ()


def test_exported_program_keeps_user_source_lines(saved: dict[str, Path]) -> None:
    result = analyse(str(saved["exported"]))
    lines = (ROOT / "tests" / "saved_models.py").read_text().splitlines()
    for site in result.sites:
        assert site.source is not None and site.source.file.endswith("saved_models.py")
        text = lines[site.source.line - 1]
        assert any(word in text for word in ("relu", "self.act", "self.cap", "clamp", "self.rnn")), text


def test_pickle_is_refused_without_opt_in(saved: dict[str, Path]) -> None:
    result = analyse(str(saved["pickle"]))
    assert result.status == "error" and result.error is not None
    assert result.error.type == "PickleRefused"
    assert "--allow-pickle" in result.error.message and "runs code" in result.error.message


def test_pickle_with_opt_in_is_analysed(saved: dict[str, Path]) -> None:
    result = analyse(str(saved["pickle"]), variants=True, allow_pickle=True)
    assert result.status == "ok" and result.build == "pickle"
    assert _keys(result) == EXPECTED


def test_cli_pickle_refusal_exit_code(saved: dict[str, Path]) -> None:
    run = cli_runner().invoke(app, [str(saved["pickle"])])
    assert run.exit_code == 2
    assert "--allow-pickle" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize(
    "content",
    [b"not a model at all", b"PK\x03\x04 truncated zip", b""],
    ids=["garbage", "truncated-zip", "empty"],
)
def test_corrupt_file_is_one_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.pt"
    path.write_bytes(content)
    result = analyse(str(path))
    assert result.status == "error" and result.error is not None
    assert result.error.type == "CorruptFile" and "broken.pt" in result.error.message


def test_torchscript_archive_with_missing_code_is_corrupt(saved: dict[str, Path], tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.pt"
    with zipfile.ZipFile(saved["torchscript"]) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            if not item.filename.endswith("constants.pkl"):
                target.writestr(item, source.read(item.filename))
    result = analyse(str(damaged))
    assert result.status == "error" and result.error is not None and result.error.type == "CorruptFile"
