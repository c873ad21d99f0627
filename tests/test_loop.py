"""cli/loop.py and loop mode: the pause, backoff after failures, and a clean stop on SIGTERM (a real process)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from reconciler.cli import loop
from reconciler.cli.loop import LoopOptions

from .apiserver import ApiServer, Fault
from .helpers import REPO, install, live
from .serving import wait_for


def test_the_pause_is_the_interval_plus_jitter() -> None:
    options = LoopOptions(300)
    assert loop.delay(options, 0, lambda: 0.0) == 300
    assert loop.delay(options, 0, lambda: 1.0) == pytest.approx(330)
    assert loop.delay(options, 1, lambda: 0.0) == 300  # one failure: try again at the usual time


def test_repeated_failures_back_off_up_to_a_cap() -> None:
    options = LoopOptions(300, jitter=0, max_backoff=1800)
    assert [loop.delay(options, n) for n in (2, 3, 4, 5, 9)] == [600, 1200, 1800, 1800, 1800]
    assert loop.delay(LoopOptions(3600, jitter=0, max_backoff=1800), 4) == 3600  # never shorter than the interval


def test_the_loop_runs_one_step_at_a_time_until_stopped_and_resets_after_success() -> None:
    codes = iter([2, 2, 2, 0, 2])
    calls: list[float] = []
    logged: list[str] = []
    stop = threading.Event()
    active = threading.Lock()

    def step() -> int:
        assert active.acquire(blocking=False), "two runs at once"
        calls.append(time.monotonic())
        code = next(codes)
        if len(calls) == 5:
            stop.set()
        active.release()
        return code

    assert loop.run(step, LoopOptions(0.01, jitter=0), stop, logged.append) == 0
    assert len(calls) == 5
    assert [m for m in logged if "backing off" in m] == [
        "next run in 0s (backing off after 2 failed runs)",
        "next run in 0s (backing off after 3 failed runs)",
    ]
    assert logged[-1] == "stopped"


def _start(api: ApiServer, tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "clusters", repo / "clusters")
    env = {**os.environ, "HOME": str(tmp_path)}
    env.pop("KUBECONFIG", None)
    command = [sys.executable, "-m", "reconciler", "--repo", str(repo), "--kubeconfig", str(api.kubeconfig), *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def test_sigterm_while_sleeping_stops_at_once(api: ApiServer, tmp_path: Path) -> None:
    install(api)
    process = _start(api, tmp_path, "--interval", "1h")
    wait_for(lambda: any(r.path.endswith("/leases/nim-reconciler-demo") and r.method == "PUT" for r in api.requests))
    time.sleep(0.5)  # the first run is over and the loop sleeps for an hour
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=10)
    assert process.returncode == 0, out
    assert "SIGTERM received" in out and "stopped" in out and "Traceback" not in out


def _interrupt_mid_run(
    api: ApiServer, tmp_path: Path, *args: str, signum: signal.Signals = signal.SIGTERM
) -> tuple[int, str]:
    """Start a run whose first caching Job write is slow, and send SIGTERM while it is in flight."""
    install(api)
    api.faults.add(Fault(method="PATCH", path="/jobs/", delay=2.0, times=1))  # a slow write mid-run
    process = _start(api, tmp_path, *args)
    wait_for(lambda: any("/persistentvolumeclaims/" in r.path and r.method == "PATCH" for r in api.requests))
    time.sleep(0.3)  # the PVCs are applied; the first caching Job's write is under way (it takes 2 s)
    process.send_signal(signum)  # the run is between its first and last write
    out, _ = process.communicate(timeout=30)
    return process.returncode, out


def _stopped_cleanly(api: ApiServer, out: str, name: str = "SIGTERM") -> None:
    assert f"{name} received" in out and "Traceback" not in out
    assert "interrupted: the writes in flight finished; nothing more was written" in out
    assert "Applied to cluster demo" in out  # the summary is printed
    assert len(live(api, "Job")) >= 1  # the write in flight was finished ...
    assert live(api, "NIMService") == {}  # ... and nothing after it was sent
    lease = live(api, "Lease", "default")["nim-reconciler-demo"]
    assert not lease["spec"].get("holderIdentity")  # released: the next run need not wait for it to expire
    assert live(api, "ConfigMap", "default")["nim-reconciler-demo"]["data"]["lastResult"] == "interrupted"


def test_sigterm_during_a_one_shot_run_stops_after_the_writes_in_flight(api: ApiServer, tmp_path: Path) -> None:
    # Regression: one-shot mode ignored SIGTERM (a CronJob's deadline, a node drain): exit 143, no summary, and
    # the Lease stayed held for 5 minutes.
    code, out = _interrupt_mid_run(api, tmp_path)
    assert code == 143, out
    _stopped_cleanly(api, out)


def test_ctrl_c_during_a_one_shot_run_stops_the_same_way_and_exits_130(api: ApiServer, tmp_path: Path) -> None:
    code, out = _interrupt_mid_run(api, tmp_path, signum=signal.SIGINT)
    assert code == 130, out
    _stopped_cleanly(api, out, "SIGINT")


def test_sigterm_during_a_loop_run_stops_it_the_same_way_and_exits_0(api: ApiServer, tmp_path: Path) -> None:
    code, out = _interrupt_mid_run(api, tmp_path, "--interval", "1h")
    assert code == 0, out  # a stop is the normal end of a loop
    _stopped_cleanly(api, out)
    assert "stopped" in out
