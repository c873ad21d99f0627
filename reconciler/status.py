"""NIMCache and NIMService status from their live children (pure).

The states and condition types are the operator's (reference §3 and §6), with two departures:
- Failed means the caching Job's ``Failed`` condition (its backoffLimit is spent), not its first failed pod, so
  the state does not flip between Failed and InProgress while the Job retries;
- a Ready (or Failed) cache keeps its state after ``ttlSecondsAfterFinished`` removed its Job, as long as the
  Job it recorded (``status.job``) is still the one its spec renders.

Contract: ``nimcache(...)`` and ``nimservice(...)`` return a complete ``status`` mapping. A condition keeps its
``lastTransitionTime`` unless its status changes, so the same inputs give the same status (and no write).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.objects import NATIVE, native, pvc_name
from reconciler.redaction import redact
from reconciler.refs import ObjRef
from reconciler.selection import MODEL_FREE, Selection, Stage

NOT_READY, PVC_CREATED, STARTED, PENDING, IN_PROGRESS, READY, FAILED = (
    "NotReady",
    "PVC-Created",
    "Started",
    "Pending",
    "InProgress",
    "Ready",
    "Failed",
)
PVC_COND, JOB_CREATED, JOB_PENDING, JOB_COMPLETED = (
    "NIM_CACHE_PVC_CREATED",
    "NIM_CACHE_JOB_CREATED",
    "NIM_CACHE_JOB_PENDING",
    "NIM_CACHE_JOB_COMPLETED",
)
# ours (the operator keeps selection in an annotation and its logs): where the model manifest probe stands
SELECTION_COND = "NIM_CACHE_PROFILES_SELECTED"
_SELECTION_REASONS = {
    Stage.PROBING: "ProbingModelManifest",
    Stage.SELECTED: "ProfilesSelected",
    Stage.MODEL_FREE: "ModelFree",
    Stage.NO_MATCH: "NoProfilesSelected",
    Stage.UNREADABLE: "ModelManifestUnreadable",
}

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class CacheView:
    """What status is computed from for one NIMCache: its body, its children, the pods of its Job."""

    body: Obj
    pvc_name: str
    job_name: str
    pvc: Obj | None
    job: Obj | None
    pods: Sequence[Obj] = ()
    selection: Selection | None = None  # where profile selection in the cluster stands (a probing cache only)


def cache_view(
    cache: Obj,
    objects: Mapping[ObjRef, Obj],
    job_name: str,
    pods: Sequence[Obj] = (),
    selection: Selection | None = None,
) -> CacheView:
    """The view of a NIMCache from the objects at hand (an existing PVC named with create: false counts as there:
    it is not ours, so we do not read it)."""
    namespace = cache["metadata"].get("namespace", "")
    name = pvc_name(cache)
    created = (((cache.get("spec") or {}).get("storage") or {}).get("pvc") or {}).get("create") is True
    pvc = objects.get(ObjRef("PersistentVolumeClaim", namespace, name)) if created else {"metadata": {"name": name}}
    job = objects.get(ObjRef("Job", namespace, job_name)) if job_name else None
    return CacheView(cache, name, job_name, pvc, job, pods, selection)


def _condition(
    kind: str, ok: bool, reason: str, message: str, previous: Sequence[Obj], now: str, generation: int
) -> dict[str, Any]:
    status = "True" if ok else "False"
    before = next((c for c in previous if c.get("type") == kind), None)
    since = before["lastTransitionTime"] if before and before.get("status") == status else now
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": redact(message),  # a Job's or API's message may carry a credential: status is readable by many
        "lastTransitionTime": since,
        "observedGeneration": generation,
    }


def _job_condition(job: Obj, kind: str) -> Obj | None:
    return next(
        (
            c
            for c in (job.get("status") or {}).get("conditions") or []
            if c.get("type") == kind and c.get("status") == "True"
        ),
        None,
    )


RECONCILE_FAILED = "NIM_CACHE_RECONCILE_FAILED"


def nimcache(view: CacheView, previous: Obj, now: str, error: str = "") -> dict[str, Any]:
    """``error``: an object of this cache could not be applied in this run (state NotReady, ReconcileFailed)."""
    generation = int((view.body.get("metadata") or {}).get("generation") or 1)
    before = previous.get("conditions") or []
    found: list[tuple[str, bool, str, str]] = []
    state = NOT_READY
    if view.pvc is not None:
        state = PVC_CREATED
        found.append((PVC_COND, True, "PVCCreated", "The PVC has been created for caching NIM model"))
    chosen = view.selection
    if chosen is not None:
        found.append((SELECTION_COND, chosen.stage in (Stage.SELECTED, Stage.MODEL_FREE), *_selected(chosen)))
        if chosen.stage in (Stage.NO_MATCH, Stage.UNREADABLE):
            state = FAILED
    if view.job is not None:
        state = _job_state(view.job, view.pods, found)
    elif previous.get("job") == view.job_name and previous.get("state") in (READY, FAILED):
        # the Job was removed after it finished (ttlSecondsAfterFinished): its outcome still stands
        state = previous["state"]
        found += [
            (c["type"], c["status"] == "True", c["reason"], c["message"])
            for c in before
            if c.get("type") in (JOB_CREATED, JOB_COMPLETED)
        ]
    if error:
        state = NOT_READY
        found.append((RECONCILE_FAILED, True, "ReconcileFailed", error))
    elif any(c.get("type") == RECONCILE_FAILED for c in before):
        found.append((RECONCILE_FAILED, False, "Reconciled", "The NIMCache was reconciled"))
    status: dict[str, Any] = {
        "state": state,
        "pvc": view.pvc_name,
        "job": view.job_name,
        "conditions": [_condition(k, ok, r, m, before, now, generation) for k, ok, r, m in found],
        "observedGeneration": generation,
    }
    if native(view.body):  # as the operator: the type shows from the start, a native cache lists no profiles
        status["type"] = NATIVE
        return status
    if chosen is not None and chosen.stage is Stage.MODEL_FREE:
        status["type"] = MODEL_FREE  # kept: a later run knows the image holds no manifest without probing again
    profiles = ((view.body.get("spec") or {}).get("source") or {}).get("ngc", {}).get("model", {}) or {}
    selected = [p for p in profiles.get("profiles") or [] if p != "all"]
    if state == READY and chosen is not None and chosen.profiles:  # as the operator: what the manifest says
        status["profiles"] = [
            {"name": p.id, "model": p.model, "release": p.release, "config": dict(p.tags)} for p in chosen.profiles
        ]
    elif state == READY and selected:
        status["profiles"] = [{"name": p} for p in selected]
    return status


def _selected(chosen: Selection) -> tuple[str, str]:
    """The reason and message of the selection condition."""
    if chosen.stage is Stage.SELECTED and not chosen.profiles:  # a Hugging Face / DataStore cache: nothing to pick
        return "ModelManifestRead", "the model manifest was read from the image"
    if chosen.stage is Stage.SELECTED:
        return _SELECTION_REASONS[chosen.stage], "selected from the model manifest: " + ", ".join(
            p.id for p in chosen.profiles
        )
    if chosen.stage is Stage.MODEL_FREE:
        return _SELECTION_REASONS[chosen.stage], "the image holds no model manifest: a model-free NIM"
    return _SELECTION_REASONS[chosen.stage], chosen.detail


def _job_state(job: Obj, pods: Sequence[Obj], found: list[tuple[str, bool, str, str]]) -> str:
    found.append((JOB_CREATED, True, "JobCreated", "The Job to cache NIM has been created"))
    job_status = job.get("status") or {}
    failed = _job_condition(job, "Failed")
    if job_status.get("succeeded") or _job_condition(job, "Complete"):
        found.append((JOB_COMPLETED, True, "CachingCompleted", "Model caching completed successfully"))
        return READY
    if failed is not None:
        detail = failed.get("message") or failed.get("reason") or "backoff limit reached"
        found.append((JOB_COMPLETED, False, "JobFailed", f"The Job to cache NIM has failed: {detail}"))
        return FAILED
    if not job_status.get("active"):
        return STARTED
    waiting = [_pending_reason(p) for p in pods if (p.get("status") or {}).get("phase", "Pending") == "Pending"]
    if waiting and len(waiting) == len(pods):
        found.append((JOB_PENDING, True, "JobPending", waiting[0]))
        return PENDING
    found.append((JOB_PENDING, False, "JobRunning", "The caching Job is downloading the model"))
    return IN_PROGRESS


def _pending_reason(pod: Obj) -> str:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            return f"pod {pod['metadata']['name']} is unschedulable: {condition.get('message', '')}".rstrip(": ")
    return f"pod {pod['metadata']['name']} is pending"


@dataclass(frozen=True)
class ServiceView:
    """What status is computed from for one NIMService."""

    body: Obj
    cache_name: str | None
    cache_state: str | None  # None: the NIMCache does not exist
    deployment: Obj | None
    service: Obj | None
    port: int


def nimservice(view: ServiceView, previous: Obj, now: str, error: tuple[str, str] | None = None) -> dict[str, Any]:
    """``error``: (kind, message) of an object of this service that could not be applied in this run."""
    generation = int((view.body.get("metadata") or {}).get("generation") or 1)
    before = previous.get("conditions") or []
    state, ready, failed = _service_state(view)
    if error is not None:  # the operator's render or sync error: Failed, reason <Kind>Failed
        state, ready, failed = FAILED, ("Failed", error[1]), (f"{error[0]}Failed", error[1])
    status: dict[str, Any] = {
        "state": state,
        "conditions": [
            _condition("Ready", state == READY, ready[0], ready[1], before, now, generation),
            _condition("Failed", state == FAILED, failed[0], failed[1], before, now, generation),
        ],
        "observedGeneration": generation,
    }
    ip = ((view.service or {}).get("spec") or {}).get("clusterIP")
    if state == READY and ip and ip != "None":
        status["model"] = {"clusterEndpoint": f"{ip}:{view.port}"}
    return status


def _service_state(view: ServiceView) -> tuple[str, tuple[str, str], tuple[str, str]]:
    """(state, (Ready reason, message), (Failed reason, message))."""
    name = view.cache_name
    if name is not None and view.cache_state is None:
        message = f"NIMCache {name} not found"
        return FAILED, ("Failed", message), ("NIMCacheNotFound", message)
    if view.cache_state == FAILED:
        message = f"NIMCache {name} failed"
        return FAILED, ("Failed", message), ("NIMCacheFailed", message)
    if name is not None and view.cache_state != READY:
        message = f"NIMCache {name} not ready ({view.cache_state})"
        return NOT_READY, ("NIMCacheNotReady", message), ("Ready", message)
    deployment = view.deployment
    if deployment is None:
        return NOT_READY, ("NotReady", "the Deployment is not created yet"), ("Ready", "")
    message, state = rollout(deployment)
    if state == FAILED:
        return FAILED, ("Failed", message), ("ProgressDeadlineExceeded", message)
    reason = "Ready" if state == READY else "NotReady"
    return state, (reason, message), ("Ready", message)


def rollout(deployment: Obj) -> tuple[str, str]:
    """kubectl rollout status, as the operator words it: (message, state)."""
    name = deployment["metadata"]["name"]
    spec, st = deployment.get("spec") or {}, deployment.get("status") or {}
    for condition in st.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            return f'deployment "{name}" exceeded its progress deadline', FAILED
    wanted = spec.get("replicas", 1)
    if wanted == 0:
        return f'deployment "{name}" is scaled down', NOT_READY
    if st.get("observedGeneration", 0) < deployment["metadata"].get("generation", 1):
        return f'Waiting for deployment "{name}" spec update to be observed...', NOT_READY
    updated, available = st.get("updatedReplicas", 0), st.get("availableReplicas", 0)
    if updated < wanted:
        return (
            f'Waiting for deployment "{name}" rollout to finish: {updated} out of {wanted} new replicas '
            "have been updated..."
        ), NOT_READY
    if available < updated:
        return (
            f'Waiting for deployment "{name}" rollout to finish: {available} of {updated} updated replicas '
            "are available..."
        ), NOT_READY
    return f'deployment "{name}" successfully rolled out', READY
