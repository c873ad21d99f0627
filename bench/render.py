"""Benchmark: an offline `reconcile --dry-run` of a generated repo, whole process and per stage, with peak memory.

Run: python -m bench.render [--pairs 1000] [--repeat 3]

Two yardsticks, each timed just before every timed run: PyYAML's C loader on the already-read files in this
process (the strict one: no start-up, no reads), and a separate Python process that reads and parses them.
"""

from __future__ import annotations

import argparse
import compileall
import gc
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench.generate import generate
from bench.process import measured
from reconciler import offline, pipeline
from reconciler.plan import compare
from reconciler.plan.changes import Action
from reconciler.render.renderer import Renderer
from reconciler.validate.check import validate


def stages(root: Path) -> dict[str, float]:
    """Each stage of an offline dry run in this process, one after the other (the load and the render forked
    over the CPUs when the repo is large; the CLI validates while the render children start, here apart)."""
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    loaded = offline._loaded([root / "clusters" / "bench"])
    t1 = time.perf_counter()
    validated = validate(loaded.documents)
    t2 = time.perf_counter()
    renderer = Renderer()
    t3 = time.perf_counter()
    rendered = offline._rendered_objects(renderer, loaded, "bench", root, bodies=False, judge=lambda: None)
    t4 = time.perf_counter()
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


# A peer process that only reads and parses the same files: what any tool that loads them pays, start-up included.
_PARSE_ONLY = (
    "import pathlib, yaml\n"
    "for p in sorted(pathlib.Path('clusters').rglob('*.yaml')):\n"
    "    list(yaml.load_all(p.read_text(), Loader=yaml.CSafeLoader))\n"
)


def parse_process(root: Path) -> float:
    """Wall seconds of ``python -c`` reading and parsing every manifest with PyYAML's C loader."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", _PARSE_ONLY], cwd=root, check=True)
    return time.perf_counter() - t0


def whole_process(root: Path, *args: str, sample: bool) -> tuple[float, int, int]:
    """Wall seconds of one `reconcile` process, its own peak RSS (KiB), and, when ``sample``, the peak of the
    proportional set size (KiB) of it and its forked children together, sampled every 5 ms: what a container's
    memory limit sees (pages the children share with the parent counted once)."""
    tree = [0]

    def pss(pid: int) -> None:
        tree[0] = max(tree[0], _tree_pss(pid))

    run = measured([shutil.which("reconcile") or "reconcile", *args], root, pss if sample else None)
    assert run.code in (0, 1), run.output[-2000:]
    return run.wall, run.peak_rss_kib, tree[0]


def _tree_pss(pid: int) -> int:
    """PSS (KiB) of ``pid`` and its children, 0 for any that is gone."""
    total = 0
    for one in [pid, *_children(pid)]:
        try:
            text = Path(f"/proc/{one}/smaps_rollup").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in text.splitlines() if line.startswith("Pss:")), 0)
    return total


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=1000, help="NIMCache + NIMService pairs to generate")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    gc.set_threshold(100_000, 50, 100)  # the stages in this process collect as often as the CLI's (cli/main.py)
    root = Path(tempfile.mkdtemp(prefix="bench-render-"))
    try:
        generate(root, args.pairs)
        # byte-compiled, as `pip install` leaves a package (PYTHONDONTWRITEBYTECODE would make every run compile)
        compileall.compile_dir(str(Path(pipeline.__file__).parent), quiet=1)
        runs = [stages(root) for _ in range(args.repeat)]
        for key in ("load", "validate", "compile", "render", "plan"):
            values = [r[key] for r in runs]
            print(f"{key:9s} median {statistics.median(values):.3f} s (min {min(values):.3f}, max {max(values):.3f})")
        print(f"objects   {int(runs[0]['objects'])}")
        # Timed runs and memory runs apart: reading smaps_rollup every 5 ms costs the measured process CPU and
        # page-table locks (on 2 cores, 0.2-0.4 s of a 1.3 s run). Each timed run is paired with the yardstick
        # measured just before it, so a round's ratio compares the two under the same machine load.
        walls, ratios, floors, peers, peer_ratios = [], [], [], [], []
        for _ in range(args.repeat):
            floors.append(yaml_floor(root))
            peers.append(parse_process(root))
            walls.append(whole_process(root, "--dry-run", "--cluster", "bench", sample=False)[0])
            ratios.append(walls[-1] / floors[-1])
            peer_ratios.append(walls[-1] / peers[-1])
        rss, tree = 0, 0
        for _ in range(args.repeat):
            _, own, together = whole_process(root, "--dry-run", "--cluster", "bench", sample=True)
            rss, tree = max(rss, own), max(tree, together)
        print(
            f"reconcile --dry-run (whole process): median {statistics.median(walls):.3f} s "
            f"(min {min(walls):.3f}, max {max(walls):.3f})"
        )
        print(
            f"yardstick: yaml.load_all(CSafeLoader) of the same files, before each run: median "
            f"{statistics.median(floors):.3f} s; dry run / yardstick per round: median "
            f"{statistics.median(ratios):.2f}x (min {min(ratios):.2f}, max {max(ratios):.2f})"
        )
        print(
            f"peer: a python process that reads and parses them (start-up included): median "
            f"{statistics.median(peers):.3f} s; dry run / peer per round: median "
            f"{statistics.median(peer_ratios):.2f}x (min {min(peer_ratios):.2f}, max {max(peer_ratios):.2f})"
        )
        print(f"memory (separate runs): peak RSS {rss / 1024:.0f} MiB; PSS with forked children {tree / 1024:.0f} MiB")
        helps = [whole_process(root, "--help", sample=False)[0] for _ in range(5)]
        print(f"reconcile --help: median {statistics.median(helps):.3f} s (min {min(helps):.3f})")
        print(f"python {sys.version.split()[0]}")
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
