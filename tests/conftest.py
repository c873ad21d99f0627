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


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The suite fails when `reconcile` (or `reconcile status`) made any request deploy/ RBAC does not allow.

    Every request any API test server saw during the run is checked, by its User-Agent: `doctor` and
    `install-crds` run with the user's own rights and are not part of deploy/.
    """
    from tests.apiserver import SEEN
    from tests.rbac import denied, deploy_rules, namespaced_rules

    ours = [r for r in SEEN if r.agent.endswith(("(reconcile)", "(status)"))]
    cluster_rules, state_rules = deploy_rules()
    refused = [
        line
        for line in denied(cluster_rules + state_rules, ours, set())
        if "/leases/" not in line and "/configmaps/" not in line
    ]
    # The run lock and the record live in the run's own namespace: the state Role's, bound there (the tests run
    # outside a pod, where that namespace is `default`, standing in for `nim-reconciler`).
    state = [r for r in ours if "/leases" in r.path or "/configmaps" in r.path]
    refused += denied(state_rules, state, {"default", "nim-reconciler"})
    # A run confined with --namespace: the namespaced Role, bound in every namespace it used, and nothing else.
    confined = [r for r in SEEN if r.agent.endswith("(reconcile namespaced)")]
    bound = {
        p.split("/")[p.split("/").index("namespaces") + 1] for p in (r.path for r in confined) if "/namespaces/" in p
    }
    refused += denied(namespaced_rules(), confined, bound or {"-"})
    if refused:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("deploy/ RBAC does not allow these requests made during the suite:", red=True)
            for line in refused:
                reporter.write_line(f"  {line}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
