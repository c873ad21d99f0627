"""The Markdown summary of a pull-request check, for ``$GITHUB_STEP_SUMMARY`` (pure: a report in, text out).

A table of every change, then each diff in a collapsible block; kept under GitHub's 1 MiB per step by leaving
out whatever would not fit (and saying how much was left out).
"""

from __future__ import annotations

import html
import re

from reconciler.errors import printable
from reconciler.plan.changes import Action
from reconciler.report.model import Entry, RunReport
from reconciler.report.output import REVIEW_WORDS, problem_line

LIMIT = 1024 * 1024 - 16 * 1024  # GitHub refuses a step summary over 1 MiB; keep a margin for the tail
ICONS = {Action.CREATED: "🟢", Action.CONFIGURED: "🟡", Action.PRUNED: "🔴", Action.BLOCKED: "⛔", Action.SKIPPED: "⚪"}


def markdown(run: RunReport, base: str, limit: int = LIMIT) -> str:
    """The summary of a pull-request check against ``base``, at most ``limit`` bytes."""
    shown = [e for e in run.entries if e.action is not Action.UNCHANGED]
    counts = {a.value: run.count(a) for a in Action}
    head = [
        f"### nim-reconciler: cluster `{_cell(run.cluster)}` against `{_cell(base)}` ({_cell(run.revision[:12])})",
        "",
        f"**{counts['created']} created, {counts['configured']} changed, {counts['pruned']} deleted**, "
        f"{counts['unchanged']} unchanged, {counts['skipped']} kept, {counts['blocked']} blocked; "
        f"{run.check.errors} errors, {run.check.warnings} warnings",
        "",
    ]
    if run.check.problems:
        head += ["#### Problems", "", *(f"- `{_cell(problem_line(p))}`" for p in run.check.problems), ""]
    head += [f"> {_cell(w)}" for w in run.warnings]
    out = "\n".join(head) + "\n"
    if not shown:
        return out + "No object changes.\n"
    rows = ["| | Object | Change | Manifest |", "|---|---|---|---|"]
    rows += [_row(e) for e in shown]
    table = "\n".join(rows) + "\n\n"
    if len((out + table).encode()) > limit:
        return out + f"_{len(shown)} changes: too many to list within the 1 MiB summary limit; see the job log._\n"
    out += table
    left_out = 0
    for entry in shown:
        block = _details(entry)
        if not block:
            continue
        if len((out + block).encode()) > limit:
            left_out += 1
            continue
        out += block
    if left_out:
        out += f"\n_{left_out} diffs left out to stay under GitHub's 1 MiB summary limit; see the job log._\n"
    return out


def _row(entry: Entry) -> str:
    word = REVIEW_WORDS.get(entry.action, entry.action)
    detail = f" ({_cell(entry.reason)})" if entry.reason else ""
    where = f"`{_cell(entry.source)}`" if entry.source else ""
    return f"| {ICONS.get(entry.action, '')} | `{_cell(str(entry.ref))}` | {word}{detail} | {where} |"


def _details(entry: Entry) -> str:
    if not entry.diff:
        return ""
    # a fence longer than any run of backticks inside: a diff cannot close it and write markdown of its own
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall("`+", entry.diff)), default=0))
    word = REVIEW_WORDS.get(entry.action, entry.action)
    return (
        f"<details><summary><code>{html.escape(printable(str(entry.ref)))}</code> {word}</summary>\n\n"
        f"{fence}diff\n{entry.diff.rstrip()}\n{fence}\n\n</details>\n"
    )


def _cell(text: str) -> str:
    return html.escape(printable(text), quote=False).replace("|", "\\|").replace("`", "'")
