"""The plan: desired objects against the live ones → what to create, configure, leave or prune (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from reconciler.refs import ObjRef
from reconciler.rendering import DesiredObject


class Action(StrEnum):
    CREATED = "created"
    CONFIGURED = "configured"
    UNCHANGED = "unchanged"
    PRUNED = "pruned"
    BLOCKED = "blocked"


@dataclass(frozen=True)
class Change:
    action: Action
    ref: ObjRef
    diff: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Plan:
    changes: list[Change]
    live_known: bool

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action is action)

    @property
    def pending(self) -> bool:
        return any(c.action is not Action.UNCHANGED for c in self.changes)


def offline(desired: Sequence[DesiredObject]) -> Plan:
    """An offline dry run (no cluster to compare with): every desired object is to be created."""
    return Plan([Change(Action.CREATED, d.ref) for d in desired], live_known=False)
