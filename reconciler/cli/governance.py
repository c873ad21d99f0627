"""``reconcile suspend`` and ``reconcile resume``: pause a whole cluster's reconciliation, recorded in the
cluster beside the revision record, with who and when (commands)."""

from __future__ import annotations

import datetime
import getpass
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.cli.flags import (
    EXIT_ERROR,
    EXIT_OK,
    context_option,
    kubeconfig_option,
    lock_namespace,
    required_cluster,
    say,
)
from reconciler.errors import ReconcilerError, printable

if TYPE_CHECKING:
    from reconciler.cluster.record import Record, Suspension

_cluster_option = click.option("--cluster", help="Which cluster (default: the only one under --repo's clusters/).")
_repo_option = click.option(
    "--repo",
    type=click.Path(path_type=Path),
    default=Path("."),
    show_default=True,
    help="A local checkout, to find the cluster's name when --cluster is not given.",
)
_namespace_option = click.option("--lock-namespace", help="Where the run lock and the record live (default: the "
                                 "pod's namespace in a cluster, else default).")  # fmt: skip


def who() -> str:
    """Who runs the command, as the record keeps it: the local user at this host."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container's random user)
        user = "uid-unknown"
    return f"{user}@{os.uname().nodename}"  # gethostname, without loading socket


@click.command("suspend")
@_repo_option
@_cluster_option
@click.option("--reason", default="", help="Why (shown by runs, `reconcile status` and the record).")
@kubeconfig_option
@context_option
@_namespace_option
def suspend(repo: Path, cluster: str | None, reason: str, kubeconfig: tuple[str, ...], context: str | None,
            lock_namespace: str | None) -> None:  # fmt: skip
    """Suspend a cluster: its runs read and report what they would change, write nothing and exit 0 with a
    notice, until `reconcile resume`. Exit 0 done, 2 on error."""
    from reconciler.cluster.record import Suspension

    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    held = Suspension(who(), now, " ".join(reason.split())[:500])
    name, record = _write(repo, cluster, kubeconfig, context, lock_namespace, held, "suspend")
    say(printable(f"cluster {name} is {record.suspension}"))
    sys.exit(EXIT_OK)


@click.command("resume")
@_repo_option
@_cluster_option
@kubeconfig_option
@context_option
@_namespace_option
def resume(repo: Path, cluster: str | None, kubeconfig: tuple[str, ...], context: str | None,
           lock_namespace: str | None) -> None:  # fmt: skip
    """Resume a suspended cluster: the next run reconciles as before. Exit 0 done (or not suspended), 2 on error."""
    name, _ = _write(repo, cluster, kubeconfig, context, lock_namespace, None, "resume")
    say(printable(f"cluster {name} resumed"))
    sys.exit(EXIT_OK)


def _write(repo: Path, cluster: str | None, kubeconfig: tuple[str, ...], context: str | None, namespace: str | None,
           held: Suspension | None, agent: str) -> tuple[str, Record]:  # fmt: skip
    from reconciler import layout
    from reconciler.cluster import kube, record

    config = replace(required_cluster(kubeconfig, context), agent=agent)
    try:
        name = cluster or layout.locate(repo, None).cluster
        api = kube.Cluster(config)
        try:
            written = record.suspend(api, lock_namespace(config, namespace), name, held)
        finally:
            api.close()
    except ReconcilerError as exc:
        say(f"error: {printable(str(exc))}", err=True)
        sys.exit(EXIT_ERROR)
    return name, written
