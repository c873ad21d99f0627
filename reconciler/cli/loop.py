"""Loop mode (``--interval``): one run at a time, forever, with jitter and backoff (pure but for the clock).

Contract: ``run(step, options, stop)`` calls ``step`` (one whole reconcile; it returns the run's exit code),
then sleeps ``interval`` plus up to ``jitter`` of it, until ``stop`` is set; a run in progress is never
interrupted by the loop, so a SIGTERM lets it finish. After repeated failures (exit 2) the pause doubles each
time, up to ``max_backoff``, so a broken git remote or API server is not hammered (fleet#3486).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

FAILED = 2


@dataclass(frozen=True)
class LoopOptions:
    interval: float
    jitter: float = 0.1  # a fraction of the pause, so many reconcilers started together drift apart
    max_backoff: float = 1800.0


def delay(options: LoopOptions, failures: int, rand: Callable[[], float] = random.random) -> float:
    """The pause after a run: the interval; from the second failure in a row on, doubled each time (capped)."""
    base = options.interval
    if failures >= 2:
        base = min(options.interval * 2 ** (failures - 1), max(options.interval, options.max_backoff))
    return base * (1 + options.jitter * rand())


def run(
    step: Callable[[], int],
    options: LoopOptions,
    stop: threading.Event,
    log: Callable[[str], None],
    rand: Callable[[], float] = random.random,
) -> int:
    """Run until ``stop`` is set; the exit code is 0 (a stop is the normal end of a loop)."""
    failures = 0
    while not stop.is_set():
        code = step()
        failures = failures + 1 if code == FAILED else 0
        if stop.is_set():
            break
        pause = delay(options, failures, rand)
        note = f" (backing off after {failures} failed runs)" if failures >= 2 else ""
        log(f"next run in {pause:.0f}s{note}")
        if stop.wait(pause):
            break
    log("stopped")
    return 0
