"""Benchmark: what offline admission costs an offline dry run — before and after, in one run.

Run: python -m bench.admission --before /path/to/venv-of-the-previous-commit/bin/reconcile [--pairs 1000] [--repeat 5]

The two `reconcile --dry-run --offline` processes (the previous commit's install, given by --before, and this
one) alternate on the same generated repo, so the machine's noise falls on both alike. In process, it also times
the admission checks alone over every rendered object.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.generate import generate
from reconciler import documents
from reconciler.render.renderer import Renderer
from reconciler.validate import admission, openapi
from reconciler.validate.check import validate


def wall(cli: str, root: Path) -> float:
    t0 = time.perf_counter()
    done = subprocess.run([cli, "--dry-run", "--offline", "--cluster", "bench"], cwd=root, capture_output=True)
    assert done.returncode in (0, 1), done.stdout[-2000:] + done.stderr[-2000:]
    return time.perf_counter() - t0


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
    parser.add_argument("--before", required=True, help="the `reconcile` of an install without offline admission")
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    after = shutil.which("reconcile") or "reconcile"
    root = Path(tempfile.mkdtemp(prefix="bench-admission-"))
    try:
        generate(root, args.pairs)
        wall(args.before, root), wall(after, root)  # warm the page cache and .pyc files
        before_times, after_times = [], []
        for _ in range(args.repeat):
            before_times.append(wall(args.before, root))
            after_times.append(wall(after, root))
        b, a = statistics.median(before_times), statistics.median(after_times)
        print(f"before: median {b:.3f} s (min {min(before_times):.3f}, max {max(before_times):.3f})")
        print(f"after:  median {a:.3f} s (min {min(after_times):.3f}, max {max(after_times):.3f})")
        print(f"after / before: {a / b:.3f} (budget 1.15)")
        count, alone = checks_alone(root, args.repeat)
        print(f"admission checks alone: {alone:.3f} s for {count} objects ({alone / count * 1e6:.1f} µs each)")
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
