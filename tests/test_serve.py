"""`reconcile serve` end to end against the API test server: watches move runs within seconds, drift is healed,
signed pushes are applied, the HTTP side answers, leader election lets one replica write, SIGTERM frees the Lease.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli.main import main

from .apiserver import ApiServer
from .gitrepos import GitRepo
from .helpers import complete_jobs, install, live
from .manifests import dump, variant
from .serving import CACHE, SERVICE, Served, clusters, deployed, serving, wait_for

NAME = "llama-3-2-1b"


def test_a_completed_caching_job_deploys_the_service_within_seconds(tmp_path: Path) -> None:
    with serving(tmp_path, "--interval", "1h") as (api, served):
        wait_for(lambda: live(api, "Job", "nim"), 30, "the first run's caching Job")
        assert not live(api, "Deployment", "nim"), "held until the cache is Ready"
        complete_jobs(api)  # the job controller: no interval elapses after this
        # the interval is an hour: the Deployment can only come from the event, the wait is a hang guard
        wait_for(lambda: live(api, "Deployment", "nim"), 30, "the Deployment after the Job completed")
        wait_for(lambda: live(api, "NIMCache", "nim")[NAME].get("status", {}).get("state") == "Ready", 5)
        assert served.stop() == 0, served.output


@pytest.mark.long
def test_a_deployment_changed_by_another_manager_is_healed_within_seconds(tmp_path: Path) -> None:
    with serving(tmp_path, "--interval", "1h") as (api, served):
        deployed(api)
        deployments = api.store.resource("apps", "v1", "deployments")
        assert deployments is not None
        edit = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": NAME, "namespace": "nim"},
                "spec": {"replicas": 4}}  # fmt: skip
        api.store.apply(deployments, "nim", NAME, edit, "kubectl-edit", True, False)
        assert live(api, "Deployment", "nim")[NAME]["spec"]["replicas"] == 4
        wait_for(lambda: live(api, "Deployment", "nim")[NAME]["spec"]["replicas"] == 1, 5, "the drift healed")
        assert served.stop() == 0, served.output


@pytest.mark.long
def test_a_steady_state_costs_no_request_beyond_the_open_watches(tmp_path: Path) -> None:
    with serving(tmp_path, "--interval", "1h") as (api, served):
        deployed(api)
        time.sleep(2.5)  # our own writes echo on the watches: they must start nothing
        before, runs = len(api.requests), served.runs()
        time.sleep(3)
        assert served.runs() == runs, served.output
        assert api.requests[before:] == [], [f"{r.method} {r.path}" for r in api.requests[before:]]
        watches = [r for r in api.requests if r.query.get("watch") == "true"]
        assert sorted({r.path for r in watches}) == sorted(
            {
                "/apis/apps.nvidia.com/v1alpha1/nimcaches",
                "/apis/apps.nvidia.com/v1alpha1/nimservices",
                "/apis/batch/v1/jobs",
                "/apis/apps/v1/deployments",
                "/api/v1/persistentvolumeclaims",
                "/api/v1/pods",
            }
        )
        assert served.stop() == 0, served.output


def _signed(secret: bytes, body: bytes) -> dict[str, str]:
    digest = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "X-GitHub-Event": "push", "Content-Type": "application/json"}


@pytest.mark.long
def test_a_signed_push_applies_the_new_commit_within_seconds_and_a_bad_one_changes_nothing(tmp_path: Path) -> None:
    remote = GitRepo(tmp_path / "git", clusters(tmp_path / "src"))
    secret = b"s3cret-for-hooks"
    (tmp_path / "hook-secret").write_bytes(secret + b"\n")
    args = ("--ref", "main", "--interval", "1h", "--webhook-secret-file", str(tmp_path / "hook-secret"))
    with ApiServer(tmp_path, namespaces=("nim",)) as api:
        install(api)
        with Served(api, tmp_path, remote.url, *args) as served:
            deployed(api)
            target = remote.work / "clusters" / "demo" / "nim" / "llama.yaml"
            target.write_text(dump(CACHE, variant(SERVICE, {"spec.replicas": 2})))
            sha = remote.push("two replicas")
            push = json.dumps({"ref": "refs/heads/main", "after": sha}).encode()

            forged = {**_signed(b"not the secret", push)}
            runs, writes = served.runs(), len(api.writes())
            assert served.request("/hooks/git", push, forged)[0] == 401
            assert served.request("/hooks/git", push, {"X-GitHub-Event": "push"})[0] == 401
            time.sleep(2)
            assert served.runs() == runs and len(api.writes()) == writes, "a bad signature starts nothing"
            assert live(api, "Deployment", "nim")[NAME]["spec"]["replicas"] == 1

            other = json.dumps({"ref": "refs/heads/feature"}).encode()
            code, text = served.request("/hooks/git", other, _signed(secret, other))
            assert (code, text) == (200, "ignored: a push to refs/heads/feature, not to main\n")

            code, _ = served.request("/hooks/git", push, _signed(secret, push))
            assert code == 202
            wait_for(lambda: live(api, "Deployment", "nim")[NAME]["spec"]["replicas"] == 2, 30, "the push")
            deployment = live(api, "Deployment", "nim")[NAME]
            assert deployment["metadata"]["annotations"]["nim-reconciler/revision"] == sha
            assert served.stop() == 0, served.output


def test_the_webhook_takes_gitlab_tokens_refuses_huge_bodies_and_names_what_it_ignores(tmp_path: Path) -> None:
    root = clusters(tmp_path / "repo").parent
    (tmp_path / "hook-secret").write_text("gl-token")
    with ApiServer(tmp_path, namespaces=("nim",)) as api:
        install(api)
        with Served(api, tmp_path, str(root), "--webhook-secret-file", str(tmp_path / "hook-secret")) as served:
            push = json.dumps({"ref": "refs/heads/main", "project": {"default_branch": "main"}}).encode()
            gitlab = {"X-Gitlab-Token": "gl-token", "X-Gitlab-Event": "Push Hook"}
            wait_for(lambda: served.request("/readyz") == (200, "ok\n"), 30, "leading, after the first run")
            assert served.request("/hooks/git", push, gitlab)[0] == 202
            assert served.request("/hooks/git", push, {**gitlab, "X-Gitlab-Token": "gl-toke"})[0] == 401
            ping = {**gitlab, "X-Gitlab-Event": "Tag Push Hook"}
            assert served.request("/hooks/git", push, ping) == (200, "ignored: a Tag Push Hook event is not a push\n")
            assert served.request("/hooks/git", b"x" * ((1 << 20) + 1), gitlab)[0] == 413
            assert served.request("/hooks/git", b"not json", gitlab)[0] == 400
            assert served.request("/hooks/git")[0] == 405
            assert served.request("/nothing-here")[0] == 404
            assert served.stop() == 0, served.output
            assert "Traceback" not in served.output


@pytest.mark.long
def test_metrics_parse_and_readyz_turns_unready_when_the_api_server_stops_answering(tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    root = clusters(tmp_path / "repo").parent
    api = ApiServer(tmp_path, namespaces=("nim",)).__enter__()
    try:
        install(api)
        with Served(api, tmp_path, str(root), "--interval", "1h") as served:
            assert served.request("/healthz") == (200, "ok\n")
            wait_for(lambda: served.request("/readyz") == (200, "ok\n"), 30, "leading, after the first run")
            code, text = served.request("/metrics")
            assert code == 200
            families = {f.name: f for f in text_string_to_metric_families(text)}
            samples = {(s.name, s.labels.get("result", "")): s.value for f in families.values() for s in f.samples}
            assert samples[("nim_reconciler_reconcile_total", "success")] >= 1
            assert samples[("nim_reconciler_watches_up", "")] == 1
            assert samples[("nim_reconciler_leader", "")] == 1
            assert ("nim_reconciler_queue_depth", "") in samples
            assert ("nim_reconciler_last_event_age_seconds", "") in samples
            assert families["nim_reconciler_watch_events"].type == "counter"

            api.__exit__(None, None, None)  # the API server stops answering
            wait_for(lambda: served.request("/readyz")[0] == 503, 10, "unready")
            assert "the API server does not answer" in served.request("/readyz")[1]
            assert served.request("/healthz")[0] == 200, "alive all the same: restarting would not help"
            assert served.stop() == 0, served.output
    finally:
        api.__exit__(None, None, None)


def test_two_replicas_one_writes_and_the_other_takes_over_when_it_stops(tmp_path: Path) -> None:
    root = clusters(tmp_path / "repo").parent
    with ApiServer(tmp_path, namespaces=("nim",)) as api:
        install(api)
        with Served(api, tmp_path / "a", str(root), "--interval", "1h") as first:
            wait_for(lambda: "leading:" in first.output, 30, "the first replica leads")
            wait_for(lambda: live(api, "Job", "nim"), 30, "the first run")
            with Served(api, tmp_path / "b", str(root), "--interval", "1h") as second:
                wait_for(lambda: "waiting: the lease is held by" in second.output, 30, "the second stands by")
                standby = (200, "standby: another replica holds the lease\n")
                assert second.runs() == 0 and second.request("/readyz") == standby
                lease = live(api, "Lease", "default")["nim-reconciler-demo"]
                holder = lease["spec"]["holderIdentity"]
                assert holder.endswith(f"-{first.process.pid}")

                assert first.stop() == 0, first.output  # SIGTERM: the Lease is freed, exit 0
                assert "released the lease default/nim-reconciler-demo" in first.output
                # a freed Lease is taken at the next try, long before the 60 s it would take to expire
                wait_for(lambda: "leading:" in second.output, 30, "the second takes over")
                wait_for(lambda: second.runs() >= 1, 10, "the new leader reconciles at once")
                now = live(api, "Lease", "default")["nim-reconciler-demo"]["spec"]["holderIdentity"]
                assert now.endswith(f"-{second.process.pid}")
                assert second.stop() == 0, second.output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ((), "no cluster configured: pass --kubeconfig, set KUBECONFIG, or run in a pod (serve applies"),
        (("--kubeconfig", "{kubeconfig}", "--listen", "nowhere"), "--listen nowhere: expected HOST:PORT or :PORT"),
        (
            ("--kubeconfig", "{kubeconfig}", "--webhook-secret-file", "/nonexistent/secret"),
            "--webhook-secret-file /nonexistent/secret: No such file or directory",
        ),
        (("--kubeconfig", "{kubeconfig}", "--interval", "soon"), "soon"),
    ],
)
def test_bad_serve_flags_are_one_line_and_exit_2(tmp_path: Path, args: tuple[str, ...], says: str) -> None:
    root = clusters(tmp_path / "repo").parent
    with ApiServer(tmp_path, namespaces=("nim",)) as api:
        given = [a.replace("{kubeconfig}", str(api.kubeconfig)) for a in args]
        result = CliRunner().invoke(main, ["serve", "--repo", str(root), "--listen", "127.0.0.1:0", *given])
    assert result.exit_code == 2, result.output
    assert says in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
