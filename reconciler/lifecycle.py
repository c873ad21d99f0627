"""Status write-back: compute each custom resource's status from its children and write it if it changed (I/O).

Contract: ``record(api, plan, objects, outcomes, now)`` looks at the objects as they are after the apply
(``current``: the responses of this run's writes over what was observed), reads the caching Jobs' pods only when
a Job is active (one LIST), and writes ``status`` through the status subresource only for resources whose status
changed, so a no-op run writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler import events, status
from reconciler.apply import ClusterApi, Outcome
from reconciler.errors import ClusterError
from reconciler.kinds import BY_KIND, Kind
from reconciler.plan import Action, Change, Plan
from reconciler.refs import ObjRef

PODS = Kind("Pod", "v1", "pods")


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


def _owner(ref: ObjRef, plan: Plan, objects: Mapping[ObjRef, dict[str, Any]]) -> ObjRef | None:
    if ref.kind in ("NIMCache", "NIMService"):
        return ref
    body = plan.bodies.get(ref) or objects.get(ref) or {}
    refs = body.get("metadata", {}).get("ownerReferences") or []
    return ObjRef(refs[0]["kind"], ref.namespace, refs[0]["name"]) if refs else None


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
    api: ClusterApi, plan: Plan, objects: Mapping[ObjRef, dict[str, Any]], outcomes: Sequence[Outcome], now: str
) -> list[Outcome]:
    """``objects``: the objects after this run (``current``); ``outcomes``: this run's writes."""
    # a blocked resource keeps the status it has: its children are as they were, not as git says
    held = {c.ref for c in plan.changes if c.action is Action.BLOCKED}
    caches = [r for r in plan.bodies if r.kind == "NIMCache" and r in objects and r not in held]
    services = [r for r in plan.bodies if r.kind == "NIMService" and r in objects and r not in held]
    jobs = {ref: _child(plan, ref, "Job") for ref in caches}
    pods = _pods(api, [objects[j] for j in jobs.values() if j is not None and j in objects])
    written: list[Outcome] = []
    states: dict[tuple[str, str], str] = {}
    errors = {_owner(o.change.ref, plan, objects): o for o in outcomes if o.error}
    for ref in caches:
        job = jobs[ref]
        view = status.cache_view(
            objects[ref], objects, job.name if job else "", pods.get((ref.namespace, ref.name), [])
        )
        failure = errors.get(ref)
        new = status.nimcache(view, objects[ref].get("status") or {}, now, failure.error if failure else "")
        states[(ref.namespace, ref.name)] = new["state"]
        written += _write(api, objects[ref], new, now)
    for ref in services:
        body = objects[ref]
        cache = ((body.get("spec") or {}).get("storage") or {}).get("nimCache", {}).get("name")
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
        written += _write(api, body, status.nimservice(service_view, body.get("status") or {}, now, error), now)
    return written


def _child(plan: Plan, owner: ObjRef, kind: str) -> ObjRef | None:
    for ref, body in plan.bodies.items():
        refs = body["metadata"].get("ownerReferences") or []
        if ref.kind == kind and ref.namespace == owner.namespace and refs and refs[0]["name"] == owner.name:
            return ref
    return None


def _pods(api: ClusterApi, jobs: Sequence[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The caching Jobs' pods by (namespace, nimcache), read only when some Job is running."""
    namespaces = sorted({j["metadata"].get("namespace", "") for j in jobs if (j.get("status") or {}).get("active")})
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    # One LIST per namespace with a running Job, not one across the cluster: fewer pods to read, and a team's
    # namespaced Role allows it.
    pods = [p for ns in namespaces for p in api.list(PODS, "app.kubernetes.io/managed-by=nim-reconciler,nimcache", ns)]
    for pod in pods:
        meta = pod["metadata"]
        out.setdefault((meta.get("namespace", ""), meta["labels"]["nimcache"]), []).append(pod)
    return out


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
    change = Change(Action.CONFIGURED, ref, reason=f"status {new['state']}")
    try:
        api.apply(BY_KIND[obj["kind"]], body, status=True)
        if new["state"] != old_state:
            warning = _WARNING.get((obj["kind"], new["state"]))
            message = next((c["message"] for c in reversed(new["conditions"]) if c.get("message")), "")
            events.emit(
                api,
                obj,
                "Warning" if warning else "Normal",
                warning or new["state"],
                f"{obj['kind']} {meta['name']} is {new['state']}" + (f": {message}" if message else ""),
                now,
            )
    except ClusterError as exc:
        return [Outcome(change, str(exc))]
    return [Outcome(change)]
