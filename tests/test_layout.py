"""layout.py: which clusters/<cluster>/ a run works on (reads directory names only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import UsageError
from reconciler.layout import locate


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in ("prod", "staging", ".hidden"):
        (tmp_path / "clusters" / name).mkdir(parents=True)
    (tmp_path / "single" / "clusters" / "only").mkdir(parents=True)
    return tmp_path


@pytest.mark.parametrize(
    ("repo", "cluster", "found"),
    [
        (".", "prod", ("prod", "clusters/prod")),
        ("single", None, ("only", "single/clusters/only")),  # one cluster: no need to name it
        ("clusters/staging", None, ("staging", "clusters/staging")),  # a cluster directory itself
        ("clusters/staging", "staging", ("staging", "clusters/staging")),
    ],
)
def test_locate(tree: Path, repo: str, cluster: str | None, found: tuple[str, str]) -> None:
    where = locate(tree / repo, cluster)
    assert (where.cluster, where.path.relative_to(tree).as_posix()) == found


@pytest.mark.parametrize(
    ("repo", "cluster", "message"),
    [
        (".", None, "choose a cluster with --cluster (found: prod, staging)"),
        (".", "dev", "cluster 'dev' not found in"),
        (".", ".hidden", "cluster '.hidden' not found in"),
        ("missing", None, "missing: no such directory"),
        ("clusters", None, "no clusters/ directory"),
        ("clusters/staging", "prod", "no clusters/ directory"),
    ],
)
def test_locate_refuses(tree: Path, repo: str, cluster: str | None, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        locate(tree / repo, cluster)
