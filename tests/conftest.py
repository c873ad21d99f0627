"""Fixtures shared by the test modules, the no-ambient-cluster guard, and the RBAC check at the end of the suite."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from .apiserver import ApiServer
from .helpers import DEMO_NAMESPACES, REPO


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiServer]:
    """An API test server with the namespaces the example repo uses."""
    with ApiServer(tmp_path, namespaces=DEMO_NAMESPACES) as server:
        yield server


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of the example repo's clusters/, to change as a test needs."""
    target = tmp_path / "repo"
    shutil.copytree(REPO / "clusters", target / "clusters")
    return target


@pytest.fixture
def nemoguard_repo(tmp_path: Path) -> Path:
    """A repo of the example's NemoGuard pair alone (one cache, one service)."""
    target = tmp_path / "repo"
    shutil.copytree(REPO / "clusters" / "demo" / "nemoguard", target / "clusters" / "demo" / "nemoguard")
    return target


@pytest.fixture(autouse=True)
def no_ambient_cluster(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never reach a developer's real cluster: no KUBECONFIG, no ~/.kube/config, not in a pod."""
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked ``long`` first (a stable sort, the same order in every worker): handed out at the start,
    they run while the short ones fill the other workers, instead of one of them ending the suite alone."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The suite fails when `reconcile` (or `reconcile status`) made any request deploy/ RBAC does not allow.

    Every request any API test server saw during the run is checked, by its User-Agent: `doctor` and
    `install-crds` run with the user's own rights and are not part of deploy/.
    """
    from tests.apiserver import SEEN
    from tests.rbac import denied, deploy_rules, namespaced_rules, serve_rules

    ours = [r for r in SEEN if r.agent.endswith(("(reconcile)", "(status)", "(serve)"))]
    cluster_rules, state_rules = deploy_rules()
    cluster_rules += serve_rules()  # deploy/serve/rbac.yaml: watch on what serve watches
    # The run lock and the record live in the run's own namespace: the state Role's, bound there (the tests run
    # outside a pod, where that namespace is `default`, standing in for `nim-reconciler`). Other ConfigMaps (a
    # NIMCache's kept model manifest) are the ClusterRole's.
    own = ("/namespaces/default/configmaps", "/namespaces/nim-reconciler/configmaps")
    state = [r for r in ours if "/leases" in r.path or r.path.startswith(tuple(f"/api/v1{o}" for o in own))]
    refused = denied(cluster_rules + state_rules, [r for r in ours if r not in state], set())
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
