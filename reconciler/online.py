"""The cluster half of a run, after the offline half (``offline.render``) has made the objects: preflight →
record → observe → plan → lock → apply → status → record.

Contract: ``against(api, options, result)`` returns the run's ``RunReport``; it raises ``ReconcilerError`` only
as the client does (``pipeline.reconcile`` turns that into the report). Only a run that has something to write
takes the lock, and it looks at the cluster again once it holds it, since another run may have written meanwhile.
Imported only by runs that talk to a cluster: an offline run never pays for loading these stages.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from reconciler.cluster import apply, lock, observe, probe, waiting, writeback
from reconciler.cluster import record as records
from reconciler.cluster.api import ClusterApi
from reconciler.errors import ReconcilerError
from reconciler.objects import DesiredObject, cache_name
from reconciler.offline import Render
from reconciler.options import Mode, Options
from reconciler.plan import compare, gate, ownership, prune, suspend
from reconciler.plan.changes import Action, Plan
from reconciler.plan.ownership import Inventory
from reconciler.refs import ObjRef
from reconciler.render.renderer import Renderer
from reconciler.report.model import Entry, RunReport, entries
from reconciler.selection import Selection

Live = dict[ObjRef, dict[str, Any]]


@dataclass(frozen=True)
class Seen:
    """The cluster as one look found it, and the plan made from it."""

    live: Live
    pods: dict[tuple[str, str], list[dict[str, Any]]]
    plan: Plan
    inventory: Inventory  # what our runs created, as this look found it recorded (or rebuilt it)
    objects: list[DesiredObject]  # the rendered objects, with the probing caches' as the cluster decided them


def against(api: ClusterApi, options: Options, result: Render) -> RunReport:
    """Plan the rendered objects against the cluster and, unless a dry run, apply them (see the contract)."""
    problems = observe.preflight(api, result.objects, options.namespaces)
    if problems:
        return RunReport(result.cluster, result.check, options.mode, errors=problems)
    started = time.monotonic()
    record = records.read(api, options.lock.namespace, result.cluster)
    before = record.history[0].result if record.history else ""
    seen = _look(api, options, result, record.inventory)
    warned = prune.orphans(seen.plan.changes)
    if options.mode is Mode.DRY_RUN:
        return RunReport(result.cluster, result.check, options.mode, entries(seen.plan.changes), warnings=warned)
    if options.mode is Mode.SERVER_DRY_RUN:
        done = apply.execute(seen.plan, api, dry_run=True, concurrency=_pool(options))
        return RunReport(result.cluster, result.check, options.mode, _outcomes(seen.plan, done))
    if record.suspension is not None:  # `reconcile suspend`: read and report, write nothing
        kept = suspend.cluster(seen.plan, f"cluster {result.cluster} is {record.suspension}")
        notice = f"cluster {result.cluster} is {record.suspension}: nothing written (`reconcile resume` resumes)"
        return RunReport(result.cluster, result.check, options.mode, entries(kept.changes), notice=notice)
    applied = ((ref, b["metadata"]["annotations"][compare.APPLIED]) for ref, b in seen.plan.bodies.items())
    stamps = records.digest(applied)
    unchanged = record.unchanged(options.revision, stamps)
    held = None
    if seen.plan.pending and not options.lock.held:  # held: serve's leader holds it for the whole process
        # Nothing to write but status: no lock (a drift check that finds nothing writes nothing at all).
        got = lock.acquire(api, lock_config(options, result.cluster))
        if isinstance(got, lock.Busy):
            notice = (
                f"cluster {result.cluster} is being reconciled by {got.holder} (since {got.since}); nothing "
                f"done (use --lock-wait to wait for it)"
            )
            return RunReport(result.cluster, result.check, options.mode, notice=notice)
        held = got
        # Another run may have applied between our look and the lock: every run that writes objects writes the
        # record too, so the record tells. Look again only if it changed.
        again = records.read(api, options.lock.namespace, result.cluster)
        if again.resource_version != record.resource_version:
            record, seen = again, _look(api, options, result, again.inventory)
    renewer = lock.Renewer(api, held).start() if held is not None else None

    def stopping() -> bool:  # a signal, or a lock we could not renew: send no more writes
        return bool(options.stop is not None and options.stop.is_set()) or bool(renewer and renewer.lost.is_set())

    try:
        finished = _wait(api, options, result, _apply(api, options, result, seen, stopping), stopping)
        report = replace(finished.report, revision=options.revision or "", drift_check=unchanged, warnings=warned)
        if renewer is not None and renewer.lost.is_set():
            report = replace(report, errors=[*report.errors, "lost the run lock (its Lease could not be renewed)"])
        moved = record.inventory is None or finished.inventory.uids != record.inventory.uids
        if not unchanged or report.pending or report.failed or moved:  # else read-only: the record says all this
            report = _record(api, options, record, finished.inventory, stamps, report, time.monotonic() - started)
    finally:
        if renewer is not None:
            renewer.stop()
        if held is not None and renewer is not None and not renewer.lost.is_set():
            lock.release(api, held)
    return replace(report, previous=before)


def _look(api: ClusterApi, options: Options, result: Render, inventory: Inventory | None) -> Seen:
    """Observe the cluster and plan against it: what is ours, what is someone else's, the health gate."""
    live = observe.observe(api, result.cluster, options.namespaces)
    pods = observe.caching_pods(api, live)
    ours = inventory if inventory is not None else Inventory.bootstrap(live)
    caches = [o.body for o in result.objects if o.ref.kind == "NIMCache"]
    chosen = probe.selections(api, caches, live, confined=bool(options.namespaces))
    objects = _selected(result, chosen)
    planned = compare.plan(objects, live, options.prune, revision=options.revision, inventory=ours,
                           created_diffs=options.mode is not Mode.APPLY)  # fmt: skip
    planned = replace(planned, selections=chosen)
    existing = observe.existing(api, {c.ref for c in planned.of(Action.CREATED)}, live, options.namespaces)
    claimed = ownership.claim(planned, objects, live, existing, ours, options.adopt)
    gated = gate.gate(claimed, objects, live, pods, _now(), retry_failed=options.retry_failed)
    users = observe.pods_in(api, sorted(prune.claimed(gated)))  # only where a PVC would be deleted
    return Seen(live, pods, suspend.resources(prune.keep_in_use(gated, live, users), objects, live), ours, objects)


def _selected(result: Render, chosen: dict[ObjRef, Selection]) -> list[DesiredObject]:
    """The rendered objects, with each probing cache's (and its NIMServices') rendered again for its selection:
    the probe Pod while probing, the manifest ConfigMap and the Job's profiles once known."""
    if not chosen:
        return result.objects
    names = {(r.namespace, r.name) for r in chosen}
    again = [r for r in result.resources if (r.namespace, r.name if r.kind == "NIMCache" else cache_name(r.body))
             in names]  # fmt: skip
    redone = (result.renderer or Renderer(result.templates)).render(again, result.cluster, result.root, chosen).objects
    replaced = {r.ref for r in again}
    kept = [o for o in result.objects if o.ref not in replaced and o.owner not in replaced]
    return sorted([*kept, *redone], key=DesiredObject.sort_key)


@dataclass(frozen=True)
class Applied:
    """A run's report, and the inventory its writes left."""

    report: RunReport
    inventory: Inventory


def _apply(api: ClusterApi, options: Options, result: Render, seen: Seen, stopping: Callable[[], bool]) -> Applied:
    """Apply the plan, write status back, record failures as Events on their custom resources.

    Interrupted (``stopping()``): the writes in flight finish; no status, Event or prune is written after them.
    """
    done = apply.execute(seen.plan, api, stop=stopping, concurrency=_pool(options))
    objects = writeback.current(seen.live, done.outcomes)
    inventory = ownership.after(objects, [d.ref for d in seen.objects], set(seen.plan.foreign), seen.inventory)
    if done.interrupted:
        report = RunReport(result.cluster, result.check, options.mode, _outcomes(seen.plan, done), interrupted=True)
        return Applied(report, inventory)
    now = _now()
    statuses = writeback.record(api, seen.plan, objects, done.outcomes, seen.pods, now, _pool(options))
    problems = writeback.report_failures(api, seen.plan, objects, done.outcomes, now)
    problems += writeback.report_warnings(api, done.outcomes, now)
    problems += [o.event_error for o in statuses if o.event_error]
    shown = _outcomes(seen.plan, done) + [
        Entry(Action.STATUS, str(o.change.ref), reason=o.change.reason, error=o.error) for o in statuses
    ]
    return Applied(RunReport(result.cluster, result.check, options.mode, shown, errors=problems), inventory)


def _wait(api: ClusterApi, options: Options, result: Render, first: Applied, stopping: Callable[[], bool]) -> Applied:
    """--wait: look, plan and apply again every poll until every cache is Ready and every service rolled out."""
    if options.wait is None or first.report.failed or first.report.blocked or first.report.interrupted:
        return first
    last = [first]

    def again() -> bool:
        last[0] = _apply(api, options, result, _look(api, options, result, last[0].inventory), stopping)
        return not (last[0].report.failed or last[0].report.interrupted)

    errors = waiting.wait(api, result.cluster, options.wait, again, options.namespaces)
    if errors is None:  # a poll failed or was interrupted: its report says why
        return last[0]
    return replace(last[0], report=replace(first.report, errors=[*first.report.errors, *errors]))


def _record(
    api: ClusterApi,
    options: Options,
    record: records.Record,
    inventory: Inventory,
    stamps: str,
    report: RunReport,
    duration: float,
) -> RunReport:
    """Write this run's line and the inventory into the revision record; a failed write is a run error."""
    counts = {a.value: report.count(a) for a in records.RECORDED} | {"failed": report.failures}
    outcome = _result(report, drift=report.drift_check and record.settled)
    run = records.Run(options.revision or "", stamps, _now(), outcome, round(duration, 3), counts)
    try:
        records.write(api, options.lock.namespace, report.cluster, record, run, inventory)
    except ReconcilerError as exc:
        return replace(report, errors=[*report.errors, f"revision record not written: {exc}"])
    return report


def _result(report: RunReport, drift: bool) -> str:
    if report.interrupted:
        return "interrupted"
    if report.failed:
        return "failed"
    if report.blocked:
        return "blocked"
    return "drift-healed" if drift else "applied"


def _pool(options: Options) -> int:
    """Writes in flight at once within a stage (the rate limit is the client's)."""
    return options.kube.concurrency if options.kube is not None else 4


def lock_config(options: Options, cluster: str) -> lock.LockConfig:
    """The run lock of ``cluster``: ``--lock-name`` or ``nim-reconciler-<cluster>``, in the lock namespace."""
    config = options.lock
    name = config.name or records.name(cluster)
    return lock.LockConfig(name, config.namespace, config.identity, config.wait)


def _outcomes(planned: Plan, done: apply.ChangeSet) -> list[Entry]:
    """The writes made (with their errors), then the plan's changes that needed none."""
    written = {o.change.ref for o in done.outcomes}
    errors = {o.change.ref: o.error for o in done.outcomes}
    return entries([o.change for o in done.outcomes], errors) + entries(
        [c for c in planned.changes if c.ref not in written]
    )


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
