"""The revision record: per cluster, what the last runs applied, kept in a ConfigMap beside the run lock (I/O
through kube; the rest pure).

Contract: ``read`` returns the record (or an empty one); ``write`` stores it with a new run first, the history
capped at ``KEEP`` runs, like Flux's ``status.history``. The record answers one question for the next run:
did the revision or the rendered objects change since the last good run? If neither did, the run is a read-only
drift check.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from reconciler.cluster.api import ClusterApi
from reconciler.errors import Conflict
from reconciler.kinds import Kind
from reconciler.objects import labels
from reconciler.plan.changes import COUNTED, Action
from reconciler.refs import ObjRef

CONFIGMAP = Kind("ConfigMap", "v1", "configmaps")
KEEP = 10
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
class Record:
    history: tuple[Run, ...] = ()
    resource_version: str = ""

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
    return Record(runs, configmap["metadata"].get("resourceVersion", ""))


def body(namespace: str, cluster: str, record: Record) -> dict[str, Any]:
    """The ConfigMap: the last run's fields at the top (for ``kubectl get cm -o yaml``), then the history."""
    last = record.history[0]
    good = record.last_good
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name(cluster),
            "namespace": namespace,
            "labels": labels(cluster),
        },
        "data": {
            "lastAttemptedRevision": last.revision,
            "lastAppliedRevision": good.revision if good else "",
            "lastRunTime": last.time,
            "lastResult": last.result,
            "lastCounts": json.dumps(last.counts, sort_keys=True),
            "history": json.dumps([asdict(r) for r in record.history], indent=1),
        },
    }


def write(api: ClusterApi, namespace: str, cluster: str, record: Record, run: Run) -> Record:
    """Store ``run`` first in the record (create the ConfigMap, or replace it at the version we read).

    Two runs writing at once: the later one's PUT fails with a conflict; it reads again and retries once.
    """
    for _ in range(2):
        new = Record((run, *record.history)[:KEEP], record.resource_version)
        obj = body(namespace, cluster, new)
        try:
            if record.resource_version:
                obj["metadata"]["resourceVersion"] = record.resource_version
                stored = api.replace(CONFIGMAP, obj)
            else:
                stored = api.create(CONFIGMAP, obj)
            return parse(stored)
        except Conflict:
            record = read(api, namespace, cluster)
    raise Conflict(ObjRef("ConfigMap", namespace, name(cluster)), "the revision record changed twice while written")
