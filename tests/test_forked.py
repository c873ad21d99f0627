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
    ("count", "most", "sizes"),
    [
        (10, 2, [5, 5]),
        (11, 2, [6, 5]),  # the first takes the odd one
        (100, 4, [25, 25, 25, 25]),
        (100, 8, [13, 13, 13, 13, 12, 12, 12, 12]),  # sizes within one of each other
        (3, 8, [1, 1, 1]),  # never an empty chunk
        (0, 2, [0]),
        (7, 1, [7]),  # one chunk asked: one chunk
    ],
)
def test_chunks_are_contiguous_in_order_and_even(count: int, most: int, sizes: list[int]) -> None:
    items = list(range(count))
    parts = forked.chunks(items, most)
    assert [len(p) for p in parts] == sizes
    assert [x for p in parts for x in p] == items


def _pid_and_sum(chunk: Sequence[int]) -> tuple[int, int]:
    return os.getpid(), sum(chunk)


def _until(path: Path) -> None:
    """Wait for ``path`` to exist (a hang guard of 30 s, not a speed check)."""
    deadline = time.monotonic() + 30
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


def test_chunks_come_back_in_order_whoever_takes_them(tmp_path: Path) -> None:
    parent, took = os.getpid(), tmp_path / "a child took a chunk"

    def slices(chunk: Sequence[int]) -> tuple[int, list[int]]:
        if os.getpid() == parent:
            _until(took)  # so that a child surely takes some while we are busy
        else:
            took.touch()
        return os.getpid(), list(chunk)

    got = forked.map_chunks(slices, list(range(1000)), 100, processes=2)
    assert [x for _, chunk in got for x in chunk] == list(range(1000)) and len(got) > 2
    assert {pid for pid, _ in got} - {parent}, "a child took chunks"


def test_a_slow_process_takes_fewer_chunks_than_a_fast_one() -> None:
    parent = os.getpid()

    def slow_child(chunk: Sequence[int]) -> int:
        if os.getpid() != parent:
            time.sleep(1)  # a child on a busy core: its first chunk outlasts all the others here
        return os.getpid()

    pids = forked.map_chunks(slow_child, list(range(1000)), 10, processes=2)
    assert len(pids) == 16 and pids.count(parent) >= 15, pids  # the child held one chunk at most


def test_first_runs_here_once_while_the_children_work(tmp_path: Path) -> None:
    parent, took, ran = os.getpid(), tmp_path / "a child took a chunk", []

    def mark(chunk: Sequence[int]) -> int:
        if os.getpid() != parent:
            took.touch()
        return sum(chunk)

    def first() -> None:
        _until(took)  # returns only once a child has started on a chunk: the two overlap
        ran.append(os.getpid())

    got = forked.map_chunks(mark, list(range(1000)), 100, processes=2, first=first)
    assert sum(got) == sum(range(1000)) and ran == [parent]


def test_an_error_of_first_is_raised_here_and_no_child_is_left(tmp_path: Path) -> None:
    def refuse() -> None:
        raise ValueError("the verdict: invalid")

    with pytest.raises(ValueError, match="the verdict: invalid"):
        forked.map_chunks(_pid_and_sum, list(range(1000)), 100, processes=2, first=refuse)
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)
    with pytest.raises(ValueError, match="the verdict: invalid"):  # serially too, before any work
        forked.map_chunks(_pid_and_sum, list(range(10)), 100, first=refuse)


def test_too_little_work_is_done_here_in_one_call() -> None:
    got = forked.map_chunks(_pid_and_sum, list(range(10)), 100)
    assert got == [(os.getpid(), 45)]
    assert len(forked.map_chunks(_pid_and_sum, list(range(199)), 100, processes=2)) == 1  # not two chunks' worth


def test_enough_work_for_two_is_cut_finer_than_the_minimum_to_even_out_the_cores() -> None:
    got = forked.map_chunks(_pid_and_sum, list(range(200)), 100, processes=2)
    assert len(got) == 16 and sum(s for _, s in got) == sum(range(200))


def test_never_more_than_four_processes(tmp_path: Path) -> None:
    def pid_after_a_while(chunk: Sequence[int]) -> int:
        time.sleep(0.05)  # long enough for every process to take some
        return os.getpid()

    pids = forked.map_chunks(pid_after_a_while, list(range(1000)), 10, processes=8)
    assert len(pids) == 32 and len(set(pids)) <= 4


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


def test_what_a_child_sent_before_it_died_is_kept_and_only_the_rest_done_again(tmp_path: Path) -> None:
    parent, sent = os.getpid(), tmp_path / "the child sent one"

    def dies_on_its_second_chunk(chunk: Sequence[int]) -> tuple[int, int]:
        if os.getpid() == parent:
            _until(sent)  # the child surely finishes one chunk and takes the next before we take ours
        elif sent.exists():
            os._exit(3)  # killed in the middle of its second chunk
        else:
            sent.touch()
        return _pid_and_sum(chunk)

    got = forked.map_chunks(dies_on_its_second_chunk, list(range(1000)), 10, processes=2)
    assert sum(s for _, s in got) == sum(range(1000)) and len(got) == 16
    assert len([pid for pid, _ in got if pid != parent]) == 1, "the child's one result came back"


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
