"""Client-side rate limiting of API requests (pure but for the clock): a token bucket, as client-go's
``flowcontrol`` limits a client to ``--kube-api-qps`` with a ``--kube-api-burst`` (Flux's kustomize-controller:
50 and 300).

Contract: ``Bucket(qps, burst).take()`` returns at once while tokens are left (``burst`` at most, refilled at
``qps`` per second) and otherwise sleeps until its turn; threads that call it at once are served in turn, each
after the one before. ``qps <= 0`` means no limit. The server's own ``429`` answers are honoured on top of this
(``kube.Cluster`` waits their ``Retry-After``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Bucket:
    """A token bucket shared by the threads of one client."""

    def __init__(
        self,
        qps: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.qps, self.burst = qps, max(1, burst)
        self.clock, self.sleep = clock, sleep
        self.tokens = float(self.burst)
        self.last = clock()
        self.waited = 0.0  # seconds spent waiting for a turn (for benchmarks)
        self._lock = threading.Lock()

    def take(self) -> float:
        """Wait for a token; the seconds waited."""
        if self.qps <= 0:
            return 0.0
        with self._lock:
            now = self.clock()
            self.tokens = min(float(self.burst), self.tokens + (now - self.last) * self.qps)
            self.last = now
            self.tokens -= 1.0  # a reservation: the next caller waits behind this one
            wait = -self.tokens / self.qps if self.tokens < 0 else 0.0
            self.waited += wait
        if wait > 0:
            self.sleep(wait)
        return wait
