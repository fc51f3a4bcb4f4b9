"""Target strings and loading: parse_target, file/module/dir forms, imports that must not leak."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from conftest import FIXTURES, HEADER, analyse, analyse_all, site_keys

from relufind.discover import walk
from relufind.errors import TargetFailure, UsageError
from relufind.targets import (
    TargetSpec,
    import_file,
    import_module_name,
    parse_target,
    resolve_name,
)

pytestmark = pytest.mark.usefixtures("restore_imports")

PKG = FIXTURES / "rf_fixture_pkg"


def write(path: Path, code: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + textwrap.dedent(code))
    return path


RELU_NET = """
class Net(nn.Module):
    def forward(self, x):
        return F.relu(x)
"""


# -- parse_target ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "file", "module", "name"),
    [
        ("model.py:Net", "model.py", None, "Net"),
        ("path/to/model.py:make_model", "path/to/model.py", None, "make_model"),
        ("model.py", "model.py", None, None),
        ("models/", "models", None, None),
        ("pkg.module:Net", None, "pkg.module", "Net"),
        ("pkg:Net", None, "pkg", "Net"),
        ("deep.pkg.mod:_private", None, "deep.pkg.mod", "_private"),
    ],
)
def test_parse_target_forms(text: str, file: str | None, module: str | None, name: str | None) -> None:
    spec = parse_target(text)
    assert spec == TargetSpec(text, Path(file) if file else None, module, name)


def test_parse_target_existing_folder_without_slash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "models").mkdir()
    monkeypatch.chdir(tmp_path)
    assert parse_target("models") == TargetSpec("models", Path("models"), None, None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty target"),
        ("   ", "empty target"),
        ("model.py:1Net", "'1Net' is not a Python name"),
        ("model.py:Net-2", "'Net-2' is not a Python name"),
        ("model.py:", "'' is not a Python name"),
        ("pkg.mod:a.b", "'a.b' is not a Python name"),
        (":Net", "no file or module before ':'"),
        ("no_such_module_xyz", "no such file or folder"),
        ("pkg.module", "no such file or folder; for a module write package.module:Name"),
        ("not a module:Net", "not a .py file, a folder or a package.module:Name"),
        ("1pkg.mod:Net", "not a .py file, a folder or a package.module:Name"),
    ],
)
def test_parse_target_malformed(text: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_target(text)
    assert message in str(info.value)
    # the CLI prefixes the target itself; the message must not repeat it
    assert not str(info.value).startswith(f"{text}:") or not text.strip()


def test_windows_drive_letter_is_part_of_the_path() -> None:
    spec = parse_target(r"C:\models\net.py:Net")
    assert spec.name == "Net"
    assert str(spec.file).endswith("net.py")


# -- file.py:Name --------------------------------------------------------------------------------


def test_file_class(tmp_path: Path) -> None:
    path = write(tmp_path / "m.py", RELU_NET)
    result = analyse(f"{path}:Net")
    assert result.status == "ok"
    assert result.model == "Net"
    assert result.target == f"{path}:Net"
    assert site_keys(result) == [("", "function", "relu")]


def test_file_factory_function(tmp_path: Path) -> None:
    path = write(
        tmp_path / "m.py",
        RELU_NET
        + """
def make_model(width=4):
    return nn.Sequential(nn.Conv1d(width, width, 1), nn.ReLU())
""",
    )
    result = analyse(f"{path}:make_model")
    assert result.status == "ok"
    assert result.model == "make_model"
    assert result.device == "meta"
    assert site_keys(result) == [("1", "module", "relu")]
    assert [(a.path, a.type) for a in result.anchors] == [("0", "Conv1d")]


def test_file_module_level_instance(tmp_path: Path) -> None:
    path = write(tmp_path / "m.py", RELU_NET + "\nmodel = Net()\n")
    result = analyse(f"{path}:model")
    assert result.status == "ok"
    assert result.build == "given"
    assert site_keys(result) == [("", "function", "relu")]


def test_file_missing_name_lists_what_the_file_defines(tmp_path: Path) -> None:
    path = write(
        tmp_path / "m.py",
        RELU_NET
        + """
from torch.nn import Conv1d  # imported: not listed

def build():
    return Net()

instance = Net()
""",
    )
    result = analyse(f"{path}:Missing")
    assert result.status == "error"
    assert result.error is not None
    assert result.error.type == "NameNotFound"
    message = result.error.message
    assert "no 'Missing' in" in message
    assert "Net (nn.Module classes)" in message
    assert "build (functions)" in message
    assert "instance (nn.Module instances)" in message
    assert "Conv1d" not in message


def test_file_not_found(tmp_path: Path) -> None:
    result = analyse(f"{tmp_path / 'absent.py'}:Net")
    assert result.status == "error"
    assert result.error is not None and result.error.type == "FileNotFound"
    assert "absent.py" in result.error.message


def test_syntax_error_names_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "broken.py").write_text("import torch\n\n\nx = (1,\n")
    monkeypatch.chdir(tmp_path)
    result = analyse("broken.py:Net")
    assert result.error is not None and result.error.type == "SyntaxError"
    assert "broken.py:4" in result.error.message


def test_import_error_names_the_missing_module(tmp_path: Path) -> None:
    path = write(tmp_path / "m.py", "import not_installed_anywhere_qq\n" + RELU_NET)
    result = analyse(f"{path}:Net")
    assert result.error is not None and result.error.type == "ImportError"
    assert "'not_installed_anywhere_qq'" in result.error.message


def test_import_raising_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "m.py", "raise RuntimeError('no GPU found')\n")
    result = analyse(f"{path}:Net")
    assert result.error is not None and result.error.type == "ImportError"
    assert "RuntimeError: no GPU found" in result.error.message


def test_file_calling_sys_exit_at_import_is_an_error_not_an_exit(tmp_path: Path) -> None:
    path = write(tmp_path / "m.py", "import sys\nsys.exit(4)\n")
    result = analyse(f"{path}:Net")
    assert result.error is not None
    assert "sys.exit(4)" in result.error.message


def test_relative_import_outside_a_package_suggests_init(tmp_path: Path) -> None:
    path = write(tmp_path / "loose" / "m.py", "from .layers import Block\n")
    result = analyse(f"{path}:Net")
    assert result.error is not None and result.error.type == "ImportError"
    assert "__init__.py" in result.error.message


# -- how the file is imported ------------------------------------------------------------------


def test_file_is_never_imported_as_main(tmp_path: Path) -> None:
    path = write(
        tmp_path / "m.py",
        RELU_NET
        + """
LOADED_AS = __name__
if __name__ == "__main__":
    raise SystemExit("ran as a script")
""",
    )
    module = import_file(path)
    assert module.LOADED_AS != "__main__"
    assert module.__name__ == module.LOADED_AS
    assert analyse(f"{path}:Net").status == "ok"


def test_file_folder_is_importable(tmp_path: Path) -> None:
    write(
        tmp_path / "rf_sibling_helpers_a.py",
        """
class Block(nn.Module):
    def forward(self, x):
        return torch.relu(x)
""",
    )
    path = write(
        tmp_path / "m.py",
        """
from rf_sibling_helpers_a import Block

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
    def forward(self, x):
        return self.block(x)
""",
    )
    result = analyse(f"{path}:Net")
    assert result.status == "ok"
    assert site_keys(result) == [("block", "function", "relu")]


def test_file_in_package_with_relative_imports() -> None:
    result = analyse(f"{PKG / 'net.py'}:Net")
    assert result.status == "ok", result.error
    assert site_keys(result) == [
        ("blocks.0.act", "module", "relu"),
        ("blocks.1.act", "module", "relu"),
        ("", "function", "relu"),
    ]
    # the Block's ReLU is located in the file that defines it
    assert result.sites[0].source is not None
    assert result.sites[0].source.file.endswith("layers.py")


def test_file_in_package_is_imported_under_its_package_name() -> None:
    module = import_file(PKG / "net.py")
    assert module.__name__ == "rf_fixture_pkg.net"
    assert sys.modules["rf_fixture_pkg.net"] is module
    # imported again: the same module object, its code is not run twice
    assert import_file(PKG / "net.py") is module


@pytest.mark.parametrize("stem", ["types", "json", "torch", "typing"])
def test_stem_colliding_with_an_imported_module_does_not_shadow_it(tmp_path: Path, stem: str) -> None:
    original = sys.modules[stem]
    path = write(tmp_path / f"{stem}.py", RELU_NET)
    result = analyse(f"{path}:Net")
    assert result.status == "ok", result.error
    assert site_keys(result) == [("", "function", "relu")]
    assert sys.modules[stem] is original
    module = import_file(path)
    assert module is not original
    assert module.__name__ != stem
    assert isinstance(module.Net, type) and module.Net.__module__ == module.__name__


def test_json_named_model_file_still_gives_json(tmp_path: Path) -> None:
    import json

    from relufind.render.json import render

    path = write(tmp_path / "json.py", RELU_NET)
    report = analyse_all([f"{path}:Net"])
    document = json.loads(render(report))
    assert document["targets"][0]["status"] == "ok"


def test_two_files_with_the_same_stem_are_both_loaded(tmp_path: Path) -> None:
    first = write(tmp_path / "a" / "model.py", RELU_NET)
    second = write(
        tmp_path / "b" / "model.py",
        """
class Net(nn.Module):
    def forward(self, x):
        return x.clamp(min=0)
""",
    )
    report = analyse_all([f"{first}:Net", f"{second}:Net"])
    assert [site_keys(t) for t in report.targets] == [
        [("", "function", "relu")],
        [("", "clamp", "relu")],
    ]


# -- package.module:Name -----------------------------------------------------------------------


def test_module_name_class_factory_and_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(FIXTURES))
    report = analyse_all(
        ["rf_fixture_pkg.net:Net", "rf_fixture_pkg.net:make_net", "rf_fixture_pkg.net:default_net"]
    )
    assert [t.status for t in report.targets] == ["ok", "ok", "ok"]
    assert [len(t.sites) for t in report.targets] == [3, 4, 2]  # depth 2, 3 and 1 blocks + F.relu
    assert [t.build for t in report.targets] == ["meta", "meta", "given"]
    assert report.targets[2].device == "cpu"


def test_module_name_from_the_working_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(FIXTURES))])
    result = analyse("rf_fixture_pkg.layers:Block")
    assert result.status == "ok", result.error
    assert site_keys(result) == [("act", "module", "relu")]


def test_module_name_missing_module(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(FIXTURES))
    for target, missing in [
        ("rf_fixture_pkg.absent:Net", "rf_fixture_pkg.absent"),
        ("no_such_pkg_zz.models:Net", "no_such_pkg_zz"),
    ]:
        result = analyse(target)
        assert result.error is not None and result.error.type == "ImportError"
        assert f"no module named '{missing}'" in result.error.message
        assert "check the name" in result.error.message


def test_module_name_missing_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(FIXTURES))
    result = analyse("rf_fixture_pkg.net:Nope")
    assert result.error is not None and result.error.type == "NameNotFound"
    assert "Net (nn.Module classes)" in result.error.message
    assert "Block" not in result.error.message  # imported from .layers, not defined in net
    assert "default_net (nn.Module instances)" in result.error.message


def test_import_module_name_and_resolve_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(FIXTURES))
    module = import_module_name("rf_fixture_pkg.net")
    assert resolve_name(module, "make_net", "rf_fixture_pkg.net") is module.make_net
    with pytest.raises(TargetFailure) as info:
        resolve_name(module, "Missing", "rf_fixture_pkg.net")
    assert info.value.type == "NameNotFound"


# -- file and folder targets ---------------------------------------------------------------------


def test_file_target_takes_classes_defined_in_the_file_only() -> None:
    report = analyse_all([str(PKG / "net.py")])
    # Block is imported from .layers; make_net and default_net are not classes
    assert [t.target for t in report.targets] == [f"{PKG / 'net.py'}:Net"]
    assert report.targets[0].status == "ok"


def test_file_target_skips_classes_that_need_arguments(tmp_path: Path) -> None:
    path = write(
        tmp_path / "m.py",
        RELU_NET
        + """
class Wide(nn.Module):
    def __init__(self, width, depth=2):
        super().__init__()
        self.conv = nn.Conv1d(width, width, 1)
    def forward(self, x):
        return F.relu(self.conv(x))
""",
    )
    report = analyse_all([str(path)])
    assert [(t.model, t.status) for t in report.targets] == [("Net", "ok"), ("Wide", "skipped")]
    assert report.targets[1].needs_args == ("width",)
    # --arg applies to every class of a file target: Net takes none, which is not an error
    report = analyse_all([str(path)], args={"width": 3})
    assert [(t.model, t.status) for t in report.targets] == [("Net", "ok"), ("Wide", "ok")]


def _make_tree(root: Path) -> None:
    model = RELU_NET.replace("Net", "{}")
    write(root / "a.py", model.format("A"))
    write(root / "sub" / "b.py", model.format("B"))
    write(root / "sub" / "deeper" / "c.py", model.format("C"))
    write(root / "tests" / "t.py", model.format("T"))
    write(root / "test" / "t2.py", model.format("T2"))
    write(root / "test_models.py", model.format("TestOnly"))
    write(root / "models_test.py", model.format("TestOnly2"))
    write(root / "conftest.py", model.format("Conf"))
    write(root / "setup.py", "raise SystemExit('setup.py must not be imported')\n")
    write(root / ".hidden" / "h.py", model.format("Hidden"))
    write(root / "venv" / "v.py", model.format("Venv"))
    write(root / ".venv" / "v.py", model.format("DotVenv"))
    write(root / "myenv" / "m.py", model.format("CustomVenv"))
    (root / "myenv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    write(root / "node_modules" / "n.py", model.format("Node"))
    write(root / "sub" / "__pycache__" / "p.py", model.format("Cache"))
    (root / "notes.txt").write_text("class NotPython: pass\n")


def test_folder_target_excludes_tests_hidden_and_virtualenvs(tmp_path: Path) -> None:
    root = tmp_path / "models"
    _make_tree(root)
    files = walk(root, [])
    assert [f.relative_to(root).as_posix() for f in files] == ["a.py", "sub/b.py", "sub/deeper/c.py"]
    report = analyse_all([f"{root}/"])
    assert [(t.model, t.status) for t in report.targets] == [("A", "ok"), ("B", "ok"), ("C", "ok")]
    assert report.targets[1].target == f"{root / 'sub' / 'b.py'}:B"


def test_folder_target_relative_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _make_tree(tmp_path / "models")
    monkeypatch.chdir(tmp_path)
    report = analyse_all(["models"])
    assert [t.target for t in report.targets] == [
        str(Path("models/a.py")) + ":A",
        str(Path("models/sub/b.py")) + ":B",
        str(Path("models/sub/deeper/c.py")) + ":C",
    ]


def test_folder_with_an_unparsable_file_skips_it_unimported_and_keeps_going(tmp_path: Path) -> None:
    # a file ast cannot read may be a Python 2 script: it is never imported, and a notice
    # (an error under --strict) says how to silence it
    root = tmp_path / "models"
    write(root / "a_good.py", RELU_NET)
    (root / "b_bad.py").write_text("def broken(:\n")
    write(root / "c_good.py", RELU_NET.replace("Net", "Other"))
    report = analyse_all([str(root)])
    assert [(t.status, t.model) for t in report.targets] == [
        ("ok", "Net"),
        ("skipped", None),
        ("ok", "Other"),
    ]
    bad = report.targets[1]
    assert bad.target == str(root / "b_bad.py")
    assert bad.skip_reason is not None
    assert bad.skip_reason.startswith(f"cannot be read as Python (syntax error in {root / 'b_bad.py'}:1: ")
    assert bad.skip_reason.endswith(f'so it was not imported; fix it, or add "{root / "b_bad.py"}" to exclude in [tool.relufind]')


def test_missing_folder_or_file_target(tmp_path: Path) -> None:
    result = analyse(f"{tmp_path}/nowhere/")
    assert result.status == "error"
    assert result.error is not None and result.error.type == "FileNotFound"
    result = analyse(str(tmp_path / "nowhere.py"))
    assert result.error is not None and result.error.type == "FileNotFound"


def test_malformed_target_is_an_error_entry_and_others_still_run(tmp_path: Path) -> None:
    path = write(tmp_path / "m.py", RELU_NET)
    report = analyse_all([f"{path}:9bad", f"{path}:Net"])
    assert [t.status for t in report.targets] == ["error", "ok"]
    assert report.targets[0].error is not None
    assert report.targets[0].error.type == "BadTarget"
    assert report.exit_code == 2


def _package(root: Path, name: str, cls: str) -> Path:
    (root / name).mkdir(parents=True, exist_ok=True)
    (root / name / "__init__.py").write_text("")
    (root / name / "base.py").write_text("import torch.nn as nn\n\nBase = nn.Module\n")
    return write(
        root / name / f"{cls.lower()}.py",
        f"""
from .base import Base

class {cls}(Base):
    def forward(self, x):
        return F.relu(x)
""",
    )


def test_two_packages_with_the_same_name_are_both_loaded(tmp_path: Path) -> None:
    first = _package(tmp_path / "a", "models", "First")
    second = _package(tmp_path / "b", "models", "Second")
    report = analyse_all([str(tmp_path)])
    assert [(t.target, t.status) for t in report.targets] == [
        (f"{first}:First", "ok"),
        (f"{second}:Second", "ok"),
    ]


def test_package_named_like_a_stdlib_module(tmp_path: Path) -> None:
    path = _package(tmp_path, "types", "Net")
    original = sys.modules["types"]
    result = analyse(f"{path}:Net")
    assert result.status == "ok", result.error
    assert site_keys(result) == [("", "function", "relu")]
    assert sys.modules["types"] is original
