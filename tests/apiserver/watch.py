"""The watch verb as kube-apiserver serves it (``GET <collection>?watch=true``): a chunked stream of JSON events.

Written from the Kubernetes API concepts page ("Efficient detection of changes", "Resource versions") and the
watch cache's filtering (apiserver ``storage/cacher``):
- ``resourceVersion`` unset or "0": synthetic ADDED events for what exists now, then every change after it;
- ``resourceVersion=N``: every change after N; N older than the watch cache's window is answered with one
  ERROR event holding a 410 ``Expired`` Status ("too old resource version"), and the stream ends;
- a label selector filters on both sides of a change: an object that stops matching is DELETED for the watcher,
  one that starts matching is ADDED;
- ``timeoutSeconds`` ends the stream (the server's own limit otherwise); a DELETED event carries the object's
  last state at the deletion's new resourceVersion.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Protocol

from .store import Change, Resource, Store

Labels = Callable[[dict[str, str]], bool]
MAX_SECONDS = 1800  # kube-apiserver's --min-request-timeout


class Sink(Protocol):
    def write(self, data: bytes) -> Any: ...
    def flush(self) -> None: ...


def _labels(obj: dict[str, Any] | None) -> dict[str, str]:
    return ((obj or {}).get("metadata") or {}).get("labels") or {}


def filtered(change: Change, selector: Labels) -> tuple[str, dict[str, Any]] | None:
    """What a watcher with ``selector`` sees of ``change``: (type, object), or nothing."""
    now = change.type != "DELETED" and selector(_labels(change.obj))
    before = change.old is not None and selector(_labels(change.old))
    if change.type == "DELETED":
        return ("DELETED", change.obj) if before or selector(_labels(change.obj)) else None
    if now and (before or change.type == "ADDED"):
        return change.type, change.obj
    if now:
        return "ADDED", change.obj
    if before:  # no longer matching: gone for this watcher, at the change's resourceVersion
        last = json.loads(json.dumps(change.old))
        last["metadata"]["resourceVersion"] = str(change.version)
        return "DELETED", last
    return None


def expired(version: str, current: int) -> dict[str, Any]:
    """The ERROR event kube-apiserver sends for a resourceVersion compacted away."""
    status = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f"too old resource version: {version} ({current})",
        "reason": "Expired",
        "code": 410,
    }
    return {"type": "ERROR", "object": status}


def serve(
    store: Store, res: Resource, namespace: str, selector: Labels, query: dict[str, str], out: Sink,
    closing: Callable[[], bool],
) -> None:  # fmt: skip
    """Write the watch's events to ``out`` (the chunked body) until the timeout, or the server closes."""
    seconds = min(int(query.get("timeoutSeconds") or MAX_SECONDS), MAX_SECONDS)
    deadline = time.monotonic() + seconds
    wanted = query.get("resourceVersion", "")

    def mine(change: Change) -> bool:
        plural, ns, _ = change.key
        return plural == res.plural and (not namespace or ns == namespace)

    with store.lock:
        if wanted in ("", "0"):
            for (plural, ns, _), obj in sorted(store.objects.items()):
                if plural == res.plural and (not namespace or ns == namespace) and selector(_labels(obj)):
                    _send(out, {"type": "ADDED", "object": obj})
            last = store.version
        elif not wanted.isdigit() or int(wanted) < store.oldest:
            _send(out, expired(wanted, store.version))
            return
        else:
            last = int(wanted)
    while not closing():
        with store.lock:
            if last < store.oldest:  # this watcher fell out of the window while it streamed
                _send(out, expired(str(last), store.version))
                return
            pending = [c for c in store.changes if c.version > last]
            if not pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                store.changed.wait(min(left, 0.2))  # short: a closing server is noticed soon
                continue
            last = pending[-1].version
        for change in pending:
            seen = filtered(change, selector) if mine(change) else None
            if seen is not None:
                _send(out, {"type": seen[0], "object": seen[1]})


def _send(out: Sink, event: dict[str, Any]) -> None:
    data = json.dumps(event).encode() + b"\n"
    out.write(b"%x\r\n%s\r\n" % (len(data), data))
    out.flush()
