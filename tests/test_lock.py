"""cluster/lock.py: one run at a time per cluster, through a Lease on the API test server."""

from __future__ import annotations

import datetime
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconciler.cli.main import main
from reconciler.cluster import lock
from reconciler.cluster.kube import Cluster
from reconciler.options import ClusterConfig

from .apiserver import ApiServer, Fault
from .helpers import REPO


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiServer]:
    with ApiServer(tmp_path, namespaces=("nemoguard",)) as server:
        yield server


@pytest.fixture
def cluster(api: ApiServer) -> Cluster:
    return Cluster(ClusterConfig(kubeconfig=(str(api.kubeconfig),)))


def config(identity: str, wait: float = 0.0) -> lock.LockConfig:
    return lock.LockConfig("nim-reconciler-demo", "default", identity, wait)


def test_the_first_run_holds_the_lock_and_a_second_is_told_who_holds_it(cluster: Cluster) -> None:
    held = lock.acquire(cluster, config("run-a"))
    assert isinstance(held, lock.Held) and held.lease["spec"]["holderIdentity"] == "run-a"
    busy = lock.acquire(cluster, config("run-b"))
    assert isinstance(busy, lock.Busy) and busy.holder == "run-a" and busy.since


def test_a_released_lock_is_taken_by_the_next_run(cluster: Cluster) -> None:
    held = lock.acquire(cluster, config("run-a"))
    assert isinstance(held, lock.Held)
    lock.release(cluster, held)
    again = lock.acquire(cluster, config("run-b"))
    assert isinstance(again, lock.Held) and again.lease["spec"]["leaseTransitions"] == 1


def test_an_expired_lease_is_taken_over(cluster: Cluster) -> None:
    assert isinstance(lock.acquire(cluster, config("crashed-run")), lock.Held)
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=lock.DURATION + 1)
    taken = lock.acquire(cluster, config("run-b"), clock=lambda: later)
    assert isinstance(taken, lock.Held) and taken.lease["spec"]["holderIdentity"] == "run-b"


def test_waiting_for_the_lock_gets_it_once_released(cluster: Cluster) -> None:
    held = lock.acquire(cluster, config("run-a"))
    assert isinstance(held, lock.Held)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:  # the other run finishes while we wait
        sleeps.append(seconds)
        lock.release(cluster, held)

    got = lock.acquire(cluster, config("run-b", wait=30), sleep=sleep)
    assert isinstance(got, lock.Held) and len(sleeps) == 1


def test_renew_moves_the_renew_time(cluster: Cluster) -> None:
    held = lock.acquire(cluster, config("run-a"))
    assert isinstance(held, lock.Held)
    before = held.lease["spec"]["renewTime"]
    lock.renew(cluster, held)
    assert held.lease["spec"]["renewTime"] >= before


def test_two_runs_at_once_the_second_exits_0_and_writes_nothing(
    api: ApiServer, cluster: Cluster, tmp_path: Path
) -> None:
    CliRunner().invoke(main, ["install-crds", "--kubeconfig", str(api.kubeconfig)])
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "clusters" / "demo" / "nemoguard", repo / "clusters" / "demo" / "nemoguard")
    other = lock.acquire(cluster, config("other-host-42"))  # a run in progress elsewhere
    assert isinstance(other, lock.Held)
    before = len(api.writes())
    result = CliRunner().invoke(main, ["--repo", str(repo), "--kubeconfig", str(api.kubeconfig)])
    assert result.exit_code == 0
    assert "is being reconciled by other-host-42" in result.output and "--lock-wait" in result.output
    assert api.writes()[before:] == []
    lock.release(cluster, other)
    result = CliRunner().invoke(main, ["--repo", str(repo), "--kubeconfig", str(api.kubeconfig)])
    assert result.exit_code == 0 and "created" in result.output
    lease: Any = next(v for k, v in api.store.objects.items() if k[0] == "leases")
    assert "holderIdentity" not in lease["spec"]  # released at the end of the run


def test_the_lease_is_short_and_renewed_while_a_run_holds_it(cluster: Cluster) -> None:
    held = lock.acquire(cluster, config("run-a"))
    assert isinstance(held, lock.Held) and held.lease["spec"]["leaseDurationSeconds"] == 60
    first = held.lease["spec"]["renewTime"]
    renewer = lock.Renewer(cluster, held, every=0.05).start()
    deadline = time.monotonic() + 5
    while held.lease["spec"]["renewTime"] == first and time.monotonic() < deadline:
        time.sleep(0.02)
    renewer.stop()
    assert held.lease["spec"]["renewTime"] > first and not renewer.lost.is_set()


def test_a_lease_that_cannot_be_renewed_is_lost(api: ApiServer, cluster: Cluster) -> None:
    held = lock.acquire(cluster, config("run-a"))
    assert isinstance(held, lock.Held)
    res = api.store.resource("coordination.k8s.io", "v1", "leases")
    assert res is not None  # another run took it over meanwhile: our next PUT is at a stale version
    api.store.merge_patch(res, "default", "nim-reconciler-demo", {"spec": {"holderIdentity": "run-b"}}, "x", False)
    renewer = lock.Renewer(cluster, held, every=0.02).start()
    assert renewer.lost.wait(5)
    renewer.stop()


def test_a_skipped_run_says_so_in_json(api: ApiServer, cluster: Cluster, tmp_path: Path) -> None:
    CliRunner().invoke(main, ["install-crds", "--kubeconfig", str(api.kubeconfig)])
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "clusters" / "demo" / "nemoguard", repo / "clusters" / "demo" / "nemoguard")
    assert isinstance(lock.acquire(cluster, config("other-host-42")), lock.Held)
    result = CliRunner().invoke(main, ["--repo", str(repo), "--kubeconfig", str(api.kubeconfig), "-o", "json"])
    body = json.loads(result.output)
    assert result.exit_code == 0 and body["result"] == "skipped" and "other-host-42" in body["notice"]


def test_a_skipped_run_says_so_in_its_metrics(api: ApiServer, cluster: Cluster, tmp_path: Path) -> None:
    CliRunner().invoke(main, ["install-crds", "--kubeconfig", str(api.kubeconfig)])
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "clusters" / "demo" / "nemoguard", repo / "clusters" / "demo" / "nemoguard")
    assert isinstance(lock.acquire(cluster, config("other-host-42")), lock.Held)
    metrics = tmp_path / "nim.prom"
    args = ["--repo", str(repo), "--kubeconfig", str(api.kubeconfig), "--metrics-file", str(metrics)]
    assert CliRunner().invoke(main, args).exit_code == 0
    assert 'nim_reconciler_reconcile_total{cluster="demo",result="skipped"} 1' in metrics.read_text()


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_a_lock_write_whose_answer_was_lost_is_still_ours(api: ApiServer, cluster: Cluster, method: str) -> None:
    # The write lands, its answer never arrives, the client retries and gets 409: the Lease names us — ours.
    if method == "PUT":
        first = lock.acquire(cluster, config("run-a"))
        assert isinstance(first, lock.Held)
        lock.release(cluster, first)
    api.faults.add(Fault(method=method, path="/leases", lost=True))
    seen = len(api.faults.pending)
    held = lock.acquire(cluster, config("run-b"))
    assert isinstance(held, lock.Held), held
    assert api.faults.pending[seen - 1].times == 0  # the answer was lost indeed
    lock.release(cluster, held)  # and it can be released, so the next run is not kept out for 5 minutes
    assert isinstance(lock.acquire(cluster, config("run-c")), lock.Held)
