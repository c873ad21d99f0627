"""The subcommands: validate, render, status, doctor, install-crds (thin: parse, call the stages, exit).

``status`` and ``doctor`` read the cluster themselves (``read_status``, ``doctor_run``): they are not runs.
"""

from __future__ import annotations

import datetime
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.cli.flags import (
    EXIT_BLOCKED,
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    FORMATS,
    context_option,
    fail,
    kubeconfig_option,
    lock_namespace,
    required_cluster,
    say,
)
from reconciler.errors import ReconcilerError, printable
from reconciler.options import ClusterConfig, Options

if TYPE_CHECKING:
    from reconciler.cluster.doctor import Finding
    from reconciler.report.model import Check, Row


@click.command("status")
@click.option("--cluster", help="Only the resources of this cluster (default: every one nim-reconciler manages).")
@kubeconfig_option
@context_option
@click.option("-o", "--output", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def status_command(cluster: str | None, kubeconfig: tuple[str, ...], context: str | None, fmt: str) -> None:
    """Every NIMCache (STATE, PVC, AGE, MESSAGE) and NIMService (STATE, READY, ENDPOINT, CACHE).

    Exit 0 when all are Ready, 1 when some are not yet, 2 when any Failed (or on error).
    """
    from reconciler.report.output import status_json, status_table

    config = replace(required_cluster(kubeconfig, context), agent="status")
    try:
        rows = read_status(config, cluster)
        held = read_suspensions(config, cluster)
    except ReconcilerError as exc:
        fail(exc)
    if fmt == "json":
        say(status_json(rows, held), nl=False)
    else:
        for name, why in sorted(held.items()):
            say(printable(f"Cluster {name} is {why}: its runs write nothing (`reconcile resume --cluster {name}`)."))
        say(status_table(rows), nl=False)
    states = {r.state for r in rows}
    sys.exit(EXIT_ERROR if "Failed" in states else EXIT_OK if states <= {"Ready"} else EXIT_CHANGES)


@click.command("doctor")
@click.option("--repo", type=click.Path(path_type=Path), default=Path("."), show_default=True)
@click.option("--cluster", help="Which clusters/<cluster> to check (optional when there is only one).")
@kubeconfig_option
@context_option
def doctor_command(repo: Path, cluster: str | None, kubeconfig: tuple[str, ...], context: str | None) -> None:
    """Check what the manifests need from the cluster: Secrets and their keys (never their values), pull
    secrets, StorageClasses, GPU nodes for the caching Jobs, existing PVCs; and how to read a failed cache's logs.

    Reads Secrets, so it needs its own RBAC (see README); the cron run never does. Exit 0 all good, 2 otherwise.
    """
    from reconciler.report.output import check_text

    config = replace(required_cluster(kubeconfig, context), agent="doctor")
    try:
        check, findings = doctor_run(Options(repo=repo, cluster=cluster, kube=config))
    except ReconcilerError as exc:
        fail(exc)
    if not check.ok:
        say(check_text(check), nl=False)
        sys.exit(EXIT_ERROR)
    for finding in findings:
        say(printable(str(finding)))
    bad = sum(1 for f in findings if not f.ok)
    say(f"{len(findings)} checks, {bad} problem(s)")
    sys.exit(EXIT_ERROR if bad else EXIT_OK)


@click.command("install-crds")
@kubeconfig_option
@context_option
@click.option("--dry-run", is_flag=True, help="Send the requests with dryRun=All; exit 1 when something would change.")
@click.option("--adopt", is_flag=True, help="Take over CRDs another manager (NVIDIA's operator, Helm …) installed.")
def install_crds(kubeconfig: tuple[str, ...], context: str | None, dry_run: bool, adopt: bool) -> None:
    """Apply the NIMCache and NIMService CRDs (the same as deploy/crds/) with server-side apply.

    A CRD installed by another manager is left as it is (exit 3) unless --adopt. Exit 0 applied or unchanged,
    1 changes pending (--dry-run), 2 error, 3 refused.
    """
    from reconciler.cluster import apply, crds, kube
    from reconciler.plan.changes import WRITES, Action

    config = replace(required_cluster(kubeconfig, context), agent="install-crds")
    try:
        cluster = kube.Cluster(config)
        outcomes = apply.install_crds(cluster, crds.definitions(), dry_run=dry_run, adopt=adopt)
    except ReconcilerError as exc:
        fail(exc)
    for outcome in outcomes:
        change = outcome.change
        state = f"failed ({printable(outcome.error)})" if outcome.error else change.action.value
        reason = f" ({printable(change.reason)})" if change.reason and not outcome.error else ""
        say(f"► {change.ref} {state}{reason}")
    if any(o.error for o in outcomes):
        sys.exit(EXIT_ERROR)
    if any(o.change.action is Action.BLOCKED for o in outcomes):
        sys.exit(EXIT_BLOCKED)
    sys.exit(EXIT_CHANGES if dry_run and any(o.change.action in WRITES for o in outcomes) else EXIT_OK)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "-o", "--output", "fmt", type=click.Choice(FORMATS), default="text", show_default=True, help="Output format."
)
@click.option("--strict", is_flag=True, help="Treat warnings as errors (exit 2).")
@click.option(
    "--ignore",
    "ignore",
    multiple=True,
    metavar="RULE",
    help="Silence the warnings of this rule (repeatable; per resource: the annotation nim-reconciler/ignore).",
)
def validate(paths: tuple[Path, ...], fmt: str, strict: bool, ignore: tuple[str, ...]) -> None:
    """Validate NIMCache / NIMService manifests (files or directories; default: clusters/).

    Prints every problem as path:line: field: message and a summary. Exit 0 when valid, 2 when not.
    """
    from reconciler import pipeline
    from reconciler.report.model import Format
    from reconciler.report.output import render_check

    try:
        given = list(paths) or [Path("clusters")]
        check, _ = pipeline.check_paths(given, strict=strict, rendered=True, ignore=frozenset(ignore))
    except ReconcilerError as exc:
        fail(exc)
    say(render_check(check, Format(fmt)), nl=False)
    sys.exit(EXIT_OK if check.ok else EXIT_ERROR)


@click.command()
@click.argument("target", required=False, default=".")
@click.option("--cluster", help="Which clusters/<cluster> to render (optional when there is only one).")
@click.option("--ref", help="With a git URL: the branch, tag or full commit SHA (default: the remote HEAD).")
@click.option("--cache-dir", type=click.Path(path_type=Path, file_okay=False), help="Where a git URL is cloned.")
@click.option("--git-timeout", default="60s", show_default=True, help="Timeout of one git operation.")
@click.option(
    "--templates",
    type=click.Path(path_type=Path, file_okay=False),
    help="A directory of template overrides (same relative paths as the shipped templates/).",
)
@click.option("-o", "--output", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
def render(
    target: str,
    cluster: str | None,
    ref: str | None,
    cache_dir: Path | None,
    git_timeout: str,
    templates: Path | None,
    fmt: str,
) -> None:
    """Print every Kubernetes object the repo renders to (like `helm template` / `flux build`).

    TARGET is what `reconcile --repo` takes: the GitOps repo (default: .), a git URL (with --ref, and the same
    credentials from the environment), a clusters/<cluster> directory, or any directory or manifest inside one
    (its objects only, checked against its whole cluster). Objects go to stdout, every problem to stderr; on
    invalid input stdout stays empty and the exit code is 2.
    """
    from reconciler import layout, pipeline
    from reconciler.cli.flags import credentials, default_cache_dir, duration
    from reconciler.cli.run import SourceSpec, checkout
    from reconciler.report.output import check_text, objects_json, objects_yaml, problem_line

    try:
        spec = SourceSpec(target, ref, cache_dir or default_cache_dir(), credentials(), duration(git_timeout))
        root = checkout(spec).root
        repo, cluster = layout.enclosing(root, cluster)
        result = pipeline.render(pipeline.Options(repo=repo, cluster=cluster, templates=templates))
    except ReconcilerError as exc:
        fail(exc)
    if not result.check.ok:
        say(check_text(result.check), nl=False, err=True)
        sys.exit(EXIT_ERROR)
    for problem in result.check.problems:  # warnings only: keep stdout a clean stream of objects
        say(problem_line(problem), err=True)
    bodies = [o.body for o in result.objects if repo == root or layout.within(o.source.path, [root])]
    say(objects_json(bodies) if fmt == "json" else objects_yaml(bodies), nl=False)


def read_suspensions(config: ClusterConfig, cluster_name: str | None) -> dict[str, str]:
    """The suspended clusters (of one, if named), from their records in the lock namespace: one LIST."""
    from reconciler.cluster import kube, record
    from reconciler.objects import CLUSTER_LABEL, selector

    api = kube.Cluster(config)
    try:
        maps = api.list(record.CONFIGMAP, selector(cluster_name), lock_namespace(config, None))
    finally:
        api.close()
    found = {}
    for item in maps:
        name = ((item.get("metadata") or {}).get("labels") or {}).get(CLUSTER_LABEL, "")
        held = record.parse(item).suspension if item["metadata"].get("name") == record.name(name) else None
        if held is not None:
            found[name] = str(held)
    return found


def read_status(config: ClusterConfig, cluster_name: str | None) -> list[Row]:
    """Every NIMCache and NIMService of ours (of one cluster, if named): one LIST per kind, plus Deployments."""
    from reconciler.cluster import kube
    from reconciler.kinds import BY_KIND
    from reconciler.objects import selector
    from reconciler.report.rows import cache_row, service_row

    cluster = kube.Cluster(config)
    try:
        chosen = selector(cluster_name)
        caches = cluster.list(BY_KIND["NIMCache"], chosen)
        services = cluster.list(BY_KIND["NIMService"], chosen)
        deployments = {
            (d["metadata"]["namespace"], d["metadata"]["name"]): d for d in cluster.list(BY_KIND["Deployment"], chosen)
        }
    finally:
        cluster.close()
    now = datetime.datetime.now(datetime.UTC)
    return [*(cache_row(c, now) for c in caches), *(service_row(s, deployments, now) for s in services)]


def doctor_run(options: Options) -> tuple[Check, list[Finding]]:
    """Render, then read what the checks need (Secrets by key name only) and diagnose."""
    from reconciler import pipeline
    from reconciler.cluster import doctor, kube
    from reconciler.objects import selector

    result = pipeline.render(options)
    if not result.check.ok or options.kube is None:
        return result.check, []
    cluster = kube.Cluster(options.kube)
    try:
        seen = doctor.gather(cluster, result.objects, selector(result.cluster))
    finally:
        cluster.close()
    return result.check, doctor.diagnose(result.objects, seen)
