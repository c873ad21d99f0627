"""Never touch what is not ours: the inventory, no silent adoption, prune only what we created.

Scenarios against the API test server, where other managers' objects exist as they would in a real cluster
(Helm's, a hand-made one carrying our labels); the pure rules as tables.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.cluster import record
from reconciler.plan.ownership import Inventory, foreign
from reconciler.refs import ObjRef

from .apiserver import ApiServer
from .helpers import DEMO_NAMESPACES, REPO, complete_jobs, install, kubelet, live, run

HELM = {"app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/instance": "billing"}
OURS = {"app.kubernetes.io/managed-by": "nim-reconciler", "nim-reconciler/cluster": "demo"}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiServer]:
    with ApiServer(tmp_path, namespaces=(*DEMO_NAMESPACES, "team-a", "team-b")) as server:
        yield server


def _billing(repo: Path, adopt: bool = False) -> Path:
    """A NIMCache + NIMService `billing` for team-a: the names Helm already uses there."""
    docs = list(yaml.safe_load_all((REPO / "clusters/demo/nemoguard/content-safety.yaml").read_text()))
    for doc in docs:
        doc["metadata"]["namespace"] = "team-a"
    docs[1]["metadata"]["name"] = "billing"
    if adopt:
        docs[1]["metadata"]["annotations"] = {"nim-reconciler/adopt": "true"}
    path = repo / "clusters" / "demo" / "team-a" / "billing.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def _create(api: ApiServer, group: str, plural: str, namespace: str, body: dict[str, Any], manager: str) -> None:
    version = "v1"
    res = api.store.resource(group, version, plural)
    assert res is not None
    api.store.create(res, namespace, body, manager, False)


def _helm_objects(api: ApiServer) -> None:
    for kind, plural in (("ServiceAccount", "serviceaccounts"), ("Service", "services")):
        body = {"apiVersion": "v1", "kind": kind, "metadata": {"name": "billing", "labels": dict(HELM)}}
        if kind == "Service":
            body["spec"] = {"selector": {"app": "billing"}, "ports": [{"port": 80}]}
        _create(api, "", plural, "team-a", body, "helm")


def _stored(api: ApiServer, plural: str, namespace: str, name: str) -> dict[str, Any]:
    return api.store.objects[(plural, namespace, name)]


def test_adoption_guard_objects_another_manager_made_are_not_taken_over(api: ApiServer, repo: Path) -> None:
    install(api)
    _helm_objects(api)
    helm_sa = json.dumps(_stored(api, "serviceaccounts", "team-a", "billing"), sort_keys=True)
    _billing(repo)
    code, out = run(api, repo)
    assert code == 3, out
    assert "► ServiceAccount/team-a/billing blocked (exists and is not ours: managed by Helm; adopt it with" in out
    assert "► Service/team-a/billing blocked (exists and is not ours: managed by Helm;" in out
    assert "► NIMService/team-a/billing blocked (held: ServiceAccount/team-a/billing is not ours)" in out
    assert json.dumps(_stored(api, "serviceaccounts", "team-a", "billing"), sort_keys=True) == helm_sa
    assert ("nimservices", "team-a", "billing") not in api.store.objects  # nothing of that resource is written
    assert ("deployments", "team-a", "billing") not in api.store.objects
    assert ("nimcaches", "team-a", "content-safety-cache") in api.store.objects  # the rest of the repo is applied
    assert not [r for r in api.writes() if r.path.endswith(("/serviceaccounts/billing", "/services/billing"))]


def test_adoption_guard_the_adopt_annotation_takes_them_over_and_says_so(api: ApiServer, repo: Path) -> None:
    install(api)
    _helm_objects(api)
    _billing(repo, adopt=True)
    code, out = run(api, repo)
    assert code == 0, out
    assert "► ServiceAccount/team-a/billing configured (adopted from Helm)" in out
    sa = _stored(api, "serviceaccounts", "team-a", "billing")
    assert sa["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "nim-reconciler"
    assert sa["metadata"]["ownerReferences"][0]["kind"] == "NIMService"
    # Helm's fields are taken over, not left beside ours: its unnamed port 80 would make the Service invalid
    # (two ports, one without a name) on a real cluster
    service = _stored(api, "services", "team-a", "billing")
    assert [p["port"] for p in service["spec"]["ports"]] == [8000]
    assert {f["manager"] for f in service["metadata"]["managedFields"] if not f.get("subresource")} == {
        "nim-reconciler"
    }
    complete_jobs(api)
    assert run(api, repo)[0] == 0
    (repo / "clusters/demo/team-a/billing.yaml").unlink()  # adopted, so ours: it is pruned with its service
    code, out = run(api, repo)
    assert code == 0 and "► ServiceAccount/team-a/billing pruned" in out, out


def test_adoption_guard_the_adopt_flag_takes_over_for_every_resource(api: ApiServer, repo: Path) -> None:
    install(api)
    _helm_objects(api)
    _billing(repo)
    code, out = run(api, repo, "--adopt")
    assert code == 0 and "► Service/team-a/billing configured (adopted from Helm)" in out, out


def test_adoption_guard_a_dry_run_shows_the_refusal_before_anything_is_written(api: ApiServer, repo: Path) -> None:
    install(api)
    _helm_objects(api)
    _billing(repo)
    before = len(api.writes())
    code, out = run(api, repo, "--dry-run")
    assert code == 3 and "► ServiceAccount/team-a/billing blocked (exists and is not ours" in out
    assert len(api.writes()) == before


def test_prune_guard_an_object_that_only_carries_our_labels_is_left_alone(api: ApiServer, repo: Path) -> None:
    install(api)
    assert run(api, repo)[0] == 0
    stranger = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "stranger", "labels": dict(OURS)},
        "spec": {
            "selector": {"matchLabels": {"app": "stranger"}},
            "template": {
                "metadata": {"labels": {"app": "stranger"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
        },
    }
    _create(api, "apps", "deployments", "team-b", stranger, "kubectl-create")
    code, out = run(api, repo)
    assert code == 0, out
    assert "► Deployment/team-b/stranger skipped (not ours, left alone: managed by" in out
    assert ("deployments", "team-b", "stranger") in api.store.objects
    assert not [r for r in api.requests if r.method == "DELETE"]


def test_prune_guard_an_object_made_again_by_someone_else_is_not_ours(api: ApiServer, repo: Path) -> None:
    # Same name, our labels, our owner: but not the object our run created (its uid differs).
    install(api)
    assert run(api, repo)[0] == 0
    sa = dict(_stored(api, "serviceaccounts", "nemoguard", "content-safety"))
    res = api.store.resource("", "v1", "serviceaccounts")
    assert res is not None
    api.store.delete(res, "nemoguard", "content-safety", "Background", False)
    remade = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {k: sa["metadata"][k] for k in ("name", "labels")},
    }
    remade["metadata"]["ownerReferences"] = sa["metadata"]["ownerReferences"]
    _create(api, "", "serviceaccounts", "nemoguard", remade, "someone")
    code, out = run(api, repo)
    assert code == 3 and "► ServiceAccount/nemoguard/content-safety blocked (exists and is not ours" in out, out


def test_the_inventory_is_recorded_and_rebuilt_for_a_cluster_that_has_none(api: ApiServer, repo: Path) -> None:
    install(api)
    assert run(api, repo)[0] == 0
    kubelet(api)
    assert run(api, repo)[0] == 0  # the caching Jobs and the kept manifests made, the probe Pods gone
    configmap = live(api, "ConfigMap", "default")["nim-reconciler-demo"]
    stored = record.decode(configmap["binaryData"]["inventory"])
    assert stored is not None
    cache = _stored(api, "nimcaches", "nemoguard", "content-safety-cache")
    assert stored.uids[ObjRef("NIMCache", "nemoguard", "content-safety-cache")] == cache["metadata"]["uid"]
    assert len(stored.uids) == 39 - 2  # every object created; the two Deployments wait for their caches
    # An older nim-reconciler wrote no inventory: the next run rebuilds it from the owner references.
    res = api.store.resource("", "v1", "configmaps")
    assert res is not None
    api.store.merge_patch(res, "default", "nim-reconciler-demo", {"binaryData": {"inventory": None}}, "tester", False)
    complete_jobs(api)
    code, out = run(api, repo)
    assert code == 0 and "2 created" in out and "blocked" not in out.replace("0 blocked", ""), out
    again = record.decode(live(api, "ConfigMap", "default")["nim-reconciler-demo"]["binaryData"]["inventory"])
    assert again is not None and len(again.uids) == 39


def test_ten_thousand_objects_fit_in_the_record() -> None:
    rng = random.Random(7)
    uids = {
        ObjRef(kind, f"team-{i % 50}", f"model-{i}"): str(uuid.UUID(int=rng.getrandbits(128)))
        for i in range(1250)
        for kind in (
            "NIMCache",
            "PersistentVolumeClaim",
            "Job",
            "NIMService",
            "ServiceAccount",
            "Service",
            "Deployment",
            "HorizontalPodAutoscaler",
        )
    }
    inventory = Inventory(uids)
    text = record.encode(inventory)
    assert len(uids) == 10_000 and len(text) < 400 * 1024  # well under a ConfigMap's 1 MiB
    assert record.decode(text) == inventory


@pytest.mark.parametrize("text", ["", "not base64!", "aGVsbG8=", None, 7])
def test_an_unreadable_inventory_counts_as_none(text: object) -> None:
    assert record.decode(text) is None


CACHE = ObjRef("NIMCache", "ns", "c")
PVC = ObjRef("PersistentVolumeClaim", "ns", "c-pvc")


def _obj(uid: str, labels: dict[str, str] | None = None, controller: str = "") -> dict[str, Any]:
    meta: dict[str, Any] = {"uid": uid, "labels": OURS if labels is None else labels}
    if controller:
        meta["ownerReferences"] = [{"kind": "NIMCache", "name": "c", "uid": controller, "controller": True}]
    return {"metadata": meta}


LIVE_CACHE = _obj("cache-uid")


@pytest.mark.parametrize(
    ("ref", "body", "inventory", "who"),
    [
        (PVC, _obj("pvc-uid", controller="cache-uid"), {PVC: "pvc-uid"}, ""),
        (PVC, _obj("pvc-uid", labels=HELM), {PVC: "pvc-uid"}, "Helm"),  # labels changed to another manager's
        (PVC, _obj("pvc-uid", controller="cache-uid"), {}, "(it carries our labels, but no run of ours created it)"),
        (PVC, _obj("other", controller="cache-uid"), {PVC: "pvc-uid"}, "no run of ours created it"),  # made again
        (PVC, _obj("pvc-uid"), {PVC: "pvc-uid"}, "(its controller is not one of our custom resources)"),
        (PVC, _obj("pvc-uid", controller="elsewhere"), {PVC: "pvc-uid"}, "its controller is not one of our"),
        (CACHE, LIVE_CACHE, {CACHE: "cache-uid"}, ""),
    ],
)
def test_foreign(ref: ObjRef, body: dict[str, Any], inventory: dict[ObjRef, str], who: str) -> None:
    found = foreign(ref, body, Inventory(inventory), {CACHE: LIVE_CACHE, ref: body})
    assert (who in found and found) if who else found == ""


def test_bootstrap_takes_our_resources_and_the_children_they_control() -> None:
    live = {
        CACHE: LIVE_CACHE,
        PVC: _obj("pvc-uid", controller="cache-uid"),
        ObjRef("Job", "ns", "hand-made"): _obj("job-uid"),
        ObjRef("Job", "ns", "orphan"): _obj("orphan-uid", controller="gone"),
    }
    assert Inventory.bootstrap(live).uids == {CACHE: "cache-uid", PVC: "pvc-uid"}
