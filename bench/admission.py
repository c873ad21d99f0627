"""Benchmark: what offline admission costs an offline dry run — with and without the checks, in one run.

Run: python -m bench.admission [--before /path/to/another/venv/bin/reconcile] [--pairs 1000] [--repeat 5]

Whole `reconcile --dry-run --offline` processes alternate on the same generated repo, so the machine's noise
falls on both alike: this tree with the checks and this tree without them (``bench/dry_run.py --no-checks``:
the cost of the added checks alone), and, with --before, another install (e.g. the commit before offline
admission: that difference also holds every other change since). In process, it also times the admission
checks alone over every rendered object.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.generate import generate
from reconciler import documents
from reconciler.render.renderer import Renderer
from reconciler.validate import admission, openapi
from reconciler.validate.check import validate


def wall(cli: str | list[str], root: Path) -> float:
    command = [cli] if isinstance(cli, str) else cli
    t0 = time.perf_counter()
    done = subprocess.run([*command, "--dry-run", "--offline", "--cluster", "bench"], cwd=root, capture_output=True)
    ran = done.returncode in (0, 1) and b"Plan for cluster bench" in done.stdout  # a dry run, not an error
    assert ran, done.stdout[-2000:] + done.stderr[-2000:]
    return time.perf_counter() - t0


def inside_a_run(root: Path, repeat: int) -> float:
    """The checks' own time inside whole dry runs (fresh processes, cold memo tables, as a run is): the median."""
    driver = [sys.executable, str(Path(__file__).with_name("dry_run.py")), "--time-checks"]
    spent = []
    for _ in range(repeat):
        done = subprocess.run([*driver, "--dry-run", "--offline", "--cluster", "bench"], cwd=root, capture_output=True)
        spent.append(float(done.stderr.decode().rsplit("checks: ", 1)[1].split()[0]))
    return statistics.median(spent)


def checks_alone(root: Path, repeat: int) -> tuple[int, float]:
    validated = validate(documents.load_paths([root / "clusters" / "bench"]).documents)
    bodies = [o.body for o in Renderer().render(validated.resources, "bench", root).objects]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for body in bodies:
            assert not (openapi.schema_violations(body) or admission.admit(body))
        times.append(time.perf_counter() - t0)
    return len(bodies), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", help="also time this `reconcile` (e.g. an install without offline admission)")
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    driver = [sys.executable, str(Path(__file__).with_name("dry_run.py"))]  # cwd is the generated repo
    runs: dict[str, str | list[str]] = {"with the checks": driver, "without the checks": [*driver, "--no-checks"]}
    if args.before:
        runs["--before"] = args.before
    root = Path(tempfile.mkdtemp(prefix="bench-admission-"))
    try:
        generate(root, args.pairs)
        for command in runs.values():  # warm the page cache and .pyc files
            wall(command, root)
        times: dict[str, list[float]] = {label: [] for label in runs}
        for _ in range(args.repeat):
            for label, command in runs.items():
                times[label].append(wall(command, root))
        for label, seen in times.items():
            print(f"{label:20} median {statistics.median(seen):.3f} s (min {min(seen):.3f}, max {max(seen):.3f})")
        ratio = statistics.median(times["with the checks"]) / statistics.median(times["without the checks"])
        print(f"the added checks: with / without = {ratio:.3f} (budget 1.15)")
        # each round's two runs are neighbours in time: their ratio is less exposed to the machine's drift
        pairs = zip(times["with the checks"], times["without the checks"], strict=True)
        paired = statistics.median(a / b for a, b in pairs)
        print(f"the same, median of each round's with / without = {paired:.3f}")
        if args.before:
            before = statistics.median(times["with the checks"]) / statistics.median(times["--before"])
            print(f"with / --before = {before:.3f}")
        inside = inside_a_run(root, args.repeat)
        without = statistics.median(times["without the checks"])
        print(f"the checks inside a run: {inside:.3f} s = {inside / without:.1%} of the run without them")
        count, alone = checks_alone(root, args.repeat)
        print(f"admission checks alone: {alone:.3f} s for {count} objects ({alone / count * 1e6:.1f} µs each)")
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
