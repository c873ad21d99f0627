"""One whole run, as the cron job and loop mode do it: source → pipeline → output → metrics (orchestration).

Contract: ``Runner.once()`` takes the repo at its revision (an unreachable remote ends the run with exit 2
before the cluster is touched, so nothing is ever pruned for it), reconciles, prints the report (text, JSON,
GitHub or JSON log lines), writes the metrics, and returns the exit code. It never raises ``ReconcilerError``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from reconciler import source
from reconciler.cli import metrics, notify
from reconciler.errors import ReconcilerError, Severity, UsageError, printable
from reconciler.options import Mode, Options
from reconciler.plan.changes import Action
from reconciler.report import logs
from reconciler.report.model import RunReport
from reconciler.report.output import counts
from reconciler.source import signatures
from reconciler.source.signatures import Policy

EXIT_OK, EXIT_CHANGES, EXIT_ERROR, EXIT_BLOCKED = 0, 1, 2, 3


@dataclass(frozen=True)
class SourceSpec:
    """Where the repo comes from: a local path (used as it is) or a git URL with a ref."""

    repo: str
    ref: str | None = None
    cache_dir: Path = Path(".cache/nim-reconciler")
    credentials: source.Credentials = field(default_factory=source.Credentials)
    timeout: float = 60.0
    signatures: Policy | None = None  # --verify-commits: only a commit an allowed key signed is applied


@dataclass(frozen=True)
class Outputs:
    fmt: str = "text"  # text, json, github
    log_json: bool = False
    metrics_file: Path | None = None
    pushgateway: str | None = None
    out: Callable[[str], None] = print
    err: Callable[[str], None] = print
    notify: notify.Notify = field(default_factory=lambda: notify.Notify())


def checkout(spec: SourceSpec) -> source.Checkout:
    """The repo at its revision: a git URL cloned or fetched, or a local path as it is; with ``--verify-commits``,
    only a commit an allowed key signed (else ``SignatureError``, before anything else is done)."""
    if source.is_url(spec.repo):
        remote = source.RemoteSpec(spec.repo, spec.ref or "HEAD", spec.timeout)
        got = source.remote(remote, spec.cache_dir, spec.credentials)
    elif spec.ref:
        raise UsageError("--ref needs a git URL in --repo: a local --repo is used as it is (check it out first)")
    else:
        got = source.local(Path(spec.repo))
    if spec.signatures is not None:
        signatures.verify(got.root, got.revision, spec.signatures, spec.timeout)
    return got


def exit_code(run: RunReport) -> int:
    """Like kubectl diff: 2 failed, 3 blocked by a guard, 1 changes pending in a dry run, else 0."""
    if run.failed:
        return EXIT_ERROR
    if run.blocked:
        return EXIT_BLOCKED
    return EXIT_CHANGES if run.mode is not Mode.APPLY and run.pending else EXIT_OK


class Runner:
    """Runs again and again with the same options (loop mode and serve keep the metric totals in memory, and
    serve reads the last report and exposition)."""

    def __init__(self, spec: SourceSpec, options: Options, outputs: Outputs) -> None:
        self.spec, self.options, self.outputs = spec, options, outputs
        self.totals: metrics.Totals | None = None
        self.checkout: source.Checkout | None = None
        self.report: RunReport | None = None  # the last run's (None: it failed before reconciling)
        self.exposition = ""  # the metrics text after the last run
        self.last_result = ""  # how the last run of this process ended (loop mode and serve: news is a change)

    def once(self, fetch: bool = True) -> int:
        """One run; ``fetch=False`` reuses the last checkout (serve's event-driven runs: the commit is the same)."""
        from reconciler import pipeline

        started = time.monotonic()
        requests: dict[str, int] = {}
        self.report = None
        try:
            got = self.checkout
            if fetch or got is None:
                got = self.checkout = checkout(self.spec)
                requests = got.requests
            run = pipeline.reconcile(replace(self.options, repo=got.root, revision=got.revision))
        except Exception as exc:  # loop mode must outlive any one run: a bug or an answer nothing expected included
            if not isinstance(exc, ReconcilerError) and os.environ.get("NIM_RECONCILER_TRACEBACK"):
                raise
            requests = getattr(exc, "requests", requests)
            message = str(exc) if isinstance(exc, ReconcilerError) else f"internal error: {type(exc).__name__}: {exc}"
            self._error(printable(message, 1000), time.monotonic() - started)
            self._metrics(self.options.cluster or "", "failure", {}, requests, time.monotonic() - started)
            revision = self.checkout.revision if self.checkout is not None else ""
            self._notify(self.options.cluster or "", revision or "", "failed", "", {}, [message])
            return EXIT_ERROR
        duration = time.monotonic() - started
        self.report = run
        self._print(run, duration)
        code = exit_code(run)
        result = {EXIT_ERROR: "failure", EXIT_BLOCKED: "blocked"}.get(code, "success")
        result = run.result if run.result in ("skipped", "interrupted") else result
        self._metrics(run.cluster, result, counts(run) | {"failed": run.failures}, requests, duration)
        found = [p for p in run.check.problems if p.severity is Severity.ERROR]
        errors = [*run.errors, *(f"{p.where}: {p.field}: {p.message}" for p in found),
                  *(f"{e.ref}: {e.error}" for e in run.entries if e.error),
                  *(f"{e.ref}: {e.reason}" for e in run.entries if e.action is Action.BLOCKED)]  # fmt: skip
        self._notify(run.cluster, run.revision, run.result, run.previous, counts(run), errors)
        return code

    def _notify(self, cluster: str, revision: str, result: str, previous: str, numbers: dict[str, int],
                errors: list[str]) -> None:  # fmt: skip
        """Tell the --notify receivers of a failure, a block or a recovery (after the exit code is decided)."""
        if result in ("skipped", "interrupted"):
            return
        before = self.last_result or {"applied": "ok", "drift-healed": "ok"}.get(previous, previous)
        self.last_result = result
        settings = self.outputs.notify
        if not settings.urls:
            return
        item = notify.event(cluster, revision, result, before, numbers, errors, settings.link)
        if item is not None:
            notify.deliver(settings.urls, notify.body(item, settings.fmt), settings.timeout, self.outputs.err)

    def _print(self, run: RunReport, duration: float) -> None:
        from reconciler.report.model import Format
        from reconciler.report.output import render_run

        if self.outputs.log_json:
            for text in logs.run_lines(run, duration):
                self.outputs.out(text)
        else:
            self.outputs.out(render_run(run, Format(self.outputs.fmt)).rstrip("\n"))

    def _error(self, message: str, duration: float) -> None:
        if self.outputs.log_json:
            self.outputs.out(logs.line("error", message, cluster=self.options.cluster, duration_seconds=duration))
        else:
            self.outputs.err(f"error: {message}")

    def _metrics(self, cluster: str, result: str, counts: dict[str, int], git: dict[str, int], duration: float) -> None:
        totals = self.totals
        if totals is None and self.outputs.metrics_file is not None and self.outputs.metrics_file.is_file():
            totals = metrics.read_totals(self.outputs.metrics_file.read_text(), cluster)
        sample = metrics.Sample(cluster, result, duration, counts, git, time.time())
        self.totals = metrics.add(totals or metrics.Totals(), sample)
        text = self.exposition = metrics.exposition(sample, self.totals)
        if self.outputs.metrics_file is None and self.outputs.pushgateway is None:
            return
        try:
            if self.outputs.metrics_file is not None:
                metrics.write_file(self.outputs.metrics_file, text)
            if self.outputs.pushgateway is not None:
                metrics.push(self.outputs.pushgateway, cluster, text)
        except ReconcilerError as exc:  # metrics must not turn a good run into a failed one
            self.outputs.err(f"warning: metrics not written: {exc}")
