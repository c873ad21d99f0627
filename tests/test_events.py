"""cluster/events.py: Events on our custom resources for state changes and failures, deduplicated like Kubernetes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from reconciler.cli.main import main
from reconciler.cluster import events
from reconciler.cluster.kube import Cluster
from reconciler.options import ClusterConfig

from .apiserver import ApiServer, Fault
from .helpers import kubelet


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiServer]:
    with ApiServer(tmp_path, namespaces=("nemoguard",)) as server:
        assert CliRunner().invoke(main, ["install-crds", "--kubeconfig", str(server.kubeconfig)]).exit_code == 0
        yield server


def reconcile(api: ApiServer, nemoguard_repo: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--repo", str(nemoguard_repo), "--kubeconfig", str(api.kubeconfig)])
    return result.exit_code, result.output


def probed(api: ApiServer, nemoguard_repo: Path) -> None:
    """A first run and its manifest probe run by the kubelet: the next run makes the caching Job."""
    reconcile(api, nemoguard_repo)
    kubelet(api)


def recorded(api: ApiServer) -> list[dict[str, Any]]:
    return [v for k, v in sorted(api.store.objects.items()) if k[0] == "events"]


def test_state_changes_are_events_and_a_no_op_run_emits_none(api: ApiServer, nemoguard_repo: Path) -> None:
    probed(api, nemoguard_repo)
    reconcile(api, nemoguard_repo)
    found = {(e["involvedObject"]["kind"], e["reason"], e["type"]) for e in recorded(api)}
    assert ("NIMCache", "Started", "Normal") in found and ("NIMService", "NotReady", "Normal") in found
    event = next(e for e in recorded(api) if e["involvedObject"]["kind"] == "NIMCache")
    assert event["source"]["component"] == "nim-reconciler" and event["count"] == 1
    before = len(api.writes())
    reconcile(api, nemoguard_repo)
    assert [r for r in api.writes()[before:] if "/events" in r.path] == []


def test_a_failed_cache_is_a_warning(api: ApiServer, nemoguard_repo: Path) -> None:
    probed(api, nemoguard_repo)
    reconcile(api, nemoguard_repo)
    jobs = api.store.resource("batch", "v1", "jobs")
    assert jobs is not None
    name = next(k[2] for k in api.store.objects if k[0] == "jobs")
    api.store.apply(
        jobs,
        "nemoguard",
        name,
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": name, "namespace": "nemoguard"},
            "status": {"conditions": [{"type": "Failed", "status": "True", "message": "backoff limit"}]},
        },
        "job-controller",
        True,
        False,
        "status",
    )
    reconcile(api, nemoguard_repo)
    warnings = {(e["involvedObject"]["kind"], e["reason"]) for e in recorded(api) if e["type"] == "Warning"}
    assert ("NIMCache", "JobFailed") in warnings and ("NIMService", "Failed") in warnings


def test_the_same_event_again_raises_its_count(api: ApiServer) -> None:
    cluster = Cluster(ClusterConfig(kubeconfig=(str(api.kubeconfig),)))
    involved = {
        "apiVersion": "apps.nvidia.com/v1alpha1",
        "kind": "NIMCache",
        "metadata": {"name": "c", "namespace": "nemoguard", "uid": "u"},
    }
    for _ in range(3):
        events.emit(cluster, involved, "Warning", "ReconcileFailed", "boom", "2026-11-22T10:00:00Z")
    events.emit(cluster, involved, "Warning", "ReconcileFailed", "other", "2026-11-22T10:00:01Z")
    counts = sorted(e["count"] for e in recorded(api))
    assert counts == [1, 3]


def test_a_failed_apply_is_a_reconcile_failed_event_on_its_custom_resource(
    api: ApiServer, nemoguard_repo: Path
) -> None:
    probed(api, nemoguard_repo)
    api.faults.add(Fault(method="PATCH", path="/jobs/", status=422, times=1))
    code, _ = reconcile(api, nemoguard_repo)
    assert code == 2
    failed = [e for e in recorded(api) if e["reason"] == "ReconcileFailed"]
    assert failed and failed[0]["involvedObject"]["name"] == "content-safety-cache"


def test_a_server_message_echoing_the_token_reaches_no_output_event_or_status(
    api: ApiServer, nemoguard_repo: Path
) -> None:
    token = "planted-bearer-9c3e7a"
    api.kubeconfig.write_text(api.kubeconfig.read_text().replace("test-token", token))
    echo = "denied for {authorization}: see https://admin:hunter2x@proxy.example/x?sig=abc123"
    probed(api, nemoguard_repo)
    api.faults.add(Fault(method="PATCH", path="/jobs/", status=422, message=echo, times=1))
    code, out = reconcile(api, nemoguard_repo)
    assert code == 2 and "denied for Bearer ***" in out, out
    cache = api.store.objects[("nimcaches", "nemoguard", "content-safety-cache")]
    written = [out, yaml.safe_dump(recorded(api)), yaml.safe_dump(cache.get("status"))]
    assert "ReconcileFailed" in written[1] and "denied for" in written[1] + written[2]
    for text in written:
        assert token not in text and "hunter2x" not in text and "abc123" not in text, text


def test_a_prune_guard_is_a_prune_blocked_event(api: ApiServer, nemoguard_repo: Path) -> None:
    probed(api, nemoguard_repo)
    reconcile(api, nemoguard_repo)
    path = next(nemoguard_repo.rglob("content-safety.yaml"))
    docs = list(yaml.safe_load_all(path.read_text()))
    docs[0]["spec"]["storage"]["pvc"]["name"] = "renamed"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    # the old caching Job is left over: one object to prune, above --max-prune 0
    args = ["--repo", str(nemoguard_repo), "--kubeconfig", str(api.kubeconfig), "--max-prune", "0"]
    code = CliRunner().invoke(main, args).exit_code
    assert code == 3
    blocked = [e for e in recorded(api) if e["reason"] == "PruneBlocked"]
    assert blocked and "more than --max-prune 0" in blocked[0]["message"]


def test_an_event_that_cannot_be_recorded_does_not_fail_the_status_it_is_about(
    api: ApiServer, nemoguard_repo: Path
) -> None:
    # Regression: the status write and its Event shared one error path, so a refused Event showed as
    # "status failed" although the status had been written.
    probed(api, nemoguard_repo)
    api.faults.add(Fault(method="POST", path="/events", status=422, times=10))
    code, out = reconcile(api, nemoguard_repo)
    assert code == 2  # a run that could not record what happened is not a clean run
    cache = next(v for k, v in api.store.objects.items() if k[0] == "nimcaches")
    assert cache["status"]["state"] == "Started"  # written, whatever became of the Event
    assert "► NIMCache/nemoguard/content-safety-cache status Started\n" in out
    assert "status Started (failed" not in out
    assert "error: cannot record an event: Event/nemoguard/content-safety-cache." in out


def test_a_new_event_costs_one_request(api: ApiServer, nemoguard_repo: Path) -> None:
    reconcile(api, nemoguard_repo)
    to_events = [r for r in api.requests if "/events" in r.path]
    assert to_events and all(r.method == "POST" and r.status == 201 for r in to_events)
    assert len(to_events) == len(recorded(api))  # no read before a write
