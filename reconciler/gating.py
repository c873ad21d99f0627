"""Health-gated order: what waits for a cache, and when a caching Job is not run again (pure).

- A NIMService's Deployment, HPA, Ingress, routes and ServiceMonitor are applied only once its NIMCache is Ready
  (the seed: "Create NIMCache resources before deploying NIMService… ensure it's Ready"); until then they are
  *waiting*, which is not an error. Its ServiceAccount and Service may be created meanwhile.
- A Ready cache whose finished Job was removed by ``ttlSecondsAfterFinished`` gets no new Job for the same spec.
- A Failed cache is retried only when its spec changes (a new Job name) or with ``--retry-failed``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from reconciler import status
from reconciler.plan import Action, Change, Plan
from reconciler.refs import ObjRef
from reconciler.rendering import DesiredObject

GATED = {"Deployment", "HorizontalPodAutoscaler", "Ingress", "HTTPRoute", "GRPCRoute", "ServiceMonitor"}


def cache_states(desired: Sequence[DesiredObject], live: Mapping[ObjRef, dict[str, Any]]) -> dict[ObjRef, str]:
    """Each desired NIMCache's state from the live PVC and Job (and the state it last recorded)."""
    jobs = {d.owner: d.ref.name for d in desired if d.ref.kind == "Job" and d.owner is not None}
    states = {}
    for item in desired:
        if item.ref.kind != "NIMCache":
            continue
        previous = (live.get(item.ref) or {}).get("status") or {}
        view = status.cache_view(item.body, live, jobs.get(item.ref, ""))
        states[item.ref] = str(status.nimcache(view, previous, "").get("state"))
    return states


def gate(
    plan: Plan, desired: Sequence[DesiredObject], live: Mapping[ObjRef, dict[str, Any]], *, retry_failed: bool = False
) -> Plan:
    states = cache_states(desired, live)
    owners = {d.ref: d.owner for d in desired}
    caches_of = {d.ref: _cache_of(d) for d in desired if d.ref.kind == "NIMService"}
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
    return replace(plan, changes=changes)


def _cache_of(service: DesiredObject) -> ObjRef | None:
    name = ((service.body.get("spec") or {}).get("storage") or {}).get("nimCache", {}).get("name")
    return ObjRef("NIMCache", service.ref.namespace, name) if name else None


def _job(change: Change, cache: ObjRef, live: Mapping[ObjRef, dict[str, Any]], retry_failed: bool) -> Change:
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
