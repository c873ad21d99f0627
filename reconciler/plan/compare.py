"""The plan: desired objects against the live ones → create, configure, leave, prune or block (pure).

"Unchanged" means: the live object carries the hash of exactly this desired object (so nothing was added to
or removed from git), and every field we set is equal in the live object (so nobody edited it by hand).
Server defaults, status, managedFields, resourceVersion, uid … are not ours and are ignored; quantities are
compared by value (``4000m`` = ``4``).
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler import ignores, quantity, yaml_text
from reconciler.kinds import CUSTOM_KINDS, RANK
from reconciler.objects import MANAGER, DesiredObject, content, content_change, controller_reference, owner_of
from reconciler.options import PruneOptions
from reconciler.plan.changes import Action, Change, Plan
from reconciler.plan.ownership import Inventory
from reconciler.plan.prune import prune_changes
from reconciler.refs import ObjRef

APPLIED = "nim-reconciler/applied"
REVISION = "nim-reconciler/revision"  # the git revision that last wrote the object (not part of its hash)
MODEL_PULLER_MESSAGE = (
    "modelPuller is an immutable field. Please create a new NIMCache resource instead when you want to change "
    "this container."
)


def offline(desired: Sequence[DesiredObject]) -> Plan:
    """An offline dry run (no cluster to compare with): every desired object is to be created."""
    return Plan([Change(Action.CREATED, d.ref) for d in desired], live_known=False)


def stamped(body: dict[str, Any], ignored: Sequence[str] = ()) -> dict[str, Any]:
    """The body with the ``nim-reconciler/applied`` hash of itself.

    The hash leaves out that annotation and the ownerReferences: those come from the cluster (the owner's uid),
    not from git, and are compared field by field instead. It leaves out the ``ignored`` fields too: a git change
    there is no change of ours.
    """
    meta = body["metadata"]
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != APPLIED}
    plain_meta = {k: v for k, v in meta.items() if k != "ownerReferences"}
    plain = ignores.without({**body, "metadata": {**plain_meta, "annotations": annotations}}, ignored)
    digest = hashlib.sha256(json.dumps(plain, sort_keys=True).encode()).hexdigest()[:20]
    return {**body, "metadata": {**meta, "annotations": {**annotations, APPLIED: digest}}}


def owned(body: dict[str, Any], owner: ObjRef | None, uids: Mapping[ObjRef, str]) -> dict[str, Any]:
    """The body with a controller ownerReference to its custom resource (uid from the cluster, if known)."""
    if owner is None:
        return body
    reference = controller_reference(owner, uids.get(owner, ""))
    return {**body, "metadata": {**body["metadata"], "ownerReferences": [reference]}}


def plan(
    desired: Sequence[DesiredObject],
    live: Mapping[ObjRef, dict[str, Any]],
    prune: PruneOptions,
    *,
    failed: bool = False,
    revision: str | None = None,
    inventory: Inventory | None = None,
    assume_ready: bool = False,
    created_diffs: bool = True,
) -> Plan:
    """Compare, then decide what to prune. ``failed``: an earlier stage failed, so nothing may be pruned.
    ``inventory``: what our runs created (None: every labelled object is ours, as in a pull-request check).
    ``assume_ready``: refuse content changes of every existing NIMCache (a pull-request check knows no state).
    ``created_diffs``: give a new object its whole body as its diff (a dry run shows it; an apply does not, and a
    YAML dump of every new object was a fifth of a first apply's CPU).

    ``revision`` is annotated on every object written, but left out of the comparison: a commit that changes
    one manifest rewrites that manifest's objects, not all of them.
    """
    uids = {ref: obj["metadata"].get("uid", "") for ref, obj in live.items() if ref.kind in CUSTOM_KINDS}
    changes: list[Change] = []
    bodies: dict[ObjRef, dict[str, Any]] = {}
    ignored = _ignored(desired)
    for item in desired:
        pointers = ignored.get(item.ref, ())
        body = stamped(owned(item.body, item.owner, uids), pointers)
        if item.ref in live and pointers:  # after creation, the ignored fields are another manager's
            body = ignores.release(body, live[item.ref], pointers)
        changes.append(compare(item.ref, body, live.get(item.ref), assume_ready, created_diffs))
        bodies[item.ref] = _with_revision(body, revision) if revision else body
    wanted = {d.ref for d in desired}
    leftover = sorted((ref for ref in live if ref not in wanted), key=lambda r: (-RANK.get(r.kind, 99), r))
    changes += prune_changes(leftover, live, desired, prune, failed, inventory)
    kept = {ref: dict(live[ref]) for ref in leftover}
    return Plan(hold(changes, desired, live), live_known=True, bodies=bodies, leftovers=kept)


def hold(
    changes: list[Change], desired: Sequence[DesiredObject], live: Mapping[ObjRef, dict[str, Any]]
) -> list[Change]:
    """A blocked object holds its whole custom resource: the resource, its other children, and its leftovers.

    Applying the rest would record a spec the cluster cannot have (a PVC that did not shrink), or start a new
    caching Job for a modelPuller that must not change.
    """
    owner_by = {d.ref: d.owner for d in desired}
    blocked = {c.ref for c in changes if c.action is Action.BLOCKED and c.ref.kind in CUSTOM_KINDS}
    blocked |= {o for c in changes if c.action is Action.BLOCKED and (o := owner_by.get(c.ref)) is not None}
    if not blocked:
        return changes
    out = []
    for change in changes:
        owner = owner_by.get(change.ref) or owner_of(change.ref, live.get(change.ref))
        held = change.ref if change.ref in blocked else owner if owner in blocked else None
        if held is not None and change.action in (Action.CREATED, Action.CONFIGURED):
            change = Change(Action.BLOCKED, change.ref, reason=f"held: {held} has a change Kubernetes forbids")
        elif held is not None and change.action is Action.PRUNED:
            change = Change(Action.SKIPPED, change.ref, reason=f"kept while {held} is blocked")
        out.append(change)
    return out


def _with_revision(body: dict[str, Any], revision: str) -> dict[str, Any]:
    meta = body["metadata"]
    return {**body, "metadata": {**meta, "annotations": {**meta["annotations"], REVISION: revision}}}


def _ignored(desired: Sequence[DesiredObject]) -> dict[ObjRef, tuple[str, ...]]:
    """The pointers ignored on each child: its manifest's ``nim-reconciler/ignore-differences`` rules, and the
    built-in one: with an HPA, the replica count is the HPA's decision, as the operator leaves it (never fight
    it)."""
    owners = {d.ref: ignores.rules(d.body) for d in desired if d.ref.kind in CUSTOM_KINDS}
    scaled = {ObjRef("Deployment", d.ref.namespace, d.ref.name) for d in desired
              if d.ref.kind == "HorizontalPodAutoscaler"}  # fmt: skip
    out = {}
    for item in desired:
        pointers = ignores.pointers_for(owners.get(item.owner, []) if item.owner else [], item.ref.kind)
        pointers += ignores.HPA_RULE if item.ref in scaled else ()
        if pointers:
            out[item.ref] = pointers
    return out


def compare(ref: ObjRef, body: dict[str, Any], live: dict[str, Any] | None, assume_ready: bool = False,
            created_diff: bool = True) -> Change:  # fmt: skip
    """One object's change: created, unchanged, configured (with the diff of our fields) or blocked (why)."""
    if live is None:
        return Change(Action.CREATED, ref, diff=_diff({}, body) if created_diff else "")
    blocked = forbidden(ref, body, live, assume_ready)
    if blocked:
        return Change(Action.BLOCKED, ref, reason=blocked)
    same_source = (live["metadata"].get("annotations") or {}).get(APPLIED) == body["metadata"]["annotations"][APPLIED]
    if same_source and subset(body, live):
        return Change(Action.UNCHANGED, ref)
    return Change(Action.CONFIGURED, ref, diff=_diff(project(live, body, owned=_owned_fields(live)), body))


def forbidden(ref: ObjRef, body: dict[str, Any], live: dict[str, Any], assume_ready: bool = False) -> str:
    """Why Kubernetes (or the operator's rules) would refuse this change, or ''.

    The content of a Ready NIMCache (``objects.content``) cannot change: the operator treats its spec as
    immutable, and a new download into the same PVC would replace a model in use. ``assume_ready``: compare as
    if every existing cache were Ready (a pull-request check knows no state).
    """
    if ref.kind == "PersistentVolumeClaim":
        return _pvc_change(body["spec"], live.get("spec") or {})
    if ref.kind == "NIMCache":
        for source in ("ngc", "hf", "dataStore"):
            new = (body["spec"].get("source") or {}).get(source, {}).get("modelPuller")
            old = ((live.get("spec") or {}).get("source") or {}).get(source, {}).get("modelPuller")
            if new and old and new != old:
                return f"spec.source.{source}.modelPuller: {MODEL_PULLER_MESSAGE} ({old} → {new})"
        ready = assume_ready or ((live.get("status") or {}).get("state") == "Ready")
        changed = content_change(body, live) if ready else ""
        if changed:
            return (
                f"{changed}: {CONTENT_MESSAGE} ({_shown(content(live).get(changed))} → "
                f"{_shown(content(body).get(changed))})"
            )
    return ""


CONTENT_MESSAGE = (
    "the content of a Ready NIMCache cannot change (it would download again over the model in use): create a "
    "new NIMCache for it and point the NIMService at it"
)


def _shown(value: Any) -> str:
    return "unset" if value is None else json.dumps(value) if not isinstance(value, str) else value


def _pvc_change(new: dict[str, Any], old: dict[str, Any]) -> str:
    wanted = quantity.try_parse(new.get("resources", {}).get("requests", {}).get("storage"))
    current = quantity.try_parse(old.get("resources", {}).get("requests", {}).get("storage"))
    if wanted is not None and current is not None and wanted < current:
        return "spec.resources.requests.storage: a PVC cannot shrink (a model cache is never recreated)"
    # Any class on a PVC that exists is final: one left out at creation was set by the default-class admission
    # plugin (or stays unset), and Kubernetes refuses to change either afterwards.
    if new.get("storageClassName") and old.get("storageClassName") != new.get("storageClassName"):
        return f"spec.storageClassName: a PVC's class cannot change ({old.get('storageClassName') or 'none'})"
    if old.get("accessModes") and new.get("accessModes") != old.get("accessModes"):
        return f"spec.accessModes: a PVC's access mode cannot change ({', '.join(old['accessModes'])})"
    return ""


_LIST_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "imagePullSecrets": "name",
    "ownerReferences": "uid",
}


_PROJECT_KEYS = {**_LIST_KEYS, "ports": "name"}


def subset(want: Any, have: Any, parent: str = "") -> bool:
    """Every field of ``want`` is in ``have`` with an equal value (quantities by value, keyed lists by key)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(k in have and subset(v, have[k], k) for k, v in want.items())
    if isinstance(want, list):
        if not isinstance(have, list):
            return False
        key = _LIST_KEYS.get(parent)
        if key and all(isinstance(w, dict) for w in want):
            index = {h.get(key): h for h in have if isinstance(h, dict)}
            return all(w.get(key) in index and subset(w, index[w.get(key)]) for w in want)
        return len(want) == len(have) and all(subset(w, h, parent) for w, h in zip(want, have, strict=True))
    if isinstance(want, bool) or isinstance(have, bool):  # Python's True == 1: JSON's true is not 1
        return want is have
    if want == have:
        return True
    a, b = quantity.try_parse(want), quantity.try_parse(have)
    return a is not None and a == b


def project(live: Any, shape: Any, parent: str = "", owned: str = "") -> Any:
    """The part of ``live`` that ``shape`` sets, to show a diff of our fields only: server defaults (also inside
    list items, matched by key) are left out, and a value equal to ours in another spelling (``4000m`` for ``4``,
    ``1`` for ``"1"``) shows as ours, since it is no change. A list item git no longer has shows as removed only
    when ``owned`` (our manager's managedFields, as text) names it: another manager's items are not ours."""
    if isinstance(shape, dict) and isinstance(live, dict):
        return {k: project(live[k], v, k, owned) for k, v in shape.items() if k in live}
    if isinstance(shape, list) and isinstance(live, list):
        key = _PROJECT_KEYS.get(parent)
        if key and all(isinstance(i, dict) and key in i for i in (*shape, *live)):
            index = {i[key]: i for i in live}
            matched = [project(index[w[key]], w, parent, owned) for w in shape if w[key] in index]
            wanted = {w[key] for w in shape}
            gone = [i for i in live if i[key] not in wanted and _names(owned, key, i[key])]
            return matched + gone
        if len(shape) == len(live):
            return [project(i, w, parent, owned) for i, w in zip(live, shape, strict=True)]
        return live
    return shape if subset(shape, live, parent) else live


def _owned_fields(live: Mapping[str, Any]) -> str:
    """Our server-side-apply field set of ``live`` (managedFields of manager nim-reconciler), as JSON text."""
    entries = (live.get("metadata") or {}).get("managedFields") or []
    ours = [e.get("fieldsV1") for e in entries if isinstance(e, dict) and e.get("manager") == MANAGER]
    return json.dumps(ours)


def _names(owned: str, key: str, value: Any) -> bool:
    """``owned`` has a list item whose ``key`` is ``value`` (fieldsV1 writes it ``k:{"name":"X"}``)."""
    return json.dumps(f"k:{json.dumps({key: value}, separators=(',', ':'))}")[1:-1] in owned


def _diff(old: Any, new: Any) -> str:
    """A unified diff of our fields, without the hash annotation (it changes with every change: noise)."""
    old, new = _unstamped(old), _unstamped(new)
    before = yaml_text.dump(old).splitlines(keepends=True) if old else []
    after = yaml_text.dump(new).splitlines(keepends=True)
    return "".join(difflib.unified_diff(before, after, "live", "desired"))


def _unstamped(body: Any) -> Any:
    annotations = (body.get("metadata") or {}).get("annotations") if isinstance(body, dict) else None
    if not isinstance(annotations, dict) or APPLIED not in annotations:
        return body
    rest = {k: v for k, v in annotations.items() if k != APPLIED}
    meta = {k: v for k, v in body["metadata"].items() if k != "annotations"} | ({"annotations": rest} if rest else {})
    return {**body, "metadata": meta}
