"""Status write-back: compute each custom resource's status from its children and write it if it changed (I/O).

Contract: ``record(api, plan, objects, outcomes, now)`` looks at the objects as they are after the apply
(``current``: the responses of this run's writes over what was observed), reads the caching Jobs' pods only when
a Job is active (one LIST), and writes ``status`` through the status subresource only for resources whose status
changed, so a no-op run writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from reconciler import status
from reconciler.cluster import events
from reconciler.cluster.api import ClusterApi
from reconciler.cluster.apply import Outcome
from reconciler.errors import ClusterError
from reconciler.kinds import BY_KIND
from reconciler.objects import NGC_KEY_MESSAGE, NGC_KEY_UNSET, cache_name, jobs_by_owner, ngc_key_unset, owner_of
from reconciler.plan.changes import Action, Change, Plan
from reconciler.plan.gate import Pods
from reconciler.refs import ObjRef


def report_failures(
    api: ClusterApi, plan: Plan, objects: Mapping[ObjRef, dict[str, Any]], outcomes: Sequence[Outcome], now: str
) -> list[str]:
    """ReconcileFailed and PruneBlocked events on the custom resource each failed or blocked object belongs to.

    ``outcomes`` are this run's writes; the plan's own blocked changes (guards that fired) count too.
    """
    problems = []
    done = {o.change.ref for o in outcomes}
    for outcome in [*outcomes, *(Outcome(c) for c in plan.changes if c.ref not in done)]:
        failed = bool(outcome.error)
        blocked = outcome.change.action is Action.BLOCKED and "prune guard" in outcome.change.reason
        owner = _owner(outcome.change.ref, plan, objects)
        if (failed or blocked) and owner is not None and owner in objects:
            reason = "ReconcileFailed" if failed else "PruneBlocked"
            message = outcome.error if failed else f"{outcome.change.ref}: {outcome.change.reason}"
            try:
                events.emit(api, objects[owner], "Warning", reason, message, now)
            except ClusterError as exc:
                problems.append(f"cannot record an event: {exc}")
    return problems


def report_warnings(api: ClusterApi, outcomes: Sequence[Outcome], now: str) -> list[str]:
    """A Warning Event ``NGCAPIKeyUnset`` on each custom resource this run created or changed without an NGC key,
    as the operator records it (only when written: a run that changed nothing records nothing)."""
    problems = []
    for outcome in outcomes:
        written = outcome.change.action in (Action.CREATED, Action.CONFIGURED) and not outcome.error
        body = outcome.result
        if written and body is not None and ngc_key_unset(body) is not None:
            try:
                events.emit(api, body, "Warning", NGC_KEY_UNSET, NGC_KEY_MESSAGE, now)
            except ClusterError as exc:
                problems.append(f"cannot record an event: {exc}")
    return problems


def _owner(ref: ObjRef, plan: Plan, objects: Mapping[ObjRef, dict[str, Any]]) -> ObjRef | None:
    return owner_of(ref, plan.bodies.get(ref) or objects.get(ref))


def current(live: Mapping[ObjRef, dict[str, Any]], outcomes: Sequence[Outcome]) -> dict[ObjRef, dict[str, Any]]:
    """The objects after this run: what was observed, updated by the write responses, without the pruned."""
    objects = dict(live)
    for outcome in outcomes:
        if outcome.error:
            continue
        if outcome.change.action is Action.PRUNED:
            objects.pop(outcome.change.ref, None)
        elif outcome.result is not None:
            objects[outcome.change.ref] = outcome.result
    return objects


def record(
    api: ClusterApi,
    plan: Plan,
    objects: Mapping[ObjRef, dict[str, Any]],
    outcomes: Sequence[Outcome],
    pods: Pods,
    now: str,
    concurrency: int = 8,
) -> list[Outcome]:
    """Write each custom resource's status where it changed (``concurrency`` at once); return those writes.

    ``objects``: the objects after this run (``current``); ``outcomes``: this run's writes; ``pods``: the
    caching Jobs' pods as observed. A NIMCache none of whose objects this run wrote keeps the status the health
    gate computed (``plan.cache_status``); the others are computed from the objects as the writes left them.
    """
    # a blocked or suspended resource keeps the status it has: its children are as they were, not as git says
    held = {c.ref for c in plan.changes if c.action in (Action.BLOCKED, Action.SUSPENDED)}
    caches = [r for r in plan.bodies if r.kind == "NIMCache" and r in objects and r not in held]
    services = [r for r in plan.bodies if r.kind == "NIMService" and r in objects and r not in held]
    pending: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (object, its new status), written below
    states: dict[tuple[str, str], str] = {}
    errors = {_owner(o.change.ref, plan, objects): o for o in outcomes if o.error}
    touched = {_owner(o.change.ref, plan, objects) for o in outcomes}
    jobs = jobs_by_owner(plan.bodies)
    for ref in caches:
        new = plan.cache_status.get(ref) if ref not in touched else None
        if new is None:
            child = jobs.get(ref)
            job = plan.cache_jobs.get(ref) or (child[0].name if child else "")
            found = pods.get((ref.namespace, ref.name), ())
            view = status.cache_view(objects[ref], objects, job, found, plan.selections.get(ref))
            failure = errors.get(ref)
            new = status.nimcache(view, objects[ref].get("status") or {}, now, failure.error if failure else "")
        states[(ref.namespace, ref.name)] = new["state"]
        pending.append((objects[ref], new))
    for ref in services:
        body = objects[ref]
        cache = cache_name(body)
        cache_state = states.get((ref.namespace, cache)) if cache else None
        if cache and cache_state is None:
            cache_obj = objects.get(ObjRef("NIMCache", ref.namespace, cache))
            cache_state = (cache_obj or {}).get("status", {}).get("state") if cache_obj else None
        port = ((body.get("spec") or {}).get("expose") or {}).get("service", {}).get("port", 8000)
        service_view = status.ServiceView(
            body,
            cache,
            cache_state,
            objects.get(ObjRef("Deployment", ref.namespace, ref.name)),
            objects.get(ObjRef("Service", ref.namespace, ref.name)),
            port,
        )
        failure = errors.get(ref)
        error = (failure.change.ref.kind, failure.error) if failure else None
        pending.append((body, status.nimservice(service_view, body.get("status") or {}, now, error)))
    changed = [(obj, new) for obj, new in pending if obj.get("status") != new]
    if not changed:
        return []
    # each write (and its Event) is independent of the others: in flight together, as apply's stages are
    with ThreadPoolExecutor(max_workers=min(concurrency, len(changed))) as pool:
        done = pool.map(lambda item: _write(api, item[0], item[1], now), changed)
        return [outcome for outcomes in done for outcome in outcomes]


_WARNING = {("NIMCache", status.FAILED): "JobFailed", ("NIMService", status.FAILED): "Failed"}


def _write(api: ClusterApi, obj: dict[str, Any], new: dict[str, Any], now: str) -> list[Outcome]:
    if obj.get("status") == new:
        return []
    old_state = (obj.get("status") or {}).get("state")
    meta = obj["metadata"]
    ref = ObjRef(obj["kind"], meta.get("namespace", ""), meta["name"])
    body = {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "metadata": {"name": meta["name"], "namespace": meta.get("namespace")},
        "status": new,
    }
    change = Change(Action.STATUS, ref, reason=new["state"])
    try:
        api.apply(BY_KIND[obj["kind"]], body, status=True)
    except ClusterError as exc:
        return [Outcome(change, str(exc))]
    if new["state"] != old_state:
        warning = _WARNING.get((obj["kind"], new["state"]))
        message = next((c["message"] for c in reversed(new["conditions"]) if c.get("message")), "")
        text = f"{obj['kind']} {meta['name']} is {new['state']}" + (f": {message}" if message else "")
        # The status is written: an Event that cannot be recorded is a run error, not a failed status write.
        try:
            events.emit(api, obj, "Warning" if warning else "Normal", warning or new["state"], text, now)
        except ClusterError as exc:
            return [Outcome(change, event_error=f"cannot record an event: {exc}")]
    return [Outcome(change)]
