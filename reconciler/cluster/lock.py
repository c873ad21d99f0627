"""The run lock: one ``coordination.k8s.io/v1`` Lease per cluster, held while a run writes (I/O through kube).

Contract: ``acquire`` creates the Lease (POST: only one creator wins) or takes over one that is free or expired
(PUT with its resourceVersion: only one updater wins); it returns a ``Held`` lock, or ``Busy`` naming the holder
and since when. ``renew`` moves ``renewTime``; ``release`` frees the Lease for the next run. The Lease is short,
as client-go's leader election keeps it: ``Renewer`` renews it every ``RENEW_EVERY`` seconds while a run holds
it, so a run that died blocks the next for at most ``DURATION`` seconds, and a run that cannot renew knows it
lost the lock and stops writing.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reconciler.cluster.api import ClusterApi
from reconciler.errors import ClusterError, Conflict
from reconciler.kinds import Kind

LEASE = Kind("Lease", "coordination.k8s.io/v1", "leases")
DURATION = 60  # seconds: a run that dies leaves a lease others may take over after this long
RENEW_EVERY = 20.0  # a third of the duration: two renewals may fail before the Lease expires


@dataclass(frozen=True)
class LockConfig:
    name: str
    namespace: str
    identity: str
    wait: float = 0.0  # seconds to wait for a busy lock (--lock-wait)


@dataclass(frozen=True)
class Busy:
    holder: str
    since: str


@dataclass
class Held:
    lease: dict[str, Any]


def _micro(now: datetime.datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.datetime.strptime(text, fmt).replace(tzinfo=datetime.UTC)
        except ValueError:
            continue
    return None


def _free(spec: dict[str, Any], now: datetime.datetime) -> bool:
    if not spec.get("holderIdentity"):
        return True
    renewed = _parse(spec.get("renewTime")) or _parse(spec.get("acquireTime"))
    duration = int(spec.get("leaseDurationSeconds") or DURATION)
    return renewed is None or renewed + datetime.timedelta(seconds=duration) < now


def acquire(
    api: ClusterApi,
    config: LockConfig,
    clock: Callable[[], datetime.datetime] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Held | Busy:
    now_of = clock or (lambda: datetime.datetime.now(datetime.UTC))
    deadline = time.monotonic() + config.wait
    while True:
        outcome = _try(api, config, now_of())
        if isinstance(outcome, Held) or time.monotonic() >= deadline:
            return outcome
        sleep(min(2.0, max(0.0, deadline - time.monotonic())))


def _try(api: ClusterApi, config: LockConfig, now: datetime.datetime) -> Held | Busy:
    spec = {
        "holderIdentity": config.identity,
        "leaseDurationSeconds": DURATION,
        "acquireTime": _micro(now),
        "renewTime": _micro(now),
    }
    current = api.get(LEASE, config.namespace, config.name)
    try:
        if current is None:
            body = {
                "apiVersion": LEASE.api_version,
                "kind": "Lease",
                "metadata": {"name": config.name, "namespace": config.namespace},
                "spec": spec,
            }
            return Held(api.create(LEASE, body))
        held = current.get("spec") or {}
        if not _free(held, now):
            return Busy(str(held.get("holderIdentity")), str(held.get("acquireTime") or held.get("renewTime")))
        spec["leaseTransitions"] = int(held.get("leaseTransitions") or 0) + 1
        return Held(api.replace(LEASE, {**current, "spec": spec}))
    except Conflict:  # someone else created or took it between our read and our write — or we did
        current = api.get(LEASE, config.namespace, config.name) or {}
        held = current.get("spec") or {}
        if held.get("holderIdentity") == config.identity and held.get("acquireTime") == spec["acquireTime"]:
            # our write landed and its answer was lost (the client retried it): the Lease is ours to use and free
            return Held(current)
        return Busy(str(held.get("holderIdentity", "another run")), str(held.get("acquireTime", "")))


class Renewer:
    """Renews a held Lease in the background until ``stop``; ``lost`` is set when a renewal failed."""

    def __init__(self, api: ClusterApi, held: Held, every: float = RENEW_EVERY) -> None:
        self.api, self.held, self.every = api, held, every
        self.lost = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-renewer", daemon=True)

    def start(self) -> Renewer:
        """Begin renewing (returns self)."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop renewing and wait for the renewer, so that ``release`` writes the latest Lease."""
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._done.wait(self.every):
            try:
                renew(self.api, self.held)
            except ClusterError:  # taken over, or the API server is gone: stop writing at once
                self.lost.set()
                return


def renew(api: ClusterApi, lock: Held) -> None:
    """Move the Lease's ``renewTime`` to now (a PUT at the version we hold)."""
    spec = {**lock.lease["spec"], "renewTime": _micro(datetime.datetime.now(datetime.UTC))}
    lock.lease = api.replace(LEASE, {**lock.lease, "spec": spec})


def release(api: ClusterApi, lock: Held) -> None:
    """Free the Lease (holder and renewTime removed) for the next run."""
    spec = {k: v for k, v in lock.lease["spec"].items() if k not in ("holderIdentity", "renewTime")}
    lock.lease = api.replace(LEASE, {**lock.lease, "spec": spec})
