"""Rows of `reconcile status` from live custom resources (pure)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from reconciler.objects import cache_name
from reconciler.report.model import Row, age


def message(status: Mapping[str, Any]) -> str:
    """The message of the latest condition (what a resource last said of itself)."""
    conditions = sorted(status.get("conditions") or [], key=lambda c: c.get("lastTransitionTime", ""))
    return str(conditions[-1].get("message", "")) if conditions else ""


def cache_row(cache: dict[str, Any], now: datetime.datetime) -> Row:
    """A NIMCache as a status row: STATE, PVC, AGE, MESSAGE."""
    meta, status = cache["metadata"], cache.get("status") or {}
    columns = {
        "PVC": status.get("pvc", ""),
        "AGE": age(meta.get("creationTimestamp", ""), now),
        "MESSAGE": message(status),
    }
    return Row("NIMCache", meta.get("namespace", ""), meta["name"], status.get("state", "NotReady"), columns)


def service_row(
    service: dict[str, Any], deployments: Mapping[tuple[str, str], dict[str, Any]], now: datetime.datetime
) -> Row:
    """A NIMService as a status row: STATE, READY (from its Deployment), ENDPOINT, CACHE, AGE."""
    meta, status = service["metadata"], service.get("status") or {}
    deployment = deployments.get((meta.get("namespace", ""), meta["name"]))
    ready = "-"
    if deployment is not None:
        wanted = (deployment.get("spec") or {}).get("replicas", 1)
        ready = f"{(deployment.get('status') or {}).get('availableReplicas', 0)}/{wanted}"
    cache = cache_name(service)
    columns = {
        "READY": ready,
        "ENDPOINT": (status.get("model") or {}).get("clusterEndpoint", ""),
        "CACHE": cache or "-",
        "AGE": age(meta.get("creationTimestamp", ""), now),
    }
    return Row("NIMService", meta.get("namespace", ""), meta["name"], status.get("state", "NotReady"), columns)
