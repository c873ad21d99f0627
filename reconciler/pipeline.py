"""The pipeline: calls the stages in order and returns values; no logic of its own."""

from __future__ import annotations

import datetime
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from reconciler import (
    apply,
    doctor,
    documents,
    gating,
    history,
    layout,
    lifecycle,
    lock,
    plan,
    validation,
    views,
    waiting,
)
from reconciler.errors import ReconcilerError
from reconciler.kinds import BY_KIND
from reconciler.options import ClusterConfig, Mode, Options
from reconciler.refs import ObjRef
from reconciler.rendering import DesiredObject, Renderer
from reconciler.report import Check, Entry, Row, RunReport

__all__ = ["Options", "Render", "check_paths", "reconcile", "render"]


@dataclass(frozen=True)
class Render:
    cluster: str
    check: Check
    objects: list[DesiredObject]


def check_paths(paths: Sequence[Path], *, strict: bool = False) -> tuple[Check, validation.Validated]:
    """Load and validate every manifest under ``paths``."""
    loaded = documents.load_paths(paths)
    validated = validation.validate(loaded.documents)
    problems = sorted([*loaded.problems, *validated.problems], key=lambda p: p.sort_key())
    check = Check(loaded.files, len(loaded.documents), len(validated.resources), problems, strict)
    return check, validated


def render(options: Options) -> Render:
    """Load, validate and render one cluster of the repo; no objects when anything failed."""
    where = layout.locate(options.repo, options.cluster)
    renderer = Renderer(options.templates)
    check, validated = check_paths([where.path], strict=options.strict)
    if check.errors:
        return Render(where.cluster, check, [])
    rendered = renderer.render(validated.resources, where.cluster, where.root)
    problems = sorted([*check.problems, *rendered.problems], key=lambda p: p.sort_key())
    check = replace(check, problems=problems)
    return Render(where.cluster, check, list(rendered.objects) if check.ok else [])


def reconcile(options: Options) -> RunReport:
    """Validate and render; then plan against the cluster (or nothing, offline) and, unless a dry run, apply."""
    result = render(options)
    if not result.check.ok:
        return RunReport(result.cluster, result.check, "offline")
    if options.kube is None:
        offline = plan.offline(result.objects)
        return RunReport(
            result.cluster, result.check, "offline", _entries(offline.changes), revision=options.revision or ""
        )
    from reconciler import kube  # the client costs ~0.6 s to import: only runs that talk to a cluster pay it

    cluster = kube.Cluster(options.kube)
    try:
        return _against(cluster, options, result)
    except ReconcilerError as exc:
        return RunReport(result.cluster, result.check, options.mode.value, errors=[str(exc)], requests=cluster.requests)
    finally:
        cluster.close()


def _against(cluster: apply.ClusterApi, options: Options, result: Render) -> RunReport:
    mode = {Mode.APPLY: "apply", Mode.DRY_RUN: "dry-run", Mode.SERVER_DRY_RUN: "server-dry-run"}[options.mode]
    kinds, namespaces = {o.ref.kind for o in result.objects}, {o.ref.namespace for o in result.objects}
    problems = apply.preflight(cluster, kinds, namespaces, options.namespaces)
    if problems:
        return RunReport(result.cluster, result.check, mode, errors=problems, requests=_requests(cluster))
    started = time.monotonic()
    live = apply.observe(cluster, result.cluster, options.namespaces)
    planned = _plan(options, result, live)
    if options.mode is not Mode.APPLY:
        return replace(_reconcile(cluster, options, result, mode, (live, planned)), revision=options.revision or "")
    record = history.read(cluster, options.lock.namespace, result.cluster)
    stamps = history.digest((ref, b["metadata"]["annotations"][plan.APPLIED]) for ref, b in planned.bodies.items())
    unchanged = record.unchanged(options.revision, stamps)
    # Nothing to write but status: no lock (a drift check that finds nothing writes nothing at all). Anything
    # to write: take the lock, then look again, since another run may have written meanwhile.
    report = _locked(cluster, options, result, mode) if planned.pending else None
    if report is None:
        report = _waited(cluster, options, result, mode, _reconcile(cluster, options, result, mode, (live, planned)))
    if report.notice:
        return report
    report = replace(report, revision=options.revision or "", drift_check=unchanged)
    if not unchanged or report.pending or report.failed:  # else read-only: the record already says all this
        run = history.Run(
            options.revision or "",
            stamps,
            _now(),
            _result(report, drift=unchanged and record.settled),
            round(time.monotonic() - started, 3),
            {a: report.count(a) for a in history.COUNTED[:-1]} | {"failed": sum(1 for e in report.entries if e.error)},
        )
        try:
            history.write(cluster, options.lock.namespace, result.cluster, record, run)
        except ReconcilerError as exc:
            report = replace(report, errors=[*report.errors, f"revision record not written: {exc}"])
    return replace(report, requests=_requests(cluster))


def _result(report: RunReport, drift: bool) -> str:
    if report.failed:
        return "failed"
    if report.blocked:
        return "blocked"
    return "drift-healed" if drift else "applied"


def _plan(options: Options, result: Render, live: dict[ObjRef, dict[str, Any]]) -> plan.Plan:
    planned = plan.plan(result.objects, live, options.prune, revision=options.revision)
    return gating.gate(planned, result.objects, live, retry_failed=options.retry_failed)


def _locked(cluster: apply.ClusterApi, options: Options, result: Render, mode: str) -> RunReport:
    config = options.lock
    name = config.name or f"nim-reconciler-{result.cluster}"
    got = lock.acquire(cluster, lock.LockConfig(name, config.namespace, config.identity, config.wait))
    if isinstance(got, lock.Busy):
        notice = (
            f"cluster {result.cluster} is being reconciled by {got.holder} (since {got.since}); nothing "
            f"done (use --lock-wait to wait for it)"
        )
        return RunReport(result.cluster, result.check, mode, notice=notice, requests=_requests(cluster))
    try:
        return _waited(cluster, options, result, mode, _reconcile(cluster, options, result, mode), got)
    finally:
        lock.release(cluster, got)


def _waited(
    cluster: apply.ClusterApi,
    options: Options,
    result: Render,
    mode: str,
    report: RunReport,
    held: lock.Held | None = None,
) -> RunReport:
    """--wait: poll until every cache is Ready and every service rolled out (renewing the lock, if held)."""
    if options.wait is None or report.failed or report.blocked:
        return report

    def again() -> RunReport:  # one poll of --wait
        return _reconcile(cluster, options, result, mode)

    def renew() -> None:
        if held is not None:
            lock.renew(cluster, held)

    waited = waiting.wait(cluster, result.cluster, options.wait, report, again, renew, options.namespaces)
    return replace(waited, requests=_requests(cluster))


def _reconcile(
    cluster: apply.ClusterApi,
    options: Options,
    result: Render,
    mode: str,
    seen: tuple[dict[ObjRef, dict[str, Any]], plan.Plan] | None = None,
) -> RunReport:
    """Observe (unless ``seen`` already did), plan, and apply; then write status back and report failures."""
    live, planned = seen or _observed(cluster, options, result)
    if options.mode is Mode.DRY_RUN:
        return RunReport(result.cluster, result.check, mode, _entries(planned.changes), requests=_requests(cluster))
    done = apply.execute(planned, cluster, dry_run=options.mode is Mode.SERVER_DRY_RUN)
    applied = {o.change.ref for o in done.outcomes}
    entries = _entries([o.change for o in done.outcomes], {o.change.ref: o.error for o in done.outcomes})
    entries += _entries([c for c in planned.changes if c.ref not in applied])
    if options.mode is Mode.APPLY:
        now = _now()
        objects = lifecycle.current(live, done.outcomes)
        statuses = lifecycle.record(cluster, planned, objects, done.outcomes, now)
        problems = lifecycle.report_failures(cluster, planned, objects, done.outcomes, now)
        entries += [
            Entry("status", str(o.change.ref), reason=o.change.reason.removeprefix("status "), error=o.error)
            for o in statuses
        ]
        return RunReport(result.cluster, result.check, mode, entries, errors=problems, requests=_requests(cluster))
    return RunReport(result.cluster, result.check, mode, entries, requests=_requests(cluster))


def _observed(
    cluster: apply.ClusterApi, options: Options, result: Render
) -> tuple[dict[ObjRef, dict[str, Any]], plan.Plan]:
    live = apply.observe(cluster, result.cluster, options.namespaces)
    return live, _plan(options, result, live)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status(config: ClusterConfig, cluster_name: str | None) -> list[Row]:
    """Every NIMCache and NIMService of ours (of one cluster, if named): one LIST per kind, plus Deployments."""
    from reconciler import kube

    cluster = kube.Cluster(config)
    try:
        selector = apply.selector(cluster_name) if cluster_name else "app.kubernetes.io/managed-by=nim-reconciler"
        caches = cluster.list(BY_KIND["NIMCache"], selector)
        services = cluster.list(BY_KIND["NIMService"], selector)
        deployments = {
            (d["metadata"]["namespace"], d["metadata"]["name"]): d
            for d in cluster.list(BY_KIND["Deployment"], selector)
        }
    finally:
        cluster.close()
    now = datetime.datetime.now(datetime.UTC)
    return [*(views.cache_row(c, now) for c in caches), *(views.service_row(s, deployments, now) for s in services)]


def doctor_run(options: Options) -> tuple[Check, list[doctor.Finding]]:
    """Render, then read what the checks need (Secrets by key name only) and diagnose."""
    result = render(options)
    if not result.check.ok or options.kube is None:
        return result.check, []
    from reconciler import kube

    cluster = kube.Cluster(options.kube)
    try:
        seen = doctor.gather(cluster, result.objects, apply.selector(result.cluster))
    finally:
        cluster.close()
    return result.check, doctor.diagnose(result.objects, seen)


def _entries(changes: Sequence[plan.Change], errors: dict[object, str] | None = None) -> list[Entry]:
    errors = errors or {}
    return [Entry(c.action.value, str(c.ref), c.diff, c.reason, errors.get(c.ref, "")) for c in changes]


def _requests(cluster: object) -> int:
    return int(getattr(cluster, "requests", 0))
