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
from reconciler.objects import DesiredObject, cache_of, content_change, jobs_by_owner, owner_of, pvc_name
from reconciler.plan.changes import Action, Change, Plan
from reconciler.refs import ObjRef
from reconciler.selection import Selection

GATED = {"Deployment", "HorizontalPodAutoscaler", "Ingress", "HTTPRoute", "GRPCRoute", "ServiceMonitor"}


Pods = Mapping[tuple[str, str], Sequence[Mapping[str, Any]]]  # a caching Job's pods by (namespace, nimcache)


def cache_jobs(desired: Sequence[DesiredObject], live: Mapping[ObjRef, dict[str, Any]]) -> dict[ObjRef, str]:
    """The caching Job that stands for each desired NIMCache: the one git renders, or, for a Ready cache whose
    content and PVC did not change, the one that filled it (a change to how it is fetched downloads nothing)."""
    jobs = {d.owner: d.ref.name for d in desired if d.ref.kind == "Job" and d.owner is not None}
    for item in desired:
        recorded = ((live.get(item.ref) or {}).get("status") or {}).get("job")
        if item.ref.kind == "NIMCache" and recorded and _fetch_only(item.body, live.get(item.ref)):
            jobs[item.ref] = str(recorded)
    return jobs


def _fetch_only(body: Mapping[str, Any], current: Mapping[str, Any] | None) -> bool:
    """A Ready cache whose change (if any) is to how it is fetched, not to what it holds or where."""
    if current is None or ((current.get("status") or {}).get("state")) != status.READY:
        return False
    return not content_change(body, current) and pvc_name(body) == pvc_name(current)


def cache_statuses(
    desired: Sequence[DesiredObject],
    live: Mapping[ObjRef, dict[str, Any]],
    pods: Pods,
    now: str,
    jobs: Mapping[ObjRef, str],
    selections: Mapping[ObjRef, Selection] | None = None,
) -> dict[ObjRef, dict[str, Any]]:
    """Each desired NIMCache's status from the live PVC, its Job (``jobs``: see ``cache_jobs``) and its pods (and
    the status it last recorded). The spec is git's (it names the PVC), the metadata the live object's.
    """
    out = {}
    selections = selections or {}
    for item in desired:
        if item.ref.kind != "NIMCache":
            continue
        current = live.get(item.ref)
        body = {**item.body, "metadata": current["metadata"]} if current else item.body
        found = pods.get((item.ref.namespace, item.ref.name), ())
        view = status.cache_view(body, live, jobs.get(item.ref, ""), found, selections.get(item.ref))
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
    effective = cache_jobs(desired, live)
    statuses = cache_statuses(desired, live, pods, now, effective, plan.selections)
    states = {ref: str(s["state"]) for ref, s in statuses.items()}
    owners = {d.ref: d.owner for d in desired}
    caches_of = {d.ref: cache_of(d.ref, d.body) for d in desired if d.ref.kind == "NIMService"}
    live_jobs = jobs_by_owner(live)
    changes = []
    for change in plan.changes:
        owner = owners.get(change.ref)
        if change.ref.kind == "Job" and owner is not None:
            others = [r for r in live_jobs.get(owner, []) if r != change.ref]
            change = _job(change, owner, live, others, retry_failed, effective.get(owner, ""))
        elif change.ref.kind in GATED and owner is not None and change.action in (Action.CREATED, Action.CONFIGURED):
            cache = caches_of.get(owner)
            state = states.get(cache) if cache else "Ready"
            if cache is not None and state != "Ready":
                change = Change(Action.WAITING, change.ref, reason=f"waiting for NIMCache {cache.name} ({state})")
        changes.append(change)
    changes = make_before_break(changes, desired, live, states)
    return replace(plan, changes=changes, cache_status=statuses, cache_jobs=effective)


def make_before_break(
    changes: list[Change],
    desired: Sequence[DesiredObject],
    live: Mapping[ObjRef, dict[str, Any]],
    states: Mapping[ObjRef, str],
) -> list[Change]:
    """A NIMService that left git (renamed, moved to another namespace) keeps serving until its successor does.

    Its successor is a desired NIMService whose Deployment runs the same image and is newer (not created yet, or
    created after the old one): until that one's cache is Ready and its Deployment rolled out, nothing of the old
    service is pruned ("kept until … is ready"). Services that merely share an image are not successors.
    """
    gone = [c.ref for c in changes if c.ref.kind == "NIMService" and c.action is Action.PRUNED]
    held: dict[ObjRef, ObjRef] = {}
    for old in gone:
        serving = live.get(ObjRef("Deployment", old.namespace, old.name))
        image, since = _image(serving), _created(serving)
        for new in (d for d in desired if d.ref.kind == "Deployment" and image and _image(d.body) == image):
            service = new.owner
            if new.ref in live and _created(live[new.ref]) <= since:
                continue  # an older service of the same image: a neighbour, not a successor
            if service is None or _serving(service, new, desired, live, states):
                continue
            held[old] = service
            break
    if not held:
        return changes
    out = []
    for change in changes:
        owner = change.ref if change.ref in held else owner_of(change.ref, live.get(change.ref))
        if owner in held and change.action is Action.PRUNED:
            change = Change(Action.SKIPPED, change.ref, reason=f"kept until {held[owner]} is ready (make before break)")
        out.append(change)
    return out


def _serving(
    service: ObjRef,
    deployment: DesiredObject,
    desired: Sequence[DesiredObject],
    live: Mapping[ObjRef, dict[str, Any]],
    states: Mapping[ObjRef, str],
) -> bool:
    body = next((d.body for d in desired if d.ref == service), {})
    cache = cache_of(service, body)
    if cache is not None and states.get(cache) != status.READY:
        return False
    current = live.get(deployment.ref)
    return current is not None and status.rollout(current)[1] == status.READY


def _created(obj: Mapping[str, Any] | None) -> str:
    return str(((obj or {}).get("metadata") or {}).get("creationTimestamp") or "")


def _image(deployment: Mapping[str, Any] | None) -> str:
    containers = ((((deployment or {}).get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")
    return str(containers[0].get("image") or "") if isinstance(containers, list) and containers else ""


def _job(
    change: Change,
    cache: ObjRef,
    live: Mapping[ObjRef, dict[str, Any]],
    others: Sequence[ObjRef],
    retry_failed: bool,
    effective: str,
) -> Change:
    """The decision on one caching Job of ``cache``; ``others``: the cache's other Jobs in the cluster."""
    if change.action is Action.BLOCKED:  # a guard or someone else's object: nothing to decide here
        return change
    if effective and effective != change.ref.name and change.action in (Action.CREATED, Action.CONFIGURED):
        return Change(
            Action.SKIPPED, change.ref, reason=f"{cache} is Ready: how it is fetched changed, nothing to download"
        )
    if change.action is Action.CREATED and others:
        return Change(
            Action.WAITING,
            change.ref,
            reason=f"waiting for {others[0]} to be deleted first (never two Jobs on one PVC)",
        )
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
