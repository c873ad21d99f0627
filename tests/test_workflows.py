"""The shipped CI pieces: the pull-request workflow and the pre-commit hook run commands that exist."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
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


def _as_release(tmp_path: Path) -> Path:
    """This working tree as a git repo tagged v0.1.0: what a user's `rev: v0.1.0` would fetch."""
    import shutil
    import subprocess

    listed = subprocess.run(["git", "-C", str(REPO), "ls-files"], capture_output=True, text=True, check=True)
    release = tmp_path / "nim-reconciler"
    for name in listed.stdout.splitlines():
        if (REPO / name).is_file():
            (release / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, release / name)
    for name in ("reconciler", "schemas", "templates"):  # files not committed yet, in a working copy
        shutil.copytree(REPO / name, release / name, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    _git(release, "init", "-q")
    _git(release, "add", "-A")
    _git(release, "commit", "-qm", "release")
    _git(release, "tag", "v0.1.0")
    return release


def _git(where: Path, *args: str) -> None:
    import subprocess

    subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=where, check=True)


@pytest.mark.long
def test_the_real_pre_commit_tool_passes_a_one_file_commit_in_a_repo_with_two_clusters(tmp_path: Path) -> None:
    # Regression: with pass_filenames the hook judged only the named file: a NIMService whose NIMCache sits in
    # another file was "not defined", and the same NIMCache in two clusters was "defined twice".
    import shutil
    import subprocess
    import sys

    release = _as_release(tmp_path)
    user = tmp_path / "gitops"
    for cluster in ("prod", "staging"):
        shutil.copytree(REPO / "clusters" / "demo", user / "clusters" / cluster)
    config = f"repos:\n  - repo: {release}\n    rev: v0.1.0\n    hooks:\n      - id: reconcile-validate\n"
    (user / ".pre-commit-config.yaml").write_text(config)
    _git(user, "init", "-q")
    _git(user, "add", "-A")
    _git(user, "commit", "-qm", "clusters")
    service = user / "clusters/prod/nim-service/llama-3-2-1b-nimservice.yaml"
    service.write_text(service.read_text().replace("port: 8000", "port: 8080"))
    _git(user, "add", str(service))
    hook = [sys.executable, "-m", "pre_commit", "run"]
    env = {"PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(hook, cwd=user, capture_output=True, text=True, env=env)
    assert done.returncode == 0 and "Passed" in done.stdout, done.stdout + done.stderr
    service.write_text(service.read_text().replace("name: meta-llama-3-2-1b-instruct  #", "name: no-such-cache  #"))
    _git(user, "add", str(service))
    done = subprocess.run(hook, cwd=user, capture_output=True, text=True, env=env)
    assert done.returncode == 1 and "Failed" in done.stdout, done.stdout + done.stderr
    assert "llama-3-2-1b-nimservice.yaml:" in done.stdout and "no-such-cache" in done.stdout, done.stdout
