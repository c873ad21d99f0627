"""report/output.py: the text, JSON and GitHub forms of a check."""

from __future__ import annotations

import json

from reconciler.errors import error, warning
from reconciler.refs import SourceLocation
from reconciler.report.model import Check, Format
from reconciler.report.output import render_check

PROBLEMS = [
    error(SourceLocation("c/a.yaml", 12), "spec.storage.pvc.size", "required when create is true", "pvc-size"),
    warning(SourceLocation("c/b.yaml", 3), "spec.env", 'add NIM_ENABLE_KV_CACHE_REUSE: "1"\nnow', "kv-cache-reuse"),
]
CHECK = Check(files=2, resources=3, valid=2, problems=PROBLEMS)


def test_text_is_one_line_per_problem_and_a_summary() -> None:
    lines = render_check(CHECK, Format.TEXT).splitlines()
    assert lines[0] == "c/a.yaml:12: spec.storage.pvc.size: required when create is true"
    assert lines[1].startswith("c/b.yaml:3: spec.env: warning: add NIM_ENABLE_KV_CACHE_REUSE")
    assert lines[-1] == "Summary: 3 resources found in 2 files - Valid: 2, Invalid: 1, Errors: 1, Warnings: 1"


def test_json_has_the_documented_shape() -> None:
    body = json.loads(render_check(CHECK, Format.JSON))
    assert body["valid"] is False
    assert body["problems"][0] == {
        "severity": "error",
        "file": "c/a.yaml",
        "line": 12,
        "path": "spec.storage.pvc.size",
        "message": "required when create is true",
        "rule": "pvc-size",
    }
    assert body["summary"] == {
        "files": 2, "resources": 3, "valid": 2, "invalid": 1, "errors": 1, "errors_outside_resources": 0, "warnings": 1
    }


def test_github_annotations_escape_their_data() -> None:
    lines = render_check(CHECK, Format.GITHUB).splitlines()
    assert lines[0] == "::error file=c/a.yaml,line=12,title=spec.storage.pvc.size::required when create is true"
    assert lines[1].startswith("::warning file=c/b.yaml,line=3,title=spec.env::")
    assert lines[1].endswith("%0Anow")


def test_strict_turns_warnings_into_failure() -> None:
    only_warning = Check(files=1, resources=1, valid=1, problems=PROBLEMS[1:])
    assert only_warning.ok
    assert not Check(files=1, resources=1, valid=1, problems=PROBLEMS[1:], strict=True).ok
