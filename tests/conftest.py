"""Shared test helpers: load YAML text the way the CLI does, and find the repository's data."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.documents import Document, load_text

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SAMPLES = SHARED / "reference" / "nvidia-samples"


def load_one(text: str, name: str = "m.yaml") -> Document:
    docs, problems = load_text(text, name)
    assert not problems, problems
    assert len(docs) == 1
    return docs[0]


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture(autouse=True)
def no_ambient_cluster(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never reach a developer's real cluster: no KUBECONFIG, no ~/.kube/config, not in a pod."""
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))


def write_kubeconfig(path: Path, server: str, context: str = "x") -> Path:
    """A kubeconfig with one cluster, user and context (all named ``context``)."""
    import yaml

    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": context,
                "clusters": [{"name": context, "cluster": {"server": server}}],
                "users": [{"name": context, "user": {"token": "t"}}],
                "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
            }
        )
    )
    return path
