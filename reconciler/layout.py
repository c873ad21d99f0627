"""The GitOps repo layout: ``<repo>/clusters/<cluster>/**/*.yaml`` (reads directory names only)."""

from __future__ import annotations

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
