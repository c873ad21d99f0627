"""Text, JSON and GitHub-annotation renderings of results (pure: values in, strings out)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import yaml

from reconciler.errors import Problem, Severity


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"
    GITHUB = "github"


@dataclass(frozen=True)
class Check:
    """The result of checking manifests: what was read and every problem found."""

    files: int
    resources: int
    valid: int
    problems: Sequence[Problem]
    strict: bool = False

    @property
    def errors(self) -> int:
        return sum(1 for p in self.problems if p.severity is Severity.ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for p in self.problems if p.severity is Severity.WARNING)

    @property
    def ok(self) -> bool:
        return self.errors == 0 and not (self.strict and self.warnings)


def problem_line(p: Problem) -> str:
    """``path:line: field: message``; warnings say so."""
    field = f" {p.field}:" if p.field else ""
    severity = " warning:" if p.severity is Severity.WARNING else ""
    return f"{p.where}:{field}{severity} {p.message}"


def summary_line(check: Check) -> str:
    return (
        f"Summary: {check.resources} resources found in {check.files} files - "
        f"Valid: {check.valid}, Invalid: {check.resources - check.valid}, "
        f"Errors: {check.errors}, Warnings: {check.warnings}"
    )


def check_text(check: Check) -> str:
    lines = [problem_line(p) for p in check.problems]
    lines.append(summary_line(check))
    return "\n".join(lines) + "\n"


def problem_dict(p: Problem) -> dict[str, object]:
    return {
        "severity": p.severity.value,
        "file": p.where.path,
        "line": p.where.line,
        "path": p.field,
        "message": p.message,
        "rule": p.rule,
    }


def check_json(check: Check) -> str:
    body = {
        "valid": check.ok,
        "problems": [problem_dict(p) for p in check.problems],
        "summary": {
            "files": check.files,
            "resources": check.resources,
            "valid": check.valid,
            "invalid": check.resources - check.valid,
            "errors": check.errors,
            "warnings": check.warnings,
        },
    }
    return json.dumps(body, indent=2) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


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
    lines = [github_annotation(p) for p in check.problems]
    lines.append(summary_line(check))
    return "\n".join(lines) + "\n"


def render_check(check: Check, fmt: Format) -> str:
    if fmt is Format.JSON:
        return check_json(check)
    if fmt is Format.GITHUB:
        return check_github(check)
    return check_text(check)


@dataclass(frozen=True)
class DryRun:
    """What a dry run found: the check of the manifests, and the plan when they were valid."""

    cluster: str
    check: Check
    changes: Sequence[tuple[str, str]]  # (action, Kind/namespace/name) in apply order
    counts: dict[str, int]

    @property
    def pending(self) -> bool:
        return any(action != "unchanged" for action, _ in self.changes)


def plan_summary(run: DryRun) -> str:
    c = run.counts
    return (
        f"Plan for cluster {run.cluster}: {c.get('created', 0)} to create, {c.get('configured', 0)} to configure, "
        f"{c.get('pruned', 0)} to prune, {c.get('unchanged', 0)} unchanged (offline: no cluster compared)"
    )


def dry_run_text(run: DryRun) -> str:
    lines = [problem_line(p) for p in run.check.problems]
    if run.check.errors:
        lines.append(summary_line(run.check))
        return "\n".join(lines) + "\n"
    lines += [f"► {ref} {action}" for action, ref in run.changes]
    lines.append(plan_summary(run))
    return "\n".join(lines) + "\n"


def dry_run_json(run: DryRun) -> str:
    body = {
        "cluster": run.cluster,
        "valid": run.check.ok,
        "problems": [problem_dict(p) for p in run.check.problems],
        "changes": [{"action": a, "object": ref} for a, ref in run.changes],
        "summary": run.counts,
    }
    return json.dumps(body, indent=2) + "\n"


def dry_run_github(run: DryRun) -> str:
    lines = [github_annotation(p) for p in run.check.problems]
    lines.append(plan_summary(run) if not run.check.errors else summary_line(run.check))
    return "\n".join(lines) + "\n"


def render_dry_run(run: DryRun, fmt: Format) -> str:
    if fmt is Format.JSON:
        return dry_run_json(run)
    if fmt is Format.GITHUB:
        return dry_run_github(run)
    return dry_run_text(run)


def objects_yaml(bodies: Sequence[dict[str, object]]) -> str:
    """A YAML stream, one document per object, keys in rendering order."""
    return yaml.dump_all(bodies, Dumper=yaml.CSafeDumper, sort_keys=False, explicit_start=True, width=1000)


def objects_json(bodies: Sequence[dict[str, object]]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": list(bodies)}, indent=2) + "\n"
