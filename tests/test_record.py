"""cluster/record.py: the revision record — what counts as "unchanged", its ConfigMap, and writes that race."""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path

import pytest

from reconciler.cluster import record
from reconciler.cluster.kube import Cluster
from reconciler.options import ClusterConfig
from reconciler.plan.ownership import Inventory
from reconciler.refs import ObjRef

from .apiserver import ApiServer


def _run(result: str, revision: str = "abc", digest: str = "d1", waiting: int = 0) -> record.Run:
    return record.Run(revision, digest, "2026-12-01T10:00:00Z", result, 1.0, {"created": 1, "waiting": waiting})


@pytest.mark.parametrize(
    ("history", "revision", "digest", "unchanged", "settled"),
    [
        ((), "abc", "d1", False, False),  # no run yet
        ((_run("applied"),), "abc", "d1", True, True),
        ((_run("applied"),), "def", "d1", False, True),  # a new commit
        ((_run("applied"),), "abc", "d2", False, True),  # the same commit renders differently (new templates)
        ((_run("failed"), _run("applied")), "abc", "d1", True, True),  # a failed run is not the last good one
        ((_run("blocked"),), "abc", "d1", False, False),
        ((_run("drift-healed"),), "abc", "d1", True, True),
        ((_run("applied", waiting=2),), "abc", "d1", True, False),  # caches were still downloading
        ((_run("applied", revision=""),), None, "d1", True, True),  # a plain directory has no revision
    ],
)
def test_unchanged_and_settled(
    history: tuple[record.Run, ...], revision: str | None, digest: str, unchanged: bool, settled: bool
) -> None:
    found = record.Record(history)
    assert found.unchanged(revision, digest) is unchanged
    assert found.settled is settled


def test_the_digest_depends_on_every_object_and_stamp_but_not_on_order() -> None:
    a, b = (ObjRef("Service", "ns", "a"), "h1"), (ObjRef("Service", "ns", "b"), "h2")
    assert record.digest([a, b]) == record.digest([b, a])
    assert record.digest([a, b]) != record.digest([a, (b[0], "h3")])
    assert record.digest([a]) != record.digest([a, b])


def test_the_configmap_shows_the_last_run_first_and_keeps_the_history() -> None:
    held = record.Record((_run("failed", revision="new"), _run("applied", revision="old")))
    body = record.body("nim-reconciler", "prod", held)
    data = body["data"]
    assert body["metadata"]["name"] == "nim-reconciler-prod"
    assert body["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "nim-reconciler",
        "nim-reconciler/cluster": "prod",
    }
    assert (data["lastAttemptedRevision"], data["lastAppliedRevision"], data["lastResult"]) == ("new", "old", "failed")
    assert [r["revision"] for r in json.loads(data["history"])] == ["new", "old"]


@pytest.mark.parametrize("history", ["not json", "[1, 2]", '{"a": 1}', '[{"revision": "x"}]'])
def test_a_hand_edited_history_counts_as_none(history: str) -> None:
    parsed = record.parse({"metadata": {"resourceVersion": "7"}, "data": {"history": history}})
    assert parsed.history == () and parsed.resource_version == "7"


def test_writes_keep_the_last_ten_runs_and_a_racing_writer_is_retried_once(tmp_path: Path) -> None:
    with ApiServer(tmp_path) as api:
        cluster = Cluster(ClusterConfig(kubeconfig=(str(api.kubeconfig),)))
        stored = record.Record()
        for number in range(12):
            stored = record.write(cluster, "default", "demo", stored, _run("applied", revision=f"r{number}"))
        assert len(stored.history) == record.KEEP and stored.history[0].revision == "r11"
        stale = record.Record(stored.history[1:], "1")  # read before another run wrote: a conflict, then a re-read
        after = record.write(cluster, "default", "demo", stale, _run("applied", revision="late"))
        assert [r.revision for r in after.history[:2]] == ["late", "r11"]
        cluster.close()


def _inventory(count: int) -> Inventory:
    rng = random.Random(3)
    refs = [ObjRef("Deployment", f"team-{i % 20:02d}", f"svc-{i:05d}") for i in range(count)]
    return Inventory({ref: str(uuid.UUID(int=rng.getrandbits(128))) for ref in refs})


def test_the_inventory_of_ten_thousand_manifests_is_stored_under_the_api_servers_1_mib(tmp_path: Path) -> None:
    # 5,000 NIMCache + NIMService pairs render ~38,000 objects: as base64 text under `data` their inventory was
    # 1.25 MiB and kube-apiserver refused the record; in binaryData it counts decoded.
    inventory = _inventory(38_000)
    with ApiServer(tmp_path) as api:
        cluster = Cluster(ClusterConfig(kubeconfig=(str(api.kubeconfig),)))
        stored = record.write(cluster, "default", "demo", record.Record(), _run("applied"), inventory)
        assert stored.inventory == inventory
        assert record.read(cluster, "default", "demo").inventory == inventory
        cluster.close()


def test_a_record_written_before_binary_data_is_still_read() -> None:
    inventory = _inventory(3)
    old = {"metadata": {"resourceVersion": "4"}, "data": {"history": "[]", "inventory": record.encode(inventory)}}
    assert record.parse(old).inventory == inventory
    assert "binaryData" in record.body("default", "demo", record.parse(old))  # the next write moves it
