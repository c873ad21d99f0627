"""Profile a first apply in process (cProfile), against the API test server in another process.

Run: python -m bench.profile_apply [--pairs 100] [--top 25]

Prints the request count, the client CPU time per request, and the functions with the most own time, so that
where a first apply spends its time is written down from a measurement, not guessed.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shutil
import time
from pathlib import Path

from bench.generate import generate
from bench.reconcile import counts, start_server
from reconciler import pipeline
from reconciler.options import ClusterConfig, Mode, Options


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--cumulative", action="store_true", help="sort by cumulative time")
    args = parser.parse_args()
    server, kubeconfig, url = start_server()
    folder = kubeconfig.parent
    try:
        generate(folder, args.pairs)
        options = Options(repo=Path(folder), cluster="bench", mode=Mode.APPLY,
                          kube=ClusterConfig(kubeconfig=(str(kubeconfig),)))  # fmt: skip
        before = counts(url)["total"]
        profile = cProfile.Profile()
        cpu, wall = time.process_time(), time.perf_counter()
        profile.enable()
        report = pipeline.reconcile(options)
        profile.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        requests = counts(url)["total"] - before
        assert not report.failed, report.errors
        print(f"N={args.pairs}: {requests} requests, wall {wall:.2f} s, our CPU {cpu:.2f} s "
              f"({cpu / requests * 1000:.1f} ms per request)")  # fmt: skip
        text = io.StringIO()
        order = "cumulative" if args.cumulative else "tottime"
        pstats.Stats(profile, stream=text).sort_stats(order).print_stats(args.top)
        print(text.getvalue())
    finally:
        server.terminate()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
