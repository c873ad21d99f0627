"""cli/ (validate): the validate command as a user runs it (exit codes, formats, no tracebacks)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from reconciler.cli.main import main

from .helpers import REPO, write_kubeconfig
from .manifests import DELETE, NIMCACHE, NIMSERVICE, dump, variant


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_example_repo_validates_with_the_warnings_a_render_gives() -> None:
    # One verdict: validate renders in memory, so it warns of what `render` warns of (caches whose profiles
    # NIM picks on the node, where the example gives selectors only).
    code, out = run("validate", str(REPO / "clusters"))
    assert code == 0, out
    assert "Errors: 0, Warnings: 5" in out
    assert all("warning: no profiles pinned" in line for line in out.splitlines()[:-1])
    code, out = run("validate", str(REPO / "clusters"), "--ignore", "no-profiles-pinned")
    assert code == 0 and "Errors: 0, Warnings: 0" in out


def test_strict_counts_warnings_as_errors_in_the_summary() -> None:
    code, out = run("validate", "--strict", str(REPO / "clusters"))
    assert code == 2
    assert out.splitlines()[-1].endswith("Errors: 5, Warnings: 0 (--strict: warnings count as errors)")


def test_a_warning_is_silenced_for_one_resource_by_annotation(tmp_path: Path) -> None:
    quiet = variant(NIMCACHE, {"metadata.annotations": {"nim-reconciler/ignore": "no-profiles-pinned"}})
    loud = variant(NIMCACHE, {"metadata.name": "other"})
    for doc in (quiet, loud):
        doc["spec"]["source"]["ngc"].pop("model", None)
    (tmp_path / "m.yaml").write_text(dump(quiet, loud))
    code, out = run("validate", "--strict", str(tmp_path / "m.yaml"))
    assert code == 2 and out.count("warning: no profiles pinned") == 1 and "m.yaml:" in out


def test_validate_finds_what_render_would_refuse(tmp_path: Path) -> None:
    # Regression: a bad nvidia.com/selected-profiles annotation passed validate and failed render.
    cache = variant(NIMCACHE, {"metadata.annotations": {"nvidia.com/selected-profiles": "p1,p2"}})
    cache["spec"]["source"]["ngc"].pop("model", None)
    (tmp_path / "m.yaml").write_text(dump(cache))
    code, out = run("validate", str(tmp_path / "m.yaml"))
    assert code == 2 and "nvidia.com/selected-profiles: must be a JSON list of profile IDs" in out


def test_invalid_manifest_exits_2_with_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(dump(variant(NIMCACHE, {"spec.storage.pvc.sizee": "1Gi"})))
    code, out = run("validate", str(bad))
    assert code == 2
    assert f"{bad}:" in out and 'spec.storage.pvc.sizee: unknown field "sizee" (did you mean "size"?)' in out


def test_json_output(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(dump(NIMCACHE, NIMSERVICE))
    code, out = run("validate", str(tmp_path), "-o", "json")
    assert code == 0
    body = json.loads(out)
    assert body["valid"] is True and body["summary"]["resources"] == 2


def test_strict_fails_on_warnings(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text(dump(NIMCACHE, variant(NIMSERVICE, {"spec.storage": {"hostPath": "/m"}})))
    assert run("validate", str(tmp_path))[0] == 0
    assert run("validate", "--strict", str(tmp_path))[0] == 2


def test_garbage_input_never_gives_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "binary.yaml").write_bytes(bytes(range(256)))
    (tmp_path / "tabs.yaml").write_text("a:\n\t- b\n")
    (tmp_path / "list.yaml").write_text("- 1\n")
    code, out = run("validate", str(tmp_path))
    assert code == 2
    assert "Traceback" not in out
    assert out.count(str(tmp_path)) == 3


def test_missing_path_exits_2(tmp_path: Path) -> None:
    code, out = run("validate", str(tmp_path / "missing"))
    assert code == 2 and "no such file or directory" in out


def test_dry_run_on_the_example_repo_plans_creations_and_exits_1() -> None:
    code, out = run("--repo", str(REPO), "--dry-run")
    assert code == 1, out
    assert "► Deployment/nim-service/meta-llama-3-2-1b-instruct created" in out
    assert "► NIMCache/nemoguard/content-safety-cache created" in out
    assert out.splitlines()[-1].startswith("Plan for cluster demo: 32 to create, 0 to configure, 0 to prune")


def test_dry_run_of_an_empty_cluster_exits_0(tmp_path: Path) -> None:
    (tmp_path / "clusters" / "empty").mkdir(parents=True)
    code, out = run("--repo", str(tmp_path), "--dry-run")
    assert code == 0, out
    assert "0 to create" in out


def test_dry_run_with_invalid_input_exits_2_and_plans_nothing(tmp_path: Path) -> None:
    (tmp_path / "clusters" / "c").mkdir(parents=True)
    (tmp_path / "clusters" / "c" / "bad.yaml").write_text(dump(variant(NIMCACHE, {"spec.storage.pvc.size": "x"})))
    code, out = run("--repo", str(tmp_path), "--dry-run")
    assert code == 2
    assert "►" not in out and "bad.yaml:" in out


def test_dry_run_json(tmp_path: Path) -> None:
    code, out = run("--repo", str(REPO), "--dry-run", "-o", "json")
    body = json.loads(out)
    assert code == 1 and body["cluster"] == "demo" and body["summary"]["created"] == 32
    assert {"action": "created", "object": "Service/nemoguard/content-safety"} in body["changes"]


def test_several_clusters_need_a_choice(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / "clusters" / name).mkdir(parents=True)
    code, out = run("--repo", str(tmp_path), "--dry-run")
    assert code == 2 and "--cluster" in out
    assert run("--repo", str(tmp_path), "--cluster", "b", "--dry-run")[0] == 0


def test_render_prints_every_object_as_yaml_or_json() -> None:
    result = CliRunner().invoke(main, ["render", str(REPO)])
    assert result.exit_code == 0
    bodies = list(yaml.safe_load_all(result.stdout))
    assert len(bodies) == 32 and "no profiles pinned" in result.stderr
    result = CliRunner().invoke(main, ["render", str(REPO), "-o", "json"])
    body = json.loads(result.stdout)
    assert body["kind"] == "List" and len(body["items"]) == 32


def test_render_of_invalid_input_prints_the_validate_problems(tmp_path: Path) -> None:
    (tmp_path / "clusters" / "c").mkdir(parents=True)
    (tmp_path / "clusters" / "c" / "bad.yaml").write_text(dump(variant(NIMCACHE, {"spec.storage.pvc.sizee": "x"})))
    code, out = run("render", str(tmp_path))
    assert code == 2 and 'unknown field "sizee"' in out


def test_apply_without_dry_run_is_refused_clearly() -> None:
    code, out = run("--repo", str(REPO))
    assert code == 2 and "--dry-run" in out


def test_help_loads_neither_the_cluster_client_nor_the_template_engine_nor_the_validators() -> None:
    # What keeps --help (and a mistyped flag's message) quick; its time is measured in bench/render.py.
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "reconciler", "--help"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    assert "Usage:" in done.stdout
    loaded = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "reconciler.cli.main" in loaded  # the listing is read right
    heavy = {"kubernetes", "urllib3", "jinja2", "jsonschema", "jsonschema_rs", "git"}
    assert not heavy & loaded, sorted(heavy & loaded)


def test_offline_ignores_a_configured_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    unreachable = write_kubeconfig(tmp_path / "kubeconfig", "http://127.0.0.1:9")
    monkeypatch.setenv("KUBECONFIG", str(unreachable))
    code, out = run("--repo", str(REPO), "--dry-run", "--offline")
    assert code == 1 and "(offline: no cluster compared)" in out
    assert run("--repo", str(REPO), "--offline")[0] == 2


def _two_clusters(tmp_path: Path) -> Path:
    """The example's NemoGuard pair in clusters/prod and clusters/staging (the normal GitOps shape)."""
    for cluster in ("prod", "staging"):
        target = tmp_path / "clusters" / cluster / "nemoguard"
        target.mkdir(parents=True)
        (target / "content-safety.yaml").write_text((REPO / "clusters/demo/nemoguard/content-safety.yaml").read_text())
    return tmp_path


def test_the_same_manifest_in_two_clusters_is_fine(tmp_path: Path) -> None:
    root = _two_clusters(tmp_path)
    result = CliRunner().invoke(main, ["validate", str(root / "clusters")])
    assert result.exit_code == 0, result.output
    assert "Summary: 4 resources found in 2 files" in result.output


def test_one_named_file_is_checked_against_its_whole_cluster(tmp_path: Path) -> None:
    # Regression: a commit touching only a NIMService failed "NIMCache … is not defined in this repository"
    # under the shipped pre-commit hook (pass_filenames: true).
    root = _two_clusters(tmp_path)
    path = root / "clusters/prod/nemoguard/content-safety.yaml"
    docs = path.read_text().split("---\n")
    (path.parent / "cache.yaml").write_text(docs[0])
    path.write_text(docs[1])
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "Summary: 1 resources found in 1 files" in result.output


def test_a_reference_to_a_cache_of_another_cluster_is_an_error(tmp_path: Path) -> None:
    root = _two_clusters(tmp_path)
    path = root / "clusters/staging/nemoguard/content-safety.yaml"
    path.write_text(path.read_text().split("---\n")[1])  # staging's NIMService uses a cache only prod has
    result = CliRunner().invoke(main, ["validate", str(root / "clusters")])
    assert result.exit_code == 2
    assert (
        "staging/nemoguard/content-safety.yaml:" in result.output and 'NIMCache "content-safety-cache"' in result.output
    )


def _render(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    import os

    before = Path.cwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = CliRunner().invoke(main, ["render", *args])
    finally:
        os.chdir(before)
    return result.exit_code, result.stdout, result.stderr


def _kinds_and_names(text: str) -> list[tuple[str, str]]:
    import yaml

    return [(d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(text) if d]


def test_render_takes_a_manifest_a_folder_or_dot_inside_a_cluster() -> None:
    manifest = REPO / "clusters/demo/nemoguard/content-safety.yaml"
    code, out, _ = _render(str(manifest))
    assert code == 0
    assert {name for _, name in _kinds_and_names(out)} <= {
        "content-safety",
        "content-safety-cache",
        "content-safety-cache-pvc",
    } | {n for k, n in _kinds_and_names(out) if k == "Job"}
    assert ("NIMService", "content-safety") in _kinds_and_names(out) and len(_kinds_and_names(out)) == 7
    code, folder, _ = _render(str(manifest.parent))
    assert code == 0 and folder == out
    code, dot, _ = _render(".", cwd=manifest.parent)
    assert code == 0 and dot == out
    code, up, _ = _render("../nemoguard", cwd=REPO / "clusters/demo/nim-service")
    assert code == 0 and up == out


def test_render_sends_problems_to_stderr_and_leaves_stdout_empty(tmp_path: Path) -> None:
    (tmp_path / "clusters" / "c").mkdir(parents=True)
    (tmp_path / "clusters" / "c" / "bad.yaml").write_text(dump(variant(NIMCACHE, {"spec.storage.pvc.sizee": "x"})))
    code, out, err = _render(str(tmp_path))
    assert code == 2 and out == "" and 'unknown field "sizee"' in err


def test_render_takes_a_git_url_and_a_ref(tmp_path: Path) -> None:
    from .gitrepos import GitRepo, git

    remote = GitRepo(tmp_path / "git")
    sha = git(remote.work, "rev-parse", "HEAD")
    code, out, err = _render(remote.url, "--ref", sha, "--cache-dir", str(tmp_path / "cache"))
    assert code == 0, err
    assert ("NIMService", "content-safety") in _kinds_and_names(out)


def test_run_locally_prints_the_docker_command_of_a_nemoguard_service() -> None:
    # seed 001: the Content Safety NemoGuard NIM with KV-cache reuse, as `docker run`
    code, out = run("run-locally", str(REPO / "clusters/demo/nemoguard/content-safety.yaml"))
    assert code == 0, out
    lines = [line.strip().rstrip(" \\") for line in out.splitlines()]
    assert lines[0] == "docker run -it"
    for option in (
        "--name=content-safety",
        "--runtime=nvidia",
        "--gpus='\"device=0\"'",
        "--memory=16g",
        "--cpus=4",
        "-e NIM_ENABLE_KV_CACHE_REUSE=1",
        "-e NGC_API_KEY",  # from a Secret: passed through by name, never a value
        '-v "$LOCAL_NIM_CACHE":/model-store',
        "-u 1000",
        "-p 8000:8000",
    ):
        assert option in lines, (option, out)
    assert lines[-1] == "nvcr.io/nim/nvidia/llama-3.1-nemoguard-8b-content-safety:1.0.0"


def test_run_locally_asks_which_service_when_there_are_several() -> None:
    code, out = run("run-locally", str(REPO))
    assert code == 2 and "choose one NIMService with --service (found: " in out
    code, out = run("run-locally", str(REPO), "--service", "content-safety")
    assert code == 0 and "--name=content-safety" in out


@pytest.mark.parametrize(
    ("model", "given"),
    [
        ({"engine": "tensorrt_llm", "tensorParallelism": "1"}, "engine=tensorrt_llm, tensorParallelism=1"),
        ({"precision": "fp8", "gpus": [{"product": "h100"}]}, "precision=fp8, gpus=h100"),
        (None, "no selectors: every profile for the nodes' GPUs"),
    ],
)
def test_offline_a_selecting_cache_says_its_profiles_are_picked_in_the_cluster(
    tmp_path: Path, model: dict[str, Any] | None, given: str
) -> None:
    cache = variant(NIMCACHE, {"spec.source.ngc.model": model if model is not None else DELETE})
    (tmp_path / "m.yaml").write_text(dump(cache))
    code, out = run("validate", str(tmp_path / "m.yaml"))
    assert code == 0, out
    [line] = [x for x in out.splitlines() if "warning:" in x]
    # where: the file and the line of spec.source.ngc.model (or of ngc when it is absent)
    assert line.startswith(f"{tmp_path / 'm.yaml'}:") and "spec.source.ngc.model" in line
    assert f"profiles are selected in the cluster from {given} (a probe Pod reads the image's" in line
    assert "reconcile profiles <the image's model_manifest.yaml> --nimcache <this file>" in line
