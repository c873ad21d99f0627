"""Events on our custom resources, deduplicated the way Kubernetes does it (I/O through kube).

Contract: ``emit`` records one occurrence of (object, reason, message): the first creates an Event, the next
ones raise its ``count`` and ``lastTimestamp``. Nothing calls it on a run where nothing happened. A new Event costs
one request (a create); only an Event that already exists costs a read and a patch after the create's conflict.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from reconciler.cluster.api import ClusterApi
from reconciler.errors import Conflict
from reconciler.kinds import Kind
from reconciler.redaction import redact

EVENT = Kind("Event", "v1", "events")
COMPONENT = "nim-reconciler"


def emit(api: ClusterApi, involved: Mapping[str, Any], kind: str, reason: str, message: str, now: str) -> None:
    """Record one occurrence of ``reason``/``message`` (type ``kind``: Normal or Warning) on ``involved``."""
    meta = involved["metadata"]
    namespace, name = meta.get("namespace", "default"), meta["name"]
    key = f"{involved['kind']}/{namespace}/{name}/{reason}/{message}"
    event_name = f"{name}.{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    try:
        api.create(EVENT, _event(involved, event_name, namespace, kind, reason, message, now))
    except Conflict:  # the same occurrence as before: count it (an Event's name is its content's hash)
        existing = api.get(EVENT, namespace, event_name) or {}
        api.patch(EVENT, namespace, event_name, {"count": int(existing.get("count") or 1) + 1, "lastTimestamp": now})


def _event(
    involved: Mapping[str, Any], event_name: str, namespace: str, kind: str, reason: str, message: str, now: str
) -> dict[str, Any]:
    meta = involved["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": event_name, "namespace": namespace},
        "involvedObject": {
            "apiVersion": involved["apiVersion"],
            "kind": involved["kind"],
            "name": meta["name"],
            "namespace": namespace,
            "uid": meta.get("uid", ""),
        },
        "type": kind,
        "reason": reason,
        "message": redact(message)[:1024],  # the API server caps an Event's message at 1 KiB
        "count": 1,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
    }
