"""``--log-format json``: one JSON object per line, for log pipelines (pure: values in, lines out).

Every line has ``time``, ``level`` and ``msg``; lines about an object add ``cluster``, ``revision``, ``object``
and ``action`` (plus ``reason`` or ``error``); the last line of a run sums it up.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from reconciler.plan.changes import Action
from reconciler.report.model import RunReport
from reconciler.report.output import counts, problem_dict


def line(level: str, msg: str, **fields: Any) -> str:
    """One JSON log line: ``time``, ``level``, ``msg`` and the fields given."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return json.dumps({"time": now, "level": level, "msg": msg, **fields}, sort_keys=False)


def run_lines(run: RunReport, duration: float) -> list[str]:
    """The run as log lines: each problem, each object that changed (or failed), each error, the summary."""
    base = {"cluster": run.cluster, "revision": run.revision or None}
    out = [
        line(str(problem_dict(p)["severity"]), str(p.message), **base, **{"file": p.where.path, "line": p.where.line})
        for p in run.check.problems
    ]
    for entry in run.entries:
        if entry.action is Action.UNCHANGED and not entry.error:
            continue
        fields: dict[str, Any] = {**base, "object": entry.ref, "action": entry.action}
        if entry.reason:
            fields["reason"] = entry.reason
        if entry.error:
            fields["error"] = entry.error
        out.append(line("error" if entry.error else "info", f"{entry.ref} {entry.action}", **fields))
    out += [line("error", error, **base) for error in run.errors]
    if run.notice:
        out.append(line("info", run.notice, **base))
    summary: dict[str, Any] = {**base, "mode": run.mode, "result": run.result, "counts": counts(run)}
    summary["requests"] = run.requests
    summary |= {"duration_seconds": round(duration, 3), "drift_check": run.drift_check}
    out.append(line("error" if run.failed else "info", "reconcile finished", **summary))
    return out
