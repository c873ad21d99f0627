"""The pipeline: calls the stages in order and returns values; no logic of its own."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reconciler import documents, validation
from reconciler.report import Check


def check_paths(paths: Sequence[Path], *, strict: bool = False) -> tuple[Check, validation.Validated]:
    """Load and validate every manifest under ``paths``."""
    loaded = documents.load_paths(paths)
    validated = validation.validate(loaded.documents)
    problems = sorted([*loaded.problems, *validated.problems], key=lambda p: p.sort_key())
    check = Check(
        files=loaded.files,
        resources=len(loaded.documents),
        valid=len(validated.resources),
        problems=problems,
        strict=strict,
    )
    return check, validated
