"""Text, JSON and GitHub-annotation renderings of results (pure: values in, strings out)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from reconciler import yaml_text
from reconciler.errors import MAX_MESSAGE, Problem, Severity, printable
from reconciler.kinds import CUSTOM_KINDS
from reconciler.options import Mode
from reconciler.plan.changes import COUNTED, Action
from reconciler.report.model import Check, Entry, Format, Row, RunReport


def problem_line(p: Problem) -> str:
    """``path:line: field: message``; warnings say so (the one way a problem is written as text)."""
    return str(p)


MAX_PROBLEMS_PER_FILE = 100  # a hostile file of 60,000 broken documents must not print 60,000 lines


def _shown(problems: Sequence[Problem], line: Callable[[Problem], str], more: Callable[[str, int], str]) -> list[str]:
    """The lines of ``problems``, at most ``MAX_PROBLEMS_PER_FILE`` per file, then one line per file saying how
    many more there are (the summary counts them all; ``-o json`` lists them all)."""
    lines, per_file = [], Counter[str]()
    for p in problems:
        per_file[p.where.path] += 1
        if per_file[p.where.path] <= MAX_PROBLEMS_PER_FILE:
            lines.append(line(p))
    return lines + [more(path, n - MAX_PROBLEMS_PER_FILE) for path, n in per_file.items() if n > MAX_PROBLEMS_PER_FILE]


def _more_text(path: str, n: int) -> str:
    return f"{printable(path)}: {n} more problems not shown (the summary counts them; -o json lists them all)"


def _more_github(path: str, n: int) -> str:
    return f"::warning file={_escape_property(path)},title=more problems::{n} more problems not shown in this file"


def summary_line(check: Check) -> str:
    """The last line of ``validate``: resources, files, valid, invalid, errors, warnings."""
    # the counts say what the exit code says: under --strict every warning is an error
    errors, warnings = (check.errors + check.warnings, 0) if check.strict else (check.errors, check.warnings)
    strict = " (--strict: warnings count as errors)" if check.strict and check.warnings else ""
    outside = f" ({check.outside} outside any resource)" if check.outside else ""
    return (
        f"Summary: {check.resources} resources found in {check.files} files - "
        f"Valid: {check.valid}, Invalid: {check.resources - check.valid}, "
        f"Errors: {errors}{outside}, Warnings: {warnings}{strict}"
    )


def check_text(check: Check) -> str:
    """Every problem on a line of its own, then the summary."""
    lines = _shown(check.problems, problem_line, _more_text)
    lines.append(summary_line(check))
    return "\n".join(lines) + "\n"


def problem_dict(p: Problem) -> dict[str, object]:
    """A problem as JSON: severity, file, line, field path, message, rule."""
    return {
        "severity": p.severity.value,
        "file": p.where.path,
        "line": p.where.line,
        "path": p.field,
        "message": p.message if len(p.message) <= MAX_MESSAGE else p.message[:MAX_MESSAGE] + "…",
        "rule": p.rule,
    }


def check_json(check: Check) -> str:
    """The check as one JSON document."""
    body = {
        "valid": check.ok,
        "problems": [problem_dict(p) for p in check.problems],
        "summary": {
            "files": check.files,
            "resources": check.resources,
            "valid": check.valid,
            "invalid": check.resources - check.valid,
            "errors": check.errors,
            "errors_outside_resources": check.outside,
            "warnings": check.warnings,
        },
    }
    return json.dumps(body, indent=2) + "\n"


def _escape_data(text: str) -> str:
    """As the workflow-command spec wants (a line break is ``%0A``, never a new line), and every other control
    character made visible."""
    text = text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + "…"
    return printable(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(p: Problem) -> str:
    """A GitHub Actions workflow command that annotates the file at the line."""
    level = "error" if p.severity is Severity.ERROR else "warning"
    props = [f"file={_escape_property(p.where.path)}"]
    if p.where.line:
        props.append(f"line={p.where.line}")
    props.append(f"title={_escape_property(p.field or p.rule)}")
    return f"::{level} {','.join(props)}::{_escape_data(p.message)}"


def check_github(check: Check) -> str:
    """Every problem as a GitHub Actions annotation, then the summary."""
    lines = _shown(check.problems, github_annotation, _more_github)
    lines.append(summary_line(check))
    return "\n".join(lines) + "\n"


def render_check(check: Check, fmt: Format) -> str:
    """The check in ``fmt``."""
    if fmt is Format.JSON:
        return check_json(check)
    if fmt is Format.GITHUB:
        return check_github(check)
    return check_text(check)


INTERRUPTED = "interrupted: the writes in flight finished; nothing more was written (the lock is released)"
# A pull request speaks of what it does to the base, not to a cluster.
REVIEW_WORDS = {Action.CONFIGURED: "changed", Action.PRUNED: "deleted", Action.SKIPPED: "kept"}


def counts(run: RunReport) -> dict[str, int]:
    """The run's entries counted by action (failed ones apart), in ``COUNTED`` order."""
    return {a.value: run.count(a) for a in COUNTED}


def run_summary(run: RunReport) -> str:
    """The last line of a run: what was applied, or what would be."""
    counts = {a.value: run.count(a) for a in COUNTED}
    failed = run.failures
    if run.mode is Mode.APPLY:
        head = f"Applied to cluster {printable(run.cluster)}: "
        body = ", ".join(f"{counts[a]} {a}" for a in COUNTED) + f", {failed} failed"
    else:
        head = f"Plan for cluster {printable(run.cluster)}: "
        body = (
            f"{counts['created']} to create, {counts['configured']} to configure, {counts['pruned']} to prune, "
            f"{counts['unchanged']} unchanged, {counts['waiting']} waiting, {counts['skipped']} skipped, "
            f"{counts['blocked']} blocked"
        )
    if run.mode is Mode.REVIEW:
        head = f"Changes to cluster {printable(run.cluster)} against the base {printable(run.revision[:12])}: "
        body = (
            f"{counts['created']} created, {counts['configured']} changed, {counts['pruned']} deleted, "
            f"{counts['unchanged']} unchanged, {counts['skipped']} kept, {counts['blocked']} blocked"
        )
    tail = {Mode.OFFLINE: " (offline: no cluster compared)", Mode.SERVER_DRY_RUN: " (server dry run)"}.get(run.mode, "")
    return head + body + tail


def run_text(run: RunReport) -> str:
    """A run as text: problems, each object that changed (diffs in a dry run), errors, the summary."""
    lines = _shown(run.check.problems, problem_line, _more_text)
    if run.check.errors:
        lines.append(summary_line(run.check))
        return "\n".join(lines) + "\n"
    for entry in run.entries:
        if entry.action is Action.UNCHANGED and not entry.error:
            continue
        lines += _entry_lines(run, entry)
    lines += [f"error: {printable(e)}" for e in run.errors]
    lines += [f"warning: {printable(w)}" for w in run.warnings]
    if run.notice:
        lines.append(printable(run.notice))
        return "\n".join(lines) + "\n"
    if run.interrupted:
        lines.append(INTERRUPTED)
    lines.append(run_summary(run))
    return "\n".join(lines) + "\n"


def _entry_lines(run: RunReport, entry: Entry) -> list[str]:
    ref, error, reason = printable(str(entry.ref)), printable(entry.error), printable(entry.reason)
    if entry.action is Action.STATUS:
        return [f"► {ref} status {reason}" + (f" (failed: {error})" if error else "")]
    detail = f" ({error or reason})" if error or reason else ""
    action = REVIEW_WORDS.get(entry.action, entry.action) if run.mode is Mode.REVIEW else entry.action
    lines = [f"► {ref} {'failed' if error else action}{detail}"]
    # as kubectl diff: a changed object shows the diff of our fields, a new one its whole body
    if entry.diff and run.mode is not Mode.APPLY and entry.action in (Action.CONFIGURED, Action.CREATED):
        lines += ["  " + printable(line) for line in entry.diff.rstrip("\n").splitlines()]
    return lines


def run_json(run: RunReport) -> str:
    """A run as one JSON document."""
    body = {
        "cluster": run.cluster,
        "revision": run.revision or None,
        "mode": run.mode,
        "valid": run.check.ok,
        "problems": [problem_dict(p) for p in run.check.problems],
        "changes": [
            {
                "action": e.action,
                "object": e.ref,
                **({"diff": e.diff} if e.diff else {}),
                **({"reason": e.reason} if e.reason else {}),
                **({"error": e.error} if e.error else {}),
            }
            for e in run.entries
        ],
        "errors": list(run.errors),
        "result": run.result,
        "notice": run.notice,
        "warnings": list(run.warnings),
        "drift_check": run.drift_check,
        "summary": counts(run),
        "requests": run.requests,
    }
    return json.dumps(body, indent=2) + "\n"


def run_github(run: RunReport) -> str:
    """A run as GitHub Actions annotations (problems, failed and blocked objects, errors), then the summary."""
    lines = _shown(run.check.problems, github_annotation, _more_github)
    lines += [f"::error title={_escape_property(e.ref)}::{_escape_data(e.error)}" for e in run.entries if e.error]
    lines += [
        f"::warning title={_escape_property(e.ref)}::{_escape_data(e.reason)}"
        for e in run.entries
        if e.action is Action.BLOCKED
    ]
    lines += [f"::error::{_escape_data(e)}" for e in run.errors]
    lines.append(run_summary(run) if not run.check.errors else summary_line(run.check))
    return "\n".join(lines) + "\n"


def render_run(run: RunReport, fmt: Format) -> str:
    """The run in ``fmt``."""
    if fmt is Format.JSON:
        return run_json(run)
    if fmt is Format.GITHUB:
        return run_github(run)
    return run_text(run)


def objects_yaml(bodies: Sequence[dict[str, object]]) -> str:
    """A YAML stream, one document per object, keys in rendering order."""
    return yaml_text.dump_all(bodies)


def objects_json(bodies: Sequence[dict[str, object]]) -> str:
    """The objects as one Kubernetes ``List``."""
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": list(bodies)}, indent=2) + "\n"


def status_table(rows: Sequence[Row]) -> str:
    """``reconcile status``: a table of NIMCaches, then one of NIMServices."""
    out: list[str] = []
    for kind in CUSTOM_KINDS:
        chosen = [r for r in rows if r.kind == kind]
        if not chosen:
            continue
        headers = ["NAMESPACE", "NAME", "STATE", *chosen[0].columns]
        cells = [[r.namespace, r.name, r.state, *r.columns.values()] for r in chosen]
        table = [headers] + [[printable(c) for c in line] for line in cells]
        widths = [max(len(line[i]) for line in table) for i in range(len(headers))]
        out.append(f"{kind}s:")
        out += ["  " + "   ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in table]
    return "\n".join(out) + "\n" if out else "No NIMCache or NIMService found.\n"


def status_json(rows: Sequence[Row], suspended: Mapping[str, str] | None = None) -> str:
    """``reconcile status -o json``: every row as an item, and the suspended clusters (name: who, when, why)."""
    items = [
        {
            "kind": r.kind,
            "namespace": r.namespace,
            "name": r.name,
            "state": r.state,
            **{k.lower(): v for k, v in r.columns.items()},
        }
        for r in rows
    ]
    return json.dumps({"items": items, "suspended": dict(suspended or {})}, indent=2) + "\n"


def wait_table(states: dict[str, str]) -> str:
    """The table `--wait` redraws on a terminal: every resource and its state, the ones not Ready first."""
    states = {printable(ref): printable(state) for ref, state in states.items()}
    order = sorted(states.items(), key=lambda item: (item[1] == "Ready", item[0]))
    width = max((len(ref) for ref in states), default=8)
    lines = [f"{'RESOURCE'.ljust(width)}   STATE"] + [f"{ref.ljust(width)}   {state}" for ref, state in order]
    ready = sum(1 for s in states.values() if s == "Ready")
    lines.append(f"{ready}/{len(states)} ready")
    return "\n".join(lines) + "\n"
