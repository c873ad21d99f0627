"""Pure work over both cores: a function mapped over chunks of a list, the chunks shared out to this process and
forked children, whose results come back pickled (the pipeline's one use of processes).

Contract: ``map_chunks(fn, items, min_chunk, first=...)`` returns ``[fn(chunk) for chunk in chunks]``, the chunks
being contiguous slices of ``items`` in order, whatever runs where, after calling ``first()`` here once (its error
raised as it would be serially). It is the serial call ``first(); [fn(items)]`` when there
is not enough work (fewer than ``2 * min_chunk`` items), one CPU to use, or another thread running (a fork copies
the locks other threads hold, not the threads: the child could wait on them for ever). A child that fails in
any way (raises, dies, is killed) has the chunks it did not send back done again in this process, so a real
error is raised here, as the serial path raises it, and a lost child costs time, never a result. Each result is
read as soon as this process is between two chunks of its own: unpickling overlaps the children's work instead
of waiting for the end.

Why fork and not a ``multiprocessing`` pool: the children inherit the compiled templates and every loaded
document for free, and nothing but the results is pickled; a pool would pickle the work too, and start
interpreters that import everything again.

Why more chunks than processes, each taken when its taker is free: on a shared machine one core often runs a
third slower than the other (measured on the 2-vCPU VM: the same render pinned to vCPU 0 took 0.30-0.42 s, to
vCPU 1 0.20-0.31 s). With one fixed half each, the run waits for the slow half; with eight chunks a process,
whoever is faster takes more, and the last one to finish waits at most for one small chunk. It is also what
lets ``first`` cost nothing: this process does that other work while the children take chunks.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_MAX_PROCESSES = 4  # past this, the pickled results and the memory of each copy cost more than they save
_SHARES = 8  # chunks per process: the imbalance left is one chunk; each costs a pipe read and a pickle


def cpus() -> int:
    """The CPUs this process may run on (its affinity mask, as a container's cpuset sets it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def chunks(items: Sequence[T], count: int) -> list[Sequence[T]]:
    """``items`` in at most ``count`` contiguous slices, none empty but for no items, sizes within one (pure)."""
    count = max(1, min(count, len(items)))
    size, extra = divmod(len(items), count)
    out: list[Sequence[T]] = []
    start = 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        out.append(items[start:end])
        start = end
    return out


def map_chunks(
    fn: Callable[[Sequence[T]], R],
    items: Sequence[T],
    min_chunk: int,
    processes: int | None = None,
    first: Callable[[], None] = lambda: None,
) -> list[R]:
    """``fn`` over contiguous chunks of ``items``, in forked children where it pays (see the module contract);
    ``processes``: at most this many at once (default: the CPUs this process may use); ``first``: other work of
    this process, done while the children start on the chunks (only here: the children never run it)."""
    workers = min(cpus() if processes is None else processes, _MAX_PROCESSES)
    # enough work for two processes at least: then as many chunks as evens out the cores, however small
    enough = workers > 1 and len(items) >= 2 * max(1, min_chunk)
    parts = chunks(items, workers * _SHARES) if enough else [items]
    if len(parts) == 1 or threading.active_count() > 1 or not hasattr(os, "fork"):
        first()
        return [fn(items)]
    sys.stdout.flush()  # a child must not write out what this process buffered before the fork
    sys.stderr.flush()
    # Out of the collector's sight while children run: a collection in a child would write to every object's
    # header and so copy every page it shares with us (the use gc.freeze is documented for).
    gc.freeze()
    # The chunks to take, one byte each: a read of one byte from a pipe is atomic, so each chunk goes to exactly
    # one process, and the end of the pipe (every writer closed) tells each that none is left.
    queue, fill = os.pipe()
    os.write(fill, bytes(range(len(parts))))  # at most 32 bytes: far under a pipe's buffer, never blocks
    children: list[_Child[R]] = []  # not reaped yet: stopped and reaped if we leave early
    done: dict[int, R] = {}
    try:
        for _ in range(min(workers, len(parts)) - 1):
            children.append(_Child.spawn(fn, parts, queue, fill))
        os.close(fill)
        fill = -1
        first()
        for i in _taken(queue):
            done[i] = fn(parts[i])
            for child in children:  # what the children finished meanwhile is read now, not all at the end
                done.update(child.results(wait=False))
        while children:
            done.update(children[0].results(wait=True))
            children[0].reap()
            children.pop(0)
    finally:
        for fd in (queue, fill):
            if fd >= 0:
                os.close(fd)
        for child in children:  # our own chunk raised (a bug, Ctrl-C): no child left behind
            child.stop()
        gc.unfreeze()
    # a chunk missing was taken by a child that failed: done here, where a real error is raised as serially
    return [done[i] if i in done else fn(part) for i, part in enumerate(parts)]


def _taken(queue: int) -> Iterator[int]:
    """The chunks this process takes from ``queue``, one at a time, until none is left."""
    while taken := os.read(queue, 1):
        yield taken[0]


_FRAME = 8  # bytes of length before each pickled (chunk, result)
_PIPE_BYTES = 1 << 20  # a child's results wait in the pipe until we look: room enough that it never blocks on us


class _Child(Generic[R]):
    """A forked child taking chunks, and its results as they arrive: each chunk's ``(i, fn(chunk))`` pickled in
    a frame of its own, so a result is read while other work goes on, and those a child sent before it failed
    are kept."""

    def __init__(self, pid: int, reader: int) -> None:
        self.pid, self.reader, self.buffer, self.ended = pid, reader, bytearray(), False
        self.reaped = False

    @classmethod
    def spawn(cls, fn: Callable[[Sequence[T]], R], parts: list[Sequence[T]], queue: int, fill: int) -> _Child[R]:
        """Fork a child that takes chunks from ``queue`` until none is left (``fill``: the queue's writing end)."""
        reader, writer = os.pipe()
        with contextlib.suppress(OSError, AttributeError):  # a bigger pipe is an optimisation, not a need
            fcntl.fcntl(writer, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
        pid = os.fork()
        if pid == 0:  # the child: take chunks, write each result, leave without running any exit handler
            os.close(reader)
            os.close(fill)  # else the queue never ends for anyone: this child would hold it open
            status = 1
            try:
                with os.fdopen(writer, "wb") as out:
                    for i in _taken(queue):
                        data = pickle.dumps((i, fn(parts[i])), protocol=pickle.HIGHEST_PROTOCOL)
                        out.write(len(data).to_bytes(_FRAME, "little"))
                        out.write(data)
                        out.flush()
                status = 0
            finally:
                os._exit(status)
        os.close(writer)
        os.set_blocking(reader, False)
        return cls(pid, reader)

    def results(self, wait: bool) -> dict[int, R]:
        """The results whose frames have arrived whole; ``wait``: read until the child closes its end first."""
        if not self.ended:
            os.set_blocking(self.reader, wait)
            while True:
                try:
                    data = os.read(self.reader, _PIPE_BYTES)
                except BlockingIOError:
                    break
                if not data:
                    self.ended = True
                    break
                self.buffer += data
        got: dict[int, R] = {}
        while len(self.buffer) >= _FRAME:
            size = int.from_bytes(self.buffer[:_FRAME], "little")
            if len(self.buffer) < _FRAME + size:
                break  # the rest is on its way (or, from a child that died mid-write, never comes: dropped)
            i, result = pickle.loads(self.buffer[_FRAME : _FRAME + size])
            got[i] = result
            del self.buffer[: _FRAME + size]
        return got

    def reap(self) -> None:
        """Wait for the child to exit (it has closed its pipe: at once)."""
        if not self.reaped:
            os.waitpid(self.pid, 0)
            self.reaped = True
            os.close(self.reader)

    def stop(self) -> None:
        """Kill and reap the child (we are leaving early, maybe from inside ``reap``)."""
        if not self.reaped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.reaped = True
            os.close(self.reader)
