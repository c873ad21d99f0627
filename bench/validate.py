"""Benchmark: loading + validation throughput, and the whole `reconcile validate` process.

Run: python -m bench.validate [--docs 2000] [--repeat 3]
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
from reconciler.validate.check import validate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=2000, help="documents (NIMCache + NIMService) to generate")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-validate-"))
    try:
        target = generate(root, args.docs // 2)
        load_s, validate_s = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            loaded = documents.load_paths([target])
            t1 = time.perf_counter()
            result = validate(loaded.documents)
            t2 = time.perf_counter()
            assert not result.errors, result.errors[:3]
            load_s.append(t1 - t0)
            validate_s.append(t2 - t1)
        n = len(loaded.documents)
        cli = shutil.which("reconcile") or "reconcile"
        wall = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            done = subprocess.run([cli, "validate", str(target)], capture_output=True, text=True)
            wall.append(time.perf_counter() - t0)
            assert done.returncode == 0, done.stdout[-2000:]
        print(f"documents: {n} in {loaded.files} files")
        print(f"load:      median {statistics.median(load_s):.3f} s  ({n / statistics.median(load_s):,.0f} docs/s)")
        print(
            f"validate:  median {statistics.median(validate_s):.3f} s  "
            f"({n / statistics.median(validate_s):,.0f} docs/s)"
        )
        print(
            f"reconcile validate (whole process): median {statistics.median(wall):.3f} s "
            f"(min {min(wall):.3f}, max {max(wall):.3f})"
        )
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
