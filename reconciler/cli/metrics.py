"""Prometheus metrics of runs: the text exposition format for node-exporter's textfile collector and for a
Pushgateway (formatting pure; ``write_file`` and ``push`` are the I/O).

Counters must survive the process of a cron run: ``Totals`` carries them, read back from the previous textfile
(``read_totals``), or kept in memory by loop mode.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.errors import ReconcilerError
from reconciler.redaction import redact

PREFIX = "nim_reconciler"
RESULTS = ("success", "failure", "blocked", "skipped", "interrupted")
_SAMPLE = re.compile(r"^(\w+)\{(.*)\}\s+(\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass
class Totals:
    """What accumulates across runs: runs by result, git requests by type, the last success."""

    runs: dict[str, int] = field(default_factory=dict)
    git: dict[str, int] = field(default_factory=dict)
    last_success: float = 0.0


@dataclass(frozen=True)
class Sample:
    cluster: str
    result: str  # one of RESULTS
    duration: float
    objects: Mapping[str, int]  # by action
    git: Mapping[str, int]  # remote git requests of this run, by type (ls-remote, fetch)
    finished: float  # unix time


def add(totals: Totals, sample: Sample) -> Totals:
    runs = dict(totals.runs)
    runs[sample.result] = runs.get(sample.result, 0) + 1
    git = dict(totals.git)
    for kind, count in sample.git.items():
        git[kind] = git.get(kind, 0) + count
    last = sample.finished if sample.result == "success" else totals.last_success
    return Totals(runs, git, last)


def escape(value: str) -> str:
    """A label value as the text format writes it, through the one redaction step (labels are output too)."""
    return redact(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def series(name: str, kind: str, text: str, labels: str, value: float | int) -> list[str]:
    """One single-sample series in the text format: its HELP, its TYPE (``gauge``, ``counter``) and the sample."""
    return [f"# HELP {PREFIX}_{name} {text}", f"# TYPE {PREFIX}_{name} {kind}", f"{PREFIX}_{name}{{{labels}}} {value}"]


def exposition(sample: Sample, totals: Totals) -> str:
    """The text format (version 0.0.4) of one run and the totals that include it."""
    c = f'cluster="{escape(sample.cluster)}"'
    out = [
        f"# HELP {PREFIX}_reconcile_duration_seconds How long the last reconcile run took.",
        f"# TYPE {PREFIX}_reconcile_duration_seconds gauge",
        f"{PREFIX}_reconcile_duration_seconds{{{c}}} {sample.duration:.3f}",
        f"# HELP {PREFIX}_reconcile_total Reconcile runs by result.",
        f"# TYPE {PREFIX}_reconcile_total counter",
        *(f'{PREFIX}_reconcile_total{{{c},result="{r}"}} {totals.runs.get(r, 0)}' for r in RESULTS),
        f"# HELP {PREFIX}_objects Objects of the last run by action.",
        f"# TYPE {PREFIX}_objects gauge",
        *(f'{PREFIX}_objects{{{c},action="{escape(a)}"}} {n}' for a, n in sorted(sample.objects.items())),
        f"# HELP {PREFIX}_last_success_timestamp_seconds When a run last succeeded (unix time).",
        f"# TYPE {PREFIX}_last_success_timestamp_seconds gauge",
        f"{PREFIX}_last_success_timestamp_seconds{{{c}}} {totals.last_success:.3f}",
        f"# HELP {PREFIX}_git_requests_total Requests to the git remote by type.",
        f"# TYPE {PREFIX}_git_requests_total counter",
        *(
            f'{PREFIX}_git_requests_total{{{c},request_type="{t}"}} {totals.git.get(t, 0)}'
            for t in sorted({"ls-remote", "fetch", *totals.git})
        ),
    ]
    return "\n".join(out) + "\n"


def read_totals(text: str, cluster: str) -> Totals:
    """The counters of ``cluster`` in a textfile we wrote before (anything unreadable counts as zero)."""
    totals = Totals()
    for line in text.splitlines():
        match = _SAMPLE.match(line.strip())
        if not match:
            continue
        name, labels, value = match.group(1), dict(_LABEL.findall(match.group(2))), match.group(3)
        if labels.get("cluster") != cluster:
            continue
        try:
            number = float(value)
        except ValueError:
            continue
        if name == f"{PREFIX}_reconcile_total" and "result" in labels:
            totals.runs[labels["result"]] = int(number)
        elif name == f"{PREFIX}_git_requests_total" and "request_type" in labels:
            totals.git[labels["request_type"]] = int(number)
        elif name == f"{PREFIX}_last_success_timestamp_seconds":
            totals.last_success = number
    return totals


def write_file(path: Path, text: str) -> None:
    """Write atomically (node-exporter must never read half a file): a temporary file, then a rename."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text)
        temporary.replace(path)
    except OSError as exc:
        raise ReconcilerError(f"--metrics-file {path}: {exc.strerror or exc}") from exc


def push(url: str, cluster: str, text: str, timeout: float = 10.0) -> None:
    """PUT the metrics to a Pushgateway under ``job=nim-reconciler, cluster=<cluster>`` (replacing that group)."""
    import urllib.error  # with http.client and ssl, ~30 ms of every start: only a run that pushes pays it
    import urllib.parse
    import urllib.request

    if urllib.parse.urlsplit(url).scheme not in ("http", "https") or not urllib.parse.urlsplit(url).netloc:
        raise ReconcilerError(f"--pushgateway {redact(url)}: not an http:// or https:// URL")
    target = f"{url.rstrip('/')}/metrics/job/nim-reconciler/cluster/{urllib.parse.quote(redact(cluster), safe='')}"
    request = urllib.request.Request(
        target, data=text.encode(), method="PUT", headers={"Content-Type": "text/plain; version=0.0.4"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ReconcilerError(f"--pushgateway {redact(url)}: {getattr(exc, 'reason', exc)}") from exc
