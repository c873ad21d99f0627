"""pr_check.py / report/markdown.py: `reconcile --dry-run --base REF`, the pull-request check across two commits."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from reconciler.cli.main import main
from reconciler.options import Mode
from reconciler.plan.changes import Action
from reconciler.report.markdown import markdown
from reconciler.report.model import Check, Entry, RunReport

from .gitrepos import GitRepo

CACHE = "clusters/demo/nim-service/llama-3-2-1b-nimcache.yaml"
SAFETY = "clusters/demo/nemoguard/content-safety.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "git")


def change(repo: GitRepo, name: str, edit: Callable[[list[Any]], None]) -> None:
    path = repo.work / name
    docs = list(yaml.safe_load_all(path.read_text()))
    edit(docs)
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))


def review(repo: GitRepo, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--repo", str(repo.work), "--dry-run", "--base", "main", *args], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def line_of(repo: GitRepo, name: str, text: str) -> int:
    return next(i for i, line in enumerate((repo.work / name).read_text().splitlines(), 1) if text in line)


def test_no_change_exits_0(repo: GitRepo) -> None:
    code, out = review(repo)
    assert code == 0 and "0 created, 0 changed, 0 deleted, 32 unchanged" in out, out


def test_changed_created_and_deleted_objects_with_diffs(repo: GitRepo) -> None:
    change(repo, SAFETY, lambda d: d[1]["spec"]["env"].append({"name": "NIM_LOG_LEVEL", "value": "DEBUG"}))
    (repo.work / "clusters/demo/nim-service/deepseek-r1-nimcache.yaml").unlink()
    code, out = review(repo)
    assert code == 1, out
    assert "► Deployment/nemoguard/content-safety changed" in out
    assert re.search(r"^  \+ +- name: NIM_LOG_LEVEL$", out, re.M), out
    assert "nim-reconciler/applied" not in out  # the hash annotation is noise in a diff
    assert "--- base" in out and "+++ head" in out
    assert "► NIMCache/nim-service/deepseek-r1-nimcache deleted" in out
    assert "► PersistentVolumeClaim/nim-service/deepseek-r1-nimcache-pvc deleted" in out  # its NIMCache left git


def test_a_working_tree_change_not_yet_committed_is_compared_too(repo: GitRepo) -> None:
    change(repo, CACHE, lambda d: d[0]["spec"]["resources"].update({"cpu": "8"}))
    code, out = review(repo)
    assert code == 1 and "NIMCache/nim-service/meta-llama-3-2-1b-instruct changed" in out, out


@pytest.mark.parametrize(
    ("edit", "field", "anchor", "message"),
    [
        (
            lambda d: d[0]["spec"]["source"]["ngc"].update({"modelPuller": "nvcr.io/nim/meta/llama:2.0"}),
            "spec.source.ngc.modelPuller",
            "modelPuller:",
            "modelPuller is an immutable field",
        ),
        (
            lambda d: d[0]["spec"]["storage"]["pvc"].update({"size": "20Gi"}),
            "spec.storage.pvc.size",
            "size:",
            "a PVC cannot shrink",
        ),
        (
            lambda d: d[0]["spec"]["storage"]["pvc"].update({"storageClass": "fast-nvme"}),
            "spec.storage.pvc.storageClass",
            "storageClass:",
            "class cannot change",
        ),
        (
            lambda d: d[0]["spec"]["storage"]["pvc"].update({"volumeAccessMode": "ReadWriteMany"}),
            "spec.storage.pvc.volumeAccessMode",
            "volumeAccessMode:",
            "access mode cannot change",
        ),
        (
            lambda d: d[0]["spec"]["source"]["ngc"]["model"].update({"engine": "vllm"}),
            "spec.source.ngc.model",
            "model:",
            "the content of a Ready NIMCache cannot change",
        ),
    ],
    ids=["modelPuller", "pvc-shrink", "pvc-class", "pvc-access-mode", "cache-content"],
)
def test_immutable_changes_are_errors_at_the_manifest_line(
    repo: GitRepo, edit: Callable[[list[Any]], None], field: str, anchor: str, message: str
) -> None:
    change(repo, CACHE, edit)
    repo.commit("the change under review")  # committed on the branch: the base is still main's first commit
    result = CliRunner().invoke(main, ["--repo", str(repo.work), "--dry-run", "--base", "HEAD~1", "-o", "github"])
    code, out = result.exit_code, result.output
    assert code == 2, out
    line = line_of(repo, CACHE, anchor)
    annotation = next(a for a in out.splitlines() if a.startswith("::error"))
    assert f"file={CACHE_ABS(repo)},line={line},title={field}::" in annotation.replace("%3A", ":").replace("%2C", ",")
    assert message in annotation


def CACHE_ABS(repo: GitRepo) -> str:
    return str(repo.work / CACHE)


def test_growing_a_pvc_is_fine(repo: GitRepo) -> None:
    change(repo, CACHE, lambda d: d[0]["spec"]["storage"]["pvc"].update({"size": "100Gi"}))
    code, out = review(repo)
    assert code == 1 and "PersistentVolumeClaim/nim-service/meta-llama-3-2-1b-instruct-pvc changed" in out, out


def test_a_prune_guard_blocks_with_exit_3(repo: GitRepo) -> None:
    import shutil

    shutil.rmtree(repo.work / "clusters/demo/nim-service")
    code, out = review(repo, "--max-prune", "3")
    assert code == 3 and "more than --max-prune 3" in out, out


def test_the_step_summary_has_a_table_and_collapsible_diffs(repo: GitRepo, tmp_path: Path) -> None:
    change(repo, SAFETY, lambda d: d[1]["spec"]["env"].append({"name": "NIM_LOG_LEVEL", "value": "DEBUG"}))
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    code, _ = review(repo, env={"GITHUB_STEP_SUMMARY": str(summary)})
    text = summary.read_text()
    assert code == 1 and text.startswith("earlier step\n")  # appended, as GitHub expects
    assert "| 🟡 | `Deployment/nemoguard/content-safety` | changed |" in text
    assert "<details><summary><code>Deployment/nemoguard/content-safety</code> changed</summary>" in text
    assert "```diff" in text and "NIM_LOG_LEVEL" in text


def test_the_summary_stays_under_its_limit_and_says_what_it_left_out() -> None:
    entries = [Entry(Action.CREATED, f"Deployment/ns/d{i}", diff="+x\n" * 2000) for i in range(50)]
    run = RunReport("demo", Check(1, 1, 1, []), Mode.REVIEW, entries, revision="a" * 40)
    text = markdown(run, "main", limit=60_000)
    assert len(text.encode()) <= 60_000 + 200
    assert text.count("<details>") < 50 and "diffs left out" in text
    assert text.count("| 🟢 |") == 50  # the table is whole


def test_base_outside_git_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "clusters" / "demo").mkdir(parents=True)
    result = CliRunner().invoke(main, ["--repo", str(tmp_path), "--dry-run", "--base", "main"])
    assert result.exit_code == 2 and "--base needs --repo to be a git checkout" in result.output


def test_base_needs_dry_run(repo: GitRepo) -> None:
    result = CliRunner().invoke(main, ["--repo", str(repo.work), "--base", "main"])
    assert result.exit_code == 2 and "--base goes with --dry-run" in result.output


def test_a_cluster_new_in_this_change_is_all_created(repo: GitRepo) -> None:
    import shutil

    shutil.copytree(repo.work / "clusters/demo", repo.work / "clusters/edge")
    result = CliRunner().invoke(main, ["--repo", str(repo.work), "--cluster", "edge", "--dry-run", "--base", "main"])
    assert result.exit_code == 1 and "32 created, 0 changed" in result.output, result.output


def test_how_a_cache_is_fetched_may_change_in_a_pull_request(repo: GitRepo) -> None:
    change(repo, CACHE, lambda d: d[0]["spec"].update({"resources": {"cpu": "8", "memory": "16Gi"}}))
    repo.commit("more CPU for the download")
    result = CliRunner().invoke(main, ["--repo", str(repo.work), "--dry-run", "--base", "HEAD~1"])
    assert result.exit_code == 1, result.output  # a change, not an error
    assert "► NIMCache/nim-service/meta-llama-3-2-1b-instruct changed" in result.output
