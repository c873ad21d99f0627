"""The pipeline: calls the stages in order and returns values; no logic of its own."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from reconciler import (
    apply,
    doctor,
    documents,
    gating,
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
        return RunReport(result.cluster, result.check, "offline", _entries(offline.changes))
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
    problems = apply.preflight(cluster, {o.ref.kind for o in result.objects}, {o.ref.namespace for o in result.objects})
    if problems:
        return RunReport(result.cluster, result.check, mode, errors=problems, requests=_requests(cluster))
    held: lock.Held | None = None
    if options.mode is Mode.APPLY:
        config = options.lock
        name = config.name or f"nim-reconciler-{result.cluster}"
        got = lock.acquire(cluster, lock.LockConfig(name, config.namespace, config.identity, config.wait))
        if isinstance(got, lock.Busy):
            notice = (
                f"cluster {result.cluster} is being reconciled by {got.holder} (since {got.since}); nothing "
                f"done (use --lock-wait to wait for it)"
            )
            return RunReport(result.cluster, result.check, mode, notice=notice, requests=_requests(cluster))
        held = got
    try:
        report = _reconcile(cluster, options, result, mode)
        if options.wait is None or options.mode is not Mode.APPLY or report.failed or report.blocked:
            return report

        def again() -> RunReport:  # one poll of --wait
            return _reconcile(cluster, options, result, mode)

        def renew() -> None:
            if held is not None:
                lock.renew(cluster, held)

        waited = waiting.wait(cluster, result.cluster, options.wait, report, again, renew)
        return replace(waited, requests=_requests(cluster))
    finally:
        if held is not None:
            lock.release(cluster, held)


def _reconcile(cluster: apply.ClusterApi, options: Options, result: Render, mode: str) -> RunReport:
    live = apply.observe(cluster, result.cluster)
    planned = gating.gate(
        plan.plan(result.objects, live, options.prune), result.objects, live, retry_failed=options.retry_failed
    )
    if options.mode is Mode.DRY_RUN:
        return RunReport(result.cluster, result.check, mode, _entries(planned.changes), requests=_requests(cluster))
    done = apply.execute(planned, cluster, dry_run=options.mode is Mode.SERVER_DRY_RUN)
    applied = {o.change.ref for o in done.outcomes}
    entries = _entries([o.change for o in done.outcomes], {o.change.ref: o.error for o in done.outcomes})
    entries += _entries([c for c in planned.changes if c.ref not in applied])
    if options.mode is Mode.APPLY:
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        objects = lifecycle.current(live, done.outcomes)
        statuses = lifecycle.record(cluster, planned, objects, done.outcomes, now)
        problems = lifecycle.report_failures(cluster, planned, objects, done.outcomes, now)
        entries += [
            Entry("status", str(o.change.ref), reason=o.change.reason.removeprefix("status "), error=o.error)
            for o in statuses
        ]
        return RunReport(result.cluster, result.check, mode, entries, errors=problems, requests=_requests(cluster))
    return RunReport(result.cluster, result.check, mode, entries, requests=_requests(cluster))


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
