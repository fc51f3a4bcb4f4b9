"""The files that plug relufind into other tools: the pre-commit manifest and the README's CI job."""

from __future__ import annotations

import re

import yaml
from conftest import ROOT


def test_pre_commit_manifest() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert isinstance(hooks, list) and len(hooks) == 1
    hook = hooks[0]
    # pre-commit requires id, name, entry and language
    assert {key: hook[key] for key in ("id", "name", "entry", "language")} == {
        "id": "relufind", "name": "relufind", "entry": "relufind", "language": "python",
    }
    assert hook["types"] == ["python"]
    assert hook["require_serial"] is True
    assert hook["pass_filenames"] is True
    exclude = re.compile(hook["exclude"])
    for path in ("tests/test_model.py", "pkg/tests/helpers.py", "setup.py", "docs/conf.py", "model_test.py"):
        assert exclude.search(path), path
    for path in ("models/net.py", "models/testing_blocks.py", "contest.py", "latest/model.py"):
        assert not exclude.search(path), path


def _readme_yaml_blocks() -> list[object]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", text, re.S)]


def test_readme_github_actions_job_uploads_sarif_even_with_findings() -> None:
    workflows = [b for b in _readme_yaml_blocks() if isinstance(b, dict) and "jobs" in b]
    assert len(workflows) == 1
    (job,) = workflows[0]["jobs"].values()
    assert job["permissions"]["security-events"] == "write"
    steps = job["steps"]
    runs = [step.get("run", "") for step in steps]
    assert any("--format github" in run for run in runs)
    sarif = next(step for step in steps if "--format sarif" in step.get("run", ""))
    assert "--output relufind.sarif" in sarif["run"] and "--exit-zero" in sarif["run"]
    assert sarif.get("if") == "always()"  # runs after a lint step that failed on findings
    upload = next(step for step in steps if str(step.get("uses", "")).startswith("github/codeql-action/upload-sarif"))
    assert upload["if"] == "always()" and upload["with"]["sarif_file"] == "relufind.sarif"


def test_readme_pre_commit_entries_use_the_hook_id() -> None:
    configs = [b for b in _readme_yaml_blocks() if isinstance(b, dict) and "repos" in b]
    assert configs
    for config in configs:
        hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
        assert [hook["id"] for hook in hooks] == ["relufind"]
