"""The test API server's watch, as kube-apiserver serves it, driven by the official client's ``watch.Watch``;
and serve's watches (``cluster/watch.py``) over it: resumed from the last version, listed again on 410 Gone."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch
from kubernetes.client.exceptions import ApiException

from reconciler.cluster import kube, watch
from reconciler.options import ClusterConfig

from .apiserver import ApiServer
from .serving import wait_for


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiServer]:
    with ApiServer(tmp_path, namespaces=("nim",)) as server:
        yield server


@pytest.fixture
def core(api: ApiServer) -> k8s.CoreV1Api:
    return k8s.CoreV1Api(k8s_config.new_client_from_config(config_file=str(api.kubeconfig)))


def claim(name: str, **labels: str) -> dict[str, Any]:
    spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": "nim", "labels": labels}, "spec": spec}  # fmt: skip


def events(core: k8s.CoreV1Api, **kwargs: Any) -> list[tuple[str, str, str]]:
    """(type, name, resourceVersion) of every event until the server ends the watch."""
    stream = k8s_watch.Watch().stream(core.list_namespaced_persistent_volume_claim, "nim", **kwargs)
    return [(e["type"], e["object"].metadata.name, e["object"].metadata.resource_version) for e in stream]


def test_a_watch_from_a_list_sees_every_later_change_in_order(core: k8s.CoreV1Api) -> None:
    core.create_namespaced_persistent_volume_claim("nim", claim("a", team="x"))
    start = core.list_namespaced_persistent_volume_claim("nim").metadata.resource_version
    core.patch_namespaced_persistent_volume_claim("a", "nim", {"metadata": {"labels": {"team": "x", "v": "2"}}})
    core.create_namespaced_persistent_volume_claim("nim", claim("b", team="x"))
    core.delete_namespaced_persistent_volume_claim("a", "nim")
    seen = events(core, resource_version=start, timeout_seconds=1)
    assert [(t, n) for t, n, _ in seen] == [("MODIFIED", "a"), ("ADDED", "b"), ("DELETED", "a")]
    versions = [int(v) for _, _, v in seen]
    assert versions == sorted(versions) and versions[0] > int(start), "each at its own, newer resourceVersion"


def test_without_a_version_a_watch_starts_with_what_exists(core: k8s.CoreV1Api) -> None:
    core.create_namespaced_persistent_volume_claim("nim", claim("a"))
    core.create_namespaced_persistent_volume_claim("nim", claim("b"))
    assert [(t, n) for t, n, _ in events(core, timeout_seconds=1)] == [("ADDED", "a"), ("ADDED", "b")]


def test_a_label_selector_filters_both_sides_of_a_change(core: k8s.CoreV1Api) -> None:
    core.create_namespaced_persistent_volume_claim("nim", claim("a", team="x"))
    core.create_namespaced_persistent_volume_claim("nim", claim("b", team="y"))
    start = core.list_namespaced_persistent_volume_claim("nim").metadata.resource_version
    core.patch_namespaced_persistent_volume_claim("a", "nim", {"metadata": {"labels": {"team": "y"}}})
    core.patch_namespaced_persistent_volume_claim("b", "nim", {"metadata": {"labels": {"team": "x"}}})
    seen = events(core, resource_version=start, label_selector="team=x", timeout_seconds=1)
    # a stopped matching: gone for this watcher; b started matching: new to it
    assert [(t, n) for t, n, _ in seen] == [("DELETED", "a"), ("ADDED", "b")]


def test_a_compacted_version_is_410_gone(api: ApiServer, core: k8s.CoreV1Api) -> None:
    core.create_namespaced_persistent_volume_claim("nim", claim("a"))
    old = core.list_namespaced_persistent_volume_claim("nim").metadata.resource_version
    core.patch_namespaced_persistent_volume_claim("a", "nim", {"metadata": {"labels": {"v": "2"}}})
    api.store.compact()
    with pytest.raises(ApiException) as raised:
        events(core, resource_version=old, timeout_seconds=1)
    assert raised.value.status == 410 and "too old resource version" in str(raised.value)


def test_timeout_seconds_ends_the_watch_it_kept_open(core: k8s.CoreV1Api) -> None:
    seen: list[tuple[str, str, str]] = []
    watching = threading.Thread(target=lambda: seen.extend(events(core, resource_version="0", timeout_seconds=2)))
    watching.start()
    core.create_namespaced_persistent_volume_claim("nim", claim("late"))  # made while the watch is open
    watching.join(timeout=30)  # the server ends it: no event closes a watch by itself
    assert not watching.is_alive() and [(t, n) for t, n, _ in seen] == [("ADDED", "late")]


def test_serves_watches_resume_relist_after_gone_and_say_when_the_server_is_away(tmp_path: Path) -> None:
    api = ApiServer(tmp_path, namespaces=("nim",)).__enter__()
    try:
        cluster = kube.Cluster(ClusterConfig(kubeconfig=(str(api.kubeconfig),), attempts=1, agent="serve"))
        seen: list[watch.Seen] = []
        lock = threading.Lock()

        def notify(item: watch.Seen) -> None:
            with lock:
                seen.append(item)

        watches = watch.Watches(cluster, "demo", notify, seconds=1).start()
        ours = {"app.kubernetes.io/managed-by": "nim-reconciler", "nim-reconciler/cluster": "demo"}
        pvcs = api.store.resource("", "v1", "persistentvolumeclaims")
        assert pvcs is not None
        time.sleep(0.5)
        owner = {"app.kubernetes.io/name": "llama", "app.kubernetes.io/part-of": "nim-cache"}
        api.store.create(pvcs, "nim", claim("c", **ours, **owner), "x", False)
        api.store.create(pvcs, "nim", claim("not-ours"), "x", False)
        wait_for(lambda: any(s.ref.name == "c" for s in seen))
        first = next(s for s in seen if s.ref.name == "c")
        assert (first.type, str(first.resource)) == ("ADDED", "NIMCache/nim/llama") and not first.ours()
        assert not any(s.ref.name == "not-ours" for s in seen), "the label selector keeps others' objects out"
        assert [o["metadata"]["name"] for o in watches.objects("PersistentVolumeClaim")] == ["c"]

        api.store.compact()  # the next watch, from the last version, is 410 Gone: list again
        wait_for(lambda: watches.relists >= 1, 10)
        assert any(s.type == watch.RELISTED for s in seen) and watches.healthy()

        api.__exit__(None, None, None)
        wait_for(lambda: not watches.healthy(), 10)
        watches.stop()
    finally:
        api.__exit__(None, None, None)
