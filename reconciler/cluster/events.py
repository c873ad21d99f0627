"""Events on our custom resources, deduplicated the way Kubernetes does it (I/O through kube).

Contract: ``emit`` records one occurrence of (object, reason, message): the first creates an Event, the next
ones raise its ``count`` and ``lastTimestamp``. Nothing calls it on a run where nothing happened.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from reconciler.cluster.api import ClusterApi
from reconciler.kinds import Kind

EVENT = Kind("Event", "v1", "events")
COMPONENT = "nim-reconciler"


def emit(api: ClusterApi, involved: Mapping[str, Any], kind: str, reason: str, message: str, now: str) -> None:
    meta = involved["metadata"]
    namespace, name = meta.get("namespace", "default"), meta["name"]
    key = f"{involved['kind']}/{namespace}/{name}/{reason}/{message}"
    event_name = f"{name}.{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    existing = api.get(EVENT, namespace, event_name)
    if existing is not None:
        api.patch(EVENT, namespace, event_name, {"count": int(existing.get("count") or 1) + 1, "lastTimestamp": now})
        return
    api.create(
        EVENT,
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": event_name, "namespace": namespace},
            "involvedObject": {
                "apiVersion": involved["apiVersion"],
                "kind": involved["kind"],
                "name": name,
                "namespace": namespace,
                "uid": meta.get("uid", ""),
            },
            "type": kind,
            "reason": reason,
            "message": message,
            "count": 1,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
        },
    )
