"""The ``reconcile`` command line: parse flags, call the pipeline, map the result to an exit code.

Exit codes follow ``kubectl diff``: 0 nothing to do / valid, 1 changes pending (dry run), 2 invalid input or
error, 3 blocked by a safety guard. Heavy modules are imported inside the commands, so ``--help`` stays fast.
"""

from __future__ import annotations

import gc
import os
import socket
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from reconciler import __version__
from reconciler.errors import ReconcilerError
from reconciler.options import ClusterConfig, LockOptions, Mode, Options, PruneOptions, WaitOptions

if TYPE_CHECKING:
    from reconciler.report import RunReport

EXIT_OK, EXIT_CHANGES, EXIT_ERROR, EXIT_BLOCKED = 0, 1, 2, 3
FORMATS = ("text", "json", "github")


def _fail(exc: ReconcilerError) -> NoReturn:
    click.echo(f"error: {exc}", err=True)
    sys.exit(EXIT_ERROR)


def _cluster_config(kubeconfig: tuple[str, ...], context: str | None) -> ClusterConfig | None:
    """Where the cluster is: --kubeconfig, else KUBECONFIG (a merged list), else ~/.kube/config, else in-cluster."""
    files = kubeconfig or tuple(p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p)
    if not files and Path("~/.kube/config").expanduser().is_file():
        files = (str(Path("~/.kube/config").expanduser()),)
    if files:
        return ClusterConfig(kubeconfig=files, context=context)
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return ClusterConfig(in_cluster=True)
    return None


NO_CLUSTER = "no cluster configured: pass --kubeconfig, set KUBECONFIG, or run in a pod"


def _required_cluster(kubeconfig: tuple[str, ...], context: str | None) -> ClusterConfig:
    """The cluster of a command that cannot work without one; exit 2 with a clear message otherwise."""
    config = _cluster_config(kubeconfig, context)
    if config is None:
        click.echo(f"error: {NO_CLUSTER}", err=True)
        sys.exit(EXIT_ERROR)
    return config


def _with_requests(config: ClusterConfig | None, timeout: str, retries: int) -> ClusterConfig | None:
    """--request-timeout (per request, like kubectl's) and --retries (after the first attempt)."""
    if config is None:
        return None
    return replace(config, timeout=duration(timeout), attempts=retries + 1)


def duration(text: str) -> float:
    """``90``, ``30s``, ``5m``, ``1h``, ``1h30m`` → seconds."""
    import re

    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s?)?", text.strip())
    if not text.strip() or parts is None:
        raise click.BadParameter(f"{text!r} is not a duration such as 30s, 5m or 1h")
    hours, minutes, seconds = (float(p) if p else 0.0 for p in parts.groups())
    return hours * 3600 + minutes * 60 + seconds


def _lock_namespace(config: ClusterConfig | None, given: str | None) -> str:
    """--lock-namespace, else the pod's own namespace when in a cluster, else default."""
    if given:
        return given
    own = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
    if config is not None and config.in_cluster and own.is_file():
        return own.read_text().strip()
    return "default"


def progress(line: str) -> None:
    """--wait prints one line per state change, with the time (for CI logs and terminals alike)."""
    click.echo(f"{time.strftime('%H:%M:%S')} {line}")


def _tty() -> bool:
    return sys.stdout.isatty() and os.environ.get("TERM", "") != "dumb"


class LiveTable:
    """Redraws the --wait table in place on a terminal (cursor up, clear to the end)."""

    def __init__(self) -> None:
        self.height = 0

    def __call__(self, states: dict[str, str]) -> None:
        from reconciler.report import wait_table

        text = wait_table(states)
        if self.height:
            click.echo(f"\x1b[{self.height}A\x1b[J", nl=False, color=True)  # only ever used on a terminal
        click.echo(text, nl=False)
        self.height = text.count("\n")


def _exit_code(run: RunReport) -> int:
    if run.failed:
        return EXIT_ERROR
    if run.blocked:
        return EXIT_BLOCKED
    return EXIT_CHANGES if run.mode != "apply" and run.pending else EXIT_OK


_kubeconfig = click.option(
    "--kubeconfig",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Kubeconfig file (repeatable; default: $KUBECONFIG, ~/.kube/config, in-cluster).",
)
_context = click.option("--context", help="The kubeconfig context to use.")


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nim-reconciler")
@click.option(
    "--repo",
    type=click.Path(path_type=Path),
    default=Path("."),
    show_default=True,
    help="The GitOps repo (a checkout holding clusters/<cluster>/).",
)
@click.option("--cluster", help="Which clusters/<cluster> to reconcile (optional when there is only one).")
@_kubeconfig
@_context
@click.option(
    "--dry-run",
    "dry_run",
    is_flag=False,
    flag_value="client",
    default=None,
    type=click.Choice(["client", "server"]),
    help="Show what would change and change nothing (exit 1 when changes are pending); =server also "
    "sends every write with dryRun=All. Without a cluster configured: an offline plan.",
)
@click.option(
    "--offline",
    is_flag=True,
    help="With --dry-run: plan against nothing, even when a cluster is configured (pull-request checks).",
)
@click.option(
    "--prune/--no-prune", default=True, show_default=True, help="Delete our objects that left git (with safety guards)."
)
@click.option(
    "--max-prune",
    type=click.IntRange(min=0),
    default=25,
    show_default=True,
    help="Refuse to prune more objects than this in one run.",
)
@click.option("--allow-empty", is_flag=True, help="Allow pruning everything when the repo renders nothing.")
@click.option("--retry-failed", is_flag=True, help="Run the caching Job of a Failed NIMCache again.")
@click.option("--wait", "wait", is_flag=True, help="Stay until every cache is Ready and every service rolled out.")
@click.option("--timeout", default="30m", show_default=True, help="How long --wait waits.")
@click.option("--poll-interval", default="5s", show_default=True, hidden=True)
@click.option("--request-timeout", default="30s", show_default=True, help="Timeout of one API request.")
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Retries of a request on 429, 5xx, timeouts and dropped connections (exponential backoff).",
)
@click.option("--lock-name", help="The run lock's Lease (default: nim-reconciler-<cluster>).")
@click.option(
    "--lock-namespace", help="The Lease's namespace (default: the pod's namespace in a cluster, else default)."
)
@click.option("--lock-wait", default="0", show_default=True, help="How long to wait for a lock held by another run.")
@click.option(
    "--templates",
    type=click.Path(path_type=Path, file_okay=False),
    help="A directory of template overrides (same relative paths as the shipped templates/).",
)
@click.option("-o", "--output", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.pass_context
def main(
    ctx: click.Context,
    repo: Path,
    cluster: str | None,
    kubeconfig: tuple[str, ...],
    context: str | None,
    dry_run: str | None,
    offline: bool,
    prune: bool,
    max_prune: int,
    allow_empty: bool,
    retry_failed: bool,
    lock_name: str | None,
    lock_namespace: str | None,
    lock_wait: str,
    wait: bool,
    timeout: str,
    request_timeout: str,
    retries: int,
    poll_interval: str,
    templates: Path | None,
    fmt: str,
) -> None:
    """GitOps for NVIDIA NIM: validate, render and reconcile NIMCache / NIMService manifests.

    Without a subcommand: reconcile one cluster of the repo (server-side apply, then prune what left git).
    Exit codes like kubectl diff: 0 nothing to do / applied, 1 changes pending (dry run), 2 invalid input or
    error, 3 blocked by a safety guard.
    """
    # A one-shot batch builds hundreds of thousands of acyclic objects: collecting cycles that rarely
    # exist cost ~15 % of a large dry run, so collect far less often.
    gc.set_threshold(100_000, 50, 100)
    if ctx.invoked_subcommand is not None:
        return
    from reconciler import pipeline
    from reconciler.report import Format, render_run

    mode = Mode(dry_run) if dry_run else Mode.APPLY
    if offline and mode is not Mode.DRY_RUN:
        click.echo("error: --offline goes with --dry-run (a plan against nothing)", err=True)
        sys.exit(EXIT_ERROR)
    kube = None if offline else _with_requests(_cluster_config(kubeconfig, context), request_timeout, retries)
    if kube is None and mode is not Mode.DRY_RUN:
        click.echo(
            f"error: {NO_CLUSTER} (an offline plan needs only --dry-run)",
            err=True,
        )
        sys.exit(EXIT_ERROR)
    options = Options(
        repo=repo,
        cluster=cluster,
        templates=templates,
        mode=mode,
        kube=kube,
        prune=PruneOptions(enabled=prune, max_prune=max_prune, allow_empty=allow_empty),
        retry_failed=retry_failed,
        wait=WaitOptions(duration(timeout), duration(poll_interval), progress, LiveTable() if _tty() else None)
        if wait
        else None,
        lock=LockOptions(
            lock_name,
            _lock_namespace(kube, lock_namespace),
            f"{socket.gethostname()}-{os.getpid()}",
            duration(lock_wait),
        ),
    )
    try:
        result = pipeline.reconcile(options)
    except ReconcilerError as exc:
        _fail(exc)
    click.echo(render_run(result, Format(fmt)), nl=False)
    sys.exit(_exit_code(result))


@main.command("status")
@click.option("--cluster", help="Only the resources of this cluster (default: every one nim-reconciler manages).")
@_kubeconfig
@_context
@click.option("-o", "--output", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def status_command(cluster: str | None, kubeconfig: tuple[str, ...], context: str | None, fmt: str) -> None:
    """Every NIMCache (STATE, PVC, AGE, MESSAGE) and NIMService (STATE, READY, ENDPOINT, CACHE).

    Exit 0 when all are Ready, 1 when some are not yet, 2 when any Failed (or on error).
    """
    from reconciler import pipeline
    from reconciler.report import status_json, status_table

    config = _required_cluster(kubeconfig, context)
    try:
        rows = pipeline.status(config, cluster)
    except ReconcilerError as exc:
        _fail(exc)
    click.echo(status_json(rows) if fmt == "json" else status_table(rows), nl=False)
    states = {r.state for r in rows}
    sys.exit(EXIT_ERROR if "Failed" in states else EXIT_OK if states <= {"Ready"} else EXIT_CHANGES)


@main.command("doctor")
@click.option("--repo", type=click.Path(path_type=Path), default=Path("."), show_default=True)
@click.option("--cluster", help="Which clusters/<cluster> to check (optional when there is only one).")
@_kubeconfig
@_context
def doctor_command(repo: Path, cluster: str | None, kubeconfig: tuple[str, ...], context: str | None) -> None:
    """Check what the manifests need from the cluster: Secrets and their keys (never their values), pull
    secrets, StorageClasses, GPU nodes for the caching Jobs, existing PVCs; and how to read a failed cache's logs.

    Reads Secrets, so it needs its own RBAC (see README); the cron run never does. Exit 0 all good, 2 otherwise.
    """
    from reconciler import pipeline
    from reconciler.report import check_text

    config = _required_cluster(kubeconfig, context)
    try:
        check, findings = pipeline.doctor_run(Options(repo=repo, cluster=cluster, kube=config))
    except ReconcilerError as exc:
        _fail(exc)
    if not check.ok:
        click.echo(check_text(check), nl=False)
        sys.exit(EXIT_ERROR)
    for finding in findings:
        click.echo(str(finding))
    bad = sum(1 for f in findings if not f.ok)
    click.echo(f"{len(findings)} checks, {bad} problem(s)")
    sys.exit(EXIT_ERROR if bad else EXIT_OK)


@main.command("install-crds")
@_kubeconfig
@_context
@click.option("--dry-run", is_flag=True, help="Send the requests with dryRun=All.")
def install_crds(kubeconfig: tuple[str, ...], context: str | None, dry_run: bool) -> None:
    """Apply the NIMCache and NIMService CRDs (the same as deploy/crds/) with server-side apply."""
    from reconciler import apply, crds, kube

    config = _required_cluster(kubeconfig, context)
    try:
        cluster = kube.Cluster(config)
        outcomes = apply.install_crds(cluster, crds.definitions(), dry_run=dry_run)
    except ReconcilerError as exc:
        _fail(exc)
    for outcome in outcomes:
        state = f"failed ({outcome.error})" if outcome.error else outcome.change.action.value
        click.echo(f"► {outcome.change.ref} {state}")
    sys.exit(EXIT_ERROR if any(o.error for o in outcomes) else EXIT_OK)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "-o", "--output", "fmt", type=click.Choice(FORMATS), default="text", show_default=True, help="Output format."
)
@click.option("--strict", is_flag=True, help="Treat warnings as errors (exit 2).")
def validate(paths: tuple[Path, ...], fmt: str, strict: bool) -> None:
    """Validate NIMCache / NIMService manifests (files or directories; default: clusters/).

    Prints every problem as path:line: field: message and a summary. Exit 0 when valid, 2 when not.
    """
    from reconciler import pipeline
    from reconciler.report import Format, render_check

    try:
        check, _ = pipeline.check_paths(list(paths) or [Path("clusters")], strict=strict)
    except ReconcilerError as exc:
        _fail(exc)
    click.echo(render_check(check, Format(fmt)), nl=False)
    sys.exit(EXIT_OK if check.ok else EXIT_ERROR)


@main.command()
@click.argument("repo", required=False, type=click.Path(path_type=Path), default=Path("."))
@click.option("--cluster", help="Which clusters/<cluster> to render (optional when there is only one).")
@click.option(
    "--templates",
    type=click.Path(path_type=Path, file_okay=False),
    help="A directory of template overrides (same relative paths as the shipped templates/).",
)
@click.option("-o", "--output", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
def render(repo: Path, cluster: str | None, templates: Path | None, fmt: str) -> None:
    """Print every Kubernetes object the repo renders to (like `helm template` / `flux build`).

    REPO is the GitOps repo (default: .) or one of its clusters/<cluster> directories. Invalid input prints
    the same problems as `validate` and exits 2.
    """
    from reconciler import pipeline
    from reconciler.report import check_text, objects_json, objects_yaml, problem_line

    try:
        result = pipeline.render(pipeline.Options(repo=repo, cluster=cluster, templates=templates))
    except ReconcilerError as exc:
        _fail(exc)
    if not result.check.ok:
        click.echo(check_text(result.check), nl=False)
        sys.exit(EXIT_ERROR)
    for problem in result.check.problems:  # warnings only: keep stdout a clean stream of objects
        click.echo(problem_line(problem), err=True)
    bodies = [o.body for o in result.objects]
    click.echo(objects_json(bodies) if fmt == "json" else objects_yaml(bodies), nl=False)
