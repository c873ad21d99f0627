"""Helpers shared by the command line's commands: cluster configuration, durations, exit codes, output."""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

import click

from reconciler import redaction
from reconciler.cli.run import EXIT_BLOCKED, EXIT_CHANGES, EXIT_ERROR, EXIT_OK
from reconciler.errors import UNSAFE, ReconcilerError, printable
from reconciler.options import ClusterConfig
from reconciler.redaction import redact
from reconciler.source import Credentials

__all__ = ["EXIT_BLOCKED", "EXIT_CHANGES", "EXIT_ERROR", "EXIT_OK"]
FORMATS = ("text", "json", "github")
_UNSAFE_IN_LINES = re.compile(UNSAFE.pattern.replace("\x00-\x1f", "\x00-\x09\x0b-\x1f"))


def say(text: str, *, err: bool = False, nl: bool = True) -> None:
    """Print ``text``: the one way this program writes to stdout / stderr. Secrets are redacted, and every control
    character but the line breaks our own output puts between lines is shown escaped (defence in depth: each
    line was built from escaped values already)."""
    text = redact(text)
    if _UNSAFE_IN_LINES.search(text):  # the line breaks between our lines are ours: only look further for others
        text = "\n".join(printable(line) for line in text.split("\n"))
    click.echo(text, err=err, nl=nl)


def fail(exc: ReconcilerError | str) -> NoReturn:
    """``error: <message>`` on one line (escaped, redacted), exit 2."""
    say(f"error: {printable(str(exc))}", err=True)
    sys.exit(EXIT_ERROR)


class Guarded(click.Group):
    """The command group with one last line of defence: whatever escapes a command ends as one escaped,
    redacted ``error:`` line and exit 2 — never a traceback, never exit 1 (which means "changes pending")."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except click.exceptions.Exit as done:
            code = done.exit_code
        except click.Abort:
            say("error: aborted", err=True)
            code = EXIT_ERROR
        except click.ClickException as exc:  # a bad flag, a missing argument: a usage error
            say(f"error: {printable(exc.format_message())} (see reconcile --help)", err=True)
            code = EXIT_ERROR
        except ReconcilerError as exc:
            say(f"error: {printable(str(exc))}", err=True)
            code = EXIT_ERROR
        except Exception as exc:  # a bug or an answer nothing expected: say what, keep the traceback on demand
            if os.environ.get("NIM_RECONCILER_TRACEBACK"):
                raise
            say(
                f"error: internal error: {type(exc).__name__}: {printable(str(exc), 300)} "
                "(NIM_RECONCILER_TRACEBACK=1 shows where)",
                err=True,
            )
            code = EXIT_ERROR
        sys.exit(code if isinstance(code, int) else 0)


def credentials() -> Credentials:
    """git credentials from the environment only (never flags: those show in the process list and shell history)."""
    env = os.environ
    redaction.register(env.get("GIT_TOKEN"))
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
        say(f"error: {NO_CLUSTER}", err=True)
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
    say(f"{time.strftime('%H:%M:%S')} {printable(line)}")


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
        say(text, nl=False)
        self.height = text.count("\n")


kubeconfig_option = click.option(
    "--kubeconfig",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Kubeconfig file (repeatable; default: $KUBECONFIG, ~/.kube/config, in-cluster).",
)
context_option = click.option("--context", help="The kubeconfig context to use.")
