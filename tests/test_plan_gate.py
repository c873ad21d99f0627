"""plan/gate.py: what waits for a cache, when a caching Job is not run again, each cache's status (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.objects import DesiredObject
from reconciler.plan.changes import Action, Change, Plan
from reconciler.plan.gate import gate
from reconciler.refs import ObjRef, SourceLocation

HERE = SourceLocation("clusters/demo/m.yaml", 1)
NOW = "2026-12-01T10:00:00Z"
CACHE = ObjRef("NIMCache", "ns", "c")
SERVICE = ObjRef("NIMService", "ns", "s")
JOB = ObjRef("Job", "ns", "c-job-1")
PVC = ObjRef("PersistentVolumeClaim", "ns", "c-pvc")


def _desired() -> list[DesiredObject]:
    cache = {
        "apiVersion": "apps.nvidia.com/v1alpha1",
        "kind": "NIMCache",
        "metadata": {"name": "c", "namespace": "ns"},
        "spec": {"storage": {"pvc": {"create": True}}},
    }
    service = {
        "apiVersion": "apps.nvidia.com/v1alpha1",
        "kind": "NIMService",
        "metadata": {"name": "s", "namespace": "ns"},
        "spec": {"storage": {"nimCache": {"name": "c"}}},
    }

    def child(kind: str, name: str, owner: ObjRef) -> DesiredObject:
        return DesiredObject({"kind": kind, "metadata": {"name": name, "namespace": "ns"}}, owner, HERE)

    return [
        DesiredObject(cache, None, HERE),
        child("PersistentVolumeClaim", "c-pvc", CACHE),
        child("Job", "c-job-1", CACHE),
        DesiredObject(service, None, HERE),
        child("ServiceAccount", "s", SERVICE),
        child("Service", "s", SERVICE),
        child("Deployment", "s", SERVICE),
        child("HorizontalPodAutoscaler", "s", SERVICE),
    ]


def _job(**status: Any) -> dict[str, Any]:
    return {"kind": "Job", "metadata": {"name": "c-job-1", "namespace": "ns"}, "status": status}


def _cache(state: str, job: str = "c-job-1") -> dict[str, Any]:
    return {
        "kind": "NIMCache",
        "metadata": {"name": "c", "namespace": "ns", "generation": 2},
        "status": {"state": state, "job": job},
    }


def _gate(live: dict[ObjRef, dict[str, Any]], retry_failed: bool = False) -> tuple[dict[str, tuple[Action, str]], Plan]:
    desired = _desired()
    plan = Plan([Change(Action.CREATED if d.ref not in live else Action.CONFIGURED, d.ref) for d in desired], True)
    gated = gate(plan, desired, live, {}, NOW, retry_failed=retry_failed)
    return {c.ref.kind: (c.action, c.reason) for c in gated.changes}, gated


def _owned_job(name: str) -> dict[str, Any]:
    owner = [{"kind": "NIMCache", "name": "c", "uid": "u", "controller": True}]
    return {
        "kind": "Job",
        "metadata": {"name": name, "namespace": "ns", "ownerReferences": owner},
        "status": {"active": 1},
    }


def _owned_job(name: str) -> dict[str, Any]:
    owner = [{"kind": "NIMCache", "name": "c", "uid": "u", "controller": True}]
    meta = {"name": name, "namespace": "ns", "ownerReferences": owner}
    return {"kind": "Job", "metadata": meta, "status": {"active": 1}}


COMPLETE = _job(succeeded=1, conditions=[{"type": "Complete", "status": "True"}])
FAILED = _job(failed=3, conditions=[{"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}])
PVC_LIVE = {"kind": "PersistentVolumeClaim", "metadata": {"name": "c-pvc", "namespace": "ns"}}


@pytest.mark.parametrize(
    ("live", "deployment"),
    [
        ({}, (Action.WAITING, "waiting for NIMCache c (NotReady)")),
        ({PVC: PVC_LIVE}, (Action.WAITING, "waiting for NIMCache c (PVC-Created)")),
        ({PVC: PVC_LIVE, JOB: _job(active=1)}, (Action.WAITING, "waiting for NIMCache c (InProgress)")),
        ({PVC: PVC_LIVE, JOB: COMPLETE}, (Action.CREATED, "")),
    ],
)
def test_service_objects_wait_for_a_ready_cache(
    live: dict[ObjRef, dict[str, Any]], deployment: tuple[Action, str]
) -> None:
    actions, _ = _gate(live)
    assert actions["Deployment"] == deployment
    assert actions["HorizontalPodAutoscaler"][0] is deployment[0]
    assert actions["ServiceAccount"] == (Action.CREATED, "") and actions["Service"] == (Action.CREATED, "")


@pytest.mark.parametrize(
    ("live", "retry_failed", "job"),
    [
        (
            {CACHE: _cache("Ready"), PVC: PVC_LIVE},
            False,
            (Action.SKIPPED, f"{CACHE} is Ready; its finished Job was cleaned up"),
        ),
        # a Ready cache whose Job spec changed (resources, scheduling …) but not what it holds: nothing to download
        (
            {CACHE: _cache("Ready", job="c-job-0"), PVC: PVC_LIVE},
            False,
            (Action.SKIPPED, f"{CACHE} is Ready: how it is fetched changed, nothing to download"),
        ),
        # another PVC (storage.pvc.name changed): the new one is empty, so the cache is filled again
        (
            {CACHE: {**_cache("Ready", job="c-job-0"), "spec": {"storage": {"pvc": {"name": "old-pvc"}}}}},
            False,
            (Action.CREATED, ""),
        ),
        # never two Jobs on one PVC: the new one waits until the old one is gone
        (
            {
                CACHE: _cache("InProgress", job="c-job-0"),
                PVC: PVC_LIVE,
                ObjRef("Job", "ns", "c-job-0"): _owned_job("c-job-0"),
            },
            False,
            (Action.WAITING, "waiting for Job/ns/c-job-0 to be deleted first (never two Jobs on one PVC)"),
        ),
        (
            {CACHE: _cache("Failed"), PVC: PVC_LIVE, JOB: FAILED},
            False,
            (Action.SKIPPED, f"{CACHE} failed: change its spec or run with --retry-failed to cache again"),
        ),
        (
            {CACHE: _cache("Failed"), PVC: PVC_LIVE, JOB: FAILED},
            True,
            (Action.REPLACED, "--retry-failed: the failed Job runs again"),
        ),
    ],
)
def test_caching_jobs_are_not_run_again_for_nothing(
    live: dict[ObjRef, dict[str, Any]], retry_failed: bool, job: tuple[Action, str]
) -> None:
    actions, _ = _gate(live, retry_failed)
    assert actions["Job"] == job


def test_each_cache_status_is_computed_once_from_the_live_objects() -> None:
    _, gated = _gate({CACHE: _cache("InProgress"), PVC: PVC_LIVE, JOB: COMPLETE})
    status = gated.cache_status[CACHE]
    assert status["state"] == "Ready" and status["observedGeneration"] == 2  # the live object's generation
    assert {c["type"] for c in status["conditions"]} == {
        "NIM_CACHE_PVC_CREATED",
        "NIM_CACHE_JOB_CREATED",
        "NIM_CACHE_JOB_COMPLETED",
    }
    assert all(c["lastTransitionTime"] == NOW for c in status["conditions"])
