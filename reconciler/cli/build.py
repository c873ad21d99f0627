"""From the command line's flags to a run's values: options, where the repo comes from, outputs, signals.

Shared by the one-shot run, loop mode and ``serve`` (the same flags mean the same everywhere). Nothing below
``cli/`` reads flags or the environment.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import NoReturn

from reconciler.cli import notify
from reconciler.cli.flags import (
    EXIT_ERROR,
    NO_CLUSTER,
    LiveTable,
    cluster_config,
    credentials,
    default_cache_dir,
    duration,
    lock_namespace,
    progress,
    say,
    tty,
    with_requests,
)
from reconciler.cli.run import Outputs, SourceSpec
from reconciler.errors import ReconcilerError, printable
from reconciler.options import LockOptions, Mode, Options, PruneOptions, WaitOptions
from reconciler.source.signatures import Policy

Flags = dict[str, object]


def usage(message: str) -> NoReturn:
    """Print a one-line error and exit 2."""
    say(f"error: {printable(message)}", err=True)
    sys.exit(EXIT_ERROR)


def options(flags: Flags, stop: threading.Event, hint: str = " (an offline plan needs only --dry-run)") -> Options:
    """The run's options from the flags (exits 2 on a combination that makes no sense; ``hint`` follows the
    no-cluster error)."""
    mode = Mode.of_flag(text(flags, "dry_run"))
    if flags["offline"] and mode is not Mode.DRY_RUN:
        usage("--offline goes with --dry-run (a plan against nothing)")
    kube = None
    if not flags["offline"]:
        files = tuple(str(f) for f in flags["kubeconfig"] or ())  # type: ignore[attr-defined]
        found = cluster_config(files, text(flags, "context"))
        kube = with_requests(found, str(flags["request_timeout"]), int_flag(flags, "retries"))
        if kube is not None:  # --qps / --burst: the client-side rate limit, as client-go's
            qps, burst = flags.get("qps"), flags.get("burst")
            kube = replace(kube, qps=float(qps) if isinstance(qps, (int, float)) else kube.qps,
                           burst=burst if isinstance(burst, int) else kube.burst)  # fmt: skip
        if kube is not None and flags["namespaces"]:
            kube = replace(kube, agent="reconcile namespaced")  # audit logs tell a team's confined runs apart
    if kube is None and mode is not Mode.DRY_RUN:
        usage(f"{NO_CLUSTER}{hint}")
    wait = None
    if flags["wait"]:
        table = LiveTable() if tty() and flags["log_format"] == "text" else None
        wait = WaitOptions(
            duration(str(flags["timeout"])), duration(str(flags["poll_interval"])), progress, table, stop
        )
    return Options(
        cluster=text(flags, "cluster"),
        templates=path(flags, "templates"),
        mode=mode,
        kube=kube,
        prune=prune(flags),
        retry_failed=bool(flags["retry_failed"]),
        adopt=bool(flags["adopt"]),
        stop=stop,
        namespaces=tuple(str(n) for n in flags["namespaces"] or ()),  # type: ignore[attr-defined]
        wait=wait,
        lock=LockOptions(
            text(flags, "lock_name"),
            lock_namespace(kube, text(flags, "lock_namespace")),
            f"{os.uname().nodename}-{os.getpid()}",  # the host name, without loading socket (~4 ms)
            duration(str(flags["lock_wait"])),
        ),
    )


def source_spec(flags: Flags) -> SourceSpec:
    """Where the repo comes from: ``--repo``, ``--ref``, ``--cache-dir``, the git credentials, ``--git-timeout``,
    and with ``--verify-commits`` the keys allowed to sign what is applied."""
    return SourceSpec(
        str(flags["repo"]),
        text(flags, "ref"),
        path(flags, "cache_dir") or default_cache_dir(),
        credentials(),
        duration(str(flags["git_timeout"])),
        signature_policy() if flags.get("verify_commits") else None,
    )


def signature_policy() -> Policy:
    """``GIT_ALLOWED_SIGNERS`` (an SSH allowed-signers file) and / or ``GIT_GPG_KEYRING`` (public GnuPG keys)."""
    signers, keyring = os.environ.get("GIT_ALLOWED_SIGNERS"), os.environ.get("GIT_GPG_KEYRING")
    if not signers and not keyring:
        usage("--verify-commits needs GIT_ALLOWED_SIGNERS (an SSH allowed-signers file) or GIT_GPG_KEYRING (a file "
              "of public GnuPG keys)")  # fmt: skip
    return Policy(Path(signers) if signers else None, Path(keyring) if keyring else None)


def outputs(flags: Flags) -> Outputs:
    """Where reports, logs and metrics go (exits 2 on a ``--pushgateway`` that is no http(s) URL)."""
    try:
        receivers = notify.checked([str(u) for u in flags.get("notify") or ()])  # type: ignore[attr-defined]
    except ReconcilerError as exc:
        usage(str(exc))
    settings = notify.Notify(receivers, str(flags.get("notify_link") or ""), str(flags.get("notify_format") or "json"),
                             duration(str(flags.get("notify_timeout") or "5s")))  # fmt: skip
    out = Outputs(
        str(flags["fmt"]),
        flags["log_format"] == "json",
        path(flags, "metrics_file"),
        text(flags, "pushgateway"),
        out=say,
        err=lambda line: say(line, err=True),
        notify=settings,
    )
    if out.pushgateway and not re.match(r"https?://[^/\s]+", out.pushgateway):
        usage(f"--pushgateway {out.pushgateway}: not an http:// or https:// URL")
    return out


def on_signals(stop: threading.Event) -> tuple[list[int], Callable[[], None]]:
    """SIGTERM / SIGINT: finish the writes in flight, send no more, release the lock; a second one stops at once.

    Returns the list the signals received are put in, and how to put the previous handlers back. (Signals reach
    only the main thread: a run started from another thread, as an embedding program may, handles none.)
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        return received, lambda: None

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise SystemExit(128 + signum)
        received.append(signum)
        stop.set()
        say(f"{signal.Signals(signum).name} received: stopping after the writes in flight", err=True)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for number, old in previous.items():
            signal.signal(number, old)

    return received, restore


def logger(outputs: Outputs) -> Callable[[str], None]:
    """Where loop mode and serve say what they do: stderr, or one JSON log line on stdout (``--log-format json``)."""
    return outputs.err if not outputs.log_json else (lambda m: say(json_log(m)))


def json_log(message: str) -> str:
    """A message as one JSON log line."""
    from reconciler.report.logs import line

    return line("info", message)


def prune(flags: dict[str, object]) -> PruneOptions:
    """The prune flags as a value."""
    enabled, empty = bool(flags["prune"]), bool(flags["allow_empty"])
    return PruneOptions(enabled, int_flag(flags, "max_prune"), empty, int_flag(flags, "max_prune_per_namespace"))


def int_flag(flags: dict[str, object], name: str) -> int:
    """An integer flag (0 when unset)."""
    value = flags[name]
    return value if isinstance(value, int) else 0


def text(flags: dict[str, object], name: str) -> str | None:
    """A text flag (None when unset or empty)."""
    value = flags.get(name)
    return str(value) if value else None


def path(flags: dict[str, object], name: str) -> Path | None:
    """A path flag (None when unset)."""
    value = flags.get(name)
    return value if isinstance(value, Path) else None
