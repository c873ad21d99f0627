"""``serve``'s status page (pure): one server-rendered HTML document, no scripts, no external assets.

Contract: ``page(view)`` lays out every NIMCache and NIMService with its state, reason, age and PVC / endpoint,
the last runs of the revision record, and what the last run left pending (waiting for a cache, blocked, failed).
Every value came from git or the cluster, so every value goes through ``html.escape`` (and the one redaction
step): nothing in a manifest or a status can add markup to the page.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.plan.changes import Action
from reconciler.redaction import redact
from reconciler.report.model import Entry, Row

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1d1d1f}
h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.6em}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid #ddd}
th{background:#f4f4f6}.Ready,.applied,.drift-healed{color:#17702f}.Failed,.failed,.blocked{color:#b3261e}
.state{font-weight:600}.muted{color:#666}
"""


@dataclass(frozen=True)
class RunLine:
    """One run of the revision record, as the page shows it."""

    revision: str
    time: str
    result: str
    duration: float
    counts: dict[str, int]


@dataclass(frozen=True)
class View:
    """What the page shows."""

    cluster: str
    rows: Sequence[Row]
    history: Sequence[RunLine]
    pending: Sequence[Entry]
    leading: bool
    generated: str  # when (UTC, RFC 3339)


def _e(value: object) -> str:
    return html.escape(redact(str(value)), quote=True)


def _resource(row: Row) -> str:
    where = row.columns.get("PVC") if row.kind == "NIMCache" else row.columns.get("ENDPOINT")
    reason = row.columns.get("MESSAGE", "")
    if row.kind == "NIMService":  # its pods, then what it says of itself
        reason = f"{row.columns.get('READY', '-')} ready" + (f": {reason}" if reason else "")
    cells = [row.kind, row.namespace, row.name]
    return (
        f'<tr data-kind="{_e(row.kind)}" data-name="{_e(row.namespace)}/{_e(row.name)}">'
        + "".join(f"<td>{_e(c)}</td>" for c in cells)
        + f'<td class="state {_e(row.state)}">{_e(row.state)}</td>'
        + f"<td>{_e(reason)}</td><td>{_e(row.columns.get('AGE', ''))}</td><td>{_e(where or '-')}</td></tr>"
    )


def _run(run: RunLine) -> str:
    counts = ", ".join(f"{n} {a}" for a, n in run.counts.items() if n) or "nothing to do"
    return (
        f"<tr><td><code>{_e(run.revision[:12] or '-')}</code></td><td>{_e(run.time)}</td>"
        f'<td class="{_e(run.result)}">{_e(run.result)}</td><td>{run.duration:.2f}s</td><td>{_e(counts)}</td></tr>'
    )


def _pending(entry: Entry) -> str:
    why = entry.error or entry.reason
    return f"<tr><td>{_e(entry.ref)}</td><td>{_e(entry.action.value)}</td><td>{_e(why)}</td></tr>"


def _table(title: str, head: Sequence[str], rows: Sequence[str], empty: str, ident: str) -> str:
    body = "".join(rows) or f'<tr><td colspan="{len(head)}" class="muted">{_e(empty)}</td></tr>'
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    return f'<h2>{_e(title)}</h2><table id="{ident}"><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>'


def page(view: View) -> str:
    """The whole HTML document."""
    held = [e for e in view.pending if e.action in (Action.WAITING, Action.BLOCKED) or e.error]
    role = "leader" if view.leading else "standby (another replica holds the lease)"
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>nim-reconciler: {_e(view.cluster)}</title><style>{STYLE}</style></head><body>",
        f"<h1>nim-reconciler — cluster {_e(view.cluster)}</h1>",
        f'<p class="muted">This replica: {_e(role)}. Page made at {_e(view.generated)}; reload to refresh.</p>',
        _table("Resources", ["Kind", "Namespace", "Name", "State", "Reason", "Age", "PVC / endpoint"],
               [_resource(r) for r in view.rows], "no NIMCache or NIMService yet", "resources"),
        _table("Last runs", ["Revision", "Time", "Result", "Duration", "Counts"],
               [_run(r) for r in view.history], "no run recorded yet", "runs"),
        _table("Pending after the last run", ["Object", "State", "Why"],
               [_pending(e) for e in held], "nothing pending", "pending"),
        "</body></html>\n",
    ]  # fmt: skip
    return "".join(parts)
