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

from reconciler import documents, forked, layout
from reconciler.documents import Loaded, NimResource
from reconciler.objects import DesiredObject
from reconciler.options import Options
from reconciler.render.assemble import Rendered, joined
from reconciler.render.renderer import Renderer
from reconciler.report.model import Check
from reconciler.validate.check import Validated, silence, validate

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
    files, resources, problems, starts = 0, [], [], []
    for scope in layout.scopes(paths):
        loaded = _loaded([scope.root] if scope.root else list(scope.named))
        validated = validate(loaded.documents)
        if rendered and not validated.errors:
            validated = _rendered(validated, scope)
        validated = replace(validated, problems=silence(validated.problems, loaded.documents, ignore))
        # the whole cluster asked for (a run, `validate clusters/x`): every document is asked, nothing to look up
        whole = scope.root is not None and all(layout.same(n, scope.root) for n in scope.named)
        asked: Callable[[str], bool] = (lambda _: True) if whole else partial(layout.within, roots=scope.named)
        named, refused = ([], []) if whole or not scope.root else documents.find_files(list(scope.named), scope.root)
        files += len(named) if scope.root and not whole else loaded.files
        starts += [d.where for d in loaded.documents if asked(d.where.path)]
        resources += [r for r in validated.resources if asked(r.doc.where.path)]
        # a named path that leaves the cluster through a link is refused by its own name (the walk skipped it)
        problems += [p for p in [*loaded.problems, *validated.problems] if asked(p.where.path)]
        problems += [p for p in refused if p not in problems]
    problems.sort(key=lambda p: p.sort_key())
    check = Check(files, len(starts), len(resources), [], strict, starts=tuple(starts)).counted(problems)
    return check, Validated(resources, problems)


def _loaded(paths: Sequence[Path]) -> Loaded:
    """``documents.load_paths``, the files read on every core when there are many."""
    files, problems = documents.find_files(paths)
    parts = forked.map_chunks(documents.load_files, files, _FORK_FILES)
    found = [d for part in parts for d in part.documents]
    return Loaded(found, problems + [p for part in parts for p in part.problems], len(files))


def _rendered(validated: Validated, scope: layout.Scope) -> Validated:
    """The problems rendering finds (a bad selected-profiles annotation, a warning only rendering knows)."""
    cluster = scope.root.name if scope.root else ""
    root = scope.root.parent.parent if scope.root else Path(".")
    found = Renderer().render(validated.resources, cluster, root).problems
    return replace(validated, problems=sorted([*validated.problems, *found], key=lambda p: p.sort_key()))


def render(options: Options, *, bodies: bool = True) -> Render:
    """Load, validate and render one cluster of the repo; no objects when anything failed. ``bodies=False``:
    the objects keep only their identities (an offline plan), and a large repo renders on every core."""
    where = layout.locate(options.repo, options.cluster)
    renderer = Renderer(options.templates)
    check, validated = check_paths([where.path], strict=options.strict, ignore=options.ignore)
    if check.errors:
        return Render(where.cluster, check, [])
    rendered = _rendered_objects(renderer, validated.resources, where.cluster, where.root, bodies)
    found = silence(rendered.problems, [r.doc for r in validated.resources], options.ignore)
    check = check.counted(sorted([*check.problems, *found], key=lambda p: p.sort_key()))
    if not bodies:  # nothing will render again: let the documents go before the plan and the output are made
        return Render(where.cluster, check, list(rendered.objects) if check.ok else [], root=where.root)
    resources = tuple(validated.resources)
    return Render(where.cluster, check, list(rendered.objects) if check.ok else [], resources, where.root,
                  options.templates, renderer)  # fmt: skip


def _rendered_objects(
    renderer: Renderer, resources: list[NimResource], cluster: str, root: Path, bodies: bool
) -> Rendered:
    if bodies:
        return renderer.render(resources, cluster, root)
    parts = forked.map_chunks(lambda chunk: renderer.part(chunk, resources, cluster, root, bodies=False),
                              resources, _FORK_RESOURCES)  # fmt: skip
    return joined(parts)
