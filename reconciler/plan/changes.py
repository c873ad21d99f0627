"""The plan's values: what happens (or would) to each object, and why (pure).

``Action`` is the closed set every report, metric and record counts by; ``COUNTED`` is its reporting order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from reconciler.refs import ObjRef
from reconciler.selection import Selection


class Action(StrEnum):
    """What happens to an object in a run (or would, in a dry run)."""

    CREATED = "created"
    CONFIGURED = "configured"
    UNCHANGED = "unchanged"
    PRUNED = "pruned"
    SKIPPED = "skipped"
    BLOCKED = "blocked"
    WAITING = "waiting"  # held back until its NIMCache is Ready (health-gated order)
    REPLACED = "replaced"  # deleted and created again (a failed caching Job, with --retry-failed)
    STATUS = "status"  # a custom resource's status written back (reports only: the plan never says it)
    SUSPENDED = "suspended"  # left as it is: its custom resource, or the whole cluster, is suspended


# The order reports, logs, metrics and the revision record list the counts in.
COUNTED = (
    Action.CREATED,
    Action.CONFIGURED,
    Action.REPLACED,
    Action.PRUNED,
    Action.UNCHANGED,
    Action.WAITING,
    Action.SKIPPED,
    Action.BLOCKED,
    Action.SUSPENDED,
)
WRITES = frozenset({Action.CREATED, Action.CONFIGURED, Action.REPLACED, Action.PRUNED})  # what "pending" means


@dataclass(frozen=True)
class Change:
    """One object's action, with the diff of our fields and the reason (a guard, a wait, a hold)."""

    action: Action
    ref: ObjRef
    diff: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Plan:
    """Every change of a run, in apply order; ``bodies`` are the objects to write, stamped and owned."""

    changes: list[Change]
    live_known: bool
    bodies: dict[ObjRef, dict[str, Any]] = field(default_factory=dict, compare=False)
    # each NIMCache's status as observed before this run wrote anything (set by the health gate)
    cache_status: dict[ObjRef, dict[str, Any]] = field(default_factory=dict, compare=False)
    # the caching Job that stands for each NIMCache (set by the health gate; see gate.cache_jobs)
    cache_jobs: dict[ObjRef, str] = field(default_factory=dict, compare=False)
    # the live bodies of the objects left over from git (what prune decides on), by reference
    leftovers: dict[ObjRef, dict[str, Any]] = field(default_factory=dict, compare=False)
    # objects of the names we render that exist and are someone else's (refused, not adopted)
    foreign: frozenset[ObjRef] = field(default_factory=frozenset, compare=False)
    # objects someone else made that this run takes over (--adopt): their live bodies, for the field take-over
    adopted: dict[ObjRef, dict[str, Any]] = field(default_factory=dict, compare=False)
    # where profile selection stands for each probing NIMCache, as the cluster showed it (selection.py)
    selections: dict[ObjRef, Selection] = field(default_factory=dict, compare=False)

    def count(self, action: Action) -> int:
        """How many changes have ``action``."""
        return sum(1 for c in self.changes if c.action is action)

    def of(self, *actions: Action) -> list[Change]:
        """The changes with any of ``actions``, in plan order."""
        return [c for c in self.changes if c.action in actions]

    @property
    def pending(self) -> bool:
        """Something is to be written (created, configured, replaced or pruned)."""
        return any(c.action in WRITES for c in self.changes)

    @property
    def blocked(self) -> bool:
        """A safety guard or a forbidden change stopped some object."""
        return any(c.action is Action.BLOCKED for c in self.changes)
