"""cluster/writeback.py end to end: statuses follow the children as the job controller and kubelet move them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconciler.cli.main import main

from .apiserver import ApiServer
from .helpers import kubelet
from .serving import wait_for


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiServer]:
    with ApiServer(tmp_path, namespaces=("nim-service", "nemoguard", "nim-init-demo")) as server:
        result = CliRunner().invoke(main, ["install-crds", "--kubeconfig", str(server.kubeconfig)])
        assert result.exit_code == 0
        yield server


def reconcile(api: ApiServer, nemoguard_repo: Path) -> str:
    result = CliRunner().invoke(main, ["--repo", str(nemoguard_repo), "--kubeconfig", str(api.kubeconfig)])
    assert result.exit_code == 0, result.output
    return result.output


def probed(api: ApiServer, nemoguard_repo: Path) -> str:
    """A first run (the manifest probe Pod made), the probe run by the kubelet, a second run (the caching Job
    made): where a first run used to leave things before profiles were selected in the cluster."""
    reconcile(api, nemoguard_repo)
    kubelet(api)
    return reconcile(api, nemoguard_repo)


def obj(api: ApiServer, plural: str, name: str) -> dict[str, Any]:
    return next(v for k, v in api.store.objects.items() if k[0] == plural and k[2].startswith(name))


def set_status(
    api: ApiServer, plural: str, name: str, status: dict[str, Any], group: str = "", version: str = "v1"
) -> None:
    """What a controller (job controller, deployment controller, kubelet) would write."""
    res = api.store.resource(group, version, plural)
    assert res is not None
    current = obj(api, plural, name)
    body = {
        "apiVersion": current["apiVersion"],
        "kind": current["kind"],
        "metadata": {"name": current["metadata"]["name"], "namespace": "nemoguard"},
        "status": status,
    }
    api.store.apply(res, "nemoguard", current["metadata"]["name"], body, "controller", True, False, "status")


def roll_out(api: ApiServer) -> None:
    """What the deployment controller reports once the content-safety Deployment has rolled out."""
    generation = obj(api, "deployments", "content-safety")["metadata"]["generation"]
    status = {"observedGeneration": generation, "updatedReplicas": 1, "availableReplicas": 1}
    set_status(api, "deployments", "content-safety", status, "apps")


def add_pod(api: ApiServer, phase: str, unschedulable: bool = False) -> None:
    pods = api.store.resource("", "v1", "pods")
    assert pods is not None
    conditions = (
        [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/2 nodes are available: 2 Insufficient nvidia.com/gpu",
            }
        ]
        if unschedulable
        else []
    )
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "cache-pod",
            "namespace": "nemoguard",
            "labels": {"app.kubernetes.io/managed-by": "nim-reconciler", "nimcache": "content-safety-cache"},
        },
        "spec": {"containers": [{"name": "c", "image": "x:1"}]},
    }
    if ("pods", "nemoguard", "cache-pod") not in api.store.objects:
        api.store.create(pods, "nemoguard", body, "kubelet", False)
    set_status(api, "pods", "cache-pod", {"phase": phase, "conditions": conditions})


def state(api: ApiServer, plural: str, name: str) -> str:
    return str(obj(api, plural, name).get("status", {}).get("state"))


def test_a_cache_goes_from_started_to_ready_and_its_service_follows(api: ApiServer, nemoguard_repo: Path) -> None:
    out = probed(api, nemoguard_repo)
    assert "► NIMCache/nemoguard/content-safety-cache status Started" in out
    assert state(api, "nimcaches", "content-safety-cache") == "Started"
    service = obj(api, "nimservices", "content-safety")["status"]
    assert service["state"] == "NotReady"
    assert service["conditions"][0]["reason"] == "NIMCacheNotReady"

    set_status(api, "jobs", "content-safety-cache-job", {"active": 1}, "batch")
    add_pod(api, "Pending", unschedulable=True)
    reconcile(api, nemoguard_repo)
    cache = obj(api, "nimcaches", "content-safety-cache")["status"]
    assert cache["state"] == "Pending"
    assert "Insufficient nvidia.com/gpu" in next(
        c["message"] for c in cache["conditions"] if c["type"] == "NIM_CACHE_JOB_PENDING"
    )

    add_pod(api, "Running")
    reconcile(api, nemoguard_repo)
    assert state(api, "nimcaches", "content-safety-cache") == "InProgress"

    set_status(
        api,
        "jobs",
        "content-safety-cache-job",
        {"active": 0, "succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]},
        "batch",
    )
    reconcile(api, nemoguard_repo)
    cache = obj(api, "nimcaches", "content-safety-cache")["status"]
    assert cache["state"] == "Ready" and cache["pvc"] == "content-safety-cache-pvc"
    assert state(api, "nimservices", "content-safety") == "NotReady"  # the Deployment has not rolled out

    roll_out(api)
    reconcile(api, nemoguard_repo)
    service = obj(api, "nimservices", "content-safety")["status"]
    assert service["state"] == "Ready"
    ip = obj(api, "services", "content-safety")["spec"]["clusterIP"]
    assert service["model"] == {"clusterEndpoint": f"{ip}:8000"}


def test_a_failed_job_fails_the_cache_and_its_service(api: ApiServer, nemoguard_repo: Path) -> None:
    probed(api, nemoguard_repo)
    set_status(
        api,
        "jobs",
        "content-safety-cache-job",
        {
            "failed": 6,
            "conditions": [
                {
                    "type": "Failed",
                    "status": "True",
                    "reason": "BackoffLimitExceeded",
                    "message": "Job has reached the specified backoff limit",
                }
            ],
        },
        "batch",
    )
    reconcile(api, nemoguard_repo)
    assert state(api, "nimcaches", "content-safety-cache") == "Failed"
    service = obj(api, "nimservices", "content-safety")["status"]
    assert service["state"] == "Failed"
    failed = next(c for c in service["conditions"] if c["type"] == "Failed")
    assert (failed["status"], failed["reason"]) == ("True", "NIMCacheFailed")


def test_status_is_written_only_when_it_changes(api: ApiServer, nemoguard_repo: Path) -> None:
    probed(api, nemoguard_repo)
    before = len(api.writes())
    out = reconcile(api, nemoguard_repo)
    assert api.writes()[before:] == [] and " status " not in out
    cache = obj(api, "nimcaches", "content-safety-cache")
    assert cache["metadata"]["generation"] == cache["status"]["observedGeneration"]


def status_command(api: ApiServer, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["status", "--kubeconfig", str(api.kubeconfig), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout


def test_reconcile_status_shows_every_resource_and_exits_by_state(api: ApiServer, nemoguard_repo: Path) -> None:
    probed(api, nemoguard_repo)
    before = len(api.requests)
    code, out = status_command(api, "--cluster", "demo")
    assert code == 1
    assert "NIMCaches:" in out and "NIMServices:" in out
    cache_line = next(line for line in out.splitlines() if "content-safety-cache" in line)
    assert "Started" in cache_line and "content-safety-cache-pvc" in cache_line
    assert "The Job to cache NIM has been created" in cache_line
    # one LIST per kind: NIMCache, NIMService, Deployment; and one of the records (is the cluster suspended?)
    assert len(api.requests) - before == 4

    set_status(api, "jobs", "content-safety-cache-job", {"succeeded": 1}, "batch")
    reconcile(api, nemoguard_repo)  # the cache is Ready: its NIMService's Deployment is created now
    roll_out(api)
    reconcile(api, nemoguard_repo)
    code, out = status_command(api, "-o", "json")
    items = {i["name"]: i for i in json.loads(out)["items"]}
    assert code == 0
    assert items["content-safety"]["state"] == "Ready" and items["content-safety"]["ready"] == "1/1"
    assert items["content-safety"]["endpoint"].endswith(":8000")

    set_status(api, "jobs", "content-safety-cache-job", {"conditions": [{"type": "Failed", "status": "True"}]}, "batch")
    reconcile(api, nemoguard_repo)
    assert status_command(api)[0] == 2


def delete_job(api: ApiServer) -> str:
    """What ttlSecondsAfterFinished does to a finished Job."""
    job = obj(api, "jobs", "content-safety-cache-job")
    jobs = api.store.resource("batch", "v1", "jobs")
    assert jobs is not None
    api.store.delete(jobs, "nemoguard", job["metadata"]["name"], "Background", False)
    return str(job["metadata"]["name"])


def test_a_ready_cache_gets_no_new_job_after_its_job_is_cleaned_up(api: ApiServer, nemoguard_repo: Path) -> None:
    probed(api, nemoguard_repo)
    set_status(api, "jobs", "content-safety-cache-job", {"succeeded": 1}, "batch")
    reconcile(api, nemoguard_repo)
    name = delete_job(api)
    out = reconcile(api, nemoguard_repo)
    assert f"► Job/nemoguard/{name} skipped (NIMCache/nemoguard/content-safety-cache is Ready" in out
    assert ("jobs", "nemoguard", name) not in api.store.objects
    assert state(api, "nimcaches", "content-safety-cache") == "Ready"
    assert ("deployments", "nemoguard", "content-safety") in api.store.objects


def test_a_failed_cache_is_retried_only_on_request(api: ApiServer, nemoguard_repo: Path) -> None:
    probed(api, nemoguard_repo)
    failed = {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}
    set_status(api, "jobs", "content-safety-cache-job", failed, "batch")
    reconcile(api, nemoguard_repo)
    name = delete_job(api)
    out = reconcile(api, nemoguard_repo)
    assert "change its spec or run with --retry-failed" in out and ("jobs", "nemoguard", name) not in api.store.objects
    result = CliRunner().invoke(
        main, ["--repo", str(nemoguard_repo), "--kubeconfig", str(api.kubeconfig), "--retry-failed"]
    )
    assert result.exit_code == 0 and f"► Job/nemoguard/{name} created" in result.output
    set_status(api, "jobs", "content-safety-cache-job", failed, "batch")
    reconcile(api, nemoguard_repo)
    before = len(api.requests)
    result = CliRunner().invoke(
        main, ["--repo", str(nemoguard_repo), "--kubeconfig", str(api.kubeconfig), "--retry-failed"]
    )
    assert result.exit_code == 0 and f"► Job/nemoguard/{name} replaced" in result.output
    assert [r.method for r in api.requests[before:] if r.path.endswith(name)] == ["DELETE", "PATCH"]
    assert not obj(api, "jobs", "content-safety-cache-job").get("status")


def test_a_service_waits_for_its_cache_and_that_is_not_an_error(api: ApiServer, nemoguard_repo: Path) -> None:
    out = reconcile(api, nemoguard_repo)
    for kind in ("Deployment",):
        assert f"► {kind}/nemoguard/content-safety waiting (waiting for NIMCache content-safety-cache" in out
    assert ("deployments", "nemoguard", "content-safety") not in api.store.objects
    assert ("services", "nemoguard", "content-safety") in api.store.objects


def run_in_background(api: ApiServer, nemoguard_repo: Path, *args: str) -> tuple[Any, dict[str, Any]]:
    import threading

    outcome: dict[str, Any] = {}

    def target() -> None:
        result = CliRunner().invoke(main, ["--repo", str(nemoguard_repo), "--kubeconfig", str(api.kubeconfig), *args])
        outcome["code"], outcome["output"] = result.exit_code, result.output

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


def test_wait_stays_until_everything_is_ready(api: ApiServer, nemoguard_repo: Path) -> None:
    thread, outcome = run_in_background(api, nemoguard_repo, "--wait", "--timeout", "20s", "--poll-interval", "0.1s")
    wait_for(lambda: any(k[0] == "pods" for k in api.store.objects))
    kubelet(api)  # the manifest probe runs: the next poll makes the caching Job
    wait_for(lambda: any(k[0] == "jobs" for k in api.store.objects))
    set_status(api, "jobs", "content-safety-cache-job", {"succeeded": 1}, "batch")
    wait_for(lambda: ("deployments", "nemoguard", "content-safety") in api.store.objects)
    roll_out(api)
    thread.join(30)
    assert outcome["code"] == 0, outcome["output"]
    assert "NIMCache/nemoguard/content-safety-cache: Ready" in outcome["output"]
    assert "NIMService/nemoguard/content-safety: Ready" in outcome["output"]
    lease = next(v for k, v in api.store.objects.items() if k[0] == "leases")
    assert "holderIdentity" not in lease["spec"]


def test_wait_fails_fast_on_a_failed_cache(api: ApiServer, nemoguard_repo: Path) -> None:
    thread, outcome = run_in_background(api, nemoguard_repo, "--wait", "--timeout", "20s", "--poll-interval", "0.1s")
    wait_for(lambda: any(k[0] == "pods" for k in api.store.objects))
    kubelet(api)  # the manifest probe runs: the next poll makes the caching Job
    wait_for(lambda: any(k[0] == "jobs" for k in api.store.objects))
    set_status(api, "jobs", "content-safety-cache-job", {"conditions": [{"type": "Failed", "status": "True"}]}, "batch")
    thread.join(30)
    assert outcome["code"] == 2 and "NIMCache/nemoguard/content-safety-cache is Failed" in outcome["output"]


def test_wait_times_out(api: ApiServer, nemoguard_repo: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "--repo",
            str(nemoguard_repo),
            "--kubeconfig",
            str(api.kubeconfig),
            "--wait",
            "--timeout",
            "0.5s",
            "--poll-interval",
            "0.1s",
        ],
    )
    assert result.exit_code == 2 and "timed out after 0.5s waiting for" in result.output


def test_a_failed_apply_fails_the_service_status(api: ApiServer, nemoguard_repo: Path) -> None:
    from .apiserver import Fault

    probed(api, nemoguard_repo)
    set_status(api, "jobs", "content-safety-cache-job", {"succeeded": 1}, "batch")
    api.faults.add(Fault(method="PATCH", path="/deployments/content-safety", status=422, times=1))
    result = CliRunner().invoke(main, ["--repo", str(nemoguard_repo), "--kubeconfig", str(api.kubeconfig)])
    assert result.exit_code == 2
    service = obj(api, "nimservices", "content-safety")["status"]
    failed = next(c for c in service["conditions"] if c["type"] == "Failed")
    assert service["state"] == "Failed" and failed["reason"] == "DeploymentFailed"
    reconcile(api, nemoguard_repo)  # the next good run heals it
    assert state(api, "nimservices", "content-safety") == "NotReady"
