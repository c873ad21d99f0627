"""Benchmark: an offline `reconcile --dry-run` of one generated repo by an earlier tree and by this one,
alternating in one run so that the machine's noise falls on both.

Run: python -m bench.before_after --before <a checkout of the earlier commit> [--pairs 1000] [--repeat 7]
(e.g. `git worktree add /tmp/old <commit>`); the earlier tree runs from its folder on PYTHONPATH, with this venv.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.generate import generate


def one(root: Path, env: dict[str, str]) -> float:
    """Wall seconds of one offline dry run."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "reconciler", "--dry-run", "--cluster", "bench"], cwd=root, env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode in (0, 1), done.stderr[-2000:]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", type=Path, required=True, help="the earlier tree (holds reconciler/)")
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-before-after-"))
    try:
        generate(root, args.pairs)
        here = Path(__file__).resolve().parent.parent
        for tree in (args.before.resolve(), here):  # byte-compiled, as `pip install` leaves a package: else a tree
            compileall.compile_dir(str(tree / "reconciler"), quiet=1)  # without .pyc compiles on every run
        before_env = dict(os.environ, PYTHONPATH=str(args.before.resolve()))
        after_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        after_env["PYTHONPATH"] = str(here)
        before, after = [], []
        for i in range(args.repeat):  # each goes first every other round: neither always meets a warmer machine
            if i % 2:
                after.append(one(root, after_env))
                before.append(one(root, before_env))
            else:
                before.append(one(root, before_env))
                after.append(one(root, after_env))
        ratios = [a / b for b, a in zip(before, after, strict=True)]
        print(f"before: median {statistics.median(before):.3f} s ({min(before):.3f}-{max(before):.3f})")
        print(f"after:  median {statistics.median(after):.3f} s ({min(after):.3f}-{max(after):.3f})")
        print(f"after / before (paired by round): median {statistics.median(ratios):.2f}")
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
