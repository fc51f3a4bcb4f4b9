"""Discovery and planning: which files are read, which are imported, what each entry does.

Nothing here imports a model file except where a test says so: planning must not.
"""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import HEADER, cli_runner

from relufind.advice import needs_arguments
from relufind.analyze import Options, scan_targets
from relufind.argvalues import parse_arg
from relufind.cli import app
from relufind.config import TargetEntry, load
from relufind.discover import Scanner, walk
from relufind.ignore import compile_pattern, excluded
from relufind.plan import Planned, Settings, make_plan

pytestmark = pytest.mark.usefixtures("restore_imports")


def write(root: Path, files: dict[str, str]) -> None:
    for name, code in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(code))


# -- gitignore / exclude patterns ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "path", "is_dir", "hit"),
    [
        ("scripts/", "scripts", True, True),
        ("scripts/", "scripts", False, False),  # a trailing / matches folders only
        ("scripts/", "a/scripts", True, True),  # no other slash: any depth
        ("/scripts", "a/scripts", True, False),  # anchored at the declaring folder
        ("legacy/*.py", "legacy/old.py", False, True),
        ("legacy/*.py", "x/legacy/old.py", False, False),  # a middle slash anchors too
        ("legacy/*.py", "legacy/sub/old.py", False, False),  # * does not cross folders
        ("legacy/**/*.py", "legacy/sub/deep/old.py", False, True),
        ("**/gen", "a/b/gen", True, True),
        ("*.gen.py", "models/x.gen.py", False, True),
        ("model_[0-9].py", "model_3.py", False, True),
        ("model_[!0-9].py", "model_3.py", False, False),
        ("model?.py", "model1.py", False, True),
    ],
)
def test_gitignore_pattern(tmp_path: Path, pattern: str, path: str, is_dir: bool, hit: bool) -> None:
    compiled = compile_pattern(pattern, tmp_path)
    assert compiled is not None
    assert (excluded(tmp_path / path, is_dir, [compiled]) is not None) == hit


def test_negation_reincludes_and_the_last_pattern_wins(tmp_path: Path) -> None:
    patterns = [p for p in (compile_pattern(t, tmp_path) for t in ["*.py", "!keep.py", "# comment", ""]) if p]
    assert len(patterns) == 2
    assert excluded(tmp_path / "drop.py", False, patterns) is not None
    assert excluded(tmp_path / "keep.py", False, patterns) is None


def test_walk_skips_tests_hidden_venvs_build_gitignored_and_excluded(tmp_path: Path) -> None:
    files = {
        name: "x = 1\n"
        for name in [
            "models/net.py", "models/test_net.py", "models/net_test.py", "models/conftest.py",
            "setup.py", "tests/helpers.py", "test/helpers.py", ".hidden/net.py", "venv/net.py",
            "myenv/pyvenv.cfg", "myenv/lib/net.py", "build/lib/net.py", "dist/net.py",
            "pkg.egg-info/net.py", "scratch/net.py", "models/gen/out.py", "legacy/old.py",
            "legacy/keep/new.py", "notes.txt", "models/.secret.py",
        ]
    }  # fmt: skip
    write(tmp_path, files)
    (tmp_path / ".gitignore").write_text("scratch/\n")
    (tmp_path / "models" / ".gitignore").write_text("gen/\n")  # a nested .gitignore applies below it
    exclude = [p for p in (compile_pattern(g, tmp_path) for g in ["legacy/*.py"]) if p]
    found = [p.relative_to(tmp_path).as_posix() for p in walk(tmp_path, exclude)]
    assert found == ["legacy/keep/new.py", "models/net.py"]


# -- which files define nn.Module subclasses (read, not imported) ---------------------------------

PACKAGE = {
    "models/__init__.py": "from .layers import ConvBlock\n",
    "models/layers.py": """
        import torch
        from torch import nn
        from torch.nn import Module as TorchModule
        import torch.nn as tnn

        class ConvBlock(nn.Module): ...
        class Plain(TorchModule): ...
        class Seq(tnn.Sequential): ...
        class Dotted(torch.nn.Module): ...
        class NotAModule(object): ...
        class Config: ...
        Base = nn.Module
        class Aliased(Base): ...
    """,
    "models/nets.py": """
        from models.layers import ConvBlock
        from . import layers
        from .layers import Plain as P
        from models import ConvBlock as Reexported

        class Net(ConvBlock): ...
        class Net2(layers.Seq): ...
        class Net3(P): ...
        class Net4(Reexported): ...
        class Deeper(Net): ...
        class FromElsewhere(SomeLibraryModel): ...
        class Trainer: ...
        if True:
            class Guarded(ConvBlock): ...
    """,
    "lightning_model.py": """
        import pytorch_lightning as pl

        class Lit(pl.LightningModule): ...
    """,
    "script.py": """
        import argparse
        import torch

        parser = argparse.ArgumentParser()
        x = torch.zeros(3)
    """,
    "broken.py": "def f(:\n",
}


def test_scanner_finds_module_classes_by_reading_sources(tmp_path: Path) -> None:
    write(tmp_path, PACKAGE)
    scanner = Scanner([tmp_path])

    def names(path: str) -> list[str]:
        classes, error = scanner.model_classes(tmp_path / path)
        assert error is None
        return [c.name for c in classes]

    assert names("models/layers.py") == ["ConvBlock", "Plain", "Seq", "Dotted", "Aliased"]
    assert names("models/nets.py") == ["Net", "Net2", "Net3", "Net4", "Deeper", "Guarded"]
    assert names("lightning_model.py") == ["Lit"]
    assert names("script.py") == []
    assert names("models/__init__.py") == []  # re-exports define nothing
    classes, error = scanner.model_classes(tmp_path / "broken.py")
    assert classes == [] and isinstance(error, SyntaxError)
    assert not [m for m in sys.modules if m.startswith("models")]  # nothing was imported


def test_a_file_edited_between_scans_is_read_again(tmp_path: Path) -> None:
    """Parsed files are remembered for the process (planning and blocks share them), by the
    digest of their bytes: an edit of the same size in the same instant is still seen."""
    from relufind.discover import class_body_names

    path = tmp_path / "net.py"
    path.write_text("import torch.nn as nn\nclass AAA(nn.Module):\n    head = Head\n")
    assert [c.name for c in Scanner([tmp_path]).model_classes(path)[0]] == ["AAA"]
    assert class_body_names(path) == {"AAA": frozenset({"head", "Head"})}
    stat = path.stat()
    path.write_text("import torch.nn as nn\nclass BBB(nn.Module):\n    tail = Tail\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the same size and time
    assert [c.name for c in Scanner([tmp_path]).model_classes(path)[0]] == ["BBB"]
    assert class_body_names(path) == {"BBB": frozenset({"tail", "Tail"})}


def test_two_projects_with_a_models_package_resolve_their_own_bases(tmp_path: Path) -> None:
    write(tmp_path / "a", {"models/__init__.py": "", "models/base.py": "import torch.nn as nn\nBase = nn.Module\n",
                           "models/net.py": "from .base import Base\nclass A(Base): ...\n"})  # fmt: skip
    write(tmp_path / "b", {"models/__init__.py": "", "models/base.py": "class Base: ...\n",
                           "models/net.py": "from .base import Base\nclass B(Base): ...\n"})  # fmt: skip
    scanner = Scanner([tmp_path])
    assert [c.name for c in scanner.model_classes(tmp_path / "a/models/net.py")[0]] == ["A"]
    assert scanner.model_classes(tmp_path / "b/models/net.py")[0] == []


# -- the plan -------------------------------------------------------------------------------------

MODELS = {
    "pyproject.toml": """
        [tool.relufind]
        exclude = ["models/fused.py"]

        [[tool.relufind.targets]]
        target = "models/nets.py:Wide"
        args = { width = 8 }

        [[tool.relufind.targets]]
        target = "models/nets.py:make_wide"

        [[tool.relufind.targets]]
        target = "models.nets:Wide"
        args = { width = 2 }
    """,
    "models/__init__.py": "",
    "models/nets.py": HEADER
    + """
class Wide(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(width, width)

    def forward(self, x):
        return self.fc(x.relu())


class Small(nn.Module):
    def forward(self, x):
        return x.relu()


def make_wide():
    return Wide(4)
""",
    "models/fused.py": "import triton\nimport torch.nn as nn\nclass Fused(nn.Module): ...\n",
}


def _settings(root: Path, **extra: object) -> Settings:
    config = load(root / "pyproject.toml")
    return Settings(
        entries=config.targets, config_path=config.path, exclude=config.exclude, project_root=root, **extra
    )  # type: ignore[arg-type]


def _summary(items: list[object]) -> list[tuple[str, dict[str, object], str]]:
    return [(i.target, i.kwargs, i.why) for i in items if isinstance(i, Planned)]


def test_plan_of_a_folder_uses_entries_for_their_classes_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, MODELS)
    monkeypatch.chdir(tmp_path)
    entry = "pyproject.toml [[tool.relufind.targets]] entry"
    assert _summary(make_plan(["models/"], _settings(tmp_path))) == [
        ("models/nets.py:Wide", {"width": 8}, f"inside models/: {entry} 1"),
        ("models.nets:Wide", {"width": 2}, f"inside models/: {entry} 3"),
        ("models/nets.py:make_wide", {}, f"inside models/: {entry} 2"),
        ("models/nets.py:Small", {}, "found in models/: an nn.Module subclass at line 15"),
    ]
    # --exclude adds to the configuration's exclude; fused.py was never a candidate
    # (configured entries still name their files explicitly: excluded from discovery only)
    assert _summary(make_plan(["models/"], _settings(tmp_path, extra_exclude=("models/nets.py",)))) == [
        ("models/nets.py:Wide", {"width": 8}, f"inside models/: {entry} 1"),
        ("models/nets.py:make_wide", {}, f"inside models/: {entry} 2"),
        ("models.nets:Wide", {"width": 2}, f"inside models/: {entry} 3"),
    ]


def test_plan_with_no_targets_is_the_entries_and_a_named_class_takes_its_entry_args(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, MODELS)
    monkeypatch.chdir(tmp_path / "models")  # entries are relative to the configuration's folder
    items = make_plan([], _settings(tmp_path))
    assert [(i.target, i.kwargs) for i in items if isinstance(i, Planned)] == [
        ("nets.py:Wide", {"width": 8}),
        ("nets.py:make_wide", {}),
        ("models.nets:Wide", {"width": 2}),
    ]
    (named,) = make_plan(["nets.py:Wide"], _settings(tmp_path, args={"width": 16}))
    assert isinstance(named, Planned)
    assert named.kwargs == {"width": 16}  # --arg over the entry's args
    assert named.why == "named on the command line, with the args of pyproject.toml [[tool.relufind.targets]] entry 1"


def test_run_over_configured_folder_imports_only_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, MODELS)
    monkeypatch.chdir(tmp_path)
    config = load(tmp_path / "pyproject.toml")
    report = scan_targets(["."], Options(), config=config)
    assert [(t.target, t.status) for t in report.targets] == [
        ("models/nets.py:Wide", "ok"),
        ("models.nets:Wide", "ok"),
        ("models/nets.py:make_wide", "ok"),
        ("models/nets.py:Small", "ok"),
    ]
    assert report.exit_code == 0


# -- messages ------------------------------------------------------------------------------------


def test_skip_advice_for_literal_and_object_parameters() -> None:
    reason, hint = needs_arguments("models/crnn.py:CRNN", ["img_h", "nc"], [], {"img_h": "int"}, named=False)
    assert reason == "needs arguments img_h, nc: add this [[tool.relufind.targets]] entry to pyproject.toml"
    assert hint == '[[tool.relufind.targets]]\ntarget = "models/crnn.py:CRNN"\nargs = { img_h = <int>, nc = <value> }'
    reason, hint = needs_arguments("models/taco.py:Tacotron2", ["hparams"], ["hparams"], {}, named=True)
    assert reason == (
        "needs arguments hparams; hparams is an object no --arg or pyproject.toml value can give: "
        "write a factory function that builds it and name it in [[tool.relufind.targets]]"
    )
    assert hint == (
        '[[tool.relufind.targets]]\ntarget = "models/taco.py:build_tacotron2"'
        "  # a function you write: return Tacotron2(hparams=...)"
    )


OBJECT_PARAMS = """
from typing import Optional


class Dims: ...


class Objects(nn.Module):
    def __init__(self, hparams, dims: "Dims", block: type, depth: int, sizes: Optional[list[int]], mode: "Literal['a']"):
        super().__init__()

    def forward(self, x):
        return x
"""


def test_object_typed_parameters_get_factory_advice(tmp_path: Path) -> None:
    (tmp_path / "objects.py").write_text(HEADER + OBJECT_PARAMS)
    (result,) = scan_targets([f"{tmp_path / 'objects.py'}:Objects"], Options()).targets
    assert result.status == "skipped"
    assert result.needs_args == ("hparams", "dims", "block", "depth", "sizes", "mode")
    assert result.skip_reason is not None
    assert result.skip_reason.startswith("needs arguments hparams, dims, block, depth, sizes, mode; hparams, dims, block are objects")


@pytest.mark.parametrize(
    ("value", "kind"), [("[1, 2", "list"), ("{'a': 1", "dict or set"), ("(1, x)", "tuple"), ("[a, b]", "list")]
)
def test_arg_that_looks_like_a_container_but_does_not_parse_is_a_usage_error(value: str, kind: str) -> None:
    result = cli_runner().invoke(app, ["m.py:Net", "--arg", f"dims={value}"], prog_name="relufind")
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"relufind: error: --arg dims={value} looks like a {kind} but is not a Python literal (")
    assert parse_arg("name=[1, 2]") == ("name", [1, 2])
    assert parse_arg("name=lstm") == ("name", "lstm")  # a plain word stays a string


def test_state_dict_file_says_so_and_names_the_fix(tmp_path: Path) -> None:
    import torch

    torch.save(torch.nn.Linear(3, 2).state_dict(), tmp_path / "weights.pt")
    torch.save({"model": torch.nn.Linear(3, 2).state_dict(), "epoch": 3}, tmp_path / "ckpt.pt")
    report = scan_targets([str(tmp_path / "weights.pt"), str(tmp_path / "ckpt.pt")], Options())
    errors = [(t.error.type, t.error.message) for t in report.targets if t.error is not None]
    tail = (
        "not a model: weights without the code that defines the network. Name the nn.Module class they "
        "belong to instead (relufind models/net.py:Net, or a [[tool.relufind.targets]] entry in "
        'pyproject.toml: target = "models/net.py:Net", args = { ... })'
    )
    assert errors == [
        ("StateDict", f"'{tmp_path / 'weights.pt'}' holds a state_dict (2 tensors, e.g. 'weight'), {tail}"),
        (
            "StateDict",
            f"'{tmp_path / 'ckpt.pt'}' holds a checkpoint dict (keys 'model', 'epoch'; the state_dict is "
            f"under 'model'), {tail}",
        ),
    ]


def test_config_entry_paths_are_relative_to_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, MODELS)
    monkeypatch.chdir(tmp_path / "models")
    config = load(tmp_path / "pyproject.toml")
    assert config.targets[0] == TargetEntry("models/nets.py:Wide", (("width", 8),))
    report = scan_targets([], Options(), config=config)
    assert [(t.target, t.status) for t in report.targets] == [
        ("nets.py:Wide", "ok"),
        ("nets.py:make_wide", "ok"),
        ("models.nets:Wide", "ok"),
    ]


def test_a_failing_entry_names_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, MODELS)
    with (tmp_path / "pyproject.toml").open("a") as config:
        config.write(
            '\n[[tool.relufind.targets]]\ntarget = "models/nets.py:Nope"\n'
            '\n[[tool.relufind.targets]]\ntarget = "models/nets.py:Wide"\nargs = { width = 4, depth = 2 }\n'
        )
    monkeypatch.chdir(tmp_path)
    report = scan_targets([], Options(), config=load(tmp_path / "pyproject.toml"))
    errors = [(t.target, t.error.message) for t in report.targets if t.error is not None]
    assert errors == [
        (
            "models/nets.py:Nope",
            "no 'Nope' in models/nets.py; it defines: Wide, Small (nn.Module classes); make_wide (functions) "
            "(from pyproject.toml [[tool.relufind.targets]] entry 4)",
        ),
        (
            "models/nets.py:Wide",
            "Wide has no parameter depth (given with the entry's args); it takes: width "
            "(from pyproject.toml [[tool.relufind.targets]] entry 5)",
        ),
    ]


def test_entries_name_one_model_or_a_saved_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "model.pt").write_bytes(b"")
    entries = (TargetEntry("weights/model.pt"), TargetEntry("models/"))
    saved_item, folder = make_plan([], Settings(entries=entries, config_path=tmp_path / "pyproject.toml"))
    assert isinstance(saved_item, Planned) and saved_item.saved and saved_item.target == "weights/model.pt"
    assert not isinstance(folder, Planned) and folder.error is not None
    assert folder.error.message == (
        'pyproject.toml [[tool.relufind.targets]] entry 2: name one model, as target = "file.py:Name"'
    )


def test_walking_a_subfolder_honours_the_gitignore_files_above_it(tmp_path: Path) -> None:
    write(tmp_path, {"models/net.py": "x = 1\n", "models/gen/out.py": "x = 1\n", ".gitignore": "models/gen/\n"})
    assert walk(tmp_path / "models", [], tmp_path) == [tmp_path / "models" / "net.py"]
