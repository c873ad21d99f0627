"""The revision record: per cluster, what the last runs applied, kept in a ConfigMap beside the run lock (I/O
through kube; the rest pure).

Contract: ``read`` returns the record (or an empty one); ``write`` stores it with a new run first, the history
capped at ``KEEP`` runs, like Flux's ``status.history``. The record answers one question for the next run:
did the revision or the rendered objects change since the last good run? If neither did, the run is a read-only
drift check.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from reconciler.cluster.api import ClusterApi
from reconciler.errors import Conflict
from reconciler.kinds import Kind
from reconciler.objects import labels
from reconciler.plan.changes import COUNTED, Action
from reconciler.plan.ownership import Inventory
from reconciler.refs import ObjRef

CONFIGMAP = Kind("ConfigMap", "v1", "configmaps")
KEEP = 10
INVENTORY = "inventory"  # the ConfigMap key of the inventory
MAX_INVENTORY = 64 << 20  # bytes it may inflate to (a ConfigMap holds 1 MiB; zlib packs at most ~1000:1)
# What a run's line counts: every action but "skipped" (a kept object is no news), in report order.
RECORDED = tuple(a for a in COUNTED if a is not Action.SKIPPED)


@dataclass(frozen=True)
class Run:
    """One run: the revision, the digest of what it rendered, when, how it ended, and its counts by action."""

    revision: str
    digest: str
    time: str
    result: str  # "applied", "drift-healed", "failed", "blocked"
    duration: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Suspension:
    """Who suspended the cluster's reconciliation, when, and why."""

    by: str
    at: str
    reason: str = ""

    def __str__(self) -> str:
        why = f": {self.reason}" if self.reason else ""
        return f"suspended by {self.by} at {self.at}{why}"


@dataclass(frozen=True)
class Record:
    """The runs of a cluster, newest first, and the inventory of what they manage (None: none recorded yet)."""

    history: tuple[Run, ...] = ()
    resource_version: str = ""
    inventory: Inventory | None = None
    suspension: Suspension | None = None  # `reconcile suspend` said so: runs read and report, and write nothing

    @property
    def last_good(self) -> Run | None:
        return next((r for r in self.history if r.result in ("applied", "drift-healed")), None)

    @property
    def settled(self) -> bool:
        """The last good run left nothing waiting (so a change on the same revision is drift, not progress)."""
        good = self.last_good
        return good is not None and not good.counts.get("waiting")

    def unchanged(self, revision: str | None, digest: str) -> bool:
        """The last good run applied this very revision (or, for a plain directory, none) and rendered the same
        objects."""
        good = self.last_good
        return good is not None and good.revision == (revision or "") and good.digest == digest


def name(cluster: str) -> str:
    """The record's ConfigMap (and the lock's Lease) of ``cluster``."""
    return f"nim-reconciler-{cluster}"


def digest(applied: Iterable[tuple[ObjRef, str]]) -> str:
    """A digest of every rendered object: its reference and the hash it is stamped with (pure)."""
    text = "\n".join(f"{ref}={stamp}" for ref, stamp in sorted(applied))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def read(api: ClusterApi, namespace: str, cluster: str) -> Record:
    """The record of ``cluster`` (an empty one when there is none yet): one GET."""
    found = api.get(CONFIGMAP, namespace, name(cluster))
    if found is None:
        return Record()
    return parse(found)


def parse(configmap: Mapping[str, Any]) -> Record:
    """The record in a ConfigMap; a hand-edited, unreadable history counts as none (the next run rewrites it)."""
    data = configmap.get("data") or {}
    try:
        runs = tuple(Run(**item) for item in json.loads(data.get("history", "[]")))
    except (TypeError, ValueError):
        runs = ()
    try:
        held = json.loads(data["suspension"]) if data.get("suspension") else None
        suspension = Suspension(str(held["by"]), str(held["at"]), str(held.get("reason") or "")) if held else None
    except (TypeError, ValueError, KeyError):
        suspension = Suspension("someone", "an unknown time", "the record's suspension entry is unreadable")
    version = configmap["metadata"].get("resourceVersion", "")
    # binaryData since 3 Dec; a record written before then keeps it under data until its next write
    packed = (configmap.get("binaryData") or {}).get(INVENTORY) or data.get(INVENTORY)
    return Record(runs, version, decode(packed), suspension)


def encode(inventory: Inventory) -> str:
    """The inventory as one ``binaryData`` value: sorted [kind, namespace, name, uid] rows, JSON, zlib (base64, as
    binaryData is written in JSON).

    Compressed because a ConfigMap's values may add up to 1 MiB at most, and kept in binaryData because the API
    server counts those decoded: 10,000 objects take ~0.25 MiB of it (their uids do not compress), so ~40,000 fit;
    as base64 text under ``data`` they would count a third more (38,000 objects: 1.25 MiB, refused).
    """
    rows = sorted([ref.kind, ref.namespace, ref.name, uid] for ref, uid in inventory.uids.items())
    packed = zlib.compress(json.dumps(rows, separators=(",", ":")).encode(), 9)
    return base64.b64encode(packed).decode("ascii")


def decode(text: object) -> Inventory | None:
    """The inventory of ``encode``; None when there is none or it cannot be read (the next run rebuilds it)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        inflate = zlib.decompressobj()
        raw = inflate.decompress(base64.b64decode(text, validate=True), MAX_INVENTORY)
        if inflate.unconsumed_tail:  # far more than 1 MiB can hold honestly: not ours to believe
            return None
        rows = json.loads(raw)
        return Inventory({ObjRef(str(k), str(ns), str(n)): str(uid) for k, ns, n, uid in rows})
    except (ValueError, TypeError, zlib.error):
        return None


def body(namespace: str, cluster: str, record: Record) -> dict[str, Any]:
    """The ConfigMap: the last run's fields at the top (for ``kubectl get cm -o yaml``), the history, the
    inventory, the suspension."""
    held = record.suspension
    extra = {"suspension": json.dumps(asdict(held), sort_keys=True)} if held is not None else {}
    meta = {"name": name(cluster), "namespace": namespace, "labels": labels(cluster)}
    packed = {"binaryData": {INVENTORY: encode(record.inventory)}} if record.inventory is not None else {}
    if not record.history:  # suspended before any run: nothing else to say yet
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": extra, **packed}
    last = record.history[0]
    good = record.last_good
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta,
        **packed,
        "data": {
            "lastAttemptedRevision": last.revision,
            "lastAppliedRevision": good.revision if good else "",
            "lastRunTime": last.time,
            "lastResult": last.result,
            "lastCounts": json.dumps(last.counts, sort_keys=True),
            "history": json.dumps([asdict(r) for r in record.history], indent=1),
            **extra,
        },
    }


def write(
    api: ClusterApi, namespace: str, cluster: str, record: Record, run: Run, inventory: Inventory | None = None
) -> Record:
    """Store ``run`` first in the record, with ``inventory`` (default: the one it has), creating the ConfigMap or
    replacing it at the version we read.

    Two runs writing at once: the later one's PUT fails with a conflict; it reads again and retries once.
    """
    kept = inventory if inventory is not None else record.inventory
    return _save(api, namespace, cluster, record,
                 lambda r: Record((run, *r.history)[:KEEP], r.resource_version, kept, r.suspension))  # fmt: skip


def suspend(api: ClusterApi, namespace: str, cluster: str, held: Suspension | None) -> Record:
    """Set (or, with None, clear) the cluster's suspension in its record, keeping the history and inventory."""
    return _save(api, namespace, cluster, read(api, namespace, cluster), lambda r: replace(r, suspension=held))


def _save(api: ClusterApi, namespace: str, cluster: str, record: Record, change: Callable[[Record], Record]) -> Record:
    """Write ``change(record)``: a PUT at the version read, or a POST when there is no record yet; on a conflict
    (another writer came first), read again and change that, once."""
    for _ in range(2):
        obj = body(namespace, cluster, change(record))
        try:
            if record.resource_version:
                obj["metadata"]["resourceVersion"] = record.resource_version
                return parse(api.replace(CONFIGMAP, obj))
            return parse(api.create(CONFIGMAP, obj))
        except Conflict:
            record = read(api, namespace, cluster)
    raise Conflict(ObjRef("ConfigMap", namespace, name(cluster)), "the revision record changed twice while written")
