"""One measured run of a command: wall time, exit code, its own peak RSS, and what it printed."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Measured:
    wall: float  # seconds
    code: int
    peak_rss_kib: int  # this process's own (wait4), not the largest of every child reaped so far
    output: str  # stdout and stderr, interleaved as printed


def measured(command: list[str], cwd: Path, while_running: Callable[[int], None] | None = None) -> Measured:
    """Run ``command`` to its end. ``while_running(pid)``, if given, is called every 5 ms until it exits (a
    sampler; it costs the measured process CPU, so time such runs apart). Output goes to a file, not a pipe,
    so the process never waits on us to read."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG if while_running else 0)
            if pid:
                break
            if while_running is not None:
                while_running(proc.pid)
            time.sleep(0.005)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    return Measured(wall, proc.returncode, usage.ru_maxrss, text)
