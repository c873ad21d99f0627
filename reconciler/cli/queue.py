"""``serve``'s work queue: what asked for a run, coalesced into one run (pure but for a condition variable).

Contract: ``add`` notes why a run is wanted (a watch event and the custom resource it moves, a webhook, the
interval); ``take(timeout)`` waits for a batch to be due and returns everything asked since the last one: a batch
is due once nothing was added for ``quiet`` seconds, or ``longest`` seconds after its first item, so a storm of
events makes one run, and a steady trickle still runs every ``longest`` seconds. An item may carry ``own``, asked
when the batch is due (not when the item comes: a watch can show our write before its answer reaches us): an
item that turns out to be our own doing is dropped, and a batch of nothing else is no run. One worker takes
batches, so there is never more than one reconcile of a resource at a time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from reconciler.refs import ObjRef


@dataclass(frozen=True)
class Batch:
    """What one run answers: the reasons, the custom resources moved, and whether git is to be fetched first."""

    reasons: tuple[str, ...]
    resources: frozenset[ObjRef]
    fetch: bool


@dataclass(frozen=True)
class _Item:
    reason: str
    resource: ObjRef | None
    fetch: bool
    own: Callable[[], bool] | None


class Trigger:
    """The coalescing queue (thread-safe)."""

    def __init__(self, quiet: float = 1.0, longest: float = 3.0) -> None:
        self.quiet, self.longest = quiet, longest
        self.dropped = 0  # items found to be our own writes' echoes
        self._items: list[_Item] = []
        self._first = self._last = 0.0
        self._ready = threading.Condition()

    def add(
        self, reason: str, resource: ObjRef | None = None, fetch: bool = False, own: Callable[[], bool] | None = None
    ) -> None:
        """Ask for a run (``fetch``: take the latest commit first, as a push or the interval does)."""
        with self._ready:
            now = time.monotonic()
            if not self._items:
                self._first = now
            self._last = now
            self._items.append(_Item(reason, resource, fetch, own))
            self._ready.notify_all()

    @property
    def depth(self) -> int:
        """How many custom resources wait for the next run (the queue-depth gauge)."""
        with self._ready:
            return len({i.resource for i in self._items if i.resource is not None})

    def take(self, timeout: float) -> Batch | None:
        """The next due batch, or None when ``timeout`` passed with none due."""
        deadline = time.monotonic() + timeout
        while True:
            items = self._due(deadline)
            if items is None:
                return None
            kept = [i for i in items if i.own is None or not i.own()]
            self.dropped += len(items) - len(kept)
            if kept:
                reasons = tuple(dict.fromkeys(i.reason for i in kept))
                resources = frozenset(i.resource for i in kept if i.resource is not None)
                return Batch(reasons, resources, any(i.fetch for i in kept))

    def _due(self, deadline: float) -> list[_Item] | None:
        with self._ready:
            while True:
                now = time.monotonic()
                if self._items and (now - self._last >= self.quiet or now - self._first >= self.longest):
                    items, self._items = self._items, []
                    return items
                if now >= deadline:
                    return None
                wake = deadline
                if self._items:
                    wake = min(wake, self._last + self.quiet, self._first + self.longest)
                self._ready.wait(max(0.01, wake - now))
