"""Offline admission of the objects one render made: gathered while rendering, judged in one pass after (pure).

Contract: ``Admission.add(res, body, override, in_manifest)`` records one rendered object; ``refusals()`` then
returns the error of every field kube-apiserver would refuse in any of them (``blame.refusal``: at the manifest
line, else at the override template's line), in the order the objects were added. An empty list: the cluster
would take every object. ``refusals()`` may be called as often as wanted, each time judging what was added since
(``waiting()`` says how many): a render that drops bodies judges them in batches, then lets them go.

Why one pass at the end rather than a check per object as it is made: the checks run as one tight loop, their
code and memo tables staying hot, instead of being evicted by a template render between every two objects
(measured: ``bench/admission.py``, BENCHMARKS.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reconciler.documents import NimResource
from reconciler.errors import Problem
from reconciler.kinds import CUSTOM_KINDS
from reconciler.render import blame
from reconciler.validate import admission, openapi

Override = tuple[Path, str] | None


class Admission:
    """The rendered objects waiting to be judged, and the judgement."""

    def __init__(self) -> None:
        self._pending: list[tuple[NimResource, dict[str, Any], Override, bool]] = []

    def add(self, res: NimResource, body: dict[str, Any], override: Override, in_manifest: bool) -> None:
        """Record ``body``, rendered from ``res`` (by ``override`` when it is a template override);
        ``in_manifest``: whether the manifest holds a float at all."""
        # A shipped template writes no float of its own (the golden and corpus tests: no float in an integer field
        # of any fixture or sample), so one can only come from an override or a manifest holding one: look then.
        self._pending.append((res, body, override, override is not None or in_manifest))

    def waiting(self) -> int:
        """How many objects are added and not judged yet."""
        return len(self._pending)

    def refusals(self) -> list[Problem]:
        """Every refused field of every object added (pure), then forgets them."""
        found: list[Problem] = []
        schema, admit = openapi.schema_violations, admission.admit  # looked up once, on their modules
        for res, body, override, floats in self._pending:
            # A custom resource from the shipped template is the manifest itself (its spec passed through, already
            # checked against the same schema): only its metadata needs looking at.
            shipped_resource = override is None and body["kind"] in CUSTOM_KINDS
            refused = (not shipped_resource and schema(body, floats)) or admit(body)
            if refused:
                found += [blame.refusal(res, body, v, override) for v in refused]
        self._pending = []
        return found
