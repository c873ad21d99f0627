"""Local git repositories for tests: a working clone and a bare "remote" served over file://."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .helpers import REPO

IDENTITY = {
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **IDENTITY}, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


class GitRepo:
    """``work`` (a checkout holding clusters/demo) pushes to ``bare``; ``url`` is the bare repo's file:// URL."""

    def __init__(self, root: Path, clusters: Path = REPO / "clusters") -> None:
        self.work = root / "work"
        self.bare = root / "remote.git"
        shutil.copytree(clusters, self.work / "clusters")
        git(self.work, "init", "-q", "-b", "main")
        self.commit("first")
        git(root, "init", "-q", "--bare", "-b", "main", str(self.bare))
        git(self.work, "push", "-q", str(self.bare), "main")

    @property
    def url(self) -> str:
        return self.bare.as_uri()

    def commit(self, message: str) -> str:
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "--allow-empty", "-m", message)
        return git(self.work, "rev-parse", "HEAD")

    def push(self, message: str, ref: str = "main") -> str:
        sha = self.commit(message)
        git(self.work, "push", "-q", "--force", str(self.bare), f"HEAD:{ref}")
        return sha

    def tag(self, name: str) -> None:
        git(self.work, "tag", "-a", name, "-m", name)
        git(self.work, "push", "-q", str(self.bare), name)
