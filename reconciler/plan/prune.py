"""Prune: what happens to our objects that left git, each guard a rule of its own (pure).

Contract: ``prune_changes(leftover, live, desired, options, failed)`` returns one ``Change`` per leftover object:
PRUNED, or SKIPPED / BLOCKED with the guard that kept it named in the reason. Guards, in order:
``--no-prune``; the ``nim-reconciler/prune: disabled`` annotation; a Namespace without ``nim-reconciler/prune:
enabled``; a failed run; an empty render without
``--allow-empty``; more candidates than ``--max-prune``; a PVC whose NIMCache is still in git (kept, with a
warning: ``orphans``); a running Job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from reconciler.kinds import CUSTOM_KINDS
from reconciler.objects import DesiredObject, owner_of, owners
from reconciler.options import PruneOptions
from reconciler.plan.changes import Action, Change, Plan
from reconciler.plan.ownership import Inventory, foreign
from reconciler.refs import ObjRef

PRUNE = "nim-reconciler/prune"  # "disabled" keeps an object whatever git says
SUPERSEDED = "superseded by its NIMCache's new caching Job: deleted first (never two Jobs on one PVC)"
PROBED = "the model manifest probe has been read: deleted (a NIM-sized Pod is not left behind)"
ORPHANED = "kept: model cache no longer referenced"  # a PVC of a NIMCache still in git that renders another name

PRUNE = "nim-reconciler/prune"


def prune_changes(
    leftover: Sequence[ObjRef],
    live: Mapping[ObjRef, dict[str, Any]],
    desired: Sequence[DesiredObject],
    options: PruneOptions,
    failed: bool,
    inventory: Inventory | None = None,
) -> list[Change]:
    """What to do with our objects that left git (``failed``: an earlier stage failed). Each guard names itself.

    With an ``inventory``, an object that only carries our labels (not in it, or not owned by one of our custom
    resources) is never a candidate: it is left alone and said so, and does not count against ``--max-prune``.
    """
    strangers: list[Change] = []
    if inventory is not None:
        for ref in leftover:
            who = foreign(ref, live[ref], inventory, live)
            if who:
                strangers.append(Change(Action.SKIPPED, ref, reason=f"not ours, left alone: managed by {who}"))
    # A caching Job replaced by its NIMCache's new one is deleted (so that two never write one PVC): part of
    # applying the change, not a prune, so --no-prune and --max-prune leave it be. A failed run deletes nothing.
    caches = {d.ref for d in desired if d.ref.kind == "NIMCache"}
    ours = [r for r in leftover if r not in {c.ref for c in strangers}]
    # So is a model manifest probe Pod once its NIMCache's manifest is known (the operator deletes it too).
    done = ("Job", "Pod")
    superseded = [r for r in ours if r.kind in done and owner_of(r, live[r]) in caches and not _protected(live[r])]
    replaced = [
        Change(Action.BLOCKED, r, reason="prune guard: an earlier stage failed")
        if failed
        else Change(Action.PRUNED, r, reason=SUPERSEDED if r.kind == "Job" else PROBED)
        for r in superseded
    ]
    rest = [r for r in ours if r not in superseded]
    return strangers + replaced + _candidates(rest, live, desired, options, failed)


def _candidates(
    leftover: Sequence[ObjRef],
    live: Mapping[ObjRef, dict[str, Any]],
    desired: Sequence[DesiredObject],
    options: PruneOptions,
    failed: bool,
) -> list[Change]:
    if not leftover:
        return []
    if not options.enabled:
        return [Change(Action.SKIPPED, r, reason="prune is off (--no-prune)") for r in leftover]
    keep = [Change(Action.SKIPPED, r, reason=f"annotated {PRUNE}: disabled") for r in leftover if _protected(live[r])]
    # Deleting a Namespace deletes everything in it: only one annotated for it is ever a candidate.
    keep += [
        Change(Action.SKIPPED, r, reason=f"a Namespace is pruned only when annotated {PRUNE}: enabled")
        for r in leftover
        if r.kind == "Namespace" and not _protected(live[r]) and _annotation(live[r]) != "enabled"
    ]
    kept = {c.ref for c in keep}
    candidates = [r for r in leftover if r not in kept]
    guard = ""
    if failed:
        guard = "an earlier stage failed (validation, rendering or apply): nothing is pruned on a failed run"
    elif not desired and not options.allow_empty:
        guard = "the repo renders nothing: pruning everything needs --allow-empty"
    if guard:
        return keep + [Change(Action.BLOCKED, r, reason=f"prune guard: {guard}") for r in candidates]
    # One team's namespace with too much to prune is held back alone; the total is judged over the rest.
    keep += _crowded(candidates, options.max_prune_per_namespace)
    candidates = [r for r in candidates if r not in {c.ref for c in keep}]
    if len(candidates) > options.max_prune:
        guard = f"{len(candidates)} objects would be pruned, more than --max-prune {options.max_prune}"
        return keep + [Change(Action.BLOCKED, r, reason=f"prune guard: {guard}") for r in candidates]
    gone_owners = {r for r in candidates if r.kind in CUSTOM_KINDS}
    out = list(keep)
    for ref in candidates:
        reason = _keep_reason(ref, live[ref], gone_owners)
        out.append(
            Change(Action.BLOCKED if reason.startswith("prune guard") else Action.SKIPPED, ref, reason=reason)
            if reason
            else Change(Action.PRUNED, ref)
        )
    return out


def _crowded(candidates: Sequence[ObjRef], limit: int) -> list[Change]:
    """Blocked changes for every namespace with more than ``limit`` objects to prune (cluster-scoped: "")."""
    per: dict[str, list[ObjRef]] = {}
    for ref in candidates:
        per.setdefault(ref.namespace, []).append(ref)
    out: list[Change] = []
    for namespace, refs in per.items():
        if len(refs) > limit:
            where = f"namespace {namespace}" if namespace else "cluster-scoped objects"
            guard = f"{len(refs)} objects of {where} would be pruned, more than --max-prune-per-namespace {limit}"
            out += [Change(Action.BLOCKED, r, reason=f"prune guard: {guard}") for r in refs]
    return out


def _protected(obj: dict[str, Any]) -> bool:
    return _annotation(obj) == "disabled"


def _annotation(obj: dict[str, Any]) -> str | None:
    value = (obj["metadata"].get("annotations") or {}).get(PRUNE)
    return value if isinstance(value, str) else None


def _keep_reason(ref: ObjRef, obj: dict[str, Any], gone_owners: set[ObjRef]) -> str:
    if ref.kind == "PersistentVolumeClaim":
        named = owners(ref.namespace, obj)
        others = [o for o in named if o not in gone_owners]
        if named and others and len(others) < len(named):
            # A second owner (another NIMCache, another tool) still claims it: a model cache in use stays.
            return f"still owned by {', '.join(map(str, others))}: kept"
        if not named or others:
            # A changed render never deletes a model cache of hundreds of GB, and it is no reason to fail runs.
            return f"{ORPHANED}; delete it with: kubectl delete pvc -n {ref.namespace} {ref.name}"
    # A running Job of a NIMCache that left git is deleted first (its pods with it): it must not go on writing
    # into a cache that is being removed.
    if ref.kind == "Job" and (obj.get("status") or {}).get("active") and owner_of(ref, obj) not in gone_owners:
        return "still running: pruned once it has finished"
    return ""


def orphans(changes: Sequence[Change]) -> list[str]:
    """The warnings of a plan's orphaned model caches: PVCs kept because their NIMCache renders another name."""
    return [f"{c.ref}: {c.reason}" for c in changes if c.action is Action.SKIPPED and c.reason.startswith(ORPHANED)]


def keep_in_use(plan: Plan, live: Mapping[ObjRef, Mapping[str, Any]], pods: Sequence[Mapping[str, Any]]) -> Plan:
    """Make before break: a PVC is never deleted while a live Deployment, Job or Pod mounts it (it is pruned by a
    later run once nothing does), and a custom resource only once all its children are gone."""
    users = _claims(live, pods)
    changes: list[Change] = []
    for change in plan.changes:
        using = users.get(change.ref) if change.ref.kind == "PersistentVolumeClaim" else None
        if using and change.action is Action.PRUNED:
            change = Change(Action.SKIPPED, change.ref, reason=f"kept while {', '.join(using)} mounts it")
        changes.append(change)
    pruned = {c.ref for c in changes if c.action is Action.PRUNED}
    for index, change in enumerate(changes):
        if change.ref.kind in CUSTOM_KINDS and change.action is Action.PRUNED:
            # children kept for good (prune: disabled) do not hold their parent: it goes, orphaning them
            left = sorted(
                r
                for r, obj in live.items()
                if r != change.ref and r not in pruned and owner_of(r, obj) == change.ref and not _protected(dict(obj))
            )
            if left:
                reason = f"kept until its children are gone ({left[0]}): pruned by a later run"
                changes[index] = Change(Action.SKIPPED, change.ref, reason=reason)
    return replace(plan, changes=changes)


def claimed(plan: Plan) -> set[str]:
    """The namespaces where the plan would delete a PVC: where to look for pods that mount one."""
    return {
        c.ref.namespace for c in plan.changes if c.ref.kind == "PersistentVolumeClaim" and c.action is Action.PRUNED
    }


def _claims(live: Mapping[ObjRef, Mapping[str, Any]], pods: Sequence[Mapping[str, Any]]) -> dict[ObjRef, list[str]]:
    """PVC → who mounts it: our live Deployments and running Jobs (by their pod template), and every Pod read
    that has not terminated."""
    users: dict[ObjRef, list[str]] = {}
    # A Deployment always counts (its pods come back); a Job only while it runs; a Pod until it has terminated.
    holders = [
        (ref, (obj.get("spec") or {}).get("template") or {})
        for ref, obj in live.items()
        if ref.kind == "Deployment" or (ref.kind == "Job" and (obj.get("status") or {}).get("active"))
    ]
    for pod in pods:
        meta = pod.get("metadata") or {}
        if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
            holders.append((ObjRef("Pod", meta.get("namespace", ""), meta.get("name", "")), pod))
    for ref, pod in holders:
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            claim = (
                (volume.get("persistentVolumeClaim") or {}).get("claimName") if isinstance(volume, Mapping) else None
            )
            if isinstance(claim, str):
                users.setdefault(ObjRef("PersistentVolumeClaim", ref.namespace, claim), []).append(str(ref))
    return {pvc: sorted(set(who)) for pvc, who in users.items()}
