"""The values reports are made of: a check of manifests, a run's entries, status rows (pure).

Closed sets are enums: an entry's action is a ``plan.Action`` and a run's mode an ``options.Mode``.
"""

from __future__ import annotations

import bisect
import datetime
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cached_property

from reconciler.errors import Problem, Severity
from reconciler.options import Mode
from reconciler.plan.changes import WRITES, Action, Change
from reconciler.refs import ObjRef, SourceLocation


class Format(StrEnum):
    """Output formats of ``validate`` and a run."""

    TEXT = "text"
    JSON = "json"
    GITHUB = "github"


@dataclass(frozen=True)
class Check:
    """The result of checking manifests: what was read and every problem found."""

    files: int
    resources: int
    valid: int
    problems: Sequence[Problem]
    strict: bool = False
    outside: int = 0  # errors in no document counted (a file that is not YAML, a template override)
    starts: tuple[SourceLocation, ...] = field(default=(), repr=False)  # where each document counted starts

    @property
    def errors(self) -> int:
        """How many problems are errors."""
        return sum(1 for p in self.problems if p.severity is Severity.ERROR)

    @property
    def warnings(self) -> int:
        """How many problems are warnings."""
        return sum(1 for p in self.problems if p.severity is Severity.WARNING)

    @property
    def ok(self) -> bool:
        """No error, and no warning under ``--strict``."""
        return self.errors == 0 and not (self.strict and self.warnings)

    def counted(self, problems: Sequence[Problem]) -> Check:
        """This check with ``problems``, and valid / outside counted from them so the summary says what the
        exit code says: a document is invalid when an error (under ``--strict``, any problem) is about it."""
        starts = sorted(self.starts)
        bad: set[SourceLocation] = set()
        outside = 0
        for p in problems:
            if p.severity is not Severity.ERROR and not self.strict:
                continue
            owner = p.origin or _document_of(starts, p.where)
            if owner is None:
                outside += p.severity is Severity.ERROR
            else:
                bad.add(owner)
        return replace(self, problems=problems, valid=self.resources - len(bad), outside=outside)


def _document_of(starts: Sequence[SourceLocation], where: SourceLocation) -> SourceLocation | None:
    """The document (by its start) that ``where`` falls in: the last one of its file starting at or before it."""
    i = bisect.bisect_right(starts, SourceLocation(where.path, max(where.line, 1))) - 1
    return starts[i] if i >= 0 and starts[i].path == where.path else None


@dataclass(frozen=True)
class Entry:
    """One object in a run's report: what happened (or would), with its diff, reason or error."""

    action: Action
    ref: str
    diff: str = ""
    reason: str = ""
    error: str = ""
    source: str = ""  # the manifest behind the object (path:line), where known


@dataclass(frozen=True)
class RunReport:
    """What a reconcile run found and did."""

    cluster: str
    check: Check
    mode: Mode
    entries: Sequence[Entry] = ()
    errors: Sequence[str] = ()
    requests: int = 0
    notice: str = ""  # a run that did nothing on purpose (the lock is held by another run)
    revision: str = ""
    drift_check: bool = False  # the revision and the rendered objects were those of the last good run
    warnings: Sequence[str] = ()
    interrupted: bool = False  # stopped by a signal (or a lost lock): the writes in flight finished, no more sent
    previous: str = ""  # how the run before ended, as the revision record says ("" when unknown)

    @cached_property
    def _tally(self) -> Counter[tuple[Action, bool]]:
        """Entries by action and whether they failed: counted once (a large run's report asks often)."""
        return Counter((e.action, bool(e.error)) for e in self.entries)

    def count(self, action: Action) -> int:
        """Entries of ``action`` that did not fail."""
        return self._tally[(action, False)]

    @property
    def failed(self) -> bool:
        """Invalid input, a run error, or an object that failed."""
        return bool(self.check.errors or self.errors or self.failures)

    @property
    def blocked(self) -> bool:
        """A safety guard held something back."""
        return self._tally[(Action.BLOCKED, False)] + self._tally[(Action.BLOCKED, True)] > 0

    @property
    def result(self) -> str:
        """How the run ended, for JSON output, logs and the record: ok, failed, blocked, skipped, interrupted."""
        if self.notice:
            return "skipped"
        if self.interrupted:
            return "interrupted"
        return "failed" if self.failed else "blocked" if self.blocked else "ok"

    @property
    def failures(self) -> int:
        """Entries whose write failed."""
        return sum(n for (_, failed), n in self._tally.items() if failed)

    @property
    def pending(self) -> bool:
        """Something was (or would be) written."""
        return any(e.action in WRITES for e in self.entries)


@dataclass(frozen=True)
class Row:
    """One custom resource in `reconcile status`."""

    kind: str
    namespace: str
    name: str
    state: str
    columns: dict[str, str]


def age(created: str, now: datetime.datetime) -> str:
    """kubectl's AGE: 45s, 12m, 5h, 3d."""
    try:
        then = datetime.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    except ValueError:
        return "<unknown>"
    seconds = max(0, int((now - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * (2 if unit != "d" else 1):
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def entries(changes: Sequence[Change], errors: dict[ObjRef, str] | None = None) -> list[Entry]:
    """Report entries of plan changes, with the error of each write that failed (pure)."""
    errors = errors or {}
    return [Entry(c.action, str(c.ref), c.diff, c.reason, errors.get(c.ref, "")) for c in changes]
