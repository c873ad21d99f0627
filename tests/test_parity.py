"""Operator parity (v3.1.3 to v3.1.4): the NGC key is optional, scale to zero, and the CRD details our schemas
follow (router gateway, backendRef, podAffinity, fileKeyRef, "exactly one" storage)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from reconciler.cli.main import main
from reconciler.documents import Document
from reconciler.refs import SourceLocation
from reconciler.validate.check import validate

from .apiserver import ApiServer
from .helpers import REPO, install, kubelet, run
from .manifests import DELETE, NIMCACHE, NIMSERVICE, dump, variant
from .render_helpers import by_kind, container, render_text

NO_KEY_CACHE = variant(NIMCACHE, {"spec.source.ngc.authSecret": DELETE})
NO_KEY_SERVICE = variant(NIMSERVICE, {"spec.authSecret": DELETE})


def _check(*bodies: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(errors, warnings) of validating ``bodies`` as one cluster, as text."""
    result = validate([Document(b, SourceLocation("m.yaml", 1 + i)) for i, b in enumerate(bodies)])
    return [str(p) for p in result.errors], [str(p) for p in result.problems if p not in result.errors]


def test_a_cache_and_a_service_without_an_ngc_key_are_valid_with_a_warning() -> None:
    errors, warnings = _check(NO_KEY_CACHE, NO_KEY_SERVICE)
    assert errors == []
    unset = [w for w in warnings if "NGCAPIKeyUnset" in w]
    assert len(unset) == 2 and all("no authSecret: NGC_API_KEY is not set" in w for w in unset), warnings
    assert any("spec.source.ngc" in w for w in unset)
    assert _check(NIMCACHE, NIMSERVICE)[1] == []  # a key named: no warning


def test_without_a_key_nothing_requires_one_and_with_one_it_is_optional() -> None:
    bodies = render_text(dump(NO_KEY_CACHE, NO_KEY_SERVICE))
    job = container(by_kind(bodies, "Job"))
    assert "envFrom" not in job
    deployment = container(by_kind(bodies, "Deployment"))
    assert "NGC_API_KEY" not in {e["name"] for e in deployment["env"]}
    keyed = render_text(dump(NIMCACHE, NIMSERVICE))
    assert container(by_kind(keyed, "Job"))["envFrom"] == [{"secretRef": {"name": "ngc-api-secret", "optional": True}}]
    ngc = next(e for e in container(by_kind(keyed, "Deployment"))["env"] if e["name"] == "NGC_API_KEY")
    assert ngc["valueFrom"]["secretKeyRef"] == {"name": "ngc-api-secret", "key": "NGC_API_KEY", "optional": True}


def test_a_hugging_face_token_stays_required() -> None:
    from .manifests import HF_SOURCE

    cache = variant(NIMCACHE, {"spec.source": {"hf": HF_SOURCE}})
    job = container(by_kind(render_text(dump(cache)), "Job"))
    assert job["envFrom"] == [{"secretRef": {"name": HF_SOURCE["authSecret"]}}]


@pytest.fixture
def keyless_repo(tmp_path: Path) -> Path:
    folder = tmp_path / "repo" / "clusters" / "demo"
    folder.mkdir(parents=True)
    (folder / "cache.yaml").write_text(dump(variant(NO_KEY_CACHE, {"metadata.namespace": "nim-service"})))
    return tmp_path / "repo"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiServer]:
    with ApiServer(tmp_path, namespaces=("nim-service",)) as server:
        install(server)
        yield server


def test_a_run_records_ngc_api_key_unset_once_on_the_cache(api: ApiServer, keyless_repo: Path) -> None:
    code, out = run(api, keyless_repo)
    assert code == 0, out
    events = [v for k, v in api.store.objects.items() if k[0] == "events" and v["reason"] == "NGCAPIKeyUnset"]
    assert len(events) == 1 and events[0]["type"] == "Warning", events
    assert events[0]["involvedObject"]["kind"] == "NIMCache" and "NGC_API_KEY is not set" in events[0]["message"]
    kubelet(api)  # the manifest probe runs: the next run makes the caching Job
    code, out = run(api, keyless_repo)
    assert code == 0, out
    requests = len(api.requests)
    code, out = run(api, keyless_repo)  # nothing changed: nothing written, no Event again
    assert code == 0 and [r for r in api.requests[requests:] if r.write] == [], out
    job = next(v for k, v in api.store.objects.items() if k[0] == "jobs")
    assert "envFrom" not in job["spec"]["template"]["spec"]["containers"][0]


def test_doctor_does_not_ask_for_a_key_no_manifest_names(api: ApiServer, keyless_repo: Path) -> None:
    result = CliRunner().invoke(main, ["doctor", "--repo", str(keyless_repo), "--kubeconfig", str(api.kubeconfig)])
    assert "NGC_API_KEY" not in result.output and "authSecret" not in result.output, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output


def test_the_shipped_examples_keep_their_keys() -> None:
    # the examples name their Secrets: the new warning must not fire on them
    target = REPO / "clusters"
    docs = [d for f in sorted(target.rglob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]
    assert all(d["spec"].get("authSecret") or d["kind"] != "NIMService" for d in docs)


EXTERNAL = {
    "type": "External",
    "external": {"metric": {"name": "queue_depth"}, "target": {"type": "AverageValue", "averageValue": "10"}},
}
CPU = {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}


def _scaled(hpa: dict[str, Any]) -> dict[str, Any]:
    return variant(NIMSERVICE, {"spec.scale": {"enabled": True, "hpa": hpa}})


@pytest.mark.parametrize(
    ("hpa", "error", "warns"),
    [
        ({"minReplicas": 0, "maxReplicas": 3, "metrics": [EXTERNAL]}, None, "HPAScaleToZero feature gate"),
        (
            {"minReplicas": 0, "maxReplicas": 3, "metrics": [CPU]},
            "spec.scale.hpa.minReplicas: minReplicas 0 needs at least one Object or External metric",
            None,
        ),
        ({"minReplicas": 0, "maxReplicas": 3}, "needs at least one Object or External metric", None),
        ({"minReplicas": 1, "maxReplicas": 3, "metrics": [CPU] * 6}, "spec.scale.hpa.metrics", None),
        ({"minReplicas": 1}, "spec.scale.hpa", None),  # maxReplicas is required whenever hpa is given
        ({"minReplicas": -1, "maxReplicas": 3}, "spec.scale.hpa.minReplicas", None),
        ({"minReplicas": 1, "maxReplicas": 3, "metrics": [CPU]}, None, None),
    ],
)
def test_scale_to_zero_needs_an_object_or_external_metric(
    hpa: dict[str, Any], error: str | None, warns: str | None
) -> None:
    errors, warnings = _check(NIMCACHE, _scaled(hpa))
    if error is None:
        assert errors == [], errors
    else:
        assert any(error in e for e in errors), errors
    if warns:
        assert any(warns in w for w in warnings), warnings
    elif error is None:
        assert not any("HPAScaleToZero" in w for w in warnings), warnings


def test_maxreplicas_is_required_inside_hpa_even_when_scaling_is_off() -> None:
    service = variant(NIMSERVICE, {"spec.scale": {"enabled": False, "hpa": {"minReplicas": 1}}})
    errors, _ = _check(NIMCACHE, service)
    assert any("maxReplicas" in e for e in errors), errors


def _scale_repo(tmp_path: Path) -> Path:
    folder = tmp_path / "repo" / "clusters" / "demo"
    folder.mkdir(parents=True)
    service = _scaled({"minReplicas": 0, "maxReplicas": 2, "metrics": [EXTERNAL]})
    service = variant(service, {"metadata.namespace": "nim-service", "spec.storage": {"emptyDir": {}}})
    (folder / "service.yaml").write_text(dump(service))
    return tmp_path / "repo"


def test_a_cluster_without_the_gate_refuses_scale_to_zero_and_one_with_it_takes_it(tmp_path: Path) -> None:
    repo = _scale_repo(tmp_path)
    with ApiServer(None, namespaces=("nim-service",)) as off:
        install(off)
        code, out = run(off, repo)
        assert code == 2 and "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1" in out, out
    with ApiServer(None, namespaces=("nim-service",), feature_gates=("HPAScaleToZero",)) as on:
        install(on)
        code, out = run(on, repo)
        assert code == 0, out
        hpa = next(v for k, v in on.store.objects.items() if k[0] == "horizontalpodautoscalers")
        assert hpa["spec"]["minReplicas"] == 0 and hpa["spec"]["metrics"] == [EXTERNAL]


def test_a_service_scaled_to_zero_is_not_ready_scaled_down() -> None:
    from reconciler import status
    from reconciler.status import ServiceView

    zero = {"metadata": {"name": "s", "generation": 2}, "spec": {"replicas": 0}, "status": {"observedGeneration": 2}}
    view = ServiceView({"metadata": {"generation": 1}}, None, None, zero, {"spec": {"clusterIP": "10.0.0.1"}}, 8000)
    result = status.nimservice(view, {}, "2026-12-02T00:00:00Z")
    ready = next(c for c in result["conditions"] if c["type"] == "Ready")
    assert result["state"] == "NotReady" and ready["message"] == 'deployment "s" is scaled down'


ROUTER = {"hostDomainName": "example.com", "gateway": {"name": "gw", "namespace": "infra"}}


def _routed(backend: dict[str, Any] | None = None, **gateway: Any) -> dict[str, Any]:
    router = {**ROUTER, "gateway": {**ROUTER["gateway"], **gateway}}
    if backend is not None:
        router["gateway"]["backendRef"] = backend
    return variant(NIMSERVICE, {"spec.expose.router": router})


@pytest.mark.parametrize(
    ("service", "error"),
    [
        (_routed(), None),
        (variant(_routed(), {"spec.expose.router.gateway.namespace": DELETE}), "spec.expose.router.gateway"),
        (_routed({"name": "svc"}), "spec.expose.router.gateway.backendRef: Must have port for Service reference"),
        (_routed({"name": "svc", "kind": "Service", "group": ""}), "Must have port for Service reference"),
        (_routed({"name": "svc", "port": 8000}), None),
        (_routed({"name": "pool", "group": "inference.networking.k8s.io", "kind": "InferencePool"}), None),
        (_routed({"name": "svc", "port": 8000, "kind": "not a kind"}), "spec.expose.router.gateway.backendRef.kind"),
        (_routed({"name": "svc", "port": 8000, "group": "Bad_Group"}), "spec.expose.router.gateway.backendRef.group"),
        (_routed({"name": "svc", "port": 8000, "weight": 1_000_001}), "backendRef.weight"),
    ],
)
def test_the_router_gateway_as_the_operator_crd_has_it(service: dict[str, Any], error: str | None) -> None:
    errors, _ = _check(NIMCACHE, service)
    if error is None:
        assert errors == [], errors
    else:
        assert any(error in e for e in errors), errors


def test_a_backend_ref_renders_with_the_crd_defaults() -> None:
    bodies = render_text(dump(NIMCACHE, _routed({"name": "svc", "port": 9000})))
    route = by_kind(bodies, "HTTPRoute")
    refs = route["spec"]["rules"][0]["backendRefs"]
    assert refs == [{"group": "", "kind": "Service", "weight": 1, "name": "svc", "port": 9000}]
    own = by_kind(render_text(dump(NIMCACHE, _routed())), "HTTPRoute")["spec"]["rules"][0]["backendRefs"]
    assert own == [{"name": "llama-3-2-1b", "port": 8000}]  # no backendRef: the NIMService's own Service


def test_pod_affinity_is_accepted_with_a_warning_and_not_rendered() -> None:
    term = {"labelSelector": {"matchLabels": {"app": "x"}}, "topologyKey": "kubernetes.io/hostname"}
    service = variant(NIMSERVICE, {"spec.podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}})
    errors, warnings = _check(NIMCACHE, service)
    assert errors == [] and any("spec.podAffinity is deprecated and ignored" in w for w in warnings), warnings
    pod = by_kind(render_text(dump(NIMCACHE, service)), "Deployment")["spec"]["template"]["spec"]
    assert "podAffinity" not in str(pod.get("affinity", {}))


def test_env_file_key_ref_is_a_manifest_field_that_a_1_33_cluster_refuses(tmp_path: Path) -> None:
    file_ref = {"volumeName": "envs", "path": "nim.env", "key": "NIM_LOG_LEVEL"}
    service = variant(NIMSERVICE, {"spec.env": [{"name": "NIM_LOG_LEVEL", "valueFrom": {"fileKeyRef": file_ref}}]})
    errors, _ = _check(NIMCACHE, service)
    assert errors == [], errors  # the manifest is the operator's: its CRD takes fileKeyRef
    broken = variant(service, {"spec.env": [{"name": "X", "valueFrom": {"fileKeyRef": {"volumeName": "envs"}}}]})
    assert any("spec.env[0].valueFrom.fileKeyRef" in e for e in _check(NIMCACHE, broken)[0])
    folder = tmp_path / "clusters" / "demo"
    folder.mkdir(parents=True)
    (folder / "m.yaml").write_text(dump(NIMCACHE, service))
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "clusters")])
    assert result.exit_code == 2 and "fileKeyRef: Forbidden: field not declared in schema" in result.output


@pytest.mark.parametrize(
    ("storage", "error", "volume"),
    [
        ({"nimCache": {"name": "llama-3-2-1b"}, "pvc": {}}, None, "persistentVolumeClaim"),
        ({"nimCache": {}, "emptyDir": {}}, None, "emptyDir"),
        ({"pvc": {}}, "exactly one of storage.nimCache", None),
        ({"nimCache": {}, "pvc": {"name": "x"}, "emptyDir": {}}, "found pvc, emptyDir", None),
        ({"hostPath": "", "emptyDir": {"sizeLimit": "1Gi"}}, "must be an absolute path", None),  # ours: stricter
    ],
)
def test_storage_counts_only_what_is_set_as_the_operator_does(
    storage: dict[str, Any], error: str | None, volume: str | None
) -> None:
    service = variant(NIMSERVICE, {"spec.storage": storage})
    errors, _ = _check(NIMCACHE, service)
    if error is not None:
        assert any(error in e for e in errors), errors
        return
    assert errors == [], errors
    pod = by_kind(render_text(dump(NIMCACHE, service)), "Deployment")["spec"]["template"]["spec"]
    store = next(v for v in pod["volumes"] if v["name"] == "model-store")
    assert volume in store, store


def test_the_crds_carry_the_new_fields() -> None:
    crd = yaml.safe_load((REPO / "deploy" / "crds" / "nimservices.apps.nvidia.com.yaml").read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    gateway = spec["expose"]["properties"]["router"]["properties"]["gateway"]
    assert sorted(gateway["required"]) == ["name", "namespace"]
    backend = gateway["properties"]["backendRef"]["properties"]
    # our CRDs leave defaults out (the rendering writes them, see above); the patterns are the CRD's
    assert backend["kind"]["pattern"] == "^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$" and backend["name"]["maxLength"] == 253
    assert "podAffinity" in spec and spec["scale"]["properties"]["hpa"]["required"] == ["maxReplicas"]
    env_source = spec["env"]["items"]["properties"]["valueFrom"]["properties"]
    assert sorted(env_source["fileKeyRef"]["required"]) == ["key", "path", "volumeName"]
    cache = yaml.safe_load((REPO / "deploy" / "crds" / "nimcaches.apps.nvidia.com.yaml").read_text())
    ngc = cache["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["source"]
    assert ngc["properties"]["ngc"]["required"] == ["modelPuller"]
