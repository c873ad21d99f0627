"""`reconcile --wait`: reconcile again every poll until every NIMCache is Ready (or Failed) and every
NIMService has rolled out.

``states`` reads them (one LIST per kind, I/O through kube); ``verdict`` is pure: None to keep waiting, [] when
everything is Ready, or the failures (a Failed resource ends the wait at once); ``wait`` is the loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from reconciler.apply import ClusterApi, selector
from reconciler.kinds import BY_KIND
from reconciler.options import WaitOptions
from reconciler.report import RunReport


def states(api: ClusterApi, cluster: str, namespaces: tuple[str, ...] = ()) -> dict[str, str]:
    out = {}
    for kind, namespace in ((k, n) for k in ("NIMCache", "NIMService") for n in namespaces or ("",)):
        for obj in api.list(BY_KIND[kind], selector(cluster), namespace):
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


def wait(
    api: ClusterApi,
    cluster: str,
    options: WaitOptions,
    first: RunReport,
    again: Callable[[], RunReport],
    renew: Callable[[], None],
    namespaces: tuple[str, ...] = (),
) -> RunReport:
    """Poll: show the states, stop on a verdict or the timeout, else renew the lock and reconcile ``again``."""
    deadline = time.monotonic() + options.timeout
    seen: dict[str, str] = {}
    while True:
        current = states(api, cluster, namespaces)
        if options.table is not None:
            options.table(current)
        else:
            for ref, state in sorted(current.items()):
                if seen.get(ref) != state:
                    options.progress(f"{ref}: {state}")
        seen = current
        outcome = verdict(current)
        if outcome is not None:
            return replace(first, errors=[*first.errors, *outcome])
        if time.monotonic() >= deadline:
            pending = ", ".join(f"{ref} ({state})" for ref, state in sorted(current.items()) if state != "Ready")
            return replace(
                first, errors=[*first.errors, f"timed out after {options.timeout:g}s waiting for: {pending}"]
            )
        pause = min(options.poll, max(0.0, deadline - time.monotonic()))
        if options.stop is not None and options.stop.wait(pause):
            return replace(first, errors=[*first.errors, "stopped while waiting (SIGTERM): the apply had finished"])
        if options.stop is None:
            time.sleep(pause)
        renew()
        report = again()
        if report.failed:
            return report
