"""`reconcile serve` as a user starts it: a process against the API test server, its log, its HTTP side."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .apiserver import ApiServer
from .manifests import NIMCACHE, NIMSERVICE, dump, variant

# a cache with pinned profiles (no probe) and a service of one replica: what a serve test reconciles
CACHE = variant(NIMCACHE, {"spec.source.ngc.model": {"profiles": ["tensorrt_llm-h100-fp16-tp1-throughput"]}})
SERVICE = variant(NIMSERVICE, {"spec.replicas": 1})


def clusters(root: Path, *docs: dict[str, Any]) -> Path:
    """A clusters/ directory of one cluster, demo, holding ``docs`` (default: CACHE and SERVICE)."""
    target = root / "clusters" / "demo" / "nim" / "llama.yaml"
    target.parent.mkdir(parents=True)
    target.write_text(dump(*(docs or (CACHE, SERVICE))))
    return root / "clusters"


def wait_for(predicate: Callable[[], object], timeout: float = 30, what: str = "") -> None:
    """Poll ``predicate`` until true; fails after ``timeout`` seconds, a hang guard rather than a speed check."""
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, f"timed out after {timeout}s: {what}"
        time.sleep(0.05)


@contextlib.contextmanager
def serving(tmp_path: Path, *args: str) -> Iterator[tuple[ApiServer, Served]]:
    """An API test server with our CRDs, and `reconcile serve` (with ``args``) on a repo of CACHE and SERVICE."""
    from .helpers import install

    root = clusters(tmp_path / "repo").parent
    with ApiServer(tmp_path, namespaces=("nim",)) as api:
        install(api)
        with Served(api, tmp_path, str(root), *args) as served:
            yield api, served


def deployed(api: ApiServer) -> None:
    """After serve's first run: the caching Jobs complete (the job controller), and within 5 s the service's
    Deployment is there (serve saw the Job on its watch)."""
    from .helpers import complete_jobs, live

    wait_for(lambda: live(api, "Job", "nim"), 30, "the first run's caching Job")
    complete_jobs(api)
    wait_for(lambda: live(api, "Deployment", "nim"), 5, "the Deployment after the Job completed")


class Served:
    """One `reconcile serve` process: started on a free port, its output collected, stopped with SIGTERM."""

    def __init__(self, api: ApiServer, home: Path, repo: str, *args: str) -> None:
        env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / "cache")}
        env.pop("KUBECONFIG", None)
        command = [sys.executable, "-m", "reconciler", "serve", "--repo", repo, "--kubeconfig", str(api.kubeconfig),
                   "--listen", "127.0.0.1:0", *args]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        wait_for(lambda: self.port or self.process.poll() is not None, 30, "serve to listen")
        assert self.port, self.output

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    @property
    def port(self) -> int:
        found = next((re.search(r"\(port (\d+)\)", line) for line in self.lines if "(port " in line), None)
        return int(found.group(1)) if found else 0

    def request(self, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, str]:
        """(status, body) of a GET, or of a POST when ``body`` is given."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=body, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def runs(self) -> int:
        """How many runs the log shows started."""
        return sum(1 for line in self.lines if line.startswith("reconciling ("))

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, and the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
