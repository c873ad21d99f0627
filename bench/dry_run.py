"""A bench driver: ``reconcile --dry-run --offline`` as a whole process, with the offline admission checks
switched off by ``--no-checks`` (for ``bench/admission.py``'s same-tree comparison; never a product switch).

Run: python bench/dry_run.py [--no-checks | --time-checks] -- <reconcile arguments>

``--time-checks`` prints to stderr how long the checks took inside this run (``checks: <seconds>``).
"""

from __future__ import annotations

import atexit
import sys
import time
from typing import Any

from reconciler.cli.main import main as reconcile
from reconciler.render import admit
from reconciler.validate import admission, openapi


def _without_checks() -> None:
    # the renderer looks these up on their modules at each call, so replacing them turns the checks off
    openapi.schema_violations = lambda body, floats=True: []
    admission.admit = lambda body: []
    openapi.has_float = lambda value: False


def _timing_checks() -> None:
    judge, spent = admit.Admission.refusals, [0.0]

    def timed(self: admit.Admission) -> Any:
        t0 = time.perf_counter()
        try:
            return judge(self)
        finally:
            spent[0] += time.perf_counter() - t0

    admit.Admission.refusals = timed  # type: ignore[method-assign]
    atexit.register(lambda: print(f"checks: {spent[0]:.4f}", file=sys.stderr))


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--no-checks"]:
        _without_checks()
        args = args[1:]
    elif args[:1] == ["--time-checks"]:
        _timing_checks()
        args = args[1:]
    if args[:1] == ["--"]:
        args = args[1:]
    reconcile(args)
