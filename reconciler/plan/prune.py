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
from typing import Any

from reconciler.kinds import CUSTOM_KINDS
from reconciler.objects import DesiredObject, owners
from reconciler.options import PruneOptions
from reconciler.plan.changes import Action, Change
from reconciler.plan.ownership import Inventory, foreign
from reconciler.refs import ObjRef

PRUNE = "nim-reconciler/prune"  # "disabled" keeps an object whatever git says
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
        leftover = [r for r in leftover if r not in {c.ref for c in strangers}]
    return strangers + _guarded(leftover, live, desired, options, failed)


def _guarded(
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
    elif len(candidates) > options.max_prune:
        guard = f"{len(candidates)} objects would be pruned, more than --max-prune {options.max_prune}"
    if guard:
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


def _protected(obj: dict[str, Any]) -> bool:
    return _annotation(obj) == "disabled"


def _annotation(obj: dict[str, Any]) -> str | None:
    value = (obj["metadata"].get("annotations") or {}).get(PRUNE)
    return value if isinstance(value, str) else None


def _keep_reason(ref: ObjRef, obj: dict[str, Any], gone_owners: set[ObjRef]) -> str:
    if ref.kind == "PersistentVolumeClaim":
        named = owners(ref.namespace, obj)
        if not named or not any(o in gone_owners for o in named):
            # A changed render never deletes a model cache of hundreds of GB, and it is no reason to fail runs.
            return f"{ORPHANED}; delete it with: kubectl delete pvc -n {ref.namespace} {ref.name}"
    if ref.kind == "Job" and (obj.get("status") or {}).get("active"):
        return "still running: pruned once it has finished"
    return ""


def orphans(changes: Sequence[Change]) -> list[str]:
    """The warnings of a plan's orphaned model caches: PVCs kept because their NIMCache renders another name."""
    return [f"{c.ref}: {c.reason}" for c in changes if c.action is Action.SKIPPED and c.reason.startswith(ORPHANED)]
