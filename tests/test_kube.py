"""cluster/kube.py: the retries and backoff of the Kubernetes seam, against the API test server's faults.

Real HTTP, the official client, no patching: the server fails requests on demand and counts what it saw.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from reconciler.cluster.kube import Cluster
from reconciler.errors import ClusterError, Conflict, Invalid, NotFound, Unavailable
from reconciler.kinds import BY_KIND
from reconciler.options import ClusterConfig

from .apiserver import ApiServer, Fault
from .helpers import forward_proxy

PVCS = BY_KIND["PersistentVolumeClaim"]
SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "default"}, "spec": {}}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ApiServer]:
    with ApiServer(tmp_path) as api:
        yield api


def _cluster(api: ApiServer, **config: float) -> Cluster:
    """A client of the seam itself (its own User-Agent: these requests are not a `reconcile` run's)."""
    settings: dict[str, float] = {"backoff": 0.001, "timeout": 5.0} | config
    return Cluster(ClusterConfig(kubeconfig=(str(api.kubeconfig),), agent="kube-test", **settings))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fault", "requests", "answered"),
    [
        (Fault(method="GET", status=503, times=2), 3, 3),  # 5xx: retried
        (Fault(method="GET", status=500, times=1), 2, 2),
        (Fault(method="GET", status=429, retry_after=0, times=3), 4, 4),  # too many requests: after Retry-After
        (Fault(method="GET", drop=True, times=2), 3, 1),  # a dropped connection (never answered): retried
    ],
)
def test_transient_failures_are_retried_until_an_answer(
    server: ApiServer, fault: Fault, requests: int, answered: int
) -> None:
    cluster = _cluster(server)
    server.faults.add(fault)
    assert cluster.list(PVCS, "x=y") == []
    assert cluster.requests == requests
    assert len([r for r in server.requests if r.method == "GET"]) == answered


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, ClusterError), (403, ClusterError), (409, Conflict), (422, Invalid)],
)
def test_a_refusal_is_not_retried(server: ApiServer, status: int, error: type[ClusterError]) -> None:
    cluster = _cluster(server)
    server.faults.add(Fault(method="PATCH", status=status, times=5))
    with pytest.raises(error) as raised:
        cluster.apply(BY_KIND["Service"], SERVICE)
    assert cluster.requests == 1
    assert str(raised.value).startswith("Service/default/s: ") and f"({status})" in str(raised.value)


def test_retries_are_bounded_and_say_how_many_were_made(server: ApiServer) -> None:
    cluster = _cluster(server, attempts=4)
    server.faults.add(Fault(method="GET", status=503, times=10))
    with pytest.raises(Unavailable, match="gave up after 4 attempts"):
        cluster.list(PVCS, "x=y")
    assert cluster.requests == 4


def test_a_request_that_times_out_is_retried(server: ApiServer) -> None:
    cluster = _cluster(server, timeout=0.3)
    server.faults.add(Fault(method="GET", delay=1.0, times=1))
    assert cluster.list(PVCS, "x=y") == []
    assert cluster.requests == 2  # the first timed out after 0.3 s, the second answered


def test_the_total_wait_is_bounded_by_max_wait(server: ApiServer) -> None:
    # A Retry-After longer than what is left of max_wait ends the retries at once instead of sleeping.
    cluster = _cluster(server, max_wait=1.0)
    server.faults.add(Fault(method="GET", status=429, retry_after=30, times=5))
    with pytest.raises(Unavailable, match="gave up"):
        cluster.list(PVCS, "x=y")
    assert cluster.requests == 1


def test_not_found_is_none_for_a_get_and_nothing_for_a_delete(server: ApiServer) -> None:
    cluster = _cluster(server)
    assert cluster.get(PVCS, "default", "missing") is None
    cluster.delete(PVCS, "default", "missing")
    with pytest.raises(NotFound):
        cluster.patch(PVCS, "default", "missing", {"metadata": {"labels": {"a": "b"}}})
    assert cluster.requests == 3


PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy",
                   "NO_PROXY")  # fmt: skip


@pytest.mark.parametrize(
    ("environment", "in_kubeconfig", "proxied"),
    [
        ({"HTTP_PROXY": "http://127.0.0.1:{port}"}, False, True),  # the environment's proxy, as kubectl uses it
        ({"http_proxy": "http://127.0.0.1:{port}", "no_proxy": "127.0.0.1"}, False, False),  # NO_PROXY: direct
        ({}, True, True),  # the kubeconfig cluster's proxy-url
        ({}, False, False),
    ],
)
def test_every_request_goes_through_the_proxy_the_environment_or_kubeconfig_names(
    server: ApiServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
    in_kubeconfig: bool,
    proxied: bool,
) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with forward_proxy() as (port, seen):
        for name, value in environment.items():
            monkeypatch.setenv(name, value.format(port=port))
        config = yaml.safe_load(server.kubeconfig.read_text())
        if in_kubeconfig:
            config["clusters"][0]["cluster"]["proxy-url"] = f"http://127.0.0.1:{port}"
        kubeconfig = tmp_path / "proxied-kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(config))
        cluster = Cluster(ClusterConfig(kubeconfig=(str(kubeconfig),), agent="kube-test", timeout=5.0))
        for _ in range(3):  # the token hook runs before each request: the proxy must hold for all of them
            assert cluster.list(PVCS, "x=y") == []
        config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}}
        cluster.apply(BY_KIND["ConfigMap"], config_map)
        cluster.close()
    answered = [r for r in server.requests if r.agent.startswith("nim-reconciler/")]
    assert len(answered) == 4  # the API server answered every one, proxied or not
    assert [method for method, _ in seen] == (["GET"] * 3 + ["PATCH"] if proxied else [])
    assert all(url.startswith(f"{server.url}/") for _, url in seen)
