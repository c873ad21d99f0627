"""A bench driver: ``reconcile --dry-run --offline`` as a whole process, with the offline admission checks
switched off by ``--no-checks`` (for ``bench/admission.py``'s same-tree comparison; never a product switch).

Run: python bench/dry_run.py [--no-checks] -- <reconcile arguments>
"""

from __future__ import annotations

import sys

from reconciler.cli.main import main as reconcile
from reconciler.validate import admission, openapi


def _without_checks() -> None:
    # the renderer looks these up on their modules at each call, so replacing them turns the checks off
    openapi.schema_violations = lambda body, floats=True: []
    admission.admit = lambda body: []
    openapi.has_float = lambda value: False


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--no-checks"]:
        _without_checks()
        args = args[1:]
    if args[:1] == ["--"]:
        args = args[1:]
    reconcile(args)
