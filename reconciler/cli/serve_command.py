"""The ``reconcile serve`` command: flags, wiring, signals (the run's own flags are the main command's)."""

from __future__ import annotations

import sys
import threading
from dataclasses import replace
from pathlib import Path

import click

from reconciler.cli import build
from reconciler.cli.flags import EXIT_ERROR, duration, say
from reconciler.errors import ReconcilerError, UsageError, printable
from reconciler.options import Mode

# the main command's flags that make no sense for a server (it applies, and never waits in a run)
NOT_FOR_SERVE = ("version", "dry_run", "offline", "base", "wait", "timeout", "poll_interval", "interval")


@click.command("serve")
@click.option("--listen", default=":8080", show_default=True, help="Where /metrics, /healthz, /readyz, "
              "/hooks/git and the status page / are served (HOST:PORT or :PORT).")  # fmt: skip
@click.option("--interval", "every", default="5m", show_default=True,
              help="A full reconcile (with a git fetch) this often, plus up to 10%% jitter; backs off after "
              "failures. Watches and webhooks start runs in between.")  # fmt: skip
@click.option("--webhook-secret-file", type=click.Path(path_type=Path, dir_okay=False),
              help="The secret git push webhooks are signed with (GitHub X-Hub-Signature-256, GitLab "
              "X-Gitlab-Token). Without it /hooks/git is off.")  # fmt: skip
@click.option("--debounce", default="1s", show_default=True, hidden=True)
def serve(**flags: object) -> None:
    """Run as a long-lived reconciler: a full run at start and every --interval, a run within seconds of a
    change to what it manages (Kubernetes watches) or of a signed git push, leader election on the run's Lease
    (one replica writes), HTTP endpoints for probes, Prometheus and a read-only status page.

    SIGTERM: the write in flight finishes, the Lease is freed, exit 0. Exit 2 on bad flags or when it cannot
    start (no cluster, an unreadable repo).
    """
    from reconciler import layout
    from reconciler.cli import server
    from reconciler.cli.run import Runner, checkout
    from reconciler.cli.serve import ServeOptions, Service
    from reconciler.cluster import kube

    flags = {**flags, **{name: None for name in ("dry_run", "base")}, "offline": False, "wait": False}
    halt = threading.Event()
    options = build.options(flags, halt, " (serve applies what git holds to a cluster)")
    kube_config = options.kube
    assert kube_config is not None and options.mode is Mode.APPLY  # build.options exits 2 without a cluster
    options = replace(options, lock=replace(options.lock, held=True))  # the election holds the Lease, not a run
    outputs = build.outputs(flags)
    log = build.logger(outputs)
    spec = build.source_spec(flags)
    try:
        secret = _secret(build.path(flags, "webhook_secret_file"))
        runner = Runner(spec, options, outputs)
        runner.checkout = checkout(spec)  # which cluster, before the Lease (named after it) is sought
        cluster = layout.locate(runner.checkout.root, options.cluster).cluster
        api = kube.Cluster(replace(kube_config, agent="serve"))
        settings = ServeOptions(duration(str(flags["every"])), duration(str(flags["debounce"])), secret, spec.ref)
        service = Service(runner, api, api, cluster, settings, log)
        http = server.listen(str(flags["listen"]), service, log)
    except ReconcilerError as exc:
        say(f"error: {printable(str(exc))}", err=True)
        sys.exit(EXIT_ERROR)
    terminating = threading.Event()
    _, restore = build.on_signals(terminating)

    def relay() -> None:  # a signal handler only sets an event: the service is stopped from a thread
        terminating.wait()
        service.stop()

    threading.Thread(target=relay, name="signals", daemon=True).start()
    log(f"serving cluster {cluster} on {flags['listen']} (port {http.port}); every {flags['every']}")
    try:
        code = service.loop()
    finally:
        http.close()
        restore()
    sys.exit(code)


def _secret(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        data = path.read_bytes().strip()
    except OSError as exc:
        raise UsageError(f"--webhook-secret-file {path}: {exc.strerror or exc}") from exc
    if not data:
        raise UsageError(f"--webhook-secret-file {path}: empty")
    return data
