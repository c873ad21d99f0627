"""The offline half of a run: load, validate and render one cluster of the repo (reads files, nothing else).

Contract: ``check_paths(paths)`` loads and validates; ``render(options)`` loads, validates and renders one
cluster, returning ``Render``. A large repo is read and rendered on every core (``forked``), with the same
results, in the same order, as one process gives.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler import documents, forked, layout
from reconciler.documents import Loaded, NimResource, identify
from reconciler.errors import Problem
from reconciler.objects import DesiredObject
from reconciler.options import Options
from reconciler.refs import SourceLocation
from reconciler.render.assemble import Rendered, joined
from reconciler.report.model import Check
from reconciler.validate.result import Validated

if TYPE_CHECKING:
    from reconciler.render.renderer import Renderer

# Work per process, at least, before forking: under it, a fork and the pickled results cost more than they save
# (measured: bench/render.py). Only identities come back from a render child; a load child sends whole documents.
_FORK_FILES = 150
_FORK_RESOURCES = 200


@dataclass(frozen=True)
class Render:
    """One cluster of the repo, checked and rendered: no objects when anything failed."""

    cluster: str
    check: Check
    objects: list[DesiredObject]
    resources: tuple[NimResource, ...] = ()  # what was rendered, to render again with the cluster's selections
    root: Path = Path(".")
    templates: Path | None = None
    # the renderer that made the objects (compiled templates), to render again without compiling them again
    renderer: Renderer | None = field(default=None, compare=False, repr=False)


def check_paths(
    paths: Sequence[Path], *, strict: bool = False, rendered: bool = False, ignore: frozenset[str] = frozenset()
) -> tuple[Check, Validated]:
    """Load and validate every manifest under ``paths`` (reads files), cluster by cluster.

    References, duplicates and name collisions are judged within each ``clusters/<cluster>/``, reading all of it
    even when one file is named (a pre-commit hook passes only the changed files); the same manifest in two
    clusters is fine. Only the named paths' problems, files and resources are reported. ``rendered``: render the
    valid resources in memory too, so that `validate` finds what `render` and a run would (one verdict).
    ``ignore``: warning rules silenced (beside each resource's ``nim-reconciler/ignore`` annotation).
    """
    judged = [_judged(scope, _loaded(_reads(scope)), rendered, ignore) for scope in layout.scopes(paths)]
    return _counted(judged, strict)


@dataclass(frozen=True)
class _Judged:
    """What one scope reports: files read, documents, resources and problems (of the named paths only)."""

    files: int
    starts: list[SourceLocation]
    resources: list[NimResource]
    problems: list[Problem]


def _reads(scope: layout.Scope) -> list[Path]:
    return [scope.root] if scope.root else list(scope.named)


def _judged(scope: layout.Scope, loaded: Loaded, rendered: bool, ignore: frozenset[str]) -> _Judged:
    from reconciler.validate.check import silence, validate  # see _compiled: imported while children read

    validated = validate(loaded.documents)
    if rendered and not validated.errors:
        validated = _rendered(validated, scope)
    validated = replace(validated, problems=silence(validated.problems, loaded.documents, ignore))
    # the whole cluster asked for (a run, `validate clusters/x`): every document is asked, nothing to look up
    whole = scope.root is not None and all(layout.same(n, scope.root) for n in scope.named)
    asked: Callable[[str], bool] = (lambda _: True) if whole else partial(layout.within, roots=scope.named)
    named, refused = ([], []) if whole or not scope.root else documents.find_files(list(scope.named), scope.root)
    problems = [p for p in [*loaded.problems, *validated.problems] if asked(p.where.path)]
    # a named path that leaves the cluster through a link is refused by its own name (the walk skipped it)
    problems += [p for p in refused if p not in problems]
    return _Judged(
        len(named) if scope.root and not whole else loaded.files,
        [d.where for d in loaded.documents if asked(d.where.path)],
        [r for r in validated.resources if asked(r.doc.where.path)],
        problems,
    )


def _counted(judged: Sequence[_Judged], strict: bool) -> tuple[Check, Validated]:
    """The scopes' verdicts as one check: problems in file and line order."""
    problems = sorted((p for j in judged for p in j.problems), key=lambda p: p.sort_key())
    starts = tuple(s for j in judged for s in j.starts)
    resources = [r for j in judged for r in j.resources]
    check = Check(sum(j.files for j in judged), len(starts), len(resources), [], strict, starts=starts)
    return check.counted(problems), Validated(resources, problems)


def _loaded(paths: Sequence[Path], meanwhile: Callable[[], None] = lambda: None) -> Loaded:
    """``documents.load_paths``, the files read on every core when there are many (``meanwhile`` done here)."""
    files, problems = documents.find_files(paths)
    parts = forked.map_chunks(documents.load_files, files, _FORK_FILES, first=meanwhile)
    found = [d for part in parts for d in part.documents]
    return Loaded(found, problems + [p for part in parts for p in part.problems], len(files))


def _rendered(validated: Validated, scope: layout.Scope) -> Validated:
    """The problems rendering finds (a bad selected-profiles annotation, a warning only rendering knows)."""
    cluster = scope.root.name if scope.root else ""
    root = scope.root.parent.parent if scope.root else Path(".")
    found = _compiled(None).render(validated.resources, cluster, root).problems
    return replace(validated, problems=sorted([*validated.problems, *found], key=lambda p: p.sort_key()))


def _compiled(templates: Path | None) -> Renderer:
    """A Renderer of the shipped templates (or ``templates``' overrides), compiled."""
    # Imported here, not with this module: Jinja, the renderer and the checks are ~60 ms of a start, which a large
    # offline run spends while its children read the files (see render); `validate` without rendering skips Jinja.
    import reconciler.validate.check  # noqa: F401  (the judge needs it next: loaded here, in the same window)
    from reconciler.render.renderer import Renderer

    return Renderer(templates)


class _Refused(Exception):
    """The check found errors while the render had started: nothing is rendered."""


def render(options: Options, *, bodies: bool = True) -> Render:
    """Load, validate and render one cluster of the repo; no objects when anything failed. ``bodies=False``:
    the objects keep only their identities (an offline plan), and a large repo renders on every core."""
    where = layout.locate(options.repo, options.cluster)
    (scope,) = layout.scopes([where.path])
    compiled: list[Renderer] = []
    # The templates compile while other processes start reading a large repo's files: that core is free then.
    # A template error is still raised before any manifest is judged.
    loaded = _loaded(_reads(scope), lambda: compiled.append(_compiled(options.templates)))
    renderer, verdict = compiled[0], []

    def judge() -> None:  # while other processes render: see _rendered_objects
        verdict.append(_counted([_judged(scope, loaded, False, options.ignore)], options.strict))
        if verdict[0][0].errors:
            raise _Refused

    try:
        rendered = _rendered_objects(renderer, loaded, where.cluster, where.root, bodies, judge)
    except _Refused:
        return Render(where.cluster, verdict[0][0], [])
    from reconciler.validate.check import silence

    check, validated = verdict[0]
    found = silence(rendered.problems, [r.doc for r in validated.resources], options.ignore)
    check = check.counted(sorted([*check.problems, *found], key=lambda p: p.sort_key()))
    if not bodies:  # nothing will render again: let the documents go before the plan and the output are made
        return Render(where.cluster, check, list(rendered.objects) if check.ok else [], root=where.root)
    resources = tuple(validated.resources)
    return Render(where.cluster, check, list(rendered.objects) if check.ok else [], resources, where.root,
                  options.templates, renderer)  # fmt: skip


def _rendered_objects(
    renderer: Renderer, loaded: Loaded, cluster: str, root: Path, bodies: bool, judge: Callable[[], None]
) -> Rendered:
    """The objects of every resource ``loaded`` holds, once ``judge`` found them valid (it raises if not).

    Without bodies, the render starts before the verdict, in other processes, while this one judges: every
    resource is rendered, and when the check passes that is exactly the valid ones (any error stops the run,
    so none is left out); when it fails, ``judge`` raises and the render is dropped unseen, its children
    stopped. This process takes no chunk before the verdict: nothing rendered from an invalid manifest is
    ever reported."""
    candidates = [r for r in map(identify, loaded.documents) if r is not None]
    if bodies:
        judge()
        return renderer.render(candidates, cluster, root)
    parts = forked.map_chunks(lambda chunk: renderer.part(chunk, candidates, cluster, root, bodies=False),
                              candidates, _FORK_RESOURCES, first=judge)  # fmt: skip
    return joined(parts)
