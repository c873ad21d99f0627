"""Make before break: a model cache is never deleted while something mounts it, a moved service keeps serving
until its successor does, a removed cache stops its download first, and a parent outlives its children."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.plan.changes import Action, Change, Plan
from reconciler.plan.prune import PRUNE, keep_in_use
from reconciler.refs import ObjRef

from .apiserver import ApiServer, Fault
from .helpers import DEMO_NAMESPACES, complete_jobs, converge, install, kubelet, run

PVC = "PersistentVolumeClaim/nemoguard/content-safety-cache-pvc"
CACHE = "NIMCache/nemoguard/content-safety-cache"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiServer]:
    with ApiServer(tmp_path, namespaces=(*DEMO_NAMESPACES, "team-x")) as server:
        yield server


def _pod(api: ApiServer, name: str, claim: str, owner: dict[str, Any] | None = None, phase: str = "Running") -> None:
    res = api.store.resource("", "v1", "pods")
    assert res is not None
    meta: dict[str, Any] = {"name": name}
    if owner is not None:
        meta["ownerReferences"] = [
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "name": owner["metadata"]["name"],
                "uid": owner["metadata"]["uid"],
            }
        ]
    spec = {
        "containers": [{"name": "c", "image": "busybox"}],
        "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": claim}}],
    }
    api.store.create(
        res, "nemoguard", {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}, "kubelet", False
    )
    api.set_status("v1", "pods", "nemoguard", name, {"phase": phase}, "kubelet")


def _roll_out(api: ApiServer, namespace: str, name: str) -> None:
    generation = api.store.objects[("deployments", namespace, name)]["metadata"]["generation"]
    status = {"observedGeneration": generation, "updatedReplicas": 1, "availableReplicas": 1}
    api.set_status("apps/v1", "deployments", namespace, name, status, "deployment-controller")


def test_a_pvc_is_never_deleted_while_a_pod_mounts_it(api: ApiServer, repo: Path) -> None:
    converge(api, repo)
    _pod(api, "debug", "content-safety-cache-pvc")  # someone's pod, not ours, reading the cache
    next(repo.rglob("content-safety.yaml")).unlink()
    assert run(api, repo)[0] == 0
    code, out = run(api, repo)  # the Deployment is gone now; the pod still mounts the cache
    assert code == 0, out
    assert f"► {PVC} skipped (kept while Pod/nemoguard/debug mounts it)" in out
    assert ("persistentvolumeclaims", "nemoguard", "content-safety-cache-pvc") in api.store.objects
    res = api.store.resource("", "v1", "pods")
    assert res is not None
    api.store.delete(res, "nemoguard", "debug", "Background", False)
    code, out = run(api, repo)
    assert code == 0 and f"► {PVC} pruned" in out and f"► {CACHE} pruned" in out, out


def test_a_removed_nimcache_stops_its_running_job_first(api: ApiServer, repo: Path) -> None:
    # Regression: the PVC and the NIMCache went, and the orphaned Job kept downloading.
    install(api)
    assert run(api, repo)[0] == 0
    kubelet(api)  # the manifest probes run: the next run makes the caching Jobs
    assert run(api, repo)[0] == 0
    job = next(v for k, v in api.store.objects.items() if k[0] == "jobs" and k[1] == "nemoguard")
    api.set_status("batch/v1", "jobs", "nemoguard", job["metadata"]["name"], {"active": 1}, "job-controller")
    _pod(api, "download", "content-safety-cache-pvc", owner=job)
    next(repo.rglob("content-safety.yaml")).unlink()
    code, out = run(api, repo)
    assert code == 0, out
    assert f"► Job/nemoguard/{job['metadata']['name']} pruned" in out
    deleted = [r for r in api.requests if r.method == "DELETE" and "/jobs/" in r.path]
    assert [r.query["propagationPolicy"] for r in deleted] == ["Foreground"]  # its pods go with it
    assert (
        f"► {PVC} skipped (kept while Job/nemoguard/{job['metadata']['name']}, Pod/nemoguard/download mounts it)" in out
    )
    assert f"► {CACHE} skipped (kept until its children are gone ({PVC})" in out
    code, out = run(api, repo)
    assert code == 0 and f"► {PVC} pruned" in out and f"► {CACHE} pruned" in out, out


def test_a_parent_outlives_a_child_that_could_not_be_deleted(api: ApiServer, repo: Path) -> None:
    converge(api, repo)
    next(repo.rglob("content-safety.yaml")).unlink()
    assert run(api, repo)[0] == 0  # the Deployment goes first
    api.faults.add(Fault(method="DELETE", path="persistentvolumeclaims/content-safety-cache-pvc", status=500, times=20))
    code, out = run(api, repo, "--retries", "0")
    assert code == 2
    assert f"► {CACHE} skipped (kept: {PVC} could not be deleted)" in out
    assert ("nimcaches", "nemoguard", "content-safety-cache") in api.store.objects
    api.faults.pending.clear()
    code, out = run(api, repo)  # the next run retries both, child first
    assert code == 0 and f"► {PVC} pruned" in out and f"► {CACHE} pruned" in out, out


def test_make_before_break_a_moved_service_serves_until_its_successor_does(api: ApiServer, repo: Path) -> None:
    converge(api, repo)
    _roll_out(api, "nemoguard", "content-safety")
    path = next(repo.rglob("content-safety.yaml"))
    docs = list(yaml.safe_load_all(path.read_text()))
    for doc in docs:
        doc["metadata"]["namespace"] = "team-x"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    kept = "skipped (kept until NIMService/team-x/content-safety is ready (make before break))"
    code, out = run(api, repo)
    assert code == 0, out
    assert (
        f"► Deployment/nemoguard/content-safety {kept}" in out and f"► Service/nemoguard/content-safety {kept}" in out
    )
    assert "► Deployment/team-x/content-safety waiting" in out
    kubelet(api)  # the new cache's manifest probe runs: the next run makes its caching Job
    assert run(api, repo)[0] == 0
    complete_jobs(api)  # the new cache is Ready: the new Deployment is created, and has not rolled out yet
    code, out = run(api, repo)
    assert (
        code == 0
        and "► Deployment/team-x/content-safety created" in out
        and f"Deployment/nemoguard/content-safety {kept}" in out
    )
    _roll_out(api, "team-x", "content-safety")
    code, out = run(api, repo)
    assert code == 0 and "► Deployment/nemoguard/content-safety pruned" in out, out
    assert ("deployments", "team-x", "content-safety") in api.store.objects


def _keep(
    live: dict[ObjRef, dict[str, Any]], pods: list[dict[str, Any]], pruned: list[ObjRef]
) -> dict[ObjRef, tuple[Action, str]]:
    plan = Plan([Change(Action.PRUNED, r) for r in pruned], True)
    return {c.ref: (c.action, c.reason) for c in keep_in_use(plan, live, pods).changes}


P = ObjRef("PersistentVolumeClaim", "ns", "c-pvc")
C = ObjRef("NIMCache", "ns", "c")


def _template(claim: str) -> dict[str, Any]:
    return {"spec": {"volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": claim}}]}}


@pytest.mark.parametrize(
    ("holder", "kept"),
    [
        ({"kind": "Deployment", "spec": {"template": _template("c-pvc")}}, "kept while Deployment/ns/d mounts it"),
        (
            {"kind": "Job", "spec": {"template": _template("c-pvc")}, "status": {"active": 1}},
            "kept while Job/ns/d mounts it",
        ),
        ({"kind": "Job", "spec": {"template": _template("c-pvc")}, "status": {"succeeded": 1}}, ""),  # finished
        ({"kind": "Deployment", "spec": {"template": _template("other")}}, ""),
    ],
)
def test_keep_in_use(holder: dict[str, Any], kept: str) -> None:
    ref = ObjRef(holder["kind"], "ns", "d")
    decided = _keep({ref: {**holder, "metadata": {"name": "d"}}, P: {"metadata": {}}}, [], [P])
    assert decided[P] == ((Action.SKIPPED, kept) if kept else (Action.PRUNED, ""))


@pytest.mark.parametrize(
    ("phase", "kept"), [("Running", True), ("Pending", True), ("Succeeded", False), ("Failed", False)]
)
def test_a_pod_mounts_until_it_has_terminated(phase: str, kept: bool) -> None:
    pod = {"metadata": {"name": "p", "namespace": "ns"}, "spec": _template("c-pvc")["spec"], "status": {"phase": phase}}
    assert (_keep({P: {"metadata": {}}}, [pod], [P])[P][0] is Action.SKIPPED) is kept


def test_a_custom_resource_waits_for_its_children_but_not_for_those_kept_for_good() -> None:
    child = {"metadata": {"ownerReferences": [{"kind": "NIMCache", "name": "c", "uid": "u"}]}}
    job = ObjRef("Job", "ns", "j")
    assert _keep({C: {"metadata": {}}, job: child}, [], [C])[C][0] is Action.SKIPPED
    assert _keep({C: {"metadata": {}}, job: child}, [], [C, job])[C][0] is Action.PRUNED
    protected = {"metadata": {**child["metadata"], "annotations": {PRUNE: "disabled"}}}
    assert _keep({C: {"metadata": {}}, job: protected}, [], [C])[C][0] is Action.PRUNED


def test_make_before_break_a_renamed_cache_keeps_its_pvc_while_the_service_still_mounts_it(
    api: ApiServer, repo: Path
) -> None:
    # Regression: renaming a NIMCache (its PVC name derives from it) pruned the old PVC under the live Deployment.
    converge(api, repo)
    path = next(repo.rglob("content-safety.yaml"))
    docs = list(yaml.safe_load_all(path.read_text()))
    docs[0]["metadata"]["name"] = "content-safety-cache-v2"
    docs[1]["spec"]["storage"]["nimCache"]["name"] = "content-safety-cache-v2"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    code, out = run(api, repo)
    assert code == 0, out
    assert f"► {PVC} skipped (kept while Deployment/nemoguard/content-safety mounts it)" in out
    assert "► Deployment/nemoguard/content-safety waiting (waiting for NIMCache content-safety-cache-v2" in out
    assert ("persistentvolumeclaims", "nemoguard", "content-safety-cache-pvc") in api.store.objects
    kubelet(api)  # the new cache's manifest probe runs: the next run makes its caching Job
    assert run(api, repo)[0] == 0
    complete_jobs(api)  # the new cache is Ready: the Deployment moves to it, and the old cache is free
    assert run(api, repo)[0] == 0
    code, out = run(api, repo)
    assert code == 0 and f"► {PVC} pruned" in out and f"► {CACHE} pruned" in out, out
