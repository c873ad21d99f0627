"""Benchmark: `reconcile` against the API test server running in another process.

Run: python -m bench.reconcile [--pairs 100 1000]

For each N (NIMCache + NIMService pairs): (a) the first apply stage: objects/s, as a ratio to the bare client
applying the same bodies one by one to a fresh server in the same run; (b) a no-op reconcile (whole process):
requests (discovery included) and writes, and wall time; (c) peak RSS of that process.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.generate import generate
from bench.process import measured
from reconciler import pipeline
from reconciler.cluster import apply, observe
from reconciler.cluster.kube import Cluster
from reconciler.kinds import BY_KIND, CRD, FOREIGN_CRDS
from reconciler.options import ClusterConfig, Mode, Options
from reconciler.plan import compare


def serve(folder: str, ready: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    from tests.apiserver import ApiServer

    namespaces = ("bench", *(f"team-{i:02d}" for i in range(20)))  # the generator's namespaces
    with ApiServer(Path(folder), namespaces=namespaces):
        ready.set()
        while True:
            time.sleep(3600)


def counts(url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{url}/debug/requests") as response:
        result: dict[str, int] = json.loads(response.read())
        return result


def run(args: list[str], cwd: Path) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (KiB) of this one process, and the last line it printed."""
    done = measured([shutil.which("reconcile") or "reconcile", *args], cwd)
    assert done.code == 0, done.output[-6000:]
    return done.wall, done.peak_rss_kib, done.output.splitlines()[-1]


def foreign_crds(kubeconfig: Path) -> None:
    """The Prometheus Operator and Gateway API CRDs, which a real cluster would have installed."""
    cluster = Cluster(ClusterConfig(kubeconfig=(str(kubeconfig),)))
    for kind, name in FOREIGN_CRDS.items():
        plural, group = name.split(".", 1)
        version = "v1"
        crd = {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": name},
            "spec": {
                "group": group,
                "scope": "Namespaced",
                "names": {"kind": kind, "plural": plural},
                "versions": [
                    {
                        "name": version,
                        "served": True,
                        "storage": True,
                        "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                    }
                ],
            },
        }
        cluster.apply(CRD, crd)


def start_server() -> tuple[multiprocessing.Process, Path, str]:
    folder = Path(tempfile.mkdtemp(prefix="bench-reconcile-"))
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(str(folder), ready), daemon=True)
    server.start()
    ready.wait(30)
    kubeconfig = folder / "kubeconfig"
    url = next(line.split("server: ")[1] for line in kubeconfig.read_text().splitlines() if "server: " in line)
    run(["install-crds", "--kubeconfig", str(kubeconfig)], folder)
    foreign_crds(kubeconfig)
    return server, kubeconfig, url


def timed_apply(repo: Path, kubeconfig: Path) -> tuple[int, float, float]:
    """(objects, seconds of our apply stage, seconds of the same bodies applied one by one with the bare client)."""
    options = Options(repo=repo, cluster="bench", mode=Mode.APPLY, kube=ClusterConfig(kubeconfig=(str(kubeconfig),)))
    rendered = pipeline.render(options)
    cluster = Cluster(options.kube)  # type: ignore[arg-type]
    planned = compare.plan(rendered.objects, observe.observe(cluster, "bench"), options.prune)
    start = time.perf_counter()
    done = apply.execute(planned, cluster)
    ours = time.perf_counter() - start
    assert not done.failed
    server, raw_config, _ = start_server()  # a fresh server: the same creations, one request at a time
    try:
        raw = Cluster(ClusterConfig(kubeconfig=(str(raw_config),)))
        start = time.perf_counter()
        for change in planned.changes:
            raw.apply(BY_KIND[change.ref.kind], planned.bodies[change.ref])
        bare = time.perf_counter() - start
    finally:
        server.terminate()
    return len(planned.changes), ours, bare


def bench(pairs: int) -> None:
    server, kubeconfig, url = start_server()
    folder = kubeconfig.parent
    try:
        generate(folder, pairs)
        objects, ours, bare = timed_apply(folder, kubeconfig)
        print(
            f"N={pairs}: first apply of {objects} objects: {objects / ours:,.0f} objects/s "
            f"(concurrency 4); the bare client one by one: {objects / bare:,.0f} objects/s; "
            f"ratio {bare / ours:.2f}"
        )
        common = ["--kubeconfig", str(kubeconfig)]
        run(["--cluster", "bench", *common], folder)  # records the first statuses and events
        before = counts(url)
        wall, rss, summary = run(["--cluster", "bench", *common], folder)
        after = counts(url)
        print(
            f"N={pairs}: no-op reconcile (whole process): {after['total'] - before['total']} requests, "
            f"{after['writes'] - before['writes']} writes, {wall:.2f} s; peak RSS {rss / 1024:.0f} MiB"
        )
        print(f"  {summary}")
    finally:
        server.terminate()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, nargs="+", default=[100, 1000])
    for pairs in parser.parse_args().pairs:
        bench(pairs)


if __name__ == "__main__":
    main()
