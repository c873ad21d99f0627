"""What is ours: the inventory of the objects nim-reconciler created, and no silent adoption (pure).

An object is ours when the inventory (kept with the revision record, like Flux's) names it with its uid and, for
a child, its controller ownerReference points to one of our custom resources. Carrying our labels is not enough:
anyone can copy labels. Contract:

- ``Inventory.bootstrap(live)``: the first inventory of a cluster that has none yet (an older nim-reconciler):
  our custom resources and Namespaces, and the children whose controller ownerReference names one of them by
  uid;
- ``foreign(ref, body, inventory, live)``: '' for an object of ours, else who manages it;
- ``claim(plan, desired, live, existing, inventory, adopt)``: a desired object that exists and is not ours blocks
  its whole custom resource (nothing of it is written) unless adopted (``--adopt`` or the manifest's
  ``nim-reconciler/adopt: "true"``), which takes it over and says so;
- ``after(objects, desired, blocked, inventory)``: the inventory once a run's writes are done.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from reconciler.kinds import MANIFEST_KINDS
from reconciler.objects import CLUSTER_LABEL, DesiredObject, is_ours, manager_of, owner_of
from reconciler.plan.changes import Action, Change, Plan
from reconciler.refs import ObjRef

ADOPT = "nim-reconciler/adopt"  # "true" on a NIMCache / NIMService manifest: take over its existing children

Objects = Mapping[ObjRef, Mapping[str, Any]]


@dataclass(frozen=True)
class Inventory:
    """Every object a cluster's runs created and still manage: (kind, namespace, name) → uid."""

    uids: Mapping[ObjRef, str]

    def has(self, ref: ObjRef, body: Mapping[str, Any] | None) -> bool:
        """``ref`` is in the inventory as this very object (same uid: not one made again by someone else)."""
        uid = ((body or {}).get("metadata") or {}).get("uid", "")
        return bool(uid) and self.uids.get(ref) == uid

    @classmethod
    def bootstrap(cls, live: Objects) -> Inventory:
        """Our custom resources, and the children whose controller ownerReference names one of them by uid."""
        roots = {ref: _uid(obj) for ref, obj in live.items() if ref.kind in MANIFEST_KINDS and is_ours(obj)}
        uids = dict(roots)
        for ref, obj in live.items():
            controller = _controller(obj)
            owner = owner_of(ref, obj)
            if ref.kind not in MANIFEST_KINDS and controller and owner in roots and roots[owner] == controller:
                uids[ref] = _uid(obj)
        return cls(uids)


def foreign(ref: ObjRef, body: Mapping[str, Any], inventory: Inventory, live: Objects) -> str:
    """'' when the object is ours; else who manages it, for a message."""
    if not is_ours(body):
        return manager_of(body)
    if ref not in live:  # ours by label, but not selected for this cluster: another cluster's run made it
        other = ((body.get("metadata") or {}).get("labels") or {}).get(CLUSTER_LABEL, "?")
        return f"nim-reconciler for cluster {other}"
    if ref.kind not in MANIFEST_KINDS:  # a child: its controller must be one of our custom resources
        owner = owner_of(ref, body)
        controller = _controller(body)
        if owner is None or not controller or _uid(live.get(owner) or {}) not in ("", controller):
            return f"{manager_of(body)} (its controller is not one of our custom resources)"
    if not inventory.has(ref, body):
        return f"{manager_of(body)} (it carries our labels, but no run of ours created it)"
    return ""


def claim(
    plan: Plan,
    desired: Sequence[DesiredObject],
    live: Objects,
    existing: Objects,
    inventory: Inventory,
    adopt: bool,
) -> Plan:
    """Block every custom resource one of whose objects exists and is not ours (or adopt it, when allowed).

    ``existing``: objects of the names the plan would create that exist without being selected as ours.
    """
    owners = {d.ref: d.owner or d.ref for d in desired}
    adopting = {d.ref for d in desired if d.owner is None and (adopt or _annotated(d.body))}
    blocked: dict[ObjRef, str] = {}
    refused: set[ObjRef] = set()
    changes: list[Change] = []
    taken: dict[ObjRef, dict[str, Any]] = {}
    for change in plan.changes:
        body = existing.get(change.ref) or live.get(change.ref)
        owner = owners.get(change.ref)
        who = foreign(change.ref, body, inventory, live) if body is not None and owner is not None else ""
        if who and owner in adopting:
            change = Change(Action.CONFIGURED, change.ref, change.diff, f"adopted from {who}")
            taken[change.ref] = body  # type: ignore[assignment]
        elif who and owner is not None:
            reason = f'exists and is not ours: managed by {who}; adopt it with --adopt or {ADOPT}: "true"'
            change = Change(Action.BLOCKED, change.ref, reason=reason)
            blocked.setdefault(owner, f"{change.ref} is not ours")
            refused.add(change.ref)
        changes.append(change)
    held = _hold(changes, owners, blocked, live) if blocked else changes
    return replace(plan, changes=held, foreign=frozenset(refused), adopted=taken)


def after(objects: Objects, desired: Iterable[ObjRef], blocked: set[ObjRef], inventory: Inventory) -> Inventory:
    """The inventory once a run's writes are done: the desired objects that exist and were not refused as
    someone else's, and the earlier entries still there as the same objects (kept, not pruned)."""
    wanted = set(desired) - blocked
    uids = {ref: _uid(obj) for ref, obj in objects.items() if ref in wanted and _uid(obj)}
    uids |= {ref: uid for ref, uid in inventory.uids.items() if ref not in uids and _uid(objects.get(ref) or {}) == uid}
    return Inventory(uids)


def _hold(
    changes: list[Change], owners: Mapping[ObjRef, ObjRef], blocked: Mapping[ObjRef, str], live: Objects
) -> list[Change]:
    out = []
    for change in changes:
        owner = owners.get(change.ref) or owner_of(change.ref, live.get(change.ref))
        if owner is None or owner not in blocked:
            out.append(change)
            continue
        if change.action in (Action.CREATED, Action.CONFIGURED, Action.REPLACED):
            change = Change(Action.BLOCKED, change.ref, reason=f"held: {blocked[owner]}")
        elif change.action is Action.PRUNED:
            change = Change(Action.SKIPPED, change.ref, reason=f"kept while {owner} is blocked")
        out.append(change)
    return out


def _annotated(body: Mapping[str, Any]) -> bool:
    return ((body.get("metadata") or {}).get("annotations") or {}).get(ADOPT) == "true"


def _uid(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def _controller(obj: Mapping[str, Any]) -> str:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return next((str(r.get("uid") or "") for r in refs if isinstance(r, Mapping) and r.get("controller")), "")
