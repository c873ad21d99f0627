"""``reconcile serve``: one long-running reconciler per cluster — the same run as the cron job, started by the
interval, by watch events and by git push webhooks, with leader election and an HTTP side (orchestration).

Contract: ``Service.loop()`` runs until SIGTERM: a full run at start (once it leads) and every ``--interval`` (with
jitter, backing off after failures, fetching git); a run within ``quiet`` seconds of other managers' changes to
what we manage (watched; no fetch: the commit is the same) or of a verified push (with a fetch). One run at a
time; while another replica leads, nothing is written. On SIGTERM the run in flight stops after the write in
flight, the Lease is freed, and the process exits 0.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from reconciler import online
from reconciler.cli import loop, metrics, queue, webhook
from reconciler.cli.leader import Leadership
from reconciler.cli.run import EXIT_ERROR, Runner
from reconciler.cluster import record as records
from reconciler.cluster import watch
from reconciler.cluster.api import ClusterApi, WatchApi
from reconciler.errors import ClusterError
from reconciler.report import page, rows
from reconciler.report.model import Row


@dataclass(frozen=True)
class ServeOptions:
    interval: float = 300.0
    quiet: float = 1.0  # seconds of calm after an event before the run (a storm makes one run)
    secret: bytes | None = None  # the webhook's; None: /hooks/git is off
    tracked: str | None = None  # the branch a push must be to (None: the repository's default branch)


class Service:
    """The state ``serve`` keeps, its worker loop, and what its HTTP endpoints answer."""

    def __init__(
        self,
        runner: Runner,
        api: ClusterApi,
        watcher: WatchApi,
        cluster: str,
        options: ServeOptions,
        log: Callable[[str], None],
    ) -> None:
        self.runner, self.api, self.cluster, self.options, self.log = runner, api, cluster, options, log
        self.halt = runner.options.stop or threading.Event()  # what the runs check between writes
        self.terminating = threading.Event()
        self.trigger = queue.Trigger(options.quiet)
        self.watches = watch.Watches(watcher, cluster, self._seen)
        config = replace(online.lock_config(runner.options, cluster), wait=0.0)  # the election retries itself
        self.leadership = Leadership(api, config, self.halt, log, self.terminating)
        self.last_good = 0.0  # monotonic time the last run without failure finished
        self.runs = 0

    # --- the worker ------------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to end (SIGTERM): the run in flight sends no more writes."""
        self.terminating.set()
        self.halt.set()
        self.trigger.add("stopping")

    def loop(self) -> int:
        """Run until ``stop()``; then free the Lease. The exit code is 0."""
        self.halt.set()  # nothing is written before the Lease is ours
        self.watches.start()
        self.leadership.start()
        next_full, failures, led = time.monotonic(), 0, False
        try:
            while not self.terminating.is_set():
                if not self.leadership.leading.is_set():
                    led = False
                    self.terminating.wait(0.2)
                    continue
                if not led:  # just took over: reconcile at once
                    led, next_full = True, time.monotonic()
                batch = self.trigger.take(max(0.0, next_full - time.monotonic()))
                if self.terminating.is_set() or not self.leadership.leading.is_set():
                    continue
                full = batch is None or batch.fetch
                code = self._run(batch)
                if full:
                    failures = failures + 1 if code == EXIT_ERROR else 0
                    next_full = time.monotonic() + loop.delay(loop.LoopOptions(self.options.interval), failures)
        finally:
            self.watches.stop()
            self.leadership.close()
            self.log("stopped")
        return 0

    def _run(self, batch: queue.Batch | None) -> int:
        why = ("the start" if not self.runs else "the interval") if batch is None else ", ".join(batch.reasons)
        moved = sorted(str(r) for r in batch.resources) if batch is not None else []
        self.log(f"reconciling ({why})" + (f": {', '.join(moved[:10])}" if moved else ""))
        code = self.runner.once(fetch=batch is None or batch.fetch)
        self.runs += 1
        if code != EXIT_ERROR:
            self.last_good = time.monotonic()
        return code

    def _seen(self, seen: watch.Seen) -> None:
        what = "a relist" if seen.type == watch.RELISTED else f"{seen.ref} {seen.type.lower()}"
        self.trigger.add(f"watch: {what}", seen.resource, own=seen.ours)

    # --- what the endpoints answer -----------------------------------------------------------------------------

    def ready(self) -> tuple[bool, str]:
        """Ready: the API server answers (every watch is established) and, when leading, the last good run
        finished within two intervals. A standby is ready to take over once its watches stand."""
        if not self.watches.healthy():
            return False, "the API server does not answer (a watch cannot be established)"
        if not self.leadership.leading.is_set():
            return True, "standby: another replica holds the lease"
        if not self.last_good:
            return False, "no reconcile has finished yet"
        age = time.monotonic() - self.last_good
        if age > 2 * self.options.interval:
            return False, f"the last good reconcile finished {age:.0f}s ago (over two intervals)"
        return True, "ok"

    def metrics(self) -> str:
        """The runs' series, then the watch and queue gauges."""
        c = f'cluster="{metrics.escape(self.cluster)}"'
        age = time.time() - self.watches.last_event if self.watches.last_event else 0.0
        lines = [
            *metrics.series("watch_events_total", "counter",
                            "Changes seen on the watches (the echoes of our own writes included).", c,
                            self.watches.events),
            *metrics.series("watch_relists_total", "counter",
                            "Lists after a watch was lost (410 Gone or the API server away).", c, self.watches.relists),
            *metrics.series("watches_up", "gauge", "Whether every watch is established.", c,
                            int(self.watches.healthy())),
            *metrics.series("queue_depth", "gauge", "Custom resources waiting for the next run.", c,
                            self.trigger.depth),
            *metrics.series("last_event_age_seconds", "gauge",
                            "Seconds since the watches last saw a change (0: none yet).", c, round(age, 3)),
            *metrics.series("leader", "gauge", "Whether this replica holds the lease.", c,
                            int(self.leadership.leading.is_set())),
        ]  # fmt: skip
        return self.runner.exposition + "\n".join(lines) + "\n"

    def page(self) -> str:
        """The status page: resources from the watches' cache, runs from the revision record (one GET)."""
        now = datetime.datetime.now(datetime.UTC)
        deployments = {(d["metadata"].get("namespace", ""), d["metadata"]["name"]): d
                       for d in self.watches.objects("Deployment")}  # fmt: skip
        found: list[Row] = [rows.cache_row(c, now) for c in self.watches.objects("NIMCache")]
        for service in self.watches.objects("NIMService"):
            row = rows.service_row(service, deployments, now)
            found.append(replace(row, columns={**row.columns, "MESSAGE": rows.message(service.get("status") or {})}))
        try:
            history = records.read(self.api, self.runner.options.lock.namespace, self.cluster).history
        except ClusterError:
            history = ()
        lines = [page.RunLine(r.revision, r.time, r.result, r.duration, dict(r.counts)) for r in history]
        report = self.runner.report
        view = page.View(self.cluster, found, lines, report.entries if report else (),
                         self.leadership.leading.is_set(), now.strftime("%Y-%m-%dT%H:%M:%SZ"))  # fmt: skip
        return page.page(view)

    def hook(self, headers: dict[str, str], body: bytes) -> webhook.Verdict:
        """A git push webhook: verified, then a fetch and a run (on the leader)."""
        if self.options.secret is None:
            return webhook.Verdict(404, "the webhook is off: serve was started without --webhook-secret-file")
        verdict = webhook.verify(headers, body, self.options.secret, self.options.tracked)
        if verdict.run and not self.leadership.leading.is_set():
            return webhook.Verdict(503, "standby replica: the leader takes pushes (the interval catches up)")
        if verdict.run:
            self.trigger.add("a push", fetch=True)
        return verdict
