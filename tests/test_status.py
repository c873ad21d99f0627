"""status.py: NIMCache and NIMService states and conditions from their children (pure, table-driven)."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler import status
from reconciler.status import CacheView, ServiceView

CACHE = {"metadata": {"name": "c", "generation": 3}, "spec": {"source": {"ngc": {"model": {"profiles": ["p1"]}}}}}
PVC = {"metadata": {"name": "c-pvc"}}
NOW, EARLIER = "2026-11-22T10:00:00Z", "2026-11-22T09:00:00Z"


def job(**st: Any) -> dict[str, Any]:
    return {"metadata": {"name": "c-job-1"}, "status": st}


def pod(phase: str, unschedulable: bool = False) -> dict[str, Any]:
    conditions = (
        [{"type": "PodScheduled", "status": "False", "message": "0/3 nodes have nvidia.com/gpu"}]
        if unschedulable
        else []
    )
    return {"metadata": {"name": "c-job-1-x"}, "status": {"phase": phase, "conditions": conditions}}


def cache_state(pvc: Any = None, job_: Any = None, pods: tuple[Any, ...] = (), previous: Any = None) -> dict[str, Any]:
    view = CacheView(CACHE, "c-pvc", "c-job-1", pvc, job_, pods)
    return status.nimcache(view, previous or {}, NOW)


@pytest.mark.parametrize(
    ("pvc", "job_", "pods", "state", "condition"),
    [
        (None, None, (), "NotReady", None),
        (PVC, None, (), "PVC-Created", ("NIM_CACHE_PVC_CREATED", "True", "PVCCreated")),
        (PVC, job(), (), "Started", ("NIM_CACHE_JOB_CREATED", "True", "JobCreated")),
        (
            PVC,
            job(active=1),
            (pod("Pending", unschedulable=True),),
            "Pending",
            ("NIM_CACHE_JOB_PENDING", "True", "JobPending"),
        ),
        (PVC, job(active=1), (pod("Running"),), "InProgress", ("NIM_CACHE_JOB_PENDING", "False", "JobRunning")),
        (PVC, job(succeeded=1), (), "Ready", ("NIM_CACHE_JOB_COMPLETED", "True", "CachingCompleted")),
        (
            PVC,
            job(conditions=[{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]),
            (),
            "Failed",
            ("NIM_CACHE_JOB_COMPLETED", "False", "JobFailed"),
        ),
        # a failed pod while the Job still retries is not Failed (departure from the operator)
        (PVC, job(active=1, failed=1), (pod("Running"),), "InProgress", None),
    ],
)
def test_nimcache_states(pvc: Any, job_: Any, pods: tuple[Any, ...], state: str, condition: Any) -> None:
    result = cache_state(pvc, job_, pods)
    assert result["state"] == state
    assert result["observedGeneration"] == 3 and result["pvc"] == "c-pvc" and result["job"] == "c-job-1"
    if condition:
        kind, value, reason = condition
        found = next(c for c in result["conditions"] if c["type"] == kind)
        assert (found["status"], found["reason"]) == (value, reason)


def test_unschedulable_pod_message_is_kept() -> None:
    result = cache_state(PVC, job(active=1), (pod("Pending", unschedulable=True),))
    pending = next(c for c in result["conditions"] if c["type"] == "NIM_CACHE_JOB_PENDING")
    assert "0/3 nodes have nvidia.com/gpu" in pending["message"]


def test_last_transition_time_changes_only_when_a_condition_changes() -> None:
    first = cache_state(PVC, job(active=1), (pod("Running"),))
    aged = {**first, "conditions": [{**c, "lastTransitionTime": EARLIER} for c in first["conditions"]]}
    again = cache_state(PVC, job(active=1), (pod("Running"),), previous=aged)
    assert {c["lastTransitionTime"] for c in again["conditions"]} == {EARLIER}
    done = cache_state(PVC, job(succeeded=1), previous=aged)
    times = {c["type"]: c["lastTransitionTime"] for c in done["conditions"]}
    assert times["NIM_CACHE_JOB_CREATED"] == EARLIER and times["NIM_CACHE_JOB_COMPLETED"] == NOW


def test_ready_cache_stays_ready_after_its_job_is_removed() -> None:
    ready = cache_state(PVC, job(succeeded=1))
    assert cache_state(PVC, None, previous=ready)["state"] == "Ready"
    assert cache_state(PVC, None, previous={**ready, "job": "c-job-0"})["state"] == "PVC-Created"


def test_profiles_are_reported_for_explicit_selections_when_ready() -> None:
    assert cache_state(PVC, job(succeeded=1))["profiles"] == [{"name": "p1"}]
    assert "profiles" not in cache_state(PVC, job(active=1), (pod("Running"),))


def deployment(**st: Any) -> dict[str, Any]:
    return {"metadata": {"name": "s", "generation": 2}, "spec": {"replicas": st.pop("replicas", 1)}, "status": st}


SERVICE = {"spec": {"clusterIP": "10.96.0.7"}}


@pytest.mark.parametrize(
    ("cache", "dep", "state", "ready_reason", "failed_reason"),
    [
        (None, None, "Failed", "Failed", "NIMCacheNotFound"),
        ("Failed", None, "Failed", "Failed", "NIMCacheFailed"),
        ("InProgress", None, "NotReady", "NIMCacheNotReady", "Ready"),
        (
            "Ready",
            deployment(observedGeneration=2, updatedReplicas=1, availableReplicas=0),
            "NotReady",
            "NotReady",
            "Ready",
        ),
        ("Ready", deployment(replicas=0, observedGeneration=2), "NotReady", "NotReady", "Ready"),
        (
            "Ready",
            deployment(
                observedGeneration=2, conditions=[{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}]
            ),
            "Failed",
            "Failed",
            "ProgressDeadlineExceeded",
        ),
        ("Ready", deployment(observedGeneration=2, updatedReplicas=1, availableReplicas=1), "Ready", "Ready", "Ready"),
    ],
)
def test_nimservice_states(cache: Any, dep: Any, state: str, ready_reason: str, failed_reason: str) -> None:
    view = ServiceView({"metadata": {"generation": 4}}, "c", cache, dep, SERVICE, 8000)
    result = status.nimservice(view, {}, NOW)
    conditions = {c["type"]: c for c in result["conditions"]}
    assert result["state"] == state
    assert conditions["Ready"]["reason"] == ready_reason and conditions["Failed"]["reason"] == failed_reason
    assert conditions["Ready"]["status"] == ("True" if state == "Ready" else "False")
    assert conditions["Failed"]["status"] == ("True" if state == "Failed" else "False")
    assert ("model" in result) == (state == "Ready")


def test_ready_service_reports_its_cluster_endpoint() -> None:
    ready = deployment(observedGeneration=2, updatedReplicas=1, availableReplicas=1)
    result = status.nimservice(ServiceView({"metadata": {}}, None, None, ready, SERVICE, 9000), {}, NOW)
    assert result["model"] == {"clusterEndpoint": "10.96.0.7:9000"}
    assert result["conditions"][0]["message"] == 'deployment "s" successfully rolled out'


def test_a_reconcile_error_makes_a_cache_not_ready_until_the_next_good_run() -> None:
    failed = status.nimcache(CacheView(CACHE, "c-pvc", "c-job-1", PVC, job(succeeded=1)), {}, NOW, error="boom")
    assert failed["state"] == "NotReady"
    condition = next(c for c in failed["conditions"] if c["type"] == "NIM_CACHE_RECONCILE_FAILED")
    assert (condition["status"], condition["reason"], condition["message"]) == ("True", "ReconcileFailed", "boom")
    healed = status.nimcache(CacheView(CACHE, "c-pvc", "c-job-1", PVC, job(succeeded=1)), failed, NOW)
    assert healed["state"] == "Ready"
    condition = next(c for c in healed["conditions"] if c["type"] == "NIM_CACHE_RECONCILE_FAILED")
    assert (condition["status"], condition["reason"]) == ("False", "Reconciled")


def test_a_sync_error_fails_the_service_with_the_kind_in_the_reason() -> None:
    ready = deployment(observedGeneration=2, updatedReplicas=1, availableReplicas=1)
    view = ServiceView({"metadata": {}}, None, None, ready, SERVICE, 8000)
    result = status.nimservice(view, {}, NOW, error=("Deployment", "denied by admission"))
    failed = next(c for c in result["conditions"] if c["type"] == "Failed")
    assert result["state"] == "Failed" and failed["reason"] == "DeploymentFailed"


def test_the_wait_table_lists_what_is_not_ready_first(capsys: Any) -> None:
    from reconciler.cli.flags import LiveTable
    from reconciler.report.output import wait_table

    text = wait_table({"NIMCache/a/x": "Ready", "NIMService/a/y": "NotReady"})
    assert text.splitlines()[1].startswith("NIMService/a/y") and text.splitlines()[-1] == "1/2 ready"
    table = LiveTable()
    table({"NIMCache/a/x": "InProgress"})
    table({"NIMCache/a/x": "Ready"})
    out = capsys.readouterr().out
    assert "\x1b[3A\x1b[J" in out and out.rstrip().endswith("1/1 ready")
