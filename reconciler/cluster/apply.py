"""Apply: execute a Plan against the cluster in kind order, then prune in reverse (I/O through ``kube``).

Contract: ``execute(plan, cluster)`` applies only what the plan marks created or configured, stage by stage
(custom resources first, so their children can carry an ownerReference with the new uid), with bounded
concurrency inside a stage; it goes on past a failed object and reports it. Nothing is pruned when any apply
failed. Custom resources are deleted with ``propagationPolicy=Orphan``: their children are pruned one by one, so
the guards (a PVC's own rule, ``nim-reconciler/prune: disabled``) hold even against the garbage collector.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from reconciler.cluster.api import ClusterApi
from reconciler.errors import ClusterError
from reconciler.kinds import BY_KIND, CRD, CUSTOM_KINDS, ORDER, Kind
from reconciler.objects import cache_of, is_ours, manager_of, owner_of, owners, taken_over
from reconciler.plan.changes import Action, Change, Plan
from reconciler.plan.compare import subset
from reconciler.refs import ObjRef


@dataclass(frozen=True)
class Outcome:
    """What became of one change: its error ('' when it worked) and the object the API server returned."""

    change: Change
    error: str = ""
    result: dict[str, Any] | None = None  # the object as the API server returned it
    event_error: str = ""  # the write worked, but the Event about it could not be recorded


@dataclass(frozen=True)
class ChangeSet:
    """Every outcome of an ``execute``, in the order the writes were made."""

    outcomes: list[Outcome]
    interrupted: bool = False  # a stop was asked for: the writes in flight finished, nothing more was sent

    @property
    def failed(self) -> bool:
        """Some write failed."""
        return any(o.error for o in self.outcomes)


INTERRUPTED = "interrupted: not written (the run was asked to stop)"
WRITTEN = (Action.CREATED, Action.CONFIGURED, Action.REPLACED)
# What a child needs applied in the same run before it is worth applying (kinds of the same owner).
NEEDS = {"Job": ("PersistentVolumeClaim",), "Deployment": ("ServiceAccount", "PersistentVolumeClaim")}


def execute(
    plan: Plan,
    api: ClusterApi,
    *,
    dry_run: bool = False,
    concurrency: int = 4,
    stop: Callable[[], bool] = lambda: False,
) -> ChangeSet:
    """Apply the plan's writes stage by stage, then prune (see the module's contract); never raises per object.

    A child whose dependency failed in this run is not sent: it is WAITING on it (the Job on its PVC; the
    Deployment on its ServiceAccount, its PVC and its NIMCache's objects). Once ``stop()`` is true, nothing more
    is sent: what is in flight finishes, the rest is reported as not written, and nothing is pruned.
    """
    uids = {ref: body["metadata"].get("uid", "") for ref, body in plan.bodies.items() if ref.kind in CUSTOM_KINDS}
    outcomes: list[Outcome] = []
    failed: set[ObjRef] = set()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for kind in ORDER:
            stage = [c for c in plan.changes if c.ref.kind == kind.kind and c.action in WRITTEN]
            if stage and stop():
                return _interrupted(plan, outcomes)
            waiting = {c.ref: dep for c in stage if (dep := _unmet(c.ref, plan, failed))}
            outcomes += [
                Outcome(Change(Action.WAITING, r, reason=f"waiting for {d}: it failed in this run"))
                for r, d in waiting.items()
            ]
            stage = [c for c in stage if c.ref not in waiting]
            for change in stage:  # a replaced object goes first: Kubernetes does not let us patch it
                if change.action is Action.REPLACED:
                    api.delete(kind, change.ref.namespace, change.ref.name, dry_run=dry_run)
            bodies = [_with_owner_uid(plan.bodies[c.ref], uids) for c in stage]
            results = list(
                pool.map(
                    lambda cb, k=kind: _apply_one(api, k, cb[0], cb[1], dry_run, stop, plan.adopted.get(cb[0].ref)),
                    zip(stage, bodies, strict=True),
                )
            )
            for change, (outcome, uid) in zip(stage, results, strict=True):
                outcomes.append(outcome)
                if outcome.error:
                    failed.add(change.ref)
                if uid:
                    uids[change.ref] = uid
            if any(o.change.reason == INTERRUPTED for o, _ in results):
                return _interrupted(plan, outcomes)
    prunes = plan.of(Action.PRUNED)
    if any(o.error for o in outcomes):
        reason = "prune guard: an apply failed: nothing is pruned on a failed run"
        return ChangeSet(outcomes + [Outcome(replace(c, action=Action.BLOCKED, reason=reason)) for c in prunes])
    kept: dict[ObjRef, ObjRef] = {}  # a custom resource → a child of it that could not be deleted
    for change in sorted(prunes, key=lambda c: -[k.kind for k in ORDER].index(c.ref.kind)):
        if stop():
            return _interrupted(plan, outcomes)
        if change.ref in kept:  # a parent outlives a child that is still there: the next run retries both
            reason = f"kept: {kept[change.ref]} could not be deleted"
            outcomes.append(Outcome(Change(Action.SKIPPED, change.ref, reason=reason)))
            continue
        outcome = _delete_one(api, change, dry_run)
        owner = owner_of(change.ref, plan.leftovers.get(change.ref))  # what is pruned left git: its live body
        if outcome.error and owner is not None and owner != change.ref:
            kept.setdefault(owner, change.ref)
        outcomes.append(outcome)
    return ChangeSet(outcomes)


def _interrupted(plan: Plan, outcomes: list[Outcome]) -> ChangeSet:
    """Everything not yet sent, reported as not written."""
    done = {o.change.ref for o in outcomes}
    rest = [c for c in plan.changes if c.ref not in done and c.action in (*WRITTEN, Action.PRUNED)]
    return ChangeSet(outcomes + [Outcome(Change(Action.SKIPPED, c.ref, reason=INTERRUPTED)) for c in rest], True)


def _unmet(ref: ObjRef, plan: Plan, failed: set[ObjRef]) -> ObjRef | None:
    """A dependency of ``ref`` that failed in this run, or None."""
    if not failed or ref.kind not in NEEDS:
        return None
    owner = owner_of(ref, plan.bodies.get(ref))
    cache = cache_of(owner, plan.bodies.get(owner) or {}) if owner is not None and owner.kind == "NIMService" else None
    for dep in sorted(failed):
        dep_owner = owner_of(dep, plan.bodies.get(dep))
        if (dep.kind in NEEDS[ref.kind] and dep_owner == owner) or (cache is not None and dep_owner == cache):
            return dep
    return None


def _with_owner_uid(body: dict[str, Any], uids: dict[ObjRef, str]) -> dict[str, Any]:
    refs = body["metadata"].get("ownerReferences")
    if not refs or refs[0].get("uid"):
        return body
    owner = owners(body["metadata"]["namespace"], body)[0]
    filled = [{**refs[0], "uid": uids.get(owner, "")}]
    return {**body, "metadata": {**body["metadata"], "ownerReferences": filled}}


def _apply_one(
    api: ClusterApi,
    kind: Kind,
    change: Change,
    body: dict[str, Any],
    dry_run: bool,
    stop: Callable[[], bool],
    adopted: dict[str, Any] | None = None,
) -> tuple[Outcome, str]:
    if stop():  # asked to stop before this write was sent: it is not sent
        return Outcome(Change(Action.SKIPPED, change.ref, reason=INTERRUPTED)), ""
    refs = body["metadata"].get("ownerReferences") or []
    if refs and not refs[0].get("uid"):
        return Outcome(change, f"{change.ref}: its {refs[0]['kind']} {refs[0]['name']} could not be applied"), ""
    try:
        if adopted is not None and not dry_run:
            # Take the other managers' fields over first (at the version we judged), so that what we do not
            # render goes; without this an adopted Service keeps its old port beside ours.
            meta = adopted.get("metadata") or {}
            take = {"managedFields": taken_over(adopted), "resourceVersion": meta.get("resourceVersion")}
            api.patch(kind, change.ref.namespace, change.ref.name, {"metadata": take})
        result = api.apply(kind, body, dry_run=dry_run)
    except ClusterError as exc:
        return Outcome(change, str(exc)), ""
    return Outcome(change, result=result), str(result.get("metadata", {}).get("uid", ""))


def _delete_one(api: ClusterApi, change: Change, dry_run: bool) -> Outcome:
    kind = BY_KIND[change.ref.kind]
    # Custom resources orphan their children (each child is pruned under its own guards); a Job goes with its
    # pods first (Foreground), so no pod of it still writes into the cache once the Job is gone.
    policy = "Orphan" if change.ref.kind in CUSTOM_KINDS else "Foreground" if change.ref.kind == "Job" else "Background"
    try:
        api.delete(kind, change.ref.namespace, change.ref.name, dry_run=dry_run, propagation=policy)
    except ClusterError as exc:
        return Outcome(change, str(exc))
    return Outcome(change)


def install_crds(
    api: ClusterApi, crds: Sequence[dict[str, Any]], *, dry_run: bool = False, adopt: bool = False
) -> list[Outcome]:
    """Server-side apply each CRD that is missing or ours and out of date; never one another manager installed.

    A CRD of another manager (NVIDIA's operator, Helm, anything without our label) is BLOCKED, naming that
    manager, unless ``adopt``: then it is taken over and said so. One that is ours and already as generated is
    UNCHANGED and not written.
    """
    outcomes = []
    for crd in crds:
        ref = ObjRef("CustomResourceDefinition", "", crd["metadata"]["name"])
        existing = api.get(CRD, "", ref.name)
        if existing is not None and not is_ours(existing) and not adopt:
            reason = (
                f"installed by {manager_of(existing)}, not by nim-reconciler: left as it is (--adopt takes it over)"
            )
            outcomes.append(Outcome(Change(Action.BLOCKED, ref, reason=reason)))
            continue
        if existing is not None and is_ours(existing) and subset(crd, existing):
            outcomes.append(Outcome(Change(Action.UNCHANGED, ref)))
            continue
        action = Action.CREATED if existing is None else Action.CONFIGURED
        reason = f"adopted from {manager_of(existing)}" if existing is not None and not is_ours(existing) else ""
        change = Change(action, ref, reason=reason)
        try:
            api.apply(CRD, crd, dry_run=dry_run)
            outcomes.append(Outcome(change))
        except ClusterError as exc:
            outcomes.append(Outcome(change, str(exc)))
    return outcomes
