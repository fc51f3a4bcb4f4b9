"""Renderers: the JSON document against the spec's schema, the tree against golden files.

Golden files live in tests/golden/. After an intended change to the tree output (or to
tests/fixtures/golden_models.py, whose line numbers they contain), regenerate them with

    RELUFIND_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_render.py

and read the diff before committing.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, cli_runner

from relufind import __version__
from relufind.cli import app
from relufind.render.json import render as render_json
from relufind.render.json import to_dict
from relufind.render.tree import render as render_tree
from relufind.report import (
    Anchor,
    Finding,
    Inside,
    Relation,
    Report,
    Site,
    SourceLoc,
    TargetError,
    TargetResult,
    Untraced,
)

GOLDEN = Path(__file__).resolve().parent / "golden"
MODELS = "tests/fixtures/golden_models.py"
UPDATE = os.environ.get("RELUFIND_UPDATE_GOLDEN") == "1"

pytestmark = pytest.mark.usefixtures("restore_imports")


def run_cli(args: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    """Run the CLI in-process from the repository root (stable relative source paths)."""
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("NO_COLOR", raising=False)
    result = cli_runner().invoke(app, args, prog_name="relufind")
    return result.exit_code, result.stdout, result.stderr


# -- the JSON schema of the spec -------------------------------------------------------------------


class Nullable:
    def __init__(self, inner: object) -> None:
        self.inner = inner


class Enum:
    def __init__(self, *values: str) -> None:
        self.values = values


class Matches:
    def __init__(self, pattern: str) -> None:
        self.pattern = re.compile(pattern)


SOURCE = Nullable({"file": str, "line": int})
RELATION = {"anchor": str, "type": str, "via": [str]}
SITE = {
    "kind": Enum("module", "function", "method", "clamp", "threshold", "embedded"),
    "variant": Enum("relu", "relu6", "clipped_relu", "leaky_relu", "prelu", "rrelu"),
    "op": str,
    "module_path": str,
    "module_type": str,
    "inplace": bool,
    "source": SOURCE,
    "after": [RELATION],
    "before": [RELATION],
    "after_more": int,
    "before_more": int,
    "input_path": Nullable({"via": [str]}),
    "output_path": Nullable({"via": [str]}),
    "inside": Nullable({"anchor": str, "type": str}),
    "defined_at": SOURCE,
    "traced": bool,
}
TARGET = {
    "target": str,
    "model": Nullable(str),
    "status": Enum("ok", "partial", "skipped", "error"),
    "device": Nullable(Enum("meta", "cpu")),
    "error": Nullable({"type": str, "message": str}),
    "sites": [SITE],
    "anchors": [{"path": str, "type": str}],
    "untraced": [
        {
            "module_path": str,
            "reason": str,
            # beyond the spec's keys: where tracing failed, and what may resolve it
            "source": SOURCE,
            "statement": Nullable(str),
            "hint": Nullable(str),
        }
    ],
    "findings": [
        {
            "code": Matches(r"^RF\d{3}$"),
            "name": Matches(r"^[a-z0-9]+(-[a-z0-9]+)*$"),
            "severity": Enum("error", "warning", "info"),
            "message": str,
            "module_path": str,
            "source": SOURCE,
            "related": [SOURCE],
            "site": Nullable(int),  # extra: the index of the site the finding is about
        }
    ],
}
DOCUMENT = {"version": str, "targets": [TARGET]}
STATISTICS = {"findings": dict, "unused_suppressions": [{"file": str, "line": int, "codes": [str]}]}

#: keys beyond the spec's ("extra keys only add"), with their types; any other key is a
#: schema change that must be made on purpose (here and in the spec)
EXTRA_TARGET_KEYS: dict[str, object] = {
    "build": Nullable(Enum("meta", "meta-params", "cpu", "given", "torchscript", "exported", "pickle")),
    "traced_with": Nullable(Enum("fx", "torch.export", "torchscript", "exported")),
    "skip_reason": Nullable(str),
    "needs_args": [str],
    "config_hint": Nullable(str),
    "origin": Nullable(str),
    "hidden_variants": dict,
    "unseen": [{"module_path": str, "op": str, "variant": str, "source": SOURCE}],
    "assumptions": [{"module_path": str, "source": SOURCE, "statement": str}],
    "notes": [str],
}
EXTRA_SITE_KEYS: dict[str, object] = {"after_complete": bool, "before_complete": bool, "region": Nullable(str)}


def check(value: Any, schema: object, where: str = "$", extra: dict[str, object] | None = None) -> None:
    if isinstance(schema, Nullable):
        if value is not None:
            check(value, schema.inner, where)
    elif isinstance(schema, Enum):
        assert value in schema.values, f"{where}: {value!r} not one of {schema.values}"
    elif isinstance(schema, Matches):
        assert isinstance(value, str) and schema.pattern.match(value), f"{where}: {value!r}"
    elif isinstance(schema, list):
        assert isinstance(value, list), f"{where}: expected a list, got {value!r}"
        for index, item in enumerate(value):
            check(item, schema[0], f"{where}[{index}]")
    elif isinstance(schema, dict):
        assert isinstance(value, dict), f"{where}: expected an object, got {value!r}"
        missing = set(schema) - set(value)
        assert not missing, f"{where}: missing keys {sorted(missing)}"
        extra = extra or {}
        unknown = set(value) - set(schema) - set(extra)
        assert not unknown, f"{where}: keys not in the schema {sorted(unknown)}"
        for key, sub in {**schema, **extra}.items():
            if key in value:
                check(value[key], sub, f"{where}.{key}")
    elif schema is int:
        assert isinstance(value, int) and not isinstance(value, bool), f"{where}: {value!r} is not an int"
    else:
        assert isinstance(value, schema), f"{where}: {value!r} is not {schema}"  # type: ignore[arg-type]


def check_document(document: dict[str, Any]) -> None:
    # "statistics" is an extra key: per-rule counts and suppressions that matched nothing
    assert set(document) == {"version", "targets", "statistics"}
    check(document["statistics"], STATISTICS, "$.statistics")
    assert isinstance(document["version"], str)
    assert isinstance(document["targets"], list)
    for index, target in enumerate(document["targets"]):
        where = f"$.targets[{index}]"
        without_sites = {k: v for k, v in TARGET.items() if k != "sites"}
        check({k: v for k, v in target.items() if k != "sites"}, without_sites, where, EXTRA_TARGET_KEYS)
        assert isinstance(target["sites"], list)
        for n, site in enumerate(target["sites"]):
            check(site, SITE, f"{where}.sites[{n}]", EXTRA_SITE_KEYS)
        check_consistency(target, where)


def check_consistency(target: dict[str, Any], where: str) -> None:
    """What the statuses promise about the other fields."""
    status = target["status"]
    if status in ("ok", "partial"):
        assert target["error"] is None, where
        assert target["device"] in ("meta", "cpu"), where
        assert bool(target["untraced"]) == (status == "partial"), where
    if status == "error":
        assert target["error"] is not None and target["error"]["message"], where
        assert target["device"] is None and target["sites"] == [] and target["anchors"] == [], where
    if status == "skipped":
        assert target["error"] is None and target["sites"] == [], where
        assert target["skip_reason"], where
    anchor_paths = {a["path"] for a in target["anchors"]}
    for site in target["sites"]:
        assert (site["kind"] == "embedded") == (site["inside"] is not None), site
        if site["inside"] is not None:  # the layer holding the ReLU owns the site
            assert site["inside"]["anchor"] == site["module_path"], site
            assert site["inside"]["type"] == site["module_type"], site
        for relation in site["after"] + site["before"]:
            assert relation["anchor"] in anchor_paths or relation["anchor"] == relation["type"], relation
        if site["source"] is not None:
            assert site["source"]["line"] > 0


def test_json_document_matches_the_spec_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    targets = ["Recurrent", "EmbeddedRelu", "SharedRelu", "Partial", "NeedsArgs", "Broken"]
    code, out, err = run_cli(
        ["--format", "json", "--variants", *(f"{MODELS}:{t}" for t in targets), "no_such_dir/"],
        monkeypatch,
    )
    assert code == 2
    document = json.loads(out)
    check_document(document)
    assert document["version"] == __version__
    by_model = {t["model"]: t for t in document["targets"]}
    assert [t["status"] for t in document["targets"]] == [
        "ok", "ok", "ok", "partial", "skipped", "error", "error",
    ]  # fmt: skip
    assert {s["kind"] for s in by_model["Recurrent"]["sites"]} == {"function", "method", "clamp"}
    assert {s["kind"] for s in by_model["EmbeddedRelu"]["sites"]} == {"embedded"}
    assert by_model["Partial"]["untraced"][0]["module_path"] == "gate"
    assert [s["traced"] for s in by_model["Partial"]["sites"]] == [True, False]
    assert by_model["NeedsArgs"]["needs_args"] == ["channels", "depth"]
    assert by_model["Broken"]["error"]["type"] == "ConstructorError"
    assert document["targets"][-1]["model"] is None
    assert document["targets"][-1]["error"]["type"] == "FileNotFound"
    # every site field of the spec, for one known site
    site = by_model["Recurrent"]["sites"][1]
    assert {k: site[k] for k in SITE} == {
        "kind": "method",
        "variant": "relu",
        "op": "Tensor.relu",
        "module_path": "",
        "module_type": "Recurrent",
        "inplace": False,
        "source": {"file": MODELS, "line": 43},
        "after": [{"anchor": "lstm", "type": "LSTM", "via": []}],
        "before": [{"anchor": "gru", "type": "GRU", "via": []}],
        "after_more": 0,
        "before_more": 0,
        "input_path": None,
        "output_path": None,
        "inside": None,
        "defined_at": None,  # a function site has no construction line
        "traced": True,
    }
    assert len(err.splitlines()) == 2
    sources = [s["source"] for t in document["targets"] for s in t["sites"]]
    assert sources and all(s is not None and s["file"] == MODELS for s in sources)  # relative to the cwd


def synthetic_report() -> Report:
    """Every optional field filled, including ones no fixture model produces yet (findings)."""
    site = Site(
        kind="clamp",
        variant="relu",
        op="Tensor.clamp_",
        module_path="enc.block",
        module_type="Block",
        inplace=True,
        source=SourceLoc("/elsewhere/outside/cwd.py", 7),
        after=(Relation("enc.conv", "Conv2d", ("BatchNorm2d enc.bn",)), Relation("conv2d", "conv2d")),
        before=(),
        traced=False,
        after_more=3,
        output_path=("add", "Linear head"),
    )
    embedded = Site(
        kind="embedded",
        variant="relu",
        op="torch.nn.RNN(nonlinearity='relu')",
        module_path="rnn",
        module_type="RNN",
        inplace=False,
        source=None,
        inside=Inside("rnn", "RNN"),
        defined_at=SourceLoc("/elsewhere/outside/cwd.py", 3),
        input_path=(),
        output_path=(),
    )
    return Report(
        "9.9.9",
        (
            TargetResult(
                target="x.py:Net",
                model="Net",
                status="partial",
                device="cpu",
                build="cpu",
                sites=(site, embedded),
                anchors=(Anchor("enc.conv", "Conv2d"), Anchor("conv2d", "conv2d"), Anchor("rnn", "RNN")),
                untraced=(Untraced("enc.block", "TraceError: data-dependent control flow"),),
                findings=(
                    Finding(
                        "RF001", "relu-on-output", "error", "ReLU on the output", "enc.block", SourceLoc("x.py", 3),
                        (SourceLoc("/elsewhere/outside/cwd.py", 7),), site=0,
                    ),
                    Finding("RF101", "shared-relu-module", "info", "shared ReLU module", "enc.act"),
                ),
                hidden_variants=(("relu6", 2),),
                modules=(("enc", "Encoder"), ("enc.conv", "Conv2d"), ("enc.block", "Block"), ("rnn", "RNN")),
            ),
            TargetResult(
                "y.py:Y",
                "Y",
                "skipped",
                skip_reason="needs arguments a: pass --arg a=VALUE",
                needs_args=("a",),
            ),
            TargetResult("z.py:Z", None, "error", error=TargetError("ImportError", "no module named 'q'")),
        ),
    )


def test_json_of_every_field_matches_the_schema() -> None:
    text = render_json(synthetic_report())
    assert text.endswith("}\n")
    document = json.loads(text)
    check_document(document)
    target = document["targets"][0]
    assert target["findings"] == [
        {
            "code": "RF001",
            "name": "relu-on-output",
            "severity": "error",
            "message": "ReLU on the output",
            "module_path": "enc.block",
            "source": {"file": "x.py", "line": 3},
            "related": [{"file": "/elsewhere/outside/cwd.py", "line": 7}],
            "site": 0,
        },
        {
            "code": "RF101",
            "name": "shared-relu-module",
            "severity": "info",
            "message": "shared ReLU module",
            "module_path": "enc.act",
            "source": None,
            "related": [],
            "site": None,
        },
    ]
    assert target["untraced"] == [
        {
            "module_path": "enc.block",
            "reason": "TraceError: data-dependent control flow",
            "source": None,
            "statement": None,
            "hint": None,
        }
    ]
    assert target["sites"][0]["source"] == {"file": "/elsewhere/outside/cwd.py", "line": 7}
    assert target["sites"][0]["after"][1] == {"anchor": "conv2d", "type": "conv2d", "via": []}
    assert target["sites"][1]["source"] is None
    assert target["hidden_variants"] == {"relu6": 2}
    assert to_dict(synthetic_report()) == document


def test_schema_checker_rejects_wrong_documents() -> None:
    """The checker itself must catch a wrong type, a bad enum value and a missing key."""
    good = json.loads(render_json(synthetic_report()))
    check_document(good)
    for mutate in (
        lambda d: d["targets"][0]["sites"][0].__setitem__("kind", "relu"),
        lambda d: d["targets"][0]["sites"][0].__setitem__("inplace", "yes"),
        lambda d: d["targets"][0].__setitem__("status", "fine"),
        lambda d: d["targets"][0]["sites"][0]["after"][0].pop("via"),
        lambda d: d["targets"][0]["findings"][0].__setitem__("code", "X1"),
        lambda d: d["targets"][0]["findings"][0]["source"].__setitem__("line", True),
        lambda d: d["targets"][0].__setitem__("surprise", 1),
        lambda d: d["targets"][0].__setitem__("device", "cuda"),
    ):
        bad = json.loads(json.dumps(good))
        mutate(bad)
        with pytest.raises(AssertionError):
            check_document(bad)


# -- the tree: golden files ------------------------------------------------------------------------

GOLDEN_CASES: dict[str, tuple[list[str], int]] = {
    "conv_stack": ([f"{MODELS}:ConvStack"], 0),
    "recurrent": ([f"{MODELS}:Recurrent"], 0),
    "shared_relu": ([f"{MODELS}:SharedRelu"], 0),
    "nested": ([f"{MODELS}:Nested"], 0),
    "embedded": ([f"{MODELS}:EmbeddedRelu"], 0),
    "variants_hidden": ([f"{MODELS}:Variants"], 0),
    "variants_shown": ([f"{MODELS}:Variants", "--variants"], 0),
    "partial": ([f"{MODELS}:Partial"], 0),
    # 1x1 convs with ReLU up to the output: RF001 fires, exit 1
    "needs_args_given": ([f"{MODELS}:NeedsArgs", "--arg", "channels=4", "--arg", "depth=2"], 1),
    "skipped_and_error": ([f"{MODELS}:NeedsArgs", f"{MODELS}:Broken", f"{MODELS}:ConvStack"], 2),
}


@pytest.mark.parametrize("name", list(GOLDEN_CASES))
def test_tree_golden(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    args, expected_code = GOLDEN_CASES[name]
    code, out, _ = run_cli(args, monkeypatch)
    path = GOLDEN / f"{name}.txt"
    if UPDATE:
        path.write_text(out, encoding="utf-8")
    assert path.exists(), f"no golden file {path}; run with RELUFIND_UPDATE_GOLDEN=1"
    expected = path.read_text(encoding="utf-8")
    assert out == expected, (
        f"tree output changed; if intended, regenerate with RELUFIND_UPDATE_GOLDEN=1\n{out}"
    )
    assert code == expected_code
    assert "\x1b" not in out
    assert all(line == line.rstrip() for line in out.splitlines()), "no trailing spaces"


def test_every_golden_file_has_a_case() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.txt")) == sorted(GOLDEN_CASES)


# -- the tree: colour, NO_COLOR, encodings, width ---------------------------------------------------


class FakeTerminal(io.StringIO):
    def __init__(self, encoding: str = "utf-8") -> None:
        super().__init__()
        self._encoding = encoding

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._encoding

    def isatty(self) -> bool:
        return True


class Pipe(FakeTerminal):
    def isatty(self) -> bool:
        return False


def test_colour_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("COLUMNS", "120")
    out = FakeTerminal()
    text = render_tree(synthetic_report(), out)
    assert "\x1b[" in text
    assert out.getvalue() == text


def test_no_color_is_respected_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "120")
    text = render_tree(synthetic_report(), FakeTerminal())
    assert "\x1b" not in text
    assert "Net  x.py:Net  built on cpu" in text


def test_plain_when_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("COLUMNS", "20")  # ignored: a pipe gets the full plain width
    text = render_tree(synthetic_report(), Pipe())
    assert "\x1b" not in text
    assert "x.py:Net" in text
    long_error = Report(
        "1", (TargetResult("z.py:Z", "Z", "error", error=TargetError("NameNotFound", "x" * 500)),)
    )
    assert render_tree(long_error, Pipe()) == "Z  z.py:Z  error (NameNotFound): " + "x" * 500 + "\n"


def test_explicit_color_argument_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" in render_tree(synthetic_report(), Pipe(), color=True)
    monkeypatch.delenv("NO_COLOR")
    assert "\x1b" not in render_tree(synthetic_report(), FakeTerminal(), color=False)


@pytest.mark.parametrize("encoding", ["ascii", "cp1252", "latin-1"])
def test_non_unicode_output_gets_ascii_guides(encoding: str) -> None:
    out = Pipe(encoding)
    text = render_tree(synthetic_report(), out)
    assert text.isascii(), [c for c in text if not c.isascii()]
    assert "`-- " in text and "+-- " in text
    assert "* relu  clamp Tensor.clamp_" in text
    text.encode(encoding)  # never a UnicodeEncodeError


def test_synthetic_tree_reads_well() -> None:
    text = render_tree(synthetic_report(), Pipe())
    assert text == (
        "Net  x.py:Net  built on cpu (the constructor failed on meta)  partial: some regions could not be traced\n"
        "├── enc  Encoder\n"
        "│   ├── conv  Conv2d  [anchor]\n"
        "│   └── block  Block\n"
        "│       ├── ! not traced: TraceError: data-dependent control flow\n"
        "│       └── ● relu  clamp Tensor.clamp_  in-place  (read from source)  /elsewhere/outside/cwd.py:7\n"
        "│           ├── after   Conv2d enc.conv via BatchNorm2d enc.bn\n"
        "│           │           conv2d\n"
        "│           │           +3 more upstream\n"
        "│           ├── before  output via add, Linear head\n"
        "│           └── ✗ RF001 relu-on-output  ReLU on the output\n"
        "├── rnn  RNN  [anchor]\n"
        "│   └── ● relu  embedded torch.nn.RNN(nonlinearity='relu')  ?  defined at /elsewhere/outside/cwd.py:3\n"
        "│       ├── inside  RNN rnn\n"
        "│       ├── after   input\n"
        "│       └── before  output\n"
        "├── ✗ RF101 shared-relu-module  shared ReLU module\n"
        "└── conv2d  conv2d  [anchor]\n"
        "2 ReLU sites (1 clamp, 1 embedded) · 3 anchors · 1 untraced region · "
        "variants not shown: 2 relu6 (--variants lists them) · 2 findings (RF001, RF101)\n"
        "\n"
        "Y  y.py:Y  skipped: needs arguments a: pass --arg a=VALUE\n"
        "\n"
        "z.py:Z  error (ImportError): no module named 'q'\n"
        "\n"
        "3 targets: 1 partial, 1 skipped, 1 error · 2 ReLU sites · 2 findings\n"
    )


def test_markup_in_names_is_not_interpreted() -> None:
    report = Report(
        "1",
        (
            TargetResult(
                "[bold]x.py:Net", "[red]Net", "error", error=TargetError("E", "bad [/] markup [link=x]")
            ),
        ),
    )
    assert render_tree(report, Pipe()) == "[red]Net  [bold]x.py:Net  error (E): bad [/] markup [link=x]\n"


def test_json_dumps_matches_the_standard_library_byte_for_byte() -> None:
    """The report's fast encoder writes exactly what ``json.dumps(indent=2)`` writes."""
    import json

    from relufind.render.json import dumps

    document = {
        "s": "plain", "u": "ünïcode → ✓", "esc": 'quote " back\\ \n\t\x01', "i": -3, "big": 10**30,
        "f": 1.5, "nan": float("nan"), "inf": float("inf"), "ninf": -float("inf"), "t": True,
        "n": None, "empty": [], "edict": {}, "tuple": ("a", 1, None), "nested": [[], [{}], [[1, "x"]]],
        "mixed": [{"a": [1, {"b": ()}]}, "z"], 1: "int key", 2.5: "float key", None: "none key",
        "flag": False, "bools": {True: 1, False: 0},
    }
    assert dumps(document) == json.dumps(document, indent=2)
    assert dumps([]) == json.dumps([], indent=2)
    assert dumps("x") == json.dumps("x", indent=2)


def test_json_render_writes_sites_exactly_as_their_dicts_encode(monkeypatch: pytest.MonkeyPatch) -> None:
    """``render`` writes sites straight from the records; it must match ``dumps(to_dict(...))``
    and ``json.dumps(indent=2)`` byte for byte: every sample model, every field, odd strings."""
    from conftest import SAMPLES, analyse_all

    from relufind.render.json import dumps

    monkeypatch.chdir(ROOT)
    odd = Site(
        kind="function", variant="relu", op='F.relu "ü"', module_path="a.\u00e9\\b", module_type="Ünï",
        inplace=False, source=SourceLoc(str(ROOT / "x y.py"), 3), region="r\n",
        after=tuple(Relation(f"c{i}", "Conv2d", tuple(f"op{j} ✓" for j in range(i))) for i in range(10)),
        before=(Relation("<weird>", 'ty"pe'),), before_more=12, input_path=("é",), output_path=(),
        after_complete=False, inside=Inside("rnn", "RNN"), defined_at=SourceLoc("/abs/elsewhere.py", 1),
    )
    synthetic = synthetic_report()
    reports = [
        synthetic,
        Report("1", (TargetResult("t", "m", "ok", sites=(odd,)),)),
        analyse_all(sorted(str(p) for p in SAMPLES.glob("*.py"))),
    ]
    for report in reports:
        text = render_json(report)
        assert text == dumps(to_dict(report)) + "\n"
        assert text == json.dumps(to_dict(report), indent=2) + "\n"
    assert sum(len(t.sites) for t in reports[-1].targets) > 20


@pytest.mark.parametrize(
    "target",
    ["sample_models/placements.py:ConvRNNClassifier", "sample_models/untraceable.py:DataDependentBranch"],
)
def test_the_readme_shows_what_the_tool_prints_today(target: str) -> None:
    """The README's demo and untraceable example, exactly as `relufind TARGET` prints them."""
    done = subprocess.run(
        [sys.executable, "-m", "relufind", target, "--no-cache"],
        capture_output=True, text=True, cwd=ROOT, timeout=120, env={**os.environ, "NO_COLOR": "1"},
    )
    assert done.stdout.strip() in (ROOT / "README.md").read_text(encoding="utf-8"), done.stdout


# -- the tree drawn without rich for plain output --------------------------------------------------


def rich_and_plain(report: Report) -> tuple[str, str]:
    """The plain tree as rich draws it, and as relufind's own drawer (used off a terminal) does."""
    from relufind.render import tree

    drawn = []
    for draw_trees in (False, True):
        buffer = io.StringIO()
        console = tree._Console(
            fold=False, draw_trees=draw_trees, file=buffer, force_terminal=False, no_color=True,
            color_system=None, width=tree._PLAIN_WIDTH, highlight=False, emoji=False,
        )  # fmt: skip
        for result in report.targets:
            tree._render_target(console, result)
            tree._render_target(console, result, expand=True)
        drawn.append(buffer.getvalue())
    return drawn[0], drawn[1]


def test_the_plain_tree_is_drawn_exactly_as_rich_draws_it() -> None:
    """Every sample model, the golden models and a synthetic report with every field:
    multi-line labels, trailing spaces, tabs, wide characters, markup-like names."""
    from relufind.analyze import Options, scan_targets

    scanned = scan_targets([str(ROOT / "sample_models"), str(ROOT / MODELS)], Options(), lambda line: None)
    odd = TargetResult(
        "odd.py:Net",
        "Net",
        "ok",
        sites=(
            Site(
                kind="module", variant="relu", op="relu", module_path="blocks.0\ttab", module_type="[bold]ReLU", inplace=False,
                source=SourceLoc("日本/模型.py", 3), after=(Relation("conv ", "Conv1d "),), before=(),
            ),
        ),
    )  # fmt: skip
    reports = [scanned, synthetic_report(), Report("1", (odd,))]
    assert sum(len(r.targets) for r in reports) > 60
    for report in reports:
        by_rich, by_relufind = rich_and_plain(report)
        assert by_relufind == by_rich
