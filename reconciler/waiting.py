"""What `reconcile --wait` waits for: every NIMCache Ready (or Failed) and every NIMService rolled out.

``states`` reads them (one LIST per kind, I/O through kube); ``verdict`` is pure: None to keep waiting, [] when
everything is Ready, or the failures (a Failed resource ends the wait at once).
"""

from __future__ import annotations

from reconciler.apply import ClusterApi, selector
from reconciler.kinds import BY_KIND


def states(api: ClusterApi, cluster: str) -> dict[str, str]:
    out = {}
    for kind in ("NIMCache", "NIMService"):
        for obj in api.list(BY_KIND[kind], selector(cluster)):
            meta = obj["metadata"]
            out[f"{kind}/{meta.get('namespace', '')}/{meta['name']}"] = (obj.get("status") or {}).get(
                "state", "NotReady"
            )
    return out


def verdict(current: dict[str, str]) -> list[str] | None:
    failed = [f"{ref} is Failed" for ref, state in sorted(current.items()) if state == "Failed"]
    if failed:
        return failed
    return [] if all(state == "Ready" for state in current.values()) else None
