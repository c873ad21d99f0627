"""Suspension (pure): a custom resource whose manifest says ``nim-reconciler/reconcile: disabled``, or a whole
suspended cluster, is left as it is.

Contract: ``resources(plan, desired, live)`` turns every change of a suspended NIMCache or NIMService, and of
its children (rendered or left over), into ``SUSPENDED``, naming the live state it keeps: nothing of it is
written, pruned or given a status, while the plan still shows what git would change. ``cluster(plan, why)``
does the same to every change of a suspended cluster. Removing the annotation (or ``reconcile resume``) lets
the next run reconcile as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from reconciler.kinds import CUSTOM_KINDS
from reconciler.objects import SUSPEND, DesiredObject, owner_of, suspended
from reconciler.plan.changes import WRITES, Action, Change, Plan
from reconciler.refs import ObjRef


def _state(live: Mapping[ObjRef, dict[str, Any]], ref: ObjRef) -> str:
    found = live.get(ref)
    if found is None:
        return "not created"
    return str((found.get("status") or {}).get("state") or "no status")


def resources(plan: Plan, desired: Sequence[DesiredObject], live: Mapping[ObjRef, dict[str, Any]]) -> Plan:
    """Every change of a suspended custom resource and of its children, as ``SUSPENDED``."""
    off = {d.ref for d in desired if d.ref.kind in CUSTOM_KINDS and suspended(d.body)}
    if not off:
        return plan
    owner_by = {d.ref: d.owner for d in desired}
    changes = []
    for change in plan.changes:
        owner = owner_by.get(change.ref) or owner_of(change.ref, live.get(change.ref))
        held = change.ref if change.ref in off else owner if owner in off else None
        if held is not None:
            what = f"{change.action.value} if resumed" if change.action in WRITES else change.action.value
            reason = f"{SUSPEND}: disabled on {held} (it stays {_state(live, held)}; {what})"
            change = Change(Action.SUSPENDED, change.ref, change.diff, reason)
        changes.append(change)
    return replace(plan, changes=changes)


def cluster(plan: Plan, why: str) -> Plan:
    """Every change that would write, as ``SUSPENDED`` (``why``: who suspended the cluster, when, why)."""
    changes = [
        Change(Action.SUSPENDED, c.ref, c.diff, f"{why} ({c.action.value} if resumed)") if c.action in WRITES else c
        for c in plan.changes
    ]
    return replace(plan, changes=changes)
