"""forked.py: work over chunks in forked children gives what the serial call gives, and survives its children."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from reconciler import forked


@pytest.mark.parametrize(
    ("count", "min_chunk", "processes", "sizes"),
    [
        (10, 5, 2, [5, 5]),
        (9, 5, 2, [9]),  # not two chunks of five: one
        (11, 5, 2, [6, 5]),  # the first takes the odd one
        (100, 10, 4, [25, 25, 25, 25]),
        (100, 10, 8, [25, 25, 25, 25]),  # never more than four processes
        (3, 0, 2, [2, 1]),  # a min_chunk of 0 counts as 1
        (0, 5, 2, [0]),
        (7, 1, 1, [7]),  # one CPU: one chunk
    ],
)
def test_chunks_are_contiguous_in_order_and_big_enough(
    count: int, min_chunk: int, processes: int, sizes: list[int]
) -> None:
    items = list(range(count))
    parts = forked.chunks(items, min_chunk, processes)
    assert [len(p) for p in parts] == sizes
    assert [x for p in parts for x in p] == items


def _pid_and_sum(chunk: Sequence[int]) -> tuple[int, int]:
    return os.getpid(), sum(chunk)


def test_the_chunks_after_the_first_run_in_children_and_come_back_in_order() -> None:
    items = list(range(1000))
    got = forked.map_chunks(_pid_and_sum, items, 100, processes=2)
    sums = [s for _, s in got]
    assert sum(sums) == sum(items) and len(got) == 2
    assert got[0][0] == os.getpid() and all(pid != os.getpid() for pid, _ in got[1:])
    expected = [sum(range(500)), sum(range(500, 1000))]
    assert sums == expected


def test_too_little_work_is_done_here_in_one_call() -> None:
    got = forked.map_chunks(_pid_and_sum, list(range(10)), 100)
    assert got == [(os.getpid(), 45)]


def test_with_another_thread_running_nothing_is_forked() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        got = forked.map_chunks(_pid_and_sum, list(range(1000)), 100, processes=2)
    finally:
        stop.set()
        thread.join()
    assert got == [(os.getpid(), sum(range(1000)))]


def test_a_child_that_dies_has_its_chunk_done_again_here() -> None:
    parent = os.getpid()

    def dies_in_a_child(chunk: Sequence[int]) -> tuple[int, int]:
        if os.getpid() != parent:
            os._exit(3)  # as the OOM killer or a crash would leave it: no result
        return _pid_and_sum(chunk)

    got = forked.map_chunks(dies_in_a_child, list(range(1000)), 100, processes=2)
    assert [pid for pid, _ in got] == [parent] * len(got) and sum(s for _, s in got) == sum(range(1000))


def test_an_error_in_a_child_is_raised_here_as_the_serial_call_raises_it() -> None:
    def fails_on_the_last_item(chunk: Sequence[int]) -> int:
        if 999 in chunk:
            raise ValueError("item 999 is bad")
        return sum(chunk)

    with pytest.raises(ValueError, match="item 999 is bad"):
        forked.map_chunks(fails_on_the_last_item, list(range(1000)), 100, processes=2)


def test_children_leave_no_zombie_and_print_nothing_twice(capfd: pytest.CaptureFixture[str]) -> None:
    print("before the fork", end="")  # buffered when the fork comes: printed once, by us
    forked.map_chunks(_pid_and_sum, list(range(1000)), 100, processes=2)
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # every child reaped
    assert capfd.readouterr().out == "before the fork"


def test_when_our_own_chunk_fails_the_children_are_stopped_and_reaped(tmp_path: Path) -> None:
    parent = os.getpid()
    finished = tmp_path / "finished"

    def fails_here(chunk: Sequence[int]) -> int:
        if os.getpid() == parent:
            raise KeyboardInterrupt  # as Ctrl-C in the middle of our share
        time.sleep(30)  # a child still at work
        finished.write_text("the child ran to its end")
        return sum(chunk)

    with pytest.raises(KeyboardInterrupt):
        forked.map_chunks(fails_here, list(range(1000)), 100, processes=2)
    assert not finished.exists()  # the child was stopped, not waited for (that would take 30 s and write it)
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)
