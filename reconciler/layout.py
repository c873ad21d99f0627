"""The GitOps repo layout: ``<repo>/clusters/<cluster>/**/*.yaml``, and which manifests are judged together (reads
directory names only)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import UsageError


@dataclass(frozen=True)
class ClusterDir:
    """Which cluster a run reconciles and where its manifests are."""

    root: Path
    cluster: str
    path: Path


def locate(repo: Path, cluster: str | None) -> ClusterDir:
    """Find ``clusters/<cluster>`` in ``repo``; with one cluster, ``cluster`` may be omitted.

    ``repo`` may also be a cluster directory itself (``clusters/demo``): its name is then the cluster.
    """
    if not repo.is_dir():
        raise UsageError(f"{repo}: no such directory")
    clusters = repo / "clusters"
    if not clusters.is_dir():
        if repo.parent.name == "clusters" and cluster in (None, repo.name):
            return ClusterDir(repo.parent.parent, repo.name, repo)
        raise UsageError(f"{repo}: no clusters/ directory (expected clusters/<cluster>/*.yaml)")
    names = sorted(p.name for p in clusters.iterdir() if p.is_dir() and not p.name.startswith("."))
    if cluster is None:
        if len(names) != 1:
            listed = ", ".join(names) or "none"
            raise UsageError(f"{clusters}: choose a cluster with --cluster (found: {listed})")
        cluster = names[0]
    if cluster not in names:
        raise UsageError(f"cluster {cluster!r} not found in {clusters} (found: {', '.join(names) or 'none'})")
    return ClusterDir(repo, cluster, clusters / cluster)


def cluster_dir(path: Path) -> Path | None:
    """The ``clusters/<cluster>`` directory that holds ``path`` (or is it), as an absolute path, or None."""
    absolute = Path(os.path.abspath(path))
    return next((p for p in (absolute, *absolute.parents) if p.parent.name == "clusters"), None)


def same(path: str | Path, other: Path) -> bool:
    """``path`` names ``other`` (``..`` resolved, symlinks not followed)."""
    return os.path.abspath(path) == os.path.abspath(other)


def within(path: str | Path, roots: Sequence[Path]) -> bool:
    """``path`` is one of ``roots`` or inside one (``..`` resolved, symlinks not followed)."""
    where = os.path.abspath(path)  # strings, not Paths: this runs for every document of a large repo
    for root in roots:
        top = os.path.abspath(root)
        if where == top or where.startswith(top.rstrip(os.sep) + os.sep):
            return True
    return False


def enclosing(path: Path, cluster: str | None) -> tuple[Path, str | None]:
    """For a file or directory inside ``clusters/<cluster>/`` (``.``, a namespace folder, one manifest): the repo
    root and that cluster; anything else is returned as it is, to be located as a repo."""
    inside = cluster_dir(path)
    if inside is None or (path.is_dir() and (path / "clusters").is_dir()):
        return path, cluster
    if cluster not in (None, inside.name):
        raise UsageError(f"{path} is in cluster {inside.name!r}, not {cluster!r}")
    return inside.parent.parent, inside.name


@dataclass(frozen=True)
class Scope:
    """Paths checked together: ``root`` is the cluster directory they belong to (None: outside any cluster),
    whose every manifest is read so that references and duplicates are judged per cluster; ``named`` are what
    the user asked for, the only ones whose problems are reported."""

    root: Path | None
    named: tuple[Path, ...]


def scopes(paths: Sequence[Path]) -> list[Scope]:
    """Group paths by their ``clusters/<cluster>/`` (a ``clusters/`` directory itself gives one scope per cluster);
    paths outside any cluster make one scope of their own (reads directory names only)."""
    grouped: dict[Path | None, list[Path]] = {}
    for given in paths:
        path = Path(os.path.abspath(given))
        if path.name == "clusters" and path.is_dir():
            for child in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
                grouped.setdefault(child, []).append(child)
            continue
        grouped.setdefault(cluster_dir(path), []).append(given)
    return [Scope(root, tuple(named)) for root, named in grouped.items()]
