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


def test_the_workflow_install_line_installs_from_the_repository_at_a_pinned_ref(tmp_path: Path) -> None:
    # Regression: the example ran `pip install nim-reconciler`, which no registry has.
    import subprocess
    import sys

    workflow = yaml.safe_load((REPO / ".github/workflows/reconcile-pr.yaml").read_text())
    step = next(s for s in workflow["jobs"]["plan"]["steps"] if s.get("name") == "Install nim-reconciler")
    url = step["env"]["NIM_RECONCILER"]
    assert url.startswith("git+https://") and url.rsplit("@", 1)[1] == "v0.1.0"  # a release tag (CHANGELOG.md)
    clone = tmp_path / "nim-reconciler"
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(REPO), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "tag", "v0.1.0"], check=True)
    # the same line, pointed at a local copy of the repository (no network here) and offline-friendly flags
    command = shlex.split(step["run"].replace("${NIM_RECONCILER}", f"git+file://{clone}@v0.1.0"))
    assert command[:2] == ["pip", "install"]
    target = tmp_path / "site"
    flags = ["--quiet", "--no-deps", "--no-build-isolation", "--target", str(target)]
    done = subprocess.run([sys.executable, "-m", *command, *flags], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (target / "reconciler" / "cli" / "main.py").is_file() and (target / "reconciler" / "schemas").is_dir()
    assert "v0.1.0" in (REPO / "CHANGELOG.md").read_text()
