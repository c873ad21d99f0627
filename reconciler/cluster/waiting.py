"""`reconcile --wait`: reconcile again every poll until every NIMCache is Ready (or Failed) and every
NIMService has rolled out.

``states`` reads them (one LIST per kind, I/O through kube); ``verdict`` is pure: None to keep waiting, [] when
everything is Ready, or the failures (a Failed resource ends the wait at once); ``wait`` is the loop. It knows
nothing of reports: each poll is the caller's ``again``, which says whether the poll's run failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from reconciler.cluster.api import ClusterApi
from reconciler.kinds import BY_KIND, CUSTOM_KINDS
from reconciler.objects import selector
from reconciler.options import WaitOptions


def states(api: ClusterApi, cluster: str, namespaces: tuple[str, ...] = ()) -> dict[str, str]:
    """``Kind/namespace/name`` → state of every custom resource of ``cluster`` (NotReady when it has none yet)."""
    out = {}
    for kind, namespace in ((k, n) for k in CUSTOM_KINDS for n in namespaces or ("",)):
        for obj in api.list(BY_KIND[kind], selector(cluster), namespace):
            meta = obj["metadata"]
            out[f"{kind}/{meta.get('namespace', '')}/{meta['name']}"] = (obj.get("status") or {}).get(
                "state", "NotReady"
            )
    return out


def verdict(current: dict[str, str]) -> list[str] | None:
    """None: keep waiting; []: every resource is Ready; else why the wait failed (a Failed resource)."""
    failed = [f"{ref} is Failed" for ref, state in sorted(current.items()) if state == "Failed"]
    if failed:
        return failed
    return [] if all(state == "Ready" for state in current.values()) else None


def wait(
    api: ClusterApi,
    cluster: str,
    options: WaitOptions,
    again: Callable[[], bool],
    namespaces: tuple[str, ...] = (),
) -> list[str] | None:
    """Poll: show the states, stop on a verdict or the timeout, else reconcile ``again`` (the lock is renewed
    in the background meanwhile).

    Returns the errors that end the wait ([] when everything is Ready), or None when a poll's run failed (its
    own report says why). ``again`` returns False when its run failed.
    """
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
            return outcome
        if time.monotonic() >= deadline:
            pending = ", ".join(f"{ref} ({state})" for ref, state in sorted(current.items()) if state != "Ready")
            return [f"timed out after {options.timeout:g}s waiting for: {pending}"]
        pause = min(options.poll, max(0.0, deadline - time.monotonic()))
        if options.stop is not None and options.stop.wait(pause):
            return ["stopped while waiting (SIGTERM): the apply had finished"]
        if options.stop is None:
            time.sleep(pause)
        if not again():
            return None
