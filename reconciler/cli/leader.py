"""``serve``'s leader election on the run's Lease, as client-go's leaderelection runs it (through cluster/lock).

Contract: ``Leadership(api, config, halt, log).start()`` tries to take the Lease every ``RETRY`` seconds; while it
holds it, ``leading`` is set and ``lock.Renewer`` renews the Lease every ``lock.RENEW_EVERY`` seconds. A renewal
that fails (taken over, or the API server gone for longer than the Lease lasts) clears ``leading`` and sets
``halt`` within ``LOST_CHECK`` seconds, so the run in flight sends no more writes; then it tries to take the Lease
again. ``close()`` stops and, if it leads, frees the Lease for the next replica.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from reconciler.cluster import lock
from reconciler.cluster.api import ClusterApi
from reconciler.errors import ClusterError, printable

RETRY = 2.0  # seconds between attempts to take a busy Lease (client-go: RetryPeriod 2 s)
LOST_CHECK = 0.2  # seconds: how soon a failed renewal stops the writes


class Leadership:
    """One replica's part in the election."""

    def __init__(
        self,
        api: ClusterApi,
        config: lock.LockConfig,
        halt: threading.Event,
        log: Callable[[str], None],
        terminating: threading.Event,
    ) -> None:
        self.api, self.config, self.halt, self.log, self.terminating = api, config, halt, log, terminating
        self.leading = threading.Event()
        self.held: lock.Held | None = None
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leader-election", daemon=True)

    def start(self) -> Leadership:
        """Begin (returns self)."""
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop electing; free the Lease if held (a successor need not wait for it to expire)."""
        self._closed.set()
        self._thread.join(timeout=10)
        held, self.held = self.held, None
        self.leading.clear()
        if held is not None:
            try:
                lock.release(self.api, held)
                self.log(f"released the lease {self.config.namespace}/{self.config.name}")
            except ClusterError as exc:  # it expires on its own
                self.log(f"warning: could not release the lease: {printable(str(exc))}")

    def _run(self) -> None:
        waiting_for = ""
        while not self._closed.is_set():
            try:
                got = lock.acquire(self.api, self.config)
            except ClusterError as exc:
                self.log(f"cannot take the lease: {printable(str(exc))}")
                self._closed.wait(RETRY)
                continue
            if isinstance(got, lock.Busy):
                if got.holder != waiting_for:
                    self.log(f"waiting: the lease is held by {printable(got.holder)} (since {got.since})")
                    waiting_for = got.holder
                self._closed.wait(RETRY)
                continue
            self._lead(got)
            waiting_for = ""

    def _lead(self, held: lock.Held) -> None:
        self.held = held
        self.log(f"leading: holding the lease {self.config.namespace}/{self.config.name}")
        if not self.terminating.is_set():
            self.halt.clear()
        self.leading.set()
        renewer = lock.Renewer(self.api, held).start()  # the run lock's own renewal
        try:
            while not self._closed.wait(LOST_CHECK):
                if renewer.lost.is_set():  # someone else holds it now, or we cannot tell: stop writing
                    self.held = None
                    self.leading.clear()
                    self.halt.set()
                    self.log("lost the lease (it could not be renewed): writes stopped")
                    return
        finally:
            renewer.stop()  # before close() frees the Lease: a renewal must not follow the release
