"""Health-gated order: what waits for a cache, and when a caching Job is not run again (pure).

- A NIMService's Deployment, HPA, Ingress, routes and ServiceMonitor are applied only once its NIMCache is Ready
  (the seed: "Create NIMCache resources before deploying NIMService… ensure it's Ready"); until then they are
  *waiting*, which is not an error. Its ServiceAccount and Service may be created meanwhile.
- A Ready cache whose finished Job was removed by ``ttlSecondsAfterFinished`` gets no new Job for the same spec.
- A Failed cache is retried only when its spec changes (a new Job name) or with ``--retry-failed``.

Contract: ``gate(plan, desired, live, pods, now)`` returns the plan with those changes made and, in
``plan.cache_status``, each desired NIMCache's status as the cluster shows it now: computed once here, and
written back as it is unless this run changes the cache's objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from reconciler import status
from reconciler.objects import DesiredObject, cache_of
from reconciler.plan.changes import Action, Change, Plan
from reconciler.refs import ObjRef

GATED = {"Deployment", "HorizontalPodAutoscaler", "Ingress", "HTTPRoute", "GRPCRoute", "ServiceMonitor"}


Pods = Mapping[tuple[str, str], Sequence[Mapping[str, Any]]]  # a caching Job's pods by (namespace, nimcache)


def cache_statuses(
    desired: Sequence[DesiredObject], live: Mapping[ObjRef, dict[str, Any]], pods: Pods, now: str
) -> dict[ObjRef, dict[str, Any]]:
    """Each desired NIMCache's status from the live PVC, Job and pods (and the status it last recorded).

    The spec is git's (it names the PVC and the Job), the metadata the live object's (its generation).
    """
    jobs = {d.owner: d.ref.name for d in desired if d.ref.kind == "Job" and d.owner is not None}
    out = {}
    for item in desired:
        if item.ref.kind != "NIMCache":
            continue
        current = live.get(item.ref)
        body = {**item.body, "metadata": current["metadata"]} if current else item.body
        view = status.cache_view(body, live, jobs.get(item.ref, ""), pods.get((item.ref.namespace, item.ref.name), ()))
        out[item.ref] = status.nimcache(view, (current or {}).get("status") or {}, now)
    return out


def gate(
    plan: Plan,
    desired: Sequence[DesiredObject],
    live: Mapping[ObjRef, dict[str, Any]],
    pods: Pods,
    now: str,
    *,
    retry_failed: bool = False,
) -> Plan:
    """Hold what waits for a cache, skip or replace caching Jobs; record every cache's status (see above)."""
    statuses = cache_statuses(desired, live, pods, now)
    states = {ref: str(s["state"]) for ref, s in statuses.items()}
    owners = {d.ref: d.owner for d in desired}
    caches_of = {d.ref: cache_of(d.ref, d.body) for d in desired if d.ref.kind == "NIMService"}
    changes = []
    for change in plan.changes:
        owner = owners.get(change.ref)
        if change.ref.kind == "Job" and owner is not None:
            change = _job(change, owner, live, retry_failed)
        elif change.ref.kind in GATED and owner is not None and change.action in (Action.CREATED, Action.CONFIGURED):
            cache = caches_of.get(owner)
            state = states.get(cache) if cache else "Ready"
            if cache is not None and state != "Ready":
                change = Change(Action.WAITING, change.ref, reason=f"waiting for NIMCache {cache.name} ({state})")
        changes.append(change)
    return replace(plan, changes=changes, cache_status=statuses)


def _job(change: Change, cache: ObjRef, live: Mapping[ObjRef, dict[str, Any]], retry_failed: bool) -> Change:
    if change.action is Action.BLOCKED:  # a guard or someone else's object: nothing to decide here
        return change
    recorded = (live.get(cache) or {}).get("status") or {}
    same_job = recorded.get("job") == change.ref.name
    if change.action is Action.CREATED and same_job and recorded.get("state") == status.READY:
        return Change(Action.SKIPPED, change.ref, reason=f"{cache} is Ready; its finished Job was cleaned up")
    if same_job and recorded.get("state") == status.FAILED:
        if not retry_failed:
            return Change(
                Action.SKIPPED,
                change.ref,
                reason=f"{cache} failed: change its spec or run with --retry-failed to cache again",
            )
        if change.ref in live:
            return Change(Action.REPLACED, change.ref, reason="--retry-failed: the failed Job runs again")
    return change
