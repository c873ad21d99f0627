"""The test API server behaves like kube-apiserver where nim-reconciler depends on it.

Each test names the kube-apiserver behaviour it reproduces, and drives the server with the official client.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient

from .apiserver import ApiServer, Fault, parse_selector
from .apiserver.admission import canonical_quantity


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiServer]:
    with ApiServer(tmp_path, namespaces=("nim",)) as server:
        yield server


@pytest.fixture
def dyn(api: ApiServer, tmp_path: Path) -> DynamicClient:
    client = k8s_config.new_client_from_config(config_file=str(api.kubeconfig))
    return DynamicClient(client, cache_file=str(tmp_path / "discovery.json"))


def pvc(name: str = "cache", size: str = "50Gi", **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": "nim", "labels": labels or {"app": name}},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}},
    }


def job(image: str = "nvcr.io/nim/x:1") -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "cache-job", "namespace": "nim"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": image}]}}},
    }


def deployment(env: list[dict[str, str]], replicas: int | None = 1) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "d"}},
        "template": {
            "metadata": {"labels": {"app": "d"}},
            "spec": {
                "containers": [
                    {
                        "name": "main",
                        "image": "nvcr.io/nim/x:1",
                        "env": env,
                        "resources": {"limits": {"cpu": "4000m", "memory": "8192Mi"}},
                    }
                ]
            },
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "nim"}, "spec": spec}


def apply(
    dyn: DynamicClient, body: dict[str, Any], manager: str = "nim-reconciler", force: bool = True, **kw: Any
) -> Any:
    res = dyn.resources.get(api_version=body["apiVersion"], kind=body["kind"])
    return dyn.server_side_apply(res, body=body, field_manager=manager, force_conflicts=force, **kw)


def test_discovery_lists_groups_and_serves_custom_resources_only_while_their_crd_exists(
    dyn: DynamicClient, api: ApiServer
) -> None:
    assert dyn.resources.get(api_version="batch/v1", kind="Job").namespaced
    assert _status(api, "/apis/apps.nvidia.com/v1alpha1/nimcaches") == 404
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "nimcaches.apps.nvidia.com"},
        "spec": {
            "group": "apps.nvidia.com",
            "scope": "Namespaced",
            "names": {"kind": "NIMCache", "plural": "nimcaches"},
            "versions": [
                {
                    "name": "v1alpha1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    # apiextensions.k8s.io/v1 requires a schema (a structural one)
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
    }
    api.store.create(
        api.store.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions"),  # type: ignore[arg-type]
        "",
        crd,
        "test",
        False,
    )
    found = dyn.resources.get(api_version="apps.nvidia.com/v1alpha1", kind="NIMCache")
    assert found.name == "nimcaches"
    assert _status(api, "/apis/apps.nvidia.com/v1alpha1/nimcaches") == 200
    crds = api.store.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    api.store.delete(crds, "", "nimcaches.apps.nvidia.com", "Background", False)  # type: ignore[arg-type]
    assert _status(api, "/apis/apps.nvidia.com/v1alpha1/nimcaches") == 404  # discovery forgot it with its CRD


def _status(api: ApiServer, path: str) -> int:
    """The HTTP status of a plain GET of ``path`` (no client-side discovery cache in between)."""
    try:
        with urllib.request.urlopen(api.url + path) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return refused.code


def test_server_side_apply_creates_then_is_a_no_op_that_keeps_resource_version(dyn: DynamicClient) -> None:
    created = apply(dyn, pvc())
    again = apply(dyn, pvc())
    assert created.metadata.uid and created.metadata.creationTimestamp
    assert again.metadata.resourceVersion == created.metadata.resourceVersion
    assert [m.manager for m in again.metadata.managedFields] == ["nim-reconciler"]


def test_apply_requires_a_field_manager(api: ApiServer, dyn: DynamicClient) -> None:
    res = dyn.resources.get(api_version="v1", kind="PersistentVolumeClaim")
    with pytest.raises(ApiException) as info:
        dyn.patch(res, body=pvc(), name="cache", namespace="nim", content_type="application/apply-patch+yaml")
    assert info.value.status == 400 and "fieldManager" in info.value.body


def test_apply_conflict_with_another_manager_needs_force(dyn: DynamicClient) -> None:
    apply(dyn, deployment([], replicas=1), manager="kubectl")
    with pytest.raises(ApiException) as info:
        apply(dyn, deployment([], replicas=3), force=False)
    assert (
        info.value.status == 409
        and 'conflict with \\"kubectl' in info.value.body
        and ".spec.replicas" in info.value.body
    )
    taken = apply(dyn, deployment([], replicas=3)).to_dict()
    assert taken["spec"]["replicas"] == 3
    owners = {m["manager"]: m["fieldsV1"] for m in taken["metadata"]["managedFields"]}
    assert "f:replicas" in owners["nim-reconciler"]["f:spec"]
    assert "f:replicas" not in owners.get("kubectl", {}).get("f:spec", {})


def test_fields_a_manager_stops_applying_are_removed_and_keyed_lists_merge(dyn: DynamicClient) -> None:
    apply(dyn, deployment([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]))
    apply(dyn, deployment([{"name": "C", "value": "3"}]), manager="sidecar-injector")
    result = apply(dyn, deployment([{"name": "A", "value": "1"}]))
    env = result.spec.template.spec.containers[0].env
    assert [e.name for e in env] == ["A", "C"]  # B removed (ours, no longer applied), C kept (another manager's)


@pytest.mark.parametrize(
    ("data", "refused"),
    [
        ({"a": "x" * (1 << 20)}, False),  # exactly 1 MiB of values: allowed (the keys do not count)
        ({"a": "x" * (1 << 19), "b": "x" * ((1 << 19) + 1)}, True),  # 1 MiB + 1 byte over two keys
        ({"a": "é" * ((1 << 19) + 1)}, True),  # counted in UTF-8 bytes, not characters
    ],
)
def test_a_config_map_over_1_mib_is_refused_as_kube_apiserver_refuses_it(
    dyn: DynamicClient, data: dict[str, str], refused: bool
) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big", "namespace": "nim"}, "data": data}
    if not refused:
        assert apply(dyn, body).metadata.name == "big"
        return
    with pytest.raises(ApiException) as info:
        apply(dyn, body)
    assert info.value.status == 422
    assert "[]: Too long: must have at most 1048576 bytes" in json.loads(info.value.body)["message"]


def test_a_config_map_key_in_both_data_and_binary_data_is_refused(dyn: DynamicClient) -> None:
    meta = {"name": "both", "namespace": "nim"}
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "a"}, "binaryData": {"k": "YQ=="}}
    with pytest.raises(ApiException) as info:
        apply(dyn, body)
    assert info.value.status == 422 and "binaryData[k]" in json.loads(info.value.body)["message"]


def test_dry_run_all_persists_nothing(dyn: DynamicClient, api: ApiServer) -> None:
    apply(dyn, pvc(), dry_run="All")
    res = dyn.resources.get(api_version="v1", kind="PersistentVolumeClaim")
    with pytest.raises(ApiException) as info:
        dyn.get(res, name="cache", namespace="nim")
    assert info.value.status == 404 and '"reason": "NotFound"' in info.value.body


def test_list_with_label_selectors(dyn: DynamicClient) -> None:
    for name, tier in (("a", "gold"), ("b", "silver"), ("c", "bronze")):
        apply(dyn, pvc(name, tier=tier, team="x"))
    res = dyn.resources.get(api_version="v1", kind="PersistentVolumeClaim")

    def names(selector: str) -> list[str]:
        return sorted(i.metadata.name for i in dyn.get(res, label_selector=selector).items)

    assert names("tier=gold") == ["a"]
    assert names("tier!=gold") == ["b", "c"]
    assert names("tier in (gold,silver)") == ["a", "b"]
    assert names("tier notin (gold)") == ["b", "c"]
    assert names("team,tier=bronze") == ["c"]
    assert names("!team") == []


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("4000m", "4"),
        ("8192Mi", "8Gi"),
        ("1.5Gi", "1536Mi"),
        ("0.5", "500m"),
        ("1000", "1k"),
        ("100Mi", "100Mi"),
        ("2", "2"),
    ],
)
def test_quantities_are_canonicalised(written: str, canonical: str) -> None:
    assert canonical_quantity(written) == canonical


def test_defaulting_shows_in_responses(dyn: DynamicClient) -> None:
    made = apply(dyn, job()).to_dict()
    uid = made["metadata"]["uid"]
    assert made["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"] == uid
    assert made["spec"]["template"]["metadata"]["labels"]["controller-uid"] == uid
    container = made["spec"]["template"]["spec"]["containers"][0]
    assert (container["imagePullPolicy"], container["terminationMessagePath"]) == (
        "IfNotPresent",
        "/dev/termination-log",
    )
    deployed = apply(dyn, deployment([])).to_dict()
    assert (deployed["spec"]["revisionHistoryLimit"], deployed["spec"]["progressDeadlineSeconds"]) == (10, 600)
    assert deployed["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "4", "memory": "8Gi"}
    service = apply(
        dyn,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "s", "namespace": "nim"},
            "spec": {"ports": [{"name": "api", "port": 8000}]},
        },
    ).to_dict()
    assert service["spec"]["clusterIP"].startswith("10.96.") and service["spec"]["ports"][0]["targetPort"] == 8000


def test_job_pod_template_is_immutable(dyn: DynamicClient) -> None:
    apply(dyn, job("nvcr.io/nim/x:1"))
    with pytest.raises(ApiException) as info:
        apply(dyn, job("nvcr.io/nim/x:2"))
    assert info.value.status == 422 and "spec.template" in info.value.body and "immutable" in info.value.body


def test_pvc_spec_is_immutable_except_growing_storage(dyn: DynamicClient) -> None:
    apply(dyn, pvc(size="50Gi"))
    assert apply(dyn, pvc(size="100Gi")).spec.resources.requests["storage"] == "100Gi"
    with pytest.raises(ApiException) as shrink:
        apply(dyn, pvc(size="10Gi"))
    assert shrink.value.status == 422 and "less than previous value" in shrink.value.body
    changed = pvc(size="100Gi")
    changed["spec"]["accessModes"] = ["ReadWriteMany"]
    with pytest.raises(ApiException) as mode:
        apply(dyn, changed)
    assert mode.value.status == 422 and "immutable" in mode.value.body


def test_objects_need_their_namespace_to_exist(dyn: DynamicClient) -> None:
    missing = pvc()
    missing["metadata"]["namespace"] = "nowhere"
    res = dyn.resources.get(api_version="v1", kind="PersistentVolumeClaim")
    with pytest.raises(ApiException) as info:
        dyn.server_side_apply(res, body=missing, field_manager="nim-reconciler", force_conflicts=True)
    assert info.value.status == 404 and 'namespaces \\"nowhere\\" not found' in info.value.body


def test_invalid_names_are_422(dyn: DynamicClient) -> None:
    with pytest.raises(ApiException) as info:
        apply(dyn, pvc("Bad_Name"))
    assert info.value.status == 422 and '"reason": "Invalid"' in info.value.body


def test_create_twice_is_409_already_exists_and_stale_update_is_409_conflict(dyn: DynamicClient) -> None:
    res = dyn.resources.get(api_version="v1", kind="PersistentVolumeClaim")
    created = dyn.create(res, body=pvc(), namespace="nim")
    with pytest.raises(ApiException) as exists:
        dyn.create(res, body=pvc(), namespace="nim")
    assert exists.value.status == 409 and "AlreadyExists" in exists.value.body
    stale = pvc(size="60Gi")
    stale["metadata"]["resourceVersion"] = "1"
    with pytest.raises(ApiException) as conflict:
        dyn.replace(res, body=stale, namespace="nim")
    assert conflict.value.status == 409 and '"reason": "Conflict"' in conflict.value.body
    assert created.metadata.generation == 1


def test_generation_moves_on_spec_changes_only_and_status_subresource_is_separate(dyn: DynamicClient) -> None:
    res = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    first = apply(dyn, deployment([]))
    labelled = deployment([])
    labelled["metadata"]["labels"] = {"x": "y"}
    assert apply(dyn, labelled).metadata.generation == first.metadata.generation
    spec_changed = apply(dyn, {**labelled, "spec": {**labelled["spec"], "replicas": 2}})
    assert spec_changed.metadata.generation == first.metadata.generation + 1
    dyn.patch(
        res,
        name="d",
        namespace="nim",
        body={"status": {"readyReplicas": 2}},
        content_type="application/merge-patch+json",
    )
    assert not dyn.get(res, name="d", namespace="nim").status  # a spec write ignores status
    dyn.request(
        "PATCH",
        "/apis/apps/v1/namespaces/nim/deployments/d/status",
        body={
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "d", "namespace": "nim"},
            "status": {"readyReplicas": 2},
        },
        content_type="application/apply-patch+yaml",
        field_manager="controller",
        force=True,
    )
    live = dyn.get(res, name="d", namespace="nim")
    assert live.status.readyReplicas == 2 and live.spec.replicas == 2


def test_delete_cascades_to_dependents_unless_orphaned(dyn: DynamicClient) -> None:
    owner = apply(dyn, pvc("owner"))
    for name in ("child-a", "child-b"):
        child = pvc(name)
        child["metadata"]["ownerReferences"] = [
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "name": "owner",
                "uid": owner.metadata.uid,
                "controller": True,
            }
        ]
        apply(dyn, child)
    res = dyn.resources.get(api_version="v1", kind="PersistentVolumeClaim")
    dyn.delete(res, name="owner", namespace="nim", propagation_policy="Background")
    assert [i.metadata.name for i in dyn.get(res, namespace="nim").items] == []
    owner = apply(dyn, pvc("owner"))
    child = pvc("child-a")
    child["metadata"]["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": "owner", "uid": owner.metadata.uid}
    ]
    apply(dyn, child)
    dyn.delete(res, name="owner", namespace="nim", propagation_policy="Orphan")
    left = dyn.get(res, namespace="nim").items
    assert [i.metadata.name for i in left] == ["child-a"] and not left[0].metadata.ownerReferences


def test_faults_on_demand(api: ApiServer, tmp_path: Path) -> None:
    configuration = k8s.Configuration()
    k8s_config.load_kube_config(config_file=str(api.kubeconfig), client_configuration=configuration)
    configuration.retries = 0  # urllib3 would otherwise retry a 429 that has Retry-After by itself
    core = k8s.CoreV1Api(k8s.ApiClient(configuration))
    api.faults.add(Fault(method="GET", status=503))
    with pytest.raises(ApiException) as info:
        core.list_namespaced_persistent_volume_claim("nim")
    assert info.value.status == 503
    api.faults.add(Fault(method="GET", status=429, retry_after=7))
    with pytest.raises(ApiException) as throttled:
        core.list_namespaced_persistent_volume_claim("nim")
    assert throttled.value.status == 429 and throttled.value.headers["Retry-After"] == "7"
    assert [r.status for r in api.requests] == [503, 429]
    api.faults.add(Fault(method="GET", delay=1.0))  # a slow answer: the client's read timeout trips first
    with pytest.raises((urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.MaxRetryError)):
        core.list_namespaced_persistent_volume_claim("nim", _request_timeout=0.1)
    assert core.list_namespaced_persistent_volume_claim("nim").items == [], "the fault was used up by one request"


def test_label_selector_parser_edge_cases() -> None:
    assert parse_selector("")({"a": "b"})
    assert parse_selector("a==b")({"a": "b"}) and not parse_selector("a==b")({"a": "c"})
    assert parse_selector("a notin (x)")({}) and not parse_selector("a in (x)")({})


def test_an_object_in_a_namespace_that_does_not_exist_is_not_found(api: ApiServer) -> None:
    # kube-apiserver's NamespaceLifecycle admission: no namespace is created on the fly
    body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa"}}
    res = api.store.resource("", "v1", "serviceaccounts")
    assert res is not None
    with pytest.raises(Exception, match='namespaces "nowhere" not found'):
        api.store.create(res, "nowhere", body, "someone", False)


def test_managed_fields_keep_every_manager_and_name_list_items_as_kube_apiserver_does(api: ApiServer) -> None:
    res = api.store.resource("", "v1", "configmaps")
    assert res is not None
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    api.store.create(res, "nim", body, "helm", False)
    api.store.merge_patch(res, "nim", "c", {"data": {"b": "2"}}, "kubectl-edit", False)
    managers = {e["manager"] for e in api.store.objects[("configmaps", "nim", "c")]["metadata"]["managedFields"]}
    assert managers == {"helm", "kubectl-edit"}
    deployments = api.store.resource("apps", "v1", "deployments")
    assert deployments is not None
    container = {"name": "app", "image": "x:1", "env": [{"name": "A", "value": "1"}]}
    spec = {
        "selector": {"matchLabels": {"a": "b"}},
        "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [container]}},
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "nim"},
        "spec": spec,
    }
    api.store.apply(deployments, "nim", "d", deployment, "nim-reconciler", True, False)
    fields = json.dumps(api.store.objects[("deployments", "nim", "d")]["metadata"]["managedFields"])
    assert json.dumps('k:{"name":"app"}')[1:-1] in fields and json.dumps('k:{"name":"A"}')[1:-1] in fields


def test_a_delete_with_an_unknown_propagation_policy_is_refused(api: ApiServer) -> None:
    from reconciler.cluster.kube import Cluster
    from reconciler.errors import Invalid
    from reconciler.kinds import BY_KIND
    from reconciler.options import ClusterConfig

    cluster = Cluster(ClusterConfig(kubeconfig=(str(api.kubeconfig),), agent="apiserver-test"))
    with pytest.raises(Invalid, match="propagationPolicy"):
        cluster.delete(BY_KIND["Service"], "nim", "x", propagation="Sideways")
    cluster.delete(BY_KIND["Service"], "nim", "x", propagation="Foreground")  # valid, and already gone: fine
    cluster.close()


def _core(api: ApiServer) -> k8s.CoreV1Api:
    return k8s.CoreV1Api(k8s_config.new_client_from_config(config_file=str(api.kubeconfig)))


def _pod(name: str, *containers: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "nim"},
        "spec": {"restartPolicy": "Never", "containers": [{"name": c, "image": "busybox:1"} for c in containers]},
    }


def test_pods_are_validated_as_kube_apiserver_validates_them(api: ApiServer) -> None:
    core = _core(api)
    assert core.create_namespaced_pod("nim", _pod("ok", "main")).metadata.uid
    for broken, field in [
        (_pod("none"), "spec.containers"),
        (
            {**_pod("bad", "main"), "spec": {**_pod("bad", "main")["spec"], "restartPolicy": "Sometimes"}},
            "restartPolicy",
        ),
        (_pod("twice", "main", "main"), "spec.containers[1].name"),
    ]:
        with pytest.raises(ApiException) as refused:
            core.create_namespaced_pod("nim", broken)
        assert refused.value.status == 422, refused.value.body
        assert any(field in c["field"] for c in json.loads(refused.value.body)["details"]["causes"]), refused.value.body
    with pytest.raises(ApiException) as missing:
        core.create_namespaced_pod(
            "elsewhere", {**_pod("ok", "main"), "metadata": {"name": "ok", "namespace": "elsewhere"}}
        )
    assert missing.value.status == 404  # no such namespace


def test_a_pods_log_is_what_its_container_printed_once_it_runs(api: ApiServer) -> None:
    core = _core(api)
    core.create_namespaced_pod("nim", _pod("probe", "main"))
    with pytest.raises(ApiException) as waiting:
        core.read_namespaced_pod_log("probe", "nim")
    message = json.loads(waiting.value.body)["message"]
    assert waiting.value.status == 400 and 'container "main" in pod "probe" is waiting to start' in message
    core.patch_namespaced_pod_status("probe", "nim", {"status": {"phase": "Running"}})
    api.set_log("nim", "probe", "main", 'schema_version: 2.0.0\nprofiles: []\n{"a": 1}\n')
    assert core.read_namespaced_pod_log("probe", "nim") == 'schema_version: 2.0.0\nprofiles: []\n{"a": 1}\n'
    raw = core.read_namespaced_pod_log("probe", "nim", container="main", _preload_content=False)
    assert (
        raw.headers["Content-Type"].startswith("text/plain")
        and raw.data == b'schema_version: 2.0.0\nprofiles: []\n{"a": 1}\n'
    )


@pytest.mark.parametrize(
    ("pod", "container", "status", "says"),
    [
        ("gone", "", 404, 'pods "gone" not found'),
        ("two", "", 400, "a container name must be specified for pod two, choose one of: [a b]"),
        ("two", "c", 400, "container c is not valid for pod two"),
    ],
)
def test_a_log_that_cannot_be_read_says_why(api: ApiServer, pod: str, container: str, status: int, says: str) -> None:
    core = _core(api)
    core.create_namespaced_pod("nim", _pod("two", "a", "b"))
    core.patch_namespaced_pod_status("two", "nim", {"status": {"phase": "Running"}})
    with pytest.raises(ApiException) as refused:
        core.read_namespaced_pod_log(pod, "nim", **({"container": container} if container else {}))
    assert refused.value.status == status and says in json.loads(refused.value.body)["message"], refused.value.body


def test_nodes_are_listed_by_their_gpu_labels(api: ApiServer) -> None:
    core = _core(api)
    for name, product in [("gpu-a", "NVIDIA-H100-80GB-HBM3"), ("gpu-b", "NVIDIA-L40S"), ("cpu", None)]:
        labels = {"nvidia.com/gpu.product": product} if product else {"kubernetes.io/os": "linux"}
        core.create_node({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}})
    found = core.list_node(label_selector="nvidia.com/gpu.product").items
    assert sorted(n.metadata.labels["nvidia.com/gpu.product"] for n in found) == [
        "NVIDIA-H100-80GB-HBM3",
        "NVIDIA-L40S",
    ]
