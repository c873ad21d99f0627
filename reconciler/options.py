"""Options of a run, built by the CLI and handed down as values (pure)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


@dataclass(frozen=True)
class PruneOptions:
    """Prune flags: ``--prune/--no-prune``, ``--max-prune`` (in total), ``--max-prune-per-namespace``,
    ``--allow-empty``."""

    enabled: bool = True
    max_prune: int = 25
    allow_empty: bool = False
    max_prune_per_namespace: int = 25


@dataclass(frozen=True)
class ClusterConfig:
    """How to reach the cluster. Nothing below the CLI reads the environment: the CLI resolves KUBECONFIG."""

    kubeconfig: tuple[str, ...] = ()
    context: str | None = None
    in_cluster: bool = False
    timeout: float = 30.0
    attempts: int = 6
    backoff: float = 0.25
    max_wait: float = 60.0
    agent: str = "reconcile"  # which command: sent in the User-Agent, so audit logs tell our requests apart
    # A client-side rate limit (--qps, --burst; 0: none, as kubectl applies here). The API server's own
    # priority and fairness answers 429 when it must, and the retries honour it; Flux's limit is 50 and 300.
    qps: float = 0.0
    burst: int = 300
    concurrency: int = 8  # writes in flight at once within an apply stage


@dataclass(frozen=True)
class LockOptions:
    """The run lock: a Lease named ``name`` (default ``nim-reconciler-<cluster>``) in ``namespace``."""

    name: str | None = None
    namespace: str = "default"
    identity: str = "nim-reconciler"
    wait: float = 0.0
    held: bool = False  # serve's leader holds the Lease while it leads: its runs neither take nor free it


@dataclass(frozen=True)
class WaitOptions:
    """``--wait``: poll until everything is Ready (or something Failed), at most ``timeout`` seconds."""

    timeout: float = 1800.0
    poll: float = 5.0  # Flux polls every 5 s
    progress: Callable[[str], None] = print  # one line per state change
    table: Callable[[dict[str, str]], None] | None = None  # on a terminal: redraw a table of every state instead
    stop: threading.Event | None = None  # set on SIGTERM: stop waiting (the apply itself is finished first)


class Mode(StrEnum):
    """How a run treats the cluster; the value is what reports and logs print."""

    APPLY = "apply"
    DRY_RUN = "dry-run"  # compare with the cluster (or nothing, offline) and change nothing
    SERVER_DRY_RUN = "server-dry-run"  # also send every write with dryRun=All
    OFFLINE = "offline"  # a dry run with no cluster to compare with (reports only: what DRY_RUN became)
    REVIEW = "review"  # a pull-request check: the working tree against a base revision (reports only)

    @classmethod
    def of_flag(cls, value: str | None) -> Mode:
        """``--dry-run[=client|server]`` as a mode (no flag: apply)."""
        return {None: cls.APPLY, "client": cls.DRY_RUN, "server": cls.SERVER_DRY_RUN}[value]


@dataclass(frozen=True)
class Options:
    """What a run works on."""

    repo: Path = Path(".")
    cluster: str | None = None
    templates: Path | None = None
    strict: bool = False
    mode: Mode = Mode.DRY_RUN
    prune: PruneOptions = field(default_factory=PruneOptions)
    kube: ClusterConfig | None = None  # None: no cluster configured (an offline dry run)
    retry_failed: bool = False
    adopt: bool = False  # --adopt: take over objects of the names we render that someone else made
    ignore: frozenset[str] = frozenset()  # --ignore RULE: warnings of these rules silenced
    namespaces: tuple[str, ...] = ()  # --namespace: confined to these (a team's namespaced Role)
    revision: str | None = None  # the git revision being applied (annotated on objects, kept in the record)
    lock: LockOptions = field(default_factory=lambda: LockOptions())
    wait: WaitOptions | None = None
    stop: threading.Event | None = None  # set on SIGTERM / SIGINT: finish the writes in flight, send no more
