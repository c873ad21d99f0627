"""Benchmark: an offline `reconcile --dry-run` of a generated repo, whole process and per stage, with peak RSS.

Run: python -m bench.render [--pairs 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench.generate import generate
from reconciler import documents, pipeline
from reconciler.plan import compare
from reconciler.plan.changes import Action
from reconciler.render.renderer import Renderer
from reconciler.validate.check import validate


def stages(root: Path) -> dict[str, float]:
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    loaded = documents.load_paths([root / "clusters" / "bench"])
    t1 = time.perf_counter()
    validated = validate(loaded.documents)
    t2 = time.perf_counter()
    renderer = Renderer()
    t3 = time.perf_counter()
    rendered = renderer.render(validated.resources, "bench", root)
    t4 = time.perf_counter()
    # the offline plan, as `reconcile --dry-run --offline` makes it: every object to be created
    planned = pipeline.entries(compare.offline(rendered.objects).changes)
    t5 = time.perf_counter()
    assert not validated.errors and all(e.action is Action.CREATED for e in planned)
    times.update(load=t1 - t0, validate=t2 - t1, compile=t3 - t2, render=t4 - t3, plan=t5 - t4)
    times["objects"] = len(rendered.objects)
    return times


def yaml_floor(root: Path) -> float:
    """Seconds PyYAML's C loader alone takes for the same files (a same-run yardstick on a noisy machine)."""
    texts = [p.read_text() for p in sorted((root / "clusters").rglob("*.yaml"))]
    t0 = time.perf_counter()
    for text in texts:
        list(yaml.load_all(text, Loader=yaml.CSafeLoader))
    return time.perf_counter() - t0


def whole_process(root: Path, *args: str) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one `reconcile` process."""
    cli = shutil.which("reconcile") or "reconcile"
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    done = subprocess.run([cli, *args], cwd=root, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    assert done.returncode in (0, 1), done.stdout[-2000:] + done.stderr[-2000:]
    return wall, max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=1000, help="NIMCache + NIMService pairs to generate")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-render-"))
    try:
        generate(root, args.pairs)
        runs = [stages(root) for _ in range(args.repeat)]
        for key in ("load", "validate", "compile", "render", "plan"):
            values = [r[key] for r in runs]
            print(f"{key:9s} median {statistics.median(values):.3f} s (min {min(values):.3f}, max {max(values):.3f})")
        print(f"objects   {int(runs[0]['objects'])}")
        walls = []
        rss = 0
        for _ in range(args.repeat):
            wall, rss = whole_process(root, "--dry-run", "--cluster", "bench")
            walls.append(wall)
        print(
            f"reconcile --dry-run (whole process): median {statistics.median(walls):.3f} s "
            f"(min {min(walls):.3f}, max {max(walls):.3f}); peak RSS {rss / 1024:.0f} MiB"
        )
        floor = statistics.median(yaml_floor(root) for _ in range(args.repeat))
        print(
            f"yardstick: yaml.load_all(CSafeLoader) of the same files {floor:.3f} s; "
            f"dry run = {statistics.median(walls) / floor:.1f}x that"
        )
        helps = [whole_process(root, "--help")[0] for _ in range(5)]
        print(f"reconcile --help: median {statistics.median(helps):.3f} s (min {min(helps):.3f})")
        print(f"python {sys.version.split()[0]}")
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
