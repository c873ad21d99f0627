"""The cron job's run from a git URL: revision record, annotations, read-only drift checks, git failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from reconciler.cli.main import main
from reconciler.cluster.record import KEEP
from reconciler.plan.compare import REVISION

from .apiserver import ApiServer
from .gitrepos import GitRepo, git
from .helpers import complete_jobs, install, kubelet, live


@pytest.fixture
def remote(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "git")


def run(api: ApiServer, url: str, tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(
        main,
        ["--repo", url, "--cache-dir", str(tmp_path / "cache"), "--kubeconfig", str(api.kubeconfig), *args],
        env=env,
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def record(api: ApiServer) -> dict[str, str]:
    return dict(live(api, "ConfigMap", "default")["nim-reconciler-demo"]["data"])


def converged(api: ApiServer, remote: GitRepo, tmp_path: Path, *args: str) -> None:
    install(api)
    run(api, remote.url, tmp_path, *args)
    kubelet(api)  # the manifest probes run
    run(api, remote.url, tmp_path, *args)
    complete_jobs(api)
    code, out = run(api, remote.url, tmp_path, *args)
    assert code == 0, out


def test_applied_objects_carry_the_revision_and_the_record_has_the_history(
    api: ApiServer, remote: GitRepo, tmp_path: Path
) -> None:
    converged(api, remote, tmp_path)
    sha = git(remote.work, "rev-parse", "HEAD")
    deployment = live(api, "Deployment", "nemoguard")["content-safety"]
    assert deployment["metadata"]["annotations"][REVISION] == sha
    data = record(api)
    assert data["lastAppliedRevision"] == sha and data["lastResult"] == "applied"
    runs = json.loads(data["history"])
    assert [r["revision"] for r in runs] == [sha, sha, sha] and runs[0]["counts"]["created"] > 0


def test_an_unchanged_revision_is_a_read_only_check_without_fetch(
    api: ApiServer, remote: GitRepo, tmp_path: Path
) -> None:
    converged(api, remote, tmp_path, "--metrics-file", str(tmp_path / "m.prom"))
    before = len(api.requests)
    code, out = run(api, remote.url, tmp_path, "--metrics-file", str(tmp_path / "m.prom"))
    assert code == 0, out
    assert [r for r in api.requests[before:] if r.write] == []  # not even the lock
    metrics = (tmp_path / "m.prom").read_text()
    assert 'nim_reconciler_git_requests_total{cluster="demo",request_type="fetch"} 1' in metrics  # the first clone
    assert 'nim_reconciler_git_requests_total{cluster="demo",request_type="ls-remote"} 4' in metrics


def test_drift_on_an_unchanged_revision_is_healed_and_recorded(api: ApiServer, remote: GitRepo, tmp_path: Path) -> None:
    converged(api, remote, tmp_path)
    deployments = api.store.resource("apps", "v1", "deployments")
    assert deployments is not None
    edit = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "content-safety"}}
    api.store.apply(
        deployments, "nemoguard", "content-safety", {**edit, "spec": {"replicas": 5}}, "kubectl", True, False
    )
    code, out = run(api, remote.url, tmp_path)
    assert code == 0 and "Deployment/nemoguard/content-safety configured" in out, out
    assert live(api, "Deployment", "nemoguard")["content-safety"]["spec"]["replicas"] == 1
    assert json.loads(record(api)["history"])[0]["result"] == "drift-healed"


def test_a_new_commit_rewrites_only_what_it_changed(api: ApiServer, remote: GitRepo, tmp_path: Path) -> None:
    converged(api, remote, tmp_path)
    old = git(remote.work, "rev-parse", "HEAD")
    path = remote.work / "clusters/demo/nemoguard/content-safety.yaml"
    docs = list(yaml.safe_load_all(path.read_text()))
    docs[1]["spec"]["env"].append({"name": "NIM_LOG_LEVEL", "value": "DEBUG"})
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    new = remote.push("debug logs")
    code, out = run(api, remote.url, tmp_path)
    assert code == 0, out
    annotations = {name: d["metadata"]["annotations"][REVISION] for name, d in live(api, "Deployment").items()}
    assert annotations["content-safety"] == new and annotations["meta-llama-3-2-1b-instruct"] == old
    assert record(api)["lastAppliedRevision"] == new


@pytest.mark.long
def test_the_history_keeps_the_last_ten_runs(api: ApiServer, remote: GitRepo, tmp_path: Path) -> None:
    converged(api, remote, tmp_path)
    for number in range(12):
        remote.push(f"empty {number}")
        assert run(api, remote.url, tmp_path)[0] == 0
    runs = json.loads(record(api)["history"])
    assert len(runs) == KEEP and runs[0]["revision"] == git(remote.work, "rev-parse", "HEAD")


def test_an_unreachable_remote_exits_2_and_never_touches_the_cluster(
    api: ApiServer, remote: GitRepo, tmp_path: Path
) -> None:
    converged(api, remote, tmp_path)
    before = len(api.requests)
    code, out = run(api, (tmp_path / "gone.git").as_uri(), tmp_path)
    assert code == 2 and "error:" in out and "Traceback" not in out
    assert api.requests[before:] == []  # no read, no write, no prune


def test_a_token_never_shows_in_the_output(api: ApiServer, tmp_path: Path) -> None:
    code, out = run(
        api,
        "https://deploy:url-secret@127.0.0.1:9/repo.git",
        tmp_path,
        "--git-timeout",
        "10s",
        "--log-format",
        "json",
        env={"GIT_TOKEN": "env-secret"},
    )
    assert code == 2 and "https://***@127.0.0.1:9/repo.git" in out
    assert "url-secret" not in out and "env-secret" not in out
    assert json.loads(out.splitlines()[-1])["level"] == "error"


def test_ref_with_a_local_path_is_refused(api: ApiServer, remote: GitRepo, tmp_path: Path) -> None:
    code, out = run(api, str(remote.work), tmp_path, "--ref", "main")
    assert code == 2 and "--ref needs a git URL" in out


def test_json_output_names_the_revision_and_the_drift_check(api: ApiServer, remote: GitRepo, tmp_path: Path) -> None:
    converged(api, remote, tmp_path)
    code, out = run(api, remote.url, tmp_path, "-o", "json")
    body = json.loads(out)
    assert code == 0 and body["revision"] == git(remote.work, "rev-parse", "HEAD") and body["drift_check"] is True
