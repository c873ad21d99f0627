"""Pull-request mode (``--dry-run --base REF``): the base revision against the working tree, offline.

Contract: ``review(options, base)`` renders the cluster at ``base`` (read from git without touching the work
tree) and in the working tree, and plans the one against the other as if the cluster held exactly the base:
every object comes out created, configured (changed), unchanged or pruned (deleted), with the prune guards
applied. A change Kubernetes would refuse (``modelPuller``; a PVC that shrinks or changes class or access mode)
becomes an error at the file:line of the manifest field that causes it. (A Job's pod template and a Deployment's
selector are immutable too, but the first gets a new Job name with every change and the second depends on the
object's name only, so neither can be refused.)
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from reconciler import documents, pipeline, source
from reconciler.errors import Problem, UsageError, error
from reconciler.objects import DesiredObject
from reconciler.options import Mode, Options
from reconciler.plan import compare, prune
from reconciler.plan.changes import Action, Change
from reconciler.refs import ObjRef, SourceLocation
from reconciler.report.model import Entry, RunReport

# Where in a NIMCache / NIMService manifest the field of a rendered child comes from.
MANIFEST_FIELD = {
    "spec.resources.requests.storage": ("spec", "storage", "pvc", "size"),
    "spec.storageClassName": ("spec", "storage", "pvc", "storageClass"),
    "spec.accessModes": ("spec", "storage", "pvc", "volumeAccessMode"),
}


@dataclass(frozen=True)
class Base:
    revision: str
    objects: list[DesiredObject]
    problems: int  # the base did not validate: compared as if it held nothing


def review(options: Options, base: str) -> RunReport:
    """The pull-request check of ``options.repo``'s working tree against the revision ``base`` (offline)."""
    head = pipeline.render(options)
    if not head.check.ok:
        return RunReport(head.cluster, head.check, Mode.REVIEW)
    before = read_base(options, head.cluster, base)
    live = {o.ref: compare.stamped(compare.owned(o.body, o.owner, {})) for o in before.objects}
    planned = compare.plan(head.objects, live, options.prune, assume_ready=True)
    sources = {o.ref: o.source for o in before.objects} | {o.ref: o.source for o in head.objects}
    owners = {o.ref: o.owner for o in head.objects}
    problems = [p for c in planned.of(Action.BLOCKED) if (p := _immutable(c, owners, sources)) is not None]
    check = replace(head.check, problems=sorted([*head.check.problems, *problems], key=lambda p: p.sort_key()))
    entries = [
        Entry(c.action, str(c.ref), _relabel(c.diff), c.reason, source=str(sources.get(c.ref, "")))
        for c in planned.changes
        if not (c.action is Action.BLOCKED and not c.reason.startswith(("held", "prune guard")))
    ]
    warnings = (
        [
            f"the base revision {before.revision[:12]} does not validate ({before.problems} errors): every object is "
            "compared as new"
        ]
        if before.problems
        else []
    )
    warnings += prune.orphans(planned.changes)
    return RunReport(head.cluster, check, Mode.REVIEW, entries, revision=before.revision, warnings=warnings)


def read_base(options: Options, cluster: str, base: str) -> Base:
    """Render ``cluster`` as it was at ``base`` (no objects when it did not exist there)."""
    repo = options.repo.resolve()
    root = source.repo_root(repo)
    if root is None:
        raise UsageError(f"--base needs --repo to be a git checkout ({options.repo} is not)")
    inside = repo.relative_to(root)
    with tempfile.TemporaryDirectory(prefix="nim-reconciler-base-") as tmp:
        prefix = (inside / "clusters" / cluster).as_posix()
        try:
            revision = source.snapshot(root, base, prefix, Path(tmp))
        except source.SourceError as exc:
            raise UsageError(f"--base {base}: {exc}") from exc
        if not (Path(tmp) / prefix).is_dir():
            return Base(revision, [], 0)
        rendered = pipeline.render(replace(options, repo=Path(tmp) / inside, cluster=cluster))
    if not rendered.check.ok:
        return Base(revision, [], rendered.check.errors)
    shown = options.repo / "clusters" / cluster
    objects = [replace(o, source=_moved(o.source, Path(tmp) / prefix, shown)) for o in rendered.objects]
    return Base(revision, objects, 0)


def _moved(where: SourceLocation, old: Path, new: Path) -> SourceLocation:
    """A base manifest's location, named as in the working tree (not the temporary directory)."""
    try:
        return replace(where, path=str(new / Path(where.path).relative_to(old)))
    except ValueError:
        return where


def _immutable(
    change: Change, owners: dict[ObjRef, ObjRef | None], sources: dict[ObjRef, SourceLocation]
) -> Problem | None:
    """The error of a change Kubernetes refuses, at the manifest field behind it; None for held or guarded ones."""
    if change.reason.startswith(("held", "prune guard")):
        return None
    owner = owners.get(change.ref) or change.ref
    where = sources.get(owner) or sources.get(change.ref) or SourceLocation("", 0)
    rendered_field, _, message = change.reason.partition(": ")
    path = MANIFEST_FIELD.get(rendered_field) if change.ref.kind != owner.kind else tuple(rendered_field.split("."))
    located = _field_location(where, owner, path) if path else where
    shown = ".".join(path) if path else rendered_field
    return error(located, shown, f"{message} (compared with the base revision)", "immutable-field")


def _field_location(where: SourceLocation, owner: ObjRef, path: tuple[str, ...]) -> SourceLocation:
    """The line of ``path`` in the manifest of ``owner`` (its document's first line when the field is gone)."""
    docs, _ = documents.load_file(Path(where.path))
    for doc in docs:
        meta = doc.body.get("metadata") or {}
        if doc.body.get("kind") == owner.kind and meta.get("name") == owner.name:
            return doc.at(path)
    return where


def _relabel(diff: str) -> str:
    """A plan's diff reads live → desired; here it is base → head."""
    if diff.startswith("--- live\n+++ desired\n"):
        return "--- base\n+++ head\n" + diff[len("--- live\n+++ desired\n") :]
    return diff
