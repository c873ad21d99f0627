"""``serve``'s watches: one LIST + WATCH loop per watched kind, as client-go's reflector runs it (I/O through
kube).

Contract: ``Watches(api, cluster, notify).start()`` lists each kind of ``WATCHED`` by our labels, then watches
from the list's resourceVersion, resuming from the last event's version when the server ends a watch, and
listing again on ``410 Gone``. Every change is passed to ``notify`` as a ``Seen`` (``Seen.ours()`` tells the
echoes of our own writes apart); a list after a gap is one ``Seen`` of type ``RELISTED`` (events may have been
missed). ``objects(kind)`` is what the watches know of a kind now (an informer's cache: the status page reads it
without a request). ``healthy()`` is False while a watch cannot be re-established.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reconciler.cluster import streams
from reconciler.cluster.api import WatchApi
from reconciler.errors import ClusterError, Gone, NotFound
from reconciler.kinds import BY_KIND, Kind
from reconciler.objects import MANAGED, selector
from reconciler.refs import ObjRef

SECONDS = 300  # one watch request's timeoutSeconds: client-go picks 5 to 10 minutes
RELISTED = "RELISTED"
NOT_SERVED_PAUSE = 30.0  # seconds before asking again for a kind the API server does not serve


@dataclass(frozen=True)
class Watched:
    kind: Kind
    selector: str


def watched(cluster: str) -> tuple[Watched, ...]:
    """What ``serve`` watches: our custom resources and the children whose changes move them (by our labels;
    the caching Jobs' pods and the probe Pods carry the ``nimcache`` label, not the cluster's)."""
    ours = selector(cluster)
    kinds = ("NIMCache", "NIMService", "Job", "Deployment", "PersistentVolumeClaim")
    return (*(Watched(BY_KIND[k], ours) for k in kinds), Watched(BY_KIND["Pod"], f"{MANAGED},nimcache"))


@dataclass(frozen=True)
class Seen:
    """One change seen: ADDED / MODIFIED / DELETED (or RELISTED), the object, the custom resource it moves, and
    the resourceVersion it made (``ours()`` asks whether this process made it)."""

    type: str
    ref: ObjRef
    resource: ObjRef | None
    version: str = ""

    def ours(self) -> bool:
        """Whether this process wrote the change (ask late: the answer to our write may still be on its way)."""
        return self.type != RELISTED and streams.WRITTEN.ours(self.ref, self.type, self.version)


def resource_of(kind: str, obj: dict[str, Any]) -> ObjRef | None:
    """The NIMCache or NIMService an object belongs to, from the labels the templates give it."""
    meta = obj.get("metadata") or {}
    ns, name, labels = str(meta.get("namespace") or ""), str(meta.get("name") or ""), meta.get("labels") or {}
    if kind in ("NIMCache", "NIMService"):
        return ObjRef(kind, ns, name)
    if "nimcache" in labels:
        return ObjRef("NIMCache", ns, str(labels["nimcache"]))
    part = {"nim-cache": "NIMCache", "nim-service": "NIMService"}.get(str(labels.get("app.kubernetes.io/part-of")))
    owner = labels.get("app.kubernetes.io/name")
    return ObjRef(part, ns, str(owner)) if part and owner else None


class Watches:
    """The watch threads of one cluster, the objects they know, and their counters."""

    def __init__(self, api: WatchApi, cluster: str, notify: Callable[[Seen], None], seconds: int = SECONDS) -> None:
        self.api, self.notify, self.seconds = api, notify, seconds
        self.kinds = watched(cluster)
        self.events = 0  # changes seen from others (the metric)
        self.last_event = 0.0  # when (unix time) the last one was seen
        self.relists = 0
        self._known: dict[str, dict[tuple[str, str], dict[str, Any]]] = {w.kind.kind: {} for w in self.kinds}
        self._broken: set[str] = set()
        self._listed: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def start(self) -> Watches:
        """One daemon thread per watched kind (returns self)."""
        for item in self.kinds:
            threading.Thread(target=self._run, args=(item,), name=f"watch-{item.kind.kind}", daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop after the current watch request (the threads are daemons: a process exit does not wait)."""
        self._stop.set()

    def healthy(self) -> bool:
        """Every watch is established (the API server answers)."""
        with self._lock:
            return not self._broken

    def objects(self, kind: str) -> list[dict[str, Any]]:
        """The objects of ``kind`` the watches know now, by namespace and name."""
        with self._lock:
            return [v for _, v in sorted(self._known.get(kind, {}).items())]

    def _run(self, item: Watched) -> None:
        version, pause = "", 1.0
        while not self._stop.is_set():
            try:
                if not version:
                    version = self._list(item)
                version = self._watch(item, version)
                pause = 1.0
            except Gone:  # compacted away: what happened meanwhile is unknown, so list again
                version = ""
            except NotFound:  # the kind is not served (its CRD is not installed): nothing of it to watch yet
                with self._lock:
                    self._listed.discard(item.kind.kind)
                version = ""
                self._stop.wait(NOT_SERVED_PAUSE)
            except ClusterError:  # the API server is away: wait, then list again (events may have been missed)
                with self._lock:
                    self._broken.add(item.kind.kind)
                version = ""
                self._stop.wait(pause)
                pause = min(pause * 2, 30.0)

    def _list(self, item: Watched) -> str:
        items, version = self.api.list_at(item.kind, item.selector)
        with self._lock:
            again = item.kind.kind in self._listed
            self._listed.add(item.kind.kind)
            self._known[item.kind.kind] = {_key(o): o for o in items}
            self._broken.discard(item.kind.kind)
            self.relists += again
        if again:
            self.notify(Seen(RELISTED, ObjRef(item.kind.kind, "", "*"), None))
        return version or "0"

    def _watch(self, item: Watched, version: str) -> str:
        for event in self.api.watch(item.kind, item.selector, version, self.seconds):
            obj = event["object"]
            version = str(obj["metadata"].get("resourceVersion") or version)
            if event["type"] == "BOOKMARK":
                continue
            with self._lock:
                known = self._known[item.kind.kind]
                if event["type"] == "DELETED":
                    known.pop(_key(obj), None)
                else:
                    known[_key(obj)] = obj
            meta = obj["metadata"]
            with self._lock:
                self.events += 1
                self.last_event = time.time()
            ref = ObjRef(item.kind.kind, str(meta.get("namespace") or ""), str(meta.get("name") or ""))
            self.notify(Seen(event["type"], ref, resource_of(item.kind.kind, obj), version))
            if self._stop.is_set():
                break
        return version


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")
