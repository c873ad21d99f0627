"""Pure work over both cores: a function mapped over chunks of a list, the chunks after the first in forked
child processes whose results come back pickled (the pipeline's one use of processes).

Contract: ``map_chunks(fn, items, min_chunk)`` returns ``[fn(chunk) for chunk in chunks]``, the chunks being
contiguous slices of ``items`` in order, whatever runs where. It is the serial call ``[fn(items)]`` when there
is not enough work (fewer than ``2 * min_chunk`` items), one CPU to use, or another thread running (a fork copies
the locks other threads hold, not the threads: the child could wait on them for ever). A child that fails in
any way (raises, dies, is killed) has its chunk done again in this process, so a real error is raised here, as
the serial path raises it, and a lost child costs time, never a result.

Why fork and not a ``multiprocessing`` pool: the children inherit the compiled templates and every loaded
document for free, and nothing but the results is pickled; a pool would pickle the work too, and start
interpreters that import everything again.
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_MAX_PROCESSES = 4  # past this, the pickled results and the memory of each copy cost more than they save


def cpus() -> int:
    """The CPUs this process may run on (its affinity mask, as a container's cpuset sets it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def chunks(items: Sequence[T], min_chunk: int, processes: int) -> list[Sequence[T]]:
    """``items`` in contiguous slices of at least ``min_chunk``, at most ``processes`` of them (pure)."""
    count = max(1, min(processes, _MAX_PROCESSES, len(items) // max(1, min_chunk)))
    size, extra = divmod(len(items), count)
    out: list[Sequence[T]] = []
    start = 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        out.append(items[start:end])
        start = end
    return out


def map_chunks(
    fn: Callable[[Sequence[T]], R], items: Sequence[T], min_chunk: int, processes: int | None = None
) -> list[R]:
    """``fn`` over contiguous chunks of ``items``, in forked children where it pays (see the module contract);
    ``processes``: at most this many at once (default: the CPUs this process may use)."""
    parts = chunks(items, min_chunk, cpus() if processes is None else processes)
    if len(parts) == 1 or threading.active_count() > 1 or not hasattr(os, "fork"):
        return [fn(items)]
    sys.stdout.flush()  # a child must not write out what this process buffered before the fork
    sys.stderr.flush()
    # Out of the collector's sight while children run: a collection in a child would write to every object's
    # header and so copy every page it shares with us (the use gc.freeze is documented for).
    gc.freeze()
    waiting: list[tuple[int, int]] = []  # children not collected yet: stopped and reaped if we leave early
    try:
        for part in parts[1:]:
            waiting.append(_spawn(fn, part))
        results = [fn(parts[0])]
        for part in parts[1:]:
            pid, reader = waiting.pop(0)
            got = _collect(pid, reader)
            results.append(got[0] if got is not None else fn(part))  # the child pickled what fn returned: an R
    finally:
        for pid, reader in waiting:  # our own chunk raised (a bug, Ctrl-C): no child left behind
            os.close(reader)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        gc.unfreeze()
    return results


def _spawn(fn: Callable[[Sequence[T]], R], part: Sequence[T]) -> tuple[int, int]:
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compute, write the pickled result, leave without running any exit handler
        os.close(reader)
        status = 1
        try:
            data = pickle.dumps((fn(part),), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(writer, "wb") as out:
                out.write(data)
            status = 0
        finally:
            os._exit(status)
    os.close(writer)
    return pid, reader


def _collect(pid: int, reader: int) -> tuple[Any] | None:
    """The child's result, or None if it failed; the child is reaped either way (killed if we are interrupted)."""
    done = False
    try:
        with os.fdopen(reader, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(pid, 0)
        done = True
        if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0 or not data:
            return None
        result: tuple[Any] = pickle.loads(data)
        return result
    finally:
        if not done:  # interrupted while waiting: stop the child, then wait for it (no zombie left)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
