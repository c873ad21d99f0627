"""Benchmark: a first apply, side by side with kubectl, as issue 14 measures it (whole processes).

Run: python -m bench.first_apply [--pairs 100] [--repeat 3]

Each round starts two fresh API test servers (each in its own process, CRDs installed) and, in alternating order,
times on one `reconcile` (the first apply: objects, held Deployments, status write-back, Events) and on the other
`reconcile render | kubectl apply --server-side --validate=false -f -` of the same repo (kubectl 1.32 on the
machine). Requests are counted by each server. Prints the median and range of both and the ratio (ours / kubectl;
target ≤ 1.0), per round and overall.
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

EXTRA: list[str] = []  # --reconcile-args: flags for our run (say --qps 200)


def ours(repo: Path, kubeconfig: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run([shutil.which("reconcile") or "reconcile", "--repo", str(repo), "--cluster", "bench",
                           "--kubeconfig", str(kubeconfig), *EXTRA], capture_output=True, text=True)  # fmt: skip
    wall = time.perf_counter() - start
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return wall


def kubectl(repo: Path, kubeconfig: Path) -> float:
    render = f"{shutil.which('reconcile') or 'reconcile'} render {repo} --cluster bench"
    apply = f"kubectl apply --server-side --validate=false --kubeconfig {kubeconfig} -f - > /dev/null"
    start = time.perf_counter()
    done = subprocess.run(["bash", "-o", "pipefail", "-c", f"{render} | {apply}"], capture_output=True, text=True)
    wall = time.perf_counter() - start
    assert done.returncode == 0, done.stderr[-2000:]
    return wall


def bench(pairs: int, repeat: int) -> None:
    results: dict[str, list[tuple[float, int]]] = {"reconcile": [], "kubectl": []}
    repo = Path(tempfile_dir()) / "repo"
    generate(repo, pairs)
    for round_ in range(repeat):
        order = ("reconcile", "kubectl") if round_ % 2 == 0 else ("kubectl", "reconcile")
        for tool in order:
            server, kubeconfig, url = start_server()
            try:
                before = counts(url)["total"]
                wall = (ours if tool == "reconcile" else kubectl)(repo, kubeconfig)
                results[tool].append((wall, counts(url)["total"] - before))
            finally:
                server.terminate()
        ratio = results["reconcile"][-1][0] / results["kubectl"][-1][0]
        print(f"round {round_ + 1}: reconcile {results['reconcile'][-1][0]:.2f} s "
              f"({results['reconcile'][-1][1]} requests); kubectl {results['kubectl'][-1][0]:.2f} s "
              f"({results['kubectl'][-1][1]} requests); ratio {ratio:.2f}")  # fmt: skip
    for tool, rows in results.items():
        walls = [w for w, _ in rows]
        print(f"N={pairs} {tool}: median {statistics.median(walls):.2f} s ({min(walls):.2f}-{max(walls):.2f}), "
              f"{statistics.median(r for _, r in rows):.0f} requests")  # fmt: skip
    ratios = [a[0] / b[0] for a, b in zip(results["reconcile"], results["kubectl"], strict=True)]
    print(f"N={pairs} ratio reconcile / kubectl (paired by round): median {statistics.median(ratios):.2f} "
          f"({min(ratios):.2f}-{max(ratios):.2f}); target ≤ 1.0")  # fmt: skip


def tempfile_dir() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="bench-first-apply-")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, nargs="+", default=[100])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reconcile-args", default="", help="extra flags for reconcile, e.g. '--qps 1000'")
    args = parser.parse_args()
    EXTRA.extend(args.reconcile_args.split())
    for pairs in args.pairs:
        bench(pairs, args.repeat)


if __name__ == "__main__":
    main()
