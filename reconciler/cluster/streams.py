"""Watch streams, without the client (pure but for a lock): events read from newline-delimited JSON, and what
this process itself wrote, so that ``serve`` reacts to everyone's changes but its own.

Contract: ``events`` yields each ``{"type", "object"}`` of a watch answer and raises what an ERROR event's Status
says (410 as ``Gone``); anything that is not a watch event ends the stream as ``Unavailable``. ``WRITTEN`` holds
the resourceVersion of every write of this process (``kube.Cluster`` fills it), and ``WRITTEN.ours(ref, type, version)``
says whether an event shows one of them.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from reconciler.errors import ClusterError, Unavailable
from reconciler.refs import ObjRef

MAX_EVENT = 16 << 20  # bytes of one watch event: more is not an answer we take
ErrorOf = Callable[[ObjRef, int, Any], ClusterError]  # the seam's mapping of a status code to our error


class OwnWrites:
    """What this process wrote, so that a watch can tell our own changes from everyone else's: the
    resourceVersion each write left, and the objects it deleted (a deletion's event carries a version no answer
    showed us). Bounded: only the recent past matters to a watch that is seconds behind."""

    KEEP = 4096

    def __init__(self) -> None:
        # a few versions per object: a run writes an object, then its status, before the watch shows the first
        self._versions: dict[tuple[str, str, str], collections.deque[str]] = {}
        self._deleted: dict[tuple[str, str, str], float] = {}
        self._lock = threading.Lock()

    def wrote(self, ref: ObjRef, answer: dict[str, Any] | None, deleted: bool = False) -> None:
        """Remember a write's outcome (``answer``: the object the API server returned)."""
        key = (ref.kind, ref.namespace, ref.name)
        version = ((answer or {}).get("metadata") or {}).get("resourceVersion")
        with self._lock:
            if deleted:
                self._deleted[key] = time.monotonic()
            elif isinstance(version, str):
                self._versions.setdefault(key, collections.deque(maxlen=8)).append(version)
            for table in (self._versions, self._deleted):
                while len(table) > self.KEEP:
                    table.pop(next(iter(table)))

    def ours(self, ref: ObjRef, kind: str, version: str) -> bool:
        """Whether a watch event (``kind``: ADDED, MODIFIED, DELETED) of ``ref`` at ``version`` shows a change
        this process made (a deletion: one it asked for within the last minute)."""
        key = (ref.kind, ref.namespace, ref.name)
        with self._lock:
            if kind == "DELETED":
                return time.monotonic() - self._deleted.get(key, -1e9) < 60
            return version in self._versions.get(key, ())


WRITTEN = OwnWrites()  # every Cluster of this process writes here; serve's watches read it


def events(ref: ObjRef, chunks: Iterable[bytes], error: ErrorOf) -> Iterator[dict[str, Any]]:
    """Watch events from a stream of newline-delimited JSON; an ERROR event is raised as its Status says."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            if line.strip():
                yield _event(ref, line, error)
        if len(pending) > MAX_EVENT:
            raise Unavailable(ref, f"a watch event over {MAX_EVENT >> 20} MiB")
    if pending.strip():
        yield _event(ref, pending, error)


def _event(ref: ObjRef, line: bytes, error: ErrorOf) -> dict[str, Any]:
    try:
        event = json.loads(line)
    except (ValueError, UnicodeDecodeError, RecursionError):
        event = None
    event = event if isinstance(event, dict) else None
    kind = event.get("type") if event else None
    obj = event.get("object") if event else None
    if event is None or kind not in ("ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR") or not isinstance(obj, dict):
        raise Unavailable(ref, "the API server's watch answer holds something that is not a watch event")
    if kind == "ERROR":
        code = obj.get("code")
        raise error(ref, code if isinstance(code, int) and code >= 400 else 500, obj)
    if not isinstance(obj.get("metadata"), dict):
        raise Unavailable(ref, "a watch event's object has no metadata")
    return event
