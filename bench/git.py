"""Benchmark: runs from a git URL (file:// bare repo) against the API test server in another process.

Run: python -m bench.git [--pairs 100] [--repeat 5]

Measures (a) a run whose revision did not change: the whole `reconcile` process, and the same run inside one
warm process (loop mode), with its git requests (ls-remote only, no fetch) and API requests / writes; (b) a run
fetching one new commit that changes one manifest; (c) the git step alone for both cases.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from bench.generate import generate
from bench.reconcile import counts, start_server
from reconciler import source
from reconciler.cli import metrics
from reconciler.cli.run import Outputs, Runner, SourceSpec
from reconciler.options import ClusterConfig, LockOptions, Mode, Options

IDENTITY = ["-c", "user.name=bench", "-c", "user.email=bench@example.com"]


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *IDENTITY, *args], cwd=cwd, check=True, capture_output=True)


def cli(args: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run([shutil.which("reconcile") or "reconcile", *args], capture_output=True, text=True)
    wall = time.perf_counter() - start
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return wall


def git_total(path: Path, kind: str) -> int:
    return metrics.read_totals(path.read_text(), "bench").git.get(kind, 0)


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.3f} s ({min(values):.3f} to {max(values):.3f})"


def bench(pairs: int, repeat: int) -> None:
    server, kubeconfig, url = start_server()
    folder = kubeconfig.parent
    work, bare, cache, prom = folder / "work", folder / "remote.git", folder / "cache", folder / "m.prom"
    try:
        generate(work, pairs)
        git(work, "init", "-q", "-b", "main")
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", "first")
        git(folder, "clone", "-q", "--bare", str(work), str(bare))
        args = [
            "--repo",
            bare.as_uri(),
            "--cluster",
            "bench",
            "--cache-dir",
            str(cache),
            "--kubeconfig",
            str(kubeconfig),
        ]
        args += ["--metrics-file", str(prom)]
        first = cli(args)
        cli(args)  # statuses and events of the first apply
        print(f"N={pairs}: first run (clone + apply): {first:.2f} s")

        walls, requests, writes = [], [], []
        fetches, ls_remotes = git_total(prom, "fetch"), git_total(prom, "ls-remote")
        for _ in range(repeat):
            before = counts(url)
            walls.append(cli(args))
            after = counts(url)
            requests.append(after["total"] - before["total"])
            writes.append(after["writes"] - before["writes"])
        print(
            f"N={pairs}: unchanged revision, whole process: {spread(walls)}; API requests {set(requests)}, "
            f"writes {set(writes)}; git: {git_total(prom, 'ls-remote') - ls_remotes} ls-remote, "
            f"{git_total(prom, 'fetch') - fetches} fetch in {repeat} runs"
        )

        options = Options(
            cluster="bench",
            mode=Mode.APPLY,
            kube=ClusterConfig(kubeconfig=(str(kubeconfig),)),
            lock=LockOptions(identity="bench"),
        )
        quiet = Outputs(out=lambda _: None, err=print)
        runner = Runner(SourceSpec(bare.as_uri(), cache_dir=cache), options, quiet)
        runner.once()  # warm: imports, templates, schemas
        warm = []
        for _ in range(repeat):
            start = time.perf_counter()
            assert runner.once() == 0
            warm.append(time.perf_counter() - start)
        print(f"N={pairs}: unchanged revision, warm process (loop mode): {spread(warm)}")

        spec = source.RemoteSpec(bare.as_uri(), "main")
        ls = []
        for _ in range(repeat):
            start = time.perf_counter()
            got = source.remote(spec, cache, source.Credentials())
            ls.append(time.perf_counter() - start)
            assert got.requests == {"ls-remote": 1}
        print(f"N={pairs}: git step alone, unchanged (ls-remote, no fetch): {spread(ls)}")

        new, fetch_git = [], []
        for number in range(repeat):
            target = next((work / "clusters/bench").rglob(f"pair-{number:05d}.yaml"))
            target.write_text(target.read_text().replace("NIM_ENABLE_KV_CACHE_REUSE", "NIM_FLAG", 1))
            git(work, "commit", "-q", "-am", f"change {number}")
            git(work, "push", "-q", str(bare), "main")
            before = counts(url)
            new.append(cli(args))
            after = counts(url)
            print(
                f"  new commit {number}: {new[-1]:.3f} s, API requests {after['total'] - before['total']}, "
                f"writes {after['writes'] - before['writes']}"
            )
            git(work, "commit", "-q", "--allow-empty", "-m", f"empty {number}")
            git(work, "push", "-q", str(bare), "main")
            start = time.perf_counter()
            got = source.remote(spec, cache, source.Credentials())
            fetch_git.append(time.perf_counter() - start)
            assert got.fetched and got.requests == {"ls-remote": 1, "fetch": 1}
        print(f"N={pairs}: one new commit, whole process: {spread(new)}")
        print(f"N={pairs}: git step alone, one new commit (ls-remote + shallow fetch + checkout): {spread(fetch_git)}")
    finally:
        server.terminate()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, nargs="+", default=[100])
    parser.add_argument("--repeat", type=int, default=5)
    parsed = parser.parse_args()
    for pairs in parsed.pairs:
        bench(pairs, parsed.repeat)


if __name__ == "__main__":
    main()
