"""render/: the renderer and the per-kind contexts: each promised field of the operator reference, asserted by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import UsageError
from reconciler.render.renderer import Renderer

from .helpers import REPO
from .manifests import HF_SOURCE, NIMCACHE, NIMSERVICE, TRICKY, dump, variant
from .render_helpers import by_kind, container, env_of, render_dir, render_text


def render(*bodies: dict[str, Any]) -> list[dict[str, Any]]:
    return render_text(dump(*bodies))


# --- NIMCache → PVC + Job ------------------------------------------------------------------------------------


def test_nimcache_pvc_defaults_and_class_only_when_set() -> None:
    pvc = by_kind(render(NIMCACHE), "PersistentVolumeClaim")
    assert pvc["metadata"]["name"] == "llama-3-2-1b-pvc"
    assert pvc["spec"] == {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "50Gi"}}}
    named = variant(NIMCACHE, {"spec.storage.pvc.name": "models", "spec.storage.pvc.storageClass": "fast"})
    pvc = by_kind(render(named), "PersistentVolumeClaim")
    assert (pvc["metadata"]["name"], pvc["spec"]["storageClassName"]) == ("models", "fast")


def test_existing_pvc_is_referenced_not_rendered() -> None:
    existing = variant(NIMCACHE, {"spec.storage.pvc": {"name": "prefilled"}})
    bodies = render(existing)
    assert not [b for b in bodies if b["kind"] == "PersistentVolumeClaim"]
    volume = by_kind(bodies, "Job")["spec"]["template"]["spec"]["volumes"][0]
    assert volume == {"name": "nim-cache-volume", "persistentVolumeClaim": {"claimName": "prefilled"}}


@pytest.mark.parametrize(
    ("model", "args"),
    [
        ({"profiles": ["p1", "p2"]}, ["--profiles", "p1", "p2"]),
        ({"profiles": ["all"]}, ["--all"]),
        ({"engine": "tensorrt_llm"}, None),
    ],
)
def test_ngc_optimized_job_downloads_the_pinned_profiles(model: dict[str, Any], args: list[str] | None) -> None:
    job = container(by_kind(render(variant(NIMCACHE, {"spec.source.ngc.model": model})), "Job"))
    assert job["command"] == ["download-to-cache"]
    assert job.get("args") == args
    assert env_of_container(job) == {"NIM_CACHE_PATH": "/model-store"}
    assert job["terminationMessagePolicy"] == "FallbackToLogsOnError"


def test_selected_profiles_annotation_is_honoured() -> None:
    annotated = variant(NIMCACHE, {"metadata.annotations": {"nvidia.com/selected-profiles": '["a", "b"]'}})
    assert container(by_kind(render(annotated), "Job"))["args"] == ["--profiles", "a", "b"]


def test_ngc_universal_job_creates_a_model_store() -> None:
    universal = variant(
        NIMCACHE,
        {
            "spec.source.ngc": {
                "modelPuller": "nvcr.io/nim/nvidia/llm-nim:1.12",
                "authSecret": "s",
                "modelEndpoint": "ngc://org/model",
            }
        },
    )
    job = container(by_kind(render(universal), "Job"))
    assert job["command"] == ["create-model-store"]
    assert job["args"] == ["--model-repo", "ngc://org/model", "--model-store", "/model-store"]


@pytest.mark.parametrize("kind", ["hf", "dataStore"])
def test_huggingface_and_datastore_jobs_use_huggingface_cli(kind: str) -> None:
    source = {**HF_SOURCE, "revision": "v2"}
    if kind == "dataStore":
        source = {**source, "endpoint": "http://ds.nemo.svc:8000/v1/hf", "datasetName": "d"}
        source.pop("modelName")
    job = container(by_kind(render(variant(NIMCACHE, {"spec.source": {kind: source}})), "Job"))
    target = "meta-llama/d" if kind == "dataStore" else "meta-llama/Llama-3.2-1B-Instruct"
    repo_type = "dataset" if kind == "dataStore" else "model"
    assert job["command"] == [
        "huggingface-cli",
        "download",
        target,
        "--local-dir",
        "/model-store",
        "--repo-type",
        repo_type,
        "--revision",
        "v2",
    ]
    assert env_of_container(job) == {
        "HF_ENDPOINT": source["endpoint"],
        "HF_HUB_OFFLINE": "0",
        "NIM_CACHE_PATH": "/model-store",
        "HF_HOME": "/model-store/huggingface/hub",
    }
    assert "terminationMessagePath" not in job
    assert job["envFrom"] == [{"secretRef": {"name": "hf-secret"}}]


def test_job_security_node_selection_and_mounts() -> None:
    job = by_kind(render(NIMCACHE), "Job")
    pod = job["spec"]["template"]["spec"]
    assert job["spec"]["backoffLimit"] == 5 and job["spec"]["ttlSecondsAfterFinished"] == 600
    assert pod["restartPolicy"] == "Never"
    assert pod["securityContext"] == {"runAsUser": 1000, "fsGroup": 2000, "runAsNonRoot": True}
    assert pod["nodeSelector"] == {"feature.node.kubernetes.io/pci-10de.present": "true"}
    assert pod["imagePullSecrets"] == [{"name": "ngc-secret"}]
    ctr = pod["containers"][0]
    assert ctr["name"] == "nim-cache-ctr"
    assert ctr["envFrom"] == [{"secretRef": {"name": "ngc-api-secret", "optional": True}}]  # operator v3.1.3
    assert ctr["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "runAsGroup": 2000,
    }
    assert ctr["volumeMounts"] == [
        {"name": "nim-cache-volume", "mountPath": "/model-store"},
        {"name": "scratch", "mountPath": "/scratch"},
    ]
    assert pod["volumes"][1] == {"name": "scratch", "emptyDir": {}}
    assert "resources" not in ctr


def test_job_resources_are_requests_and_limits_and_tolerations_keep_seconds() -> None:
    tol = {"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60}
    cache = variant(
        NIMCACHE,
        {
            "spec.resources": {"cpu": "4", "memory": "8Gi"},
            "spec.tolerations": [tol],
            "spec.nodeSelector": {"gpu": "h100"},
            "spec.runtimeClassName": "nvidia",
            "spec.userID": 10,
            "spec.groupID": 20,
            "spec.storage.pvc.subPath": "m",
        },
    )
    job = by_kind(render(cache), "Job")
    pod = job["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"] == {
        "requests": {"cpu": "4", "memory": "8Gi"},
        "limits": {"cpu": "4", "memory": "8Gi"},
    }
    assert pod["tolerations"] == [tol]
    assert pod["nodeSelector"] == {"gpu": "h100"} and pod["runtimeClassName"] == "nvidia"
    assert pod["securityContext"]["runAsUser"] == 10 and pod["securityContext"]["fsGroup"] == 20
    assert pod["containers"][0]["volumeMounts"][0]["subPath"] == "m"


def test_job_user_env_wins_and_proxy_env_is_prepended() -> None:
    cache = variant(
        NIMCACHE,
        {
            "spec.env": [{"name": "NIM_CACHE_PATH", "value": "/x"}, {"name": "A", "value": "1"}],
            "spec.proxy": {"httpProxy": "http://p:1", "httpsProxy": "https://p:2", "noProxy": ".svc"},
        },
    )
    env = container(by_kind(render(cache), "Job"))["env"]
    assert [e["name"] for e in env] == [
        "NIM_SDK_USE_NATIVE_TLS",
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "NO_PROXY",
        "https_proxy",
        "http_proxy",
        "no_proxy",
        "NIM_CACHE_PATH",
        "A",
    ]
    assert env[7]["value"] == "/x"


def test_cert_config_map_adds_the_ca_init_container_and_volumes() -> None:
    cache = variant(NIMCACHE, {"spec.proxy": {"httpsProxy": "https://p:2", "certConfigMap": "ca"}})
    pod = by_kind(render(cache), "Job")["spec"]["template"]["spec"]
    init = pod["initContainers"][0]
    assert init["name"] == "update-ca-certificates"
    assert init["securityContext"] == {"runAsUser": 0, "runAsNonRoot": False}
    assert {m["mountPath"] for m in init["volumeMounts"]} >= {"/ca-certs", "/custom"}
    assert {"name": "custom-ca", "configMap": {"name": "ca"}} in pod["volumes"]
    assert {"name": "ca-cert-volume", "mountPath": "/etc/ssl"} in pod["containers"][0]["volumeMounts"]


def test_job_pods_carry_the_nimcache_label_for_kubectl_logs() -> None:
    pod_labels = by_kind(render(NIMCACHE), "Job")["spec"]["template"]["metadata"]["labels"]
    assert pod_labels["nimcache"] == "llama-3-2-1b"


def test_job_name_carries_a_spec_hash_that_changes_with_the_spec() -> None:
    first = by_kind(render(NIMCACHE), "Job")["metadata"]["name"]
    second = by_kind(render(variant(NIMCACHE, {"spec.resources": {"cpu": "2"}})), "Job")["metadata"]["name"]
    assert first.startswith("llama-3-2-1b-job-") and len(first) == len("llama-3-2-1b-job-") + 8
    assert first != second
    relabelled = variant(NIMCACHE, {"metadata.labels": {"team": "x"}})
    assert by_kind(render(relabelled), "Job")["metadata"]["name"] == first


# --- labels and annotations ----------------------------------------------------------------------------------


def test_every_object_carries_our_labels_and_the_source() -> None:
    for body in render(NIMCACHE, NIMSERVICE):
        labels = body["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "nim-reconciler", body["kind"]
        assert labels["nim-reconciler/cluster"] == "t", body["kind"]
        assert body["metadata"]["annotations"]["nim-reconciler/source"] == "clusters/t/m.yaml", body["kind"]


def test_operator_standard_labels() -> None:
    bodies = render(NIMCACHE, NIMSERVICE)
    pvc = by_kind(bodies, "PersistentVolumeClaim")["metadata"]["labels"]
    assert pvc["app"] == "k8s-nim-operator" and pvc["app.kubernetes.io/part-of"] == "nim-cache"
    assert pvc["app.kubernetes.io/name"] == pvc["app.kubernetes.io/instance"] == "llama-3-2-1b"
    deployment = by_kind(bodies, "Deployment")["metadata"]["labels"]
    assert deployment["app.kubernetes.io/part-of"] == "nim-service"


# --- NIMService → Deployment, Service, ServiceAccount … -------------------------------------------------------


def test_deployment_defaults() -> None:
    deployment = by_kind(render(NIMCACHE, NIMSERVICE), "Deployment")
    spec = deployment["spec"]
    assert "replicas" not in spec
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 0}}
    assert spec["selector"] == {"matchLabels": {"app": "llama-3-2-1b"}}
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == "llama-3-2-1b"
    assert pod["securityContext"] == {"runAsUser": 1000, "runAsGroup": 2000, "fsGroup": 2000}
    ctr = pod["containers"][0]
    assert ctr["name"] == "llama-3-2-1b-ctr"
    assert ctr["image"] == "nvcr.io/nim/meta/llama-3.2-1b-instruct:1.12.0"
    assert ctr["ports"] == [{"name": "api", "containerPort": 8000, "protocol": "TCP"}]


def test_deployment_env_in_the_operator_order_with_user_env_winning() -> None:
    service = variant(
        NIMSERVICE,
        {
            "spec.env": [
                {"name": "NIM_LOG_LEVEL", "value": "DEBUG"},
                {"name": "NIM_ENABLE_KV_CACHE_REUSE", "value": "1"},
            ],
            "spec.expose.service.grpcPort": 8001,
            "spec.expose.service.metricsPort": 8002,
            "spec.storage.nimCache.profile": "p1",
        },
    )
    env = container(by_kind(render(NIMCACHE, service), "Deployment"))["env"]
    assert [e["name"] for e in env] == [
        "NIM_LOG_LEVEL",
        "NIM_ENABLE_KV_CACHE_REUSE",
        "NIM_CACHE_PATH",
        "OUTLINES_CACHE_DIR",
        "NIM_SERVER_PORT",
        "NIM_HTTP_API_PORT",
        "NIM_JSONL_LOGGING",
        "NGC_API_KEY",
        "NIM_GRPC_API_PORT",
        "NIM_TRITON_GRPC_PORT",
        "NIM_TRITON_METRICS_PORT",
        "NIM_MODEL_PROFILE",
    ]
    values = {e["name"]: e.get("value") for e in env}
    assert values["NIM_LOG_LEVEL"] == "DEBUG" and values["NIM_ENABLE_KV_CACHE_REUSE"] == "1"
    assert values["NIM_SERVER_PORT"] == "8000" and values["NIM_MODEL_PROFILE"] == "p1"
    assert env[7]["valueFrom"] == {"secretKeyRef": {"name": "ngc-api-secret", "key": "NGC_API_KEY", "optional": True}}


def test_huggingface_cache_gives_hf_token_and_universal_env() -> None:
    cache = variant(NIMCACHE, {"spec.source": {"hf": HF_SOURCE}})
    env = env_of(by_kind(render(cache, NIMSERVICE), "Deployment"))
    assert list(env)[:2] == ["NGC_API_KEY", "HF_TOKEN"]
    assert env["NGC_API_KEY"] == {"secretKeyRef": {"name": "ngc-api-secret", "key": "NGC_API_KEY", "optional": True}}
    assert env["HF_TOKEN"] == {"secretKeyRef": {"name": "ngc-api-secret", "key": "HF_TOKEN"}}
    assert env["NIM_MODEL_NAME"] == "/model-store"
    assert env["HF_HOME"] == "/model-store/huggingface/hub"
    assert env["NIM_MODEL_PATH"] == "hf://meta-llama/Llama-3.2-1B-Instruct"


def test_no_auth_secret_means_no_ngc_api_key() -> None:
    service = variant(NIMSERVICE, {"spec.authSecret": None})
    service["spec"].pop("authSecret")
    assert "NGC_API_KEY" not in env_of(by_kind(render(NIMCACHE, service), "Deployment"))


def test_probe_defaults_replacement_and_removal() -> None:
    ctr = container(by_kind(render(NIMCACHE, NIMSERVICE), "Deployment"))
    assert ctr["livenessProbe"] == {
        "httpGet": {"path": "/v1/health/live", "port": "api"},
        "initialDelaySeconds": 15,
        "periodSeconds": 10,
        "timeoutSeconds": 1,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    assert ctr["readinessProbe"]["httpGet"]["path"] == "/v1/health/ready"
    assert ctr["startupProbe"]["initialDelaySeconds"] == 30 and ctr["startupProbe"]["failureThreshold"] == 120
    custom = {"exec": {"command": ["true"]}}
    service = variant(NIMSERVICE, {"spec.livenessProbe": {"enabled": False}, "spec.readinessProbe": {"probe": custom}})
    ctr = container(by_kind(render(NIMCACHE, service), "Deployment"))
    assert "livenessProbe" not in ctr and ctr["readinessProbe"] == custom


def test_volumes_and_mounts() -> None:
    cache = variant(NIMCACHE, {"spec.storage.pvc.subPath": "sub"})
    service = variant(NIMSERVICE, {"spec.storage.readOnly": True, "spec.storage.sharedMemorySizeLimit": "8Gi"})
    pod = by_kind(render(cache, service), "Deployment")["spec"]["template"]["spec"]
    assert pod["volumes"] == [
        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "8Gi"}},
        {"name": "model-store", "persistentVolumeClaim": {"claimName": "llama-3-2-1b-pvc", "readOnly": True}},
    ]
    assert pod["containers"][0]["volumeMounts"] == [
        {"name": "dshm", "mountPath": "/dev/shm"},
        {"name": "model-store", "mountPath": "/model-store", "subPath": "sub"},
    ]


@pytest.mark.parametrize(
    ("storage", "volume"),
    [
        ({"emptyDir": {"sizeLimit": "10Gi"}}, {"emptyDir": {"sizeLimit": "10Gi"}}),
        ({"hostPath": "/models"}, {"hostPath": {"path": "/models", "type": "DirectoryOrCreate"}}),
        ({"pvc": {"name": "mine"}}, {"persistentVolumeClaim": {"claimName": "mine"}}),
    ],
)
def test_storage_alternatives(storage: dict[str, Any], volume: dict[str, Any]) -> None:
    pod = by_kind(render(variant(NIMSERVICE, {"spec.storage": storage})), "Deployment")["spec"]["template"]["spec"]
    assert pod["volumes"][1] == {"name": "model-store", **volume}


def test_own_pvc_is_rendered_with_create() -> None:
    service = variant(
        NIMSERVICE, {"spec.storage": {"pvc": {"create": True, "size": "10Gi", "volumeAccessMode": "ReadWriteOnce"}}}
    )
    pvc = by_kind(render(service), "PersistentVolumeClaim")
    assert pvc["metadata"]["name"] == "llama-3-2-1b-pvc"


def test_service_ports_selector_and_labels() -> None:
    service = variant(
        NIMSERVICE,
        {
            "spec.expose.service": {
                "type": "LoadBalancer",
                "port": 9000,
                "grpcPort": 50051,
                "labels": {"x": "y"},
                "annotations": {"a": "b"},
            }
        },
    )
    svc = by_kind(render(NIMCACHE, service), "Service")
    assert svc["spec"]["type"] == "LoadBalancer"
    assert svc["spec"]["selector"] == {"app": "llama-3-2-1b"}
    assert svc["spec"]["ports"] == [
        {"name": "api", "port": 9000, "targetPort": "api", "protocol": "TCP"},
        {"name": "grpc", "port": 50051, "targetPort": "grpc", "protocol": "TCP"},
    ]
    assert svc["metadata"]["labels"]["x"] == "y" and svc["metadata"]["annotations"]["a"] == "b"


def test_hpa_replaces_replicas() -> None:
    scaled = variant(NIMSERVICE, {"spec.scale": {"enabled": True, "hpa": {"minReplicas": 2, "maxReplicas": 5}}})
    bodies = render(NIMCACHE, scaled)
    hpa = by_kind(bodies, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llama-3-2-1b"}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 5)
    assert by_kind(bodies, "Deployment")["spec"]["replicas"] == 2


def test_router_ingress_host_and_tls() -> None:
    service = variant(
        NIMSERVICE,
        {
            "spec.expose.router": {
                "hostDomainName": "example.com",
                "ingress": {"ingressClass": "nginx", "tlsSecretName": "t"},
            }
        },
    )
    ingress = by_kind(render(NIMCACHE, service), "Ingress")["spec"]
    assert ingress["ingressClassName"] == "nginx"
    assert ingress["rules"][0]["host"] == "llama-3-2-1b.nim.example.com"
    assert ingress["rules"][0]["http"]["paths"][0]["backend"] == {
        "service": {"name": "llama-3-2-1b", "port": {"name": "api"}}
    }
    assert ingress["tls"] == [{"hosts": ["llama-3-2-1b.nim.example.com"], "secretName": "t"}]


def test_gateway_routes() -> None:
    service = variant(
        NIMSERVICE,
        {
            "spec.expose.service.grpcPort": 8001,
            "spec.expose.router": {
                "hostDomainName": "example.com",
                "gateway": {"name": "gw", "namespace": "infra", "grpcRoutesEnabled": True},
            },
        },
    )
    bodies = render(NIMCACHE, service)
    http, grpc = by_kind(bodies, "HTTPRoute")["spec"], by_kind(bodies, "GRPCRoute")["spec"]
    assert http["parentRefs"] == [{"name": "gw", "namespace": "infra"}]
    assert http["hostnames"] == ["llama-3-2-1b.nim.example.com"]
    assert http["rules"][0]["backendRefs"] == [{"name": "llama-3-2-1b", "port": 8000}]
    assert grpc["rules"][0]["backendRefs"] == [{"name": "llama-3-2-1b", "port": 8001}]


def test_service_monitor() -> None:
    service = variant(
        NIMSERVICE,
        {
            "spec.metrics": {
                "enabled": True,
                "serviceMonitor": {"interval": "30s", "additionalLabels": {"release": "prom"}},
            },
            "spec.expose.service.metricsPort": 8002,
        },
    )
    bodies = render(NIMCACHE, service)
    monitor = by_kind(bodies, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["endpoints"] == [
        {"path": "/v1/metrics", "port": "api", "interval": "30s"},
        {"path": "/metrics", "port": "metrics"},
    ]
    service_labels = by_kind(bodies, "Service")["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service_labels.items()


# --- safety ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", TRICKY)
def test_manifest_values_stay_exactly_the_strings_they_were(value: str) -> None:
    cache = variant(
        NIMCACHE, {"spec.env": [{"name": "TRICKY", "value": value}], "metadata.annotations": {"note": value}}
    )
    bodies = render(cache)
    assert [b["kind"] for b in bodies] == ["NIMCache", "PersistentVolumeClaim", "Job"]
    assert env_of(by_kind(bodies, "Job"))["TRICKY"] == value
    assert by_kind(bodies, "NIMCache")["metadata"]["annotations"]["note"] == value


def test_unknown_override_template_is_refused(tmp_path: Path) -> None:
    (tmp_path / "nimservice").mkdir()
    (tmp_path / "nimservice" / "deploymnet.yaml.j2").write_text("x")
    with pytest.raises(UsageError, match="unknown template"):
        Renderer(tmp_path)


def test_a_templates_folder_of_thousands_of_entries_is_refused_before_it_is_all_walked(tmp_path: Path) -> None:
    for n in range(30):  # 30 folders of 40 files: far past what sixteen templates and their folders need
        (tmp_path / f"d{n}").mkdir()
        for m in range(40):
            (tmp_path / f"d{n}" / f"t{m}.yaml.j2").write_text("x")
    with pytest.raises(UsageError, match=r"^--templates .*: .* holds more than 1000 entries: refused$"):
        Renderer(tmp_path)


def override(tmp_path: Path, name: str, transform: Any) -> Path:
    shipped = (REPO / "templates" / name).read_text()
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_text(transform(shipped))
    return tmp_path


def test_override_adds_a_label_to_every_deployment(tmp_path: Path) -> None:
    templates = override(
        tmp_path,
        "nimservice/deployment.yaml.j2",
        lambda t: t.replace(
            "  labels: {{ labels|j }}\n", "  labels: {{ dict(labels, **{'cost-center': 'ml'})|j }}\n", 1
        ),
    )
    result = render_dir(REPO, "demo", templates)
    deployments = [o.body for o in result.objects if o.body["kind"] == "Deployment"]
    assert deployments and all(d["metadata"]["labels"]["cost-center"] == "ml" for d in deployments)


def test_an_override_edited_between_runs_renders_the_edit_and_the_shipped_template_stays(tmp_path: Path) -> None:
    # Compiled code is kept for the life of the process (serve, --loop): an edit must still be seen at once.
    def labelled(value: str) -> Any:
        line = "  labels: {{ dict(labels, team='" + value + "')|j }}\n"
        return lambda t: t.replace("  labels: {{ labels|j }}\n", line, 1)

    def teams(templates: Path | None) -> set[str | None]:
        result = render_dir(REPO, "demo", templates)
        return {o.body["metadata"]["labels"].get("team") for o in result.objects if o.body["kind"] == "Deployment"}

    assert teams(override(tmp_path, "nimservice/deployment.yaml.j2", labelled("ml"))) == {"ml"}
    assert teams(override(tmp_path, "nimservice/deployment.yaml.j2", labelled("ops"))) == {"ops"}
    assert teams(None) == {None}


@pytest.mark.parametrize(
    ("mistake", "message"),
    [
        (lambda t: t.replace("{{ name|j }}", "{{ nmae|j }}", 1), "is undefined"),
        (lambda t: t + "---\nkind: ClusterRoleBinding\n", "exactly one object"),
        (lambda t: t.replace("kind: Deployment", "kind: DaemonSet"), "expected"),
    ],
)
def test_template_mistakes_are_errors_not_objects(tmp_path: Path, mistake: Any, message: str) -> None:
    templates = override(tmp_path, "nimservice/deployment.yaml.j2", mistake)
    result = render_dir(REPO, "demo", templates)
    assert not result.check.ok and result.objects == []
    assert any(message in p.message for p in result.check.problems)


def test_objects_come_in_kind_order_then_name() -> None:
    kinds = [b["kind"] for b in render(NIMCACHE, NIMSERVICE)]
    assert kinds == [
        "NIMCache",
        "PersistentVolumeClaim",
        "Job",
        "NIMService",
        "ServiceAccount",
        "Service",
        "Deployment",
    ]


def env_of_container(ctr: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value") for e in ctr.get("env", [])}


def _mounts_name_volumes(pod: dict[str, Any]) -> list[str]:
    """Every volumeMount of every container names a volume of the pod (ValidatePodSpec)."""
    volumes = {v["name"] for v in pod.get("volumes") or []}
    containers = [*(pod.get("initContainers") or []), *pod["containers"]]
    return [
        f"{c['name']}: {m['name']}" for c in containers for m in c.get("volumeMounts") or [] if m["name"] not in volumes
    ]


def test_a_ca_bundle_without_init_containers_mounts_only_volumes_the_pod_has() -> None:
    # Regression: the update-ca-certificates init container mounted `scratch`, which only init or sidecar
    # containers of the user's create: the API server refused the Deployment.
    service = variant(NIMSERVICE, {"spec.proxy": {"certConfigMap": "corp-ca"}})
    pod = by_kind(render(NIMCACHE, service), "Deployment")["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["initContainers"]] == ["update-ca-certificates"]
    assert _mounts_name_volumes(pod) == []


def test_init_containers_and_sidecars_see_the_model_store_as_the_nim_does() -> None:
    cache = variant(NIMCACHE, {"spec.storage.pvc.subPath": "llama"})
    extra = {"name": "warm", "image": {"repository": "busybox", "tag": "1"}}
    service = variant(
        NIMSERVICE, {"spec.initContainers": [extra], "spec.sidecarContainers": [{**extra, "name": "log"}]}
    )
    pod = by_kind(render(cache, service), "Deployment")["spec"]["template"]["spec"]
    store = {"name": "model-store", "mountPath": "/model-store", "subPath": "llama"}
    for each in (pod["initContainers"][0], pod["containers"][0], pod["containers"][1]):
        assert store in each["volumeMounts"] and {"name": "scratch", "mountPath": "/scratch"} in each["volumeMounts"]
    assert _mounts_name_volumes(pod) == []


def test_user_labels_cannot_take_a_pod_out_of_its_deployment() -> None:
    # Regression: spec.labels {app: x} replaced the pod's app label: the selector matched nothing.
    service = variant(NIMSERVICE, {"spec.labels": {"app": "something-else", "team": "a"}})
    deployment = by_kind(render(NIMCACHE, service), "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert all(labels.get(k) == v for k, v in selector.items()) and labels["team"] == "a"


@pytest.mark.parametrize(
    ("given", "rendered"), [(None, {"feature.node.kubernetes.io/pci-10de.present": "true"}), ({}, {})]
)
def test_an_empty_node_selector_clears_the_gpu_default(given: Any, rendered: dict[str, str]) -> None:
    cache = variant(NIMCACHE, {"spec.nodeSelector": given}) if given is not None else NIMCACHE
    job = by_kind(render(cache), "Job")
    assert job["spec"]["template"]["spec"]["nodeSelector"] == rendered


def test_broken_jinja_in_an_override_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "nimservice").mkdir()
    (tmp_path / "nimservice" / "deployment.yaml.j2").write_text("apiVersion: apps/v1\nkind: {{ }}\n")
    with pytest.raises(UsageError) as raised:
        Renderer(tmp_path)
    message = str(raised.value)
    assert message.startswith(f"{tmp_path / 'nimservice' / 'deployment.yaml.j2'}:2: template syntax error:"), message


def test_an_override_file_without_j2_is_an_error_listing_the_valid_names(tmp_path: Path) -> None:
    (tmp_path / "nimservice").mkdir()
    (tmp_path / "nimservice" / "deployment.yaml").write_text("x")
    with pytest.raises(
        UsageError, match=r"unknown template\(s\) nimservice/deployment.yaml; .*nimservice/deployment.yaml.j2"
    ):
        Renderer(tmp_path)
