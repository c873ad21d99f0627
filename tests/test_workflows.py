"""The shipped CI pieces: the pull-request workflow and the pre-commit hook run commands that exist."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml
from click.testing import CliRunner

from reconciler.cli.main import main

from .helpers import REPO


def test_the_pr_workflow_runs_the_pull_request_check_with_the_base_branch_fetched() -> None:
    workflow = yaml.safe_load((REPO / ".github/workflows/reconcile-pr.yaml").read_text())
    steps = workflow["jobs"]["plan"]["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0
    script = " ".join(s.get("run", "") for s in steps)
    assert "--dry-run" in script and "--base" in script and "-o github" in script
    assert workflow["permissions"] == {"contents": "read"}


def test_the_pre_commit_hook_validates_the_files_it_is_given(tmp_path: Path) -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "reconcile-validate")
    program, *args = shlex.split(hook["entry"])
    assert program == "reconcile" and hook["pass_filenames"] is True
    good = str(next((REPO / "clusters/demo").rglob("*.yaml")))
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: apps.nvidia.com/v1alpha1\nkind: NIMCache\nmetadata: {name: x, namespace: y}\n")
    assert CliRunner().invoke(main, [*args, good]).exit_code == 0
    result = CliRunner().invoke(main, [*args, str(bad)])
    assert result.exit_code == 2 and f"{bad}:" in result.output
