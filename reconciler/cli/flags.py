"""Helpers shared by the command line's commands: cluster configuration, durations, exit codes, output."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

import click

from reconciler.cli.run import EXIT_BLOCKED, EXIT_CHANGES, EXIT_ERROR, EXIT_OK
from reconciler.errors import ReconcilerError
from reconciler.options import ClusterConfig
from reconciler.source import Credentials

__all__ = ["EXIT_BLOCKED", "EXIT_CHANGES", "EXIT_ERROR", "EXIT_OK"]
FORMATS = ("text", "json", "github")


def fail(exc: ReconcilerError) -> NoReturn:
    click.echo(f"error: {exc}", err=True)
    sys.exit(EXIT_ERROR)


def credentials() -> Credentials:
    """git credentials from the environment only (never flags: those show in the process list and shell history)."""
    env = os.environ
    return Credentials(
        token=env.get("GIT_TOKEN") or None,
        username=env.get("GIT_USERNAME") or "x-access-token",
        ssh_key_file=env.get("GIT_SSH_KEY_FILE") or None,
        known_hosts=env.get("GIT_KNOWN_HOSTS") or None,
    )


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path("~/.cache").expanduser())
    return Path(base) / "nim-reconciler"


def cluster_config(kubeconfig: tuple[str, ...], context: str | None) -> ClusterConfig | None:
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


def required_cluster(kubeconfig: tuple[str, ...], context: str | None) -> ClusterConfig:
    """The cluster of a command that cannot work without one; exit 2 with a clear message otherwise."""
    config = cluster_config(kubeconfig, context)
    if config is None:
        click.echo(f"error: {NO_CLUSTER}", err=True)
        sys.exit(EXIT_ERROR)
    return config


def with_requests(config: ClusterConfig | None, timeout: str, retries: int) -> ClusterConfig | None:
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


def lock_namespace(config: ClusterConfig | None, given: str | None) -> str:
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


def tty() -> bool:
    return sys.stdout.isatty() and os.environ.get("TERM", "") != "dumb"


class LiveTable:
    """Redraws the --wait table in place on a terminal (cursor up, clear to the end)."""

    def __init__(self) -> None:
        self.height = 0

    def __call__(self, states: dict[str, str]) -> None:
        from reconciler.report.output import wait_table

        text = wait_table(states)
        if self.height:
            click.echo(f"\x1b[{self.height}A\x1b[J", nl=False, color=True)  # only ever used on a terminal
        click.echo(text, nl=False)
        self.height = text.count("\n")


kubeconfig_option = click.option(
    "--kubeconfig",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Kubeconfig file (repeatable; default: $KUBECONFIG, ~/.kube/config, in-cluster).",
)
context_option = click.option("--context", help="The kubeconfig context to use.")
