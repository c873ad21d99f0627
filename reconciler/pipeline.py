"""The pipeline: calls the stages in order and returns values; no logic of its own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from reconciler import documents, layout, plan, validation
from reconciler.rendering import DesiredObject, Renderer
from reconciler.report import Check, DryRun


@dataclass(frozen=True)
class Options:
    """What a run works on (built by the CLI)."""

    repo: Path = Path(".")
    cluster: str | None = None
    templates: Path | None = None
    strict: bool = False


@dataclass(frozen=True)
class Render:
    cluster: str
    check: Check
    objects: list[DesiredObject]


def check_paths(paths: Sequence[Path], *, strict: bool = False) -> tuple[Check, validation.Validated]:
    """Load and validate every manifest under ``paths``."""
    loaded = documents.load_paths(paths)
    validated = validation.validate(loaded.documents)
    problems = sorted([*loaded.problems, *validated.problems], key=lambda p: p.sort_key())
    check = Check(loaded.files, len(loaded.documents), len(validated.resources), problems, strict)
    return check, validated


def render(options: Options) -> Render:
    """Load, validate and render one cluster of the repo; no objects when anything failed."""
    where = layout.locate(options.repo, options.cluster)
    renderer = Renderer(options.templates)
    check, validated = check_paths([where.path], strict=options.strict)
    if check.errors:
        return Render(where.cluster, check, [])
    rendered = renderer.render(validated.resources, where.cluster, where.root)
    problems = sorted([*check.problems, *rendered.problems], key=lambda p: p.sort_key())
    check = replace(check, problems=problems)
    return Render(where.cluster, check, list(rendered.objects) if check.ok else [])


def dry_run(options: Options) -> DryRun:
    """An offline dry run: validate and render, then plan against nothing (everything is created)."""
    result = render(options)
    changes = plan.offline(result.objects)
    counts = {a.value: changes.count(a) for a in plan.Action}
    return DryRun(result.cluster, result.check, [(c.action.value, str(c.ref)) for c in changes.changes], counts)
