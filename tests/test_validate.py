"""validate/: the schema and the operator's rules, one valid and one invalid case each."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.documents import load_text
from reconciler.errors import Severity
from reconciler.validate.check import validate

from .manifests import DELETE, HF_SOURCE, NIMCACHE, NIMSERVICE, dump, variant


def errors_of(*bodies: dict[str, Any]) -> set[tuple[str, str]]:
    docs, problems = load_text(dump(*bodies), "m.yaml")
    assert not problems
    result = validate(docs)
    return {(p.rule, p.field) for p in result.problems if p.severity is Severity.ERROR}


def test_the_minimal_manifests_are_valid() -> None:
    assert errors_of(NIMCACHE, NIMSERVICE) == set()


# (id, kind, changes that stay valid, changes that break the rule, expected (rule, field))
CACHE_CASES: list[tuple[str, dict[str, Any], dict[str, Any], tuple[str, str]]] = [
    (
        "source exactly one (two)",
        {"spec.source.hf": DELETE},
        {"spec.source.hf": HF_SOURCE},
        ("source-exactly-one", "spec.source"),
    ),
    ("source exactly one (none)", {}, {"spec.source": {}}, ("source-exactly-one", "spec.source")),
    (
        "hf model or dataset",
        {"spec.source": {"hf": HF_SOURCE}},
        {"spec.source": {"hf": {**HF_SOURCE, "datasetName": "d"}}},
        ("model-or-dataset", "spec.source.hf"),
    ),
    (
        "hf neither model nor dataset",
        {"spec.source": {"hf": HF_SOURCE}},
        {"spec.source": {"hf": {k: v for k, v in HF_SOURCE.items() if k != "modelName"}}},
        ("model-or-dataset", "spec.source.hf"),
    ),
    (
        "datastore model or dataset",
        {"spec.source": {"dataStore": {**HF_SOURCE, "endpoint": "http://ds.svc:8000/v1/hf"}}},
        {"spec.source": {"dataStore": {**HF_SOURCE, "endpoint": "http://ds.svc:8000/v1/hf", "datasetName": "d"}}},
        ("model-or-dataset", "spec.source.dataStore"),
    ),
    (
        "model or modelEndpoint",
        {"spec.source.ngc.modelEndpoint": DELETE},
        {"spec.source.ngc.modelEndpoint": "ngc://nvidia/nemo/x"},
        ("model-or-endpoint", "spec.source.ngc.modelEndpoint"),
    ),
    (
        "profiles forbid selectors",
        {"spec.source.ngc.model": {"profiles": ["abc"]}},
        {"spec.source.ngc.model": {"profiles": ["abc"], "engine": "vllm"}},
        ("profiles-exclusive", "spec.source.ngc.model.engine"),
    ),
    (
        "profiles forbid gpus",
        {"spec.source.ngc.model": {"profiles": ["abc"]}},
        {"spec.source.ngc.model": {"profiles": ["abc"], "gpus": [{"product": "h100"}]}},
        ("profiles-exclusive", "spec.source.ngc.model.gpus"),
    ),
    (
        "profiles forbid lora",
        {"spec.source.ngc.model": {"profiles": ["all"]}},
        {"spec.source.ngc.model": {"profiles": ["abc"], "lora": False}},
        ("profiles-exclusive", "spec.source.ngc.model.lora"),
    ),
    (
        "all stands alone",
        {"spec.source.ngc.model": {"profiles": ["all"]}},
        {"spec.source.ngc.model": {"profiles": ["all", "abc"]}},
        ("profiles-all-alone", "spec.source.ngc.model.profiles"),
    ),
    (
        "qosProfile enum",
        {"spec.source.ngc.model.qosProfile": "latency"},
        {"spec.source.ngc.model.qosProfile": "fast"},
        ("schema/enum", "spec.source.ngc.model.qosProfile"),
    ),
    ("storage.pvc required", {}, {"spec.storage": {"hostPath": "/data"}}, ("storage-pvc", "spec.storage.pvc")),
    (
        "pvc name without create",
        {"spec.storage.pvc": {"name": "existing"}},
        {"spec.storage.pvc": {"create": False}},
        ("pvc-name", "spec.storage.pvc.name"),
    ),
    ("pvc size with create", {}, {"spec.storage.pvc.size": DELETE}, ("pvc-size", "spec.storage.pvc.size")),
    (
        "pvc access mode with create",
        {},
        {"spec.storage.pvc.volumeAccessMode": DELETE},
        ("pvc-volumeAccessMode", "spec.storage.pvc.volumeAccessMode"),
    ),
    (
        "proxy scheme",
        {"spec.proxy": {"httpsProxy": "https://p:8443"}},
        {"spec.proxy": {"httpsProxy": "p:8443"}},
        ("proxy-scheme", "spec.proxy.httpsProxy"),
    ),
    (
        "noProxy tokens",
        {"spec.proxy": {"noProxy": "localhost,127.0.0.1,.svc,10.0.0.0/8,[::1]:80,10.1.1.1:80"}},
        {"spec.proxy": {"noProxy": "localhost,a b"}},
        ("proxy-no-proxy", "spec.proxy.noProxy"),
    ),
    ("noProxy bad CIDR", {}, {"spec.proxy": {"noProxy": "10.0.0.0/99"}}, ("proxy-no-proxy", "spec.proxy.noProxy")),
    (
        "certConfig deprecated",
        {"spec.proxy": {"certConfigMap": "ca"}},
        {"spec.certConfig": {"name": "ca", "mountPath": "/etc/ssl"}},
        ("cert-config-deprecated", "spec.certConfig"),
    ),
    (
        "dataStore endpoint pattern",
        {"spec.source": {"dataStore": {**HF_SOURCE, "endpoint": "http://ds:8000/v1/hf/"}}},
        {"spec.source": {"dataStore": {**HF_SOURCE, "endpoint": "http://ds:8000/v2/models"}}},
        ("schema/pattern", "spec.source.dataStore.endpoint"),
    ),
    (
        "hf endpoint pattern",
        {"spec.source": {"hf": HF_SOURCE}},
        {"spec.source": {"hf": {**HF_SOURCE, "endpoint": "huggingface.co"}}},
        ("schema/pattern", "spec.source.hf.endpoint"),
    ),
    (
        "quantity pattern",
        {"spec.resources": {"cpu": "4000m", "memory": "8192Mi"}},
        {"spec.resources": {"cpu": "4 cores"}},
        ("schema/anyOf", "spec.resources.cpu"),
    ),
    (
        "pvc size pattern",
        {"spec.storage.pvc.size": "1.5Ti"},
        {"spec.storage.pvc.size": "50GB"},
        ("schema/pattern", "spec.storage.pvc.size"),
    ),
    (
        "access mode enum",
        {"spec.storage.pvc.volumeAccessMode": "ReadWriteMany"},
        {"spec.storage.pvc.volumeAccessMode": "RWX"},
        ("schema/enum", "spec.storage.pvc.volumeAccessMode"),
    ),
    (
        "unknown field",
        {},
        {"spec.storage.pvc.sizee": "50Gi"},
        ("schema/additionalProperties", "spec.storage.pvc.sizee"),
    ),
    (
        "toleration is a real Toleration",
        {"spec.tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}]},
        {"spec.tolerations": [{"key": "k", "operator": "Exists", "effct": "NoSchedule"}]},
        ("schema/additionalProperties", "spec.tolerations[0].effct"),
    ),
    (
        "toleration operator enum",
        {},
        {"spec.tolerations": [{"key": "k", "operator": "exists"}]},
        ("schema/enum", "spec.tolerations[0].operator"),
    ),
    (
        "env is a real EnvVar",
        {"spec.env": [{"name": "A", "value": "1"}]},
        {"spec.env": [{"name": "A", "value": 1}]},
        ("schema/type", "spec.env[0].value"),
    ),
    ("name is DNS-1123", {"metadata.name": "a-b-1"}, {"metadata.name": "A_b"}, ("schema/pattern", "metadata.name")),
    (
        "name fits the Job name",
        {"metadata.name": "a" * 50},
        {"metadata.name": "a" * 51},
        ("name-length", "metadata.name"),
    ),
    ("namespace required", {}, {"metadata.namespace": DELETE}, ("schema/required", "metadata.namespace")),
    ("apiVersion", {}, {"apiVersion": "apps.nvidia.com/v1"}, ("api-version", "apiVersion")),
    (
        "type slip",
        {"spec.source.ngc.model.tensorParallelism": "2"},
        {"spec.source.ngc.model.tensorParallelism": 2},
        ("schema/type", "spec.source.ngc.model.tensorParallelism"),
    ),
    ("status is not ours to write", {}, {"status": {"state": "Ready"}}, ("schema/additionalProperties", "status")),
]


@pytest.mark.parametrize(
    ("valid", "invalid", "expected"), [c[1:] for c in CACHE_CASES], ids=[c[0] for c in CACHE_CASES]
)
def test_nimcache_rule(valid: dict[str, Any], invalid: dict[str, Any], expected: tuple[str, str]) -> None:
    assert errors_of(*with_user(variant(NIMCACHE, valid))) == set()
    assert expected in errors_of(*with_user(variant(NIMCACHE, invalid)))


def with_user(cache: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The cache and a NIMService that uses it (so renaming the cache keeps the reference intact)."""
    name = cache["metadata"]["name"]
    return cache, variant(NIMSERVICE, {"spec.storage.nimCache.name": name, "metadata.namespace": "nim"})


SERVICE_CASES: list[tuple[str, dict[str, Any], dict[str, Any], tuple[str, str]]] = [
    (
        "storage exactly one (two)",
        {"spec.storage": {"emptyDir": {"sizeLimit": "10Gi"}}},
        {"spec.storage.emptyDir": {"sizeLimit": "10Gi"}},
        ("storage-exactly-one", "spec.storage"),
    ),
    (
        "storage exactly one (none)",
        {"spec.storage": {"hostPath": "/models"}},
        {"spec.storage": {}},
        ("storage-exactly-one", "spec.storage"),
    ),
    (
        "profile needs name",
        {"spec.storage.nimCache.profile": "abc"},
        {"spec.storage.nimCache": {"profile": "abc"}},
        ("nimcache-profile", "spec.storage.nimCache.name"),
    ),
    (
        "own pvc needs a name",
        {"spec.storage": {"pvc": {"name": "models"}}},
        {"spec.storage": {"pvc": {"subPath": "x"}}},
        ("pvc-name", "spec.storage.pvc.name"),
    ),
    (
        "replicas with scale",
        {"spec.scale": {"enabled": True, "hpa": {"maxReplicas": 2}}},
        {"spec.replicas": 1, "spec.scale": {"enabled": True, "hpa": {"maxReplicas": 2}}},
        ("replicas-with-scale", "spec.replicas"),
    ),
    (
        "scale needs maxReplicas",
        {"spec.scale": {"enabled": False}},
        {"spec.scale": {"enabled": True, "hpa": {}}},
        ("scale-hpa", "spec.scale.hpa.maxReplicas"),
    ),
    (
        "minReplicas not above maxReplicas",
        {"spec.scale": {"enabled": True, "hpa": {"minReplicas": 2, "maxReplicas": 2}}},
        {"spec.scale": {"enabled": True, "hpa": {"minReplicas": 3, "maxReplicas": 2}}},
        ("scale-hpa", "spec.scale.hpa.minReplicas"),
    ),
    (
        "hpa metrics are real MetricSpecs",
        {
            "spec.scale": {
                "enabled": True,
                "hpa": {
                    "maxReplicas": 2,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
                        }
                    ],
                },
            }
        },
        {"spec.scale": {"enabled": True, "hpa": {"maxReplicas": 2, "metrics": [{"type": "Cpu"}]}}},
        ("schema/enum", "spec.scale.hpa.metrics[0].type"),
    ),
    (
        "shared memory > 0",
        {"spec.storage.sharedMemorySizeLimit": "1Gi"},
        {"spec.storage.sharedMemorySizeLimit": "0"},
        ("shared-memory", "spec.storage.sharedMemorySizeLimit"),
    ),
    (
        "ingress and router ingress",
        {"spec.expose.router": {"hostDomainName": "example.com", "ingress": {"ingressClass": "nginx"}}},
        {
            "spec.expose.ingress": {"enabled": True, "spec": {}},
            "spec.expose.router": {"hostDomainName": "example.com", "ingress": {"ingressClass": "nginx"}},
        },
        ("ingress-exclusive", "spec.expose.router.ingress"),
    ),
    (
        "router ingress and gateway",
        {"spec.expose.router": {"hostDomainName": "example.com", "gateway": {"name": "gw", "namespace": "infra"}}},
        {
            "spec.expose.router": {
                "hostDomainName": "example.com",
                "gateway": {"name": "gw", "namespace": "infra"},
                "ingress": {"ingressClass": "nginx"},
            }
        },
        ("router-exclusive", "spec.expose.router.gateway"),
    ),
    (
        "router needs hostDomainName",
        {"spec.expose.router": {"annotations": {"a": "b"}}},
        {"spec.expose.router": {"gateway": {"name": "gw", "namespace": "infra"}}},
        ("router-host", "spec.expose.router.hostDomainName"),
    ),
    (
        "grpc routes need grpcPort",
        {
            "spec.expose.service.grpcPort": 8001,
            "spec.expose.router": {
                "hostDomainName": "example.com",
                "gateway": {"name": "gw", "namespace": "infra", "grpcRoutesEnabled": True},
            },
        },
        {
            "spec.expose.router": {
                "hostDomainName": "example.com",
                "gateway": {"name": "gw", "namespace": "infra", "grpcRoutesEnabled": True},
            }
        },
        ("grpc-port", "spec.expose.router.gateway.grpcRoutesEnabled"),
    ),
    (
        "metrics need a serviceMonitor",
        {"spec.metrics": {"enabled": True, "serviceMonitor": {"interval": "30s"}}},
        {"spec.metrics": {"enabled": True}},
        ("metrics-service-monitor", "spec.metrics.serviceMonitor"),
    ),
    (
        "port range",
        {"spec.expose.service.port": 65535},
        {"spec.expose.service.port": 70000},
        ("schema/maximum", "spec.expose.service.port"),
    ),
    (
        "probe is a real Probe",
        {"spec.readinessProbe": {"probe": {"httpGet": {"path": "/v1/health/ready", "port": "api"}}}},
        {"spec.readinessProbe": {"probe": {"httpGet": {"path": "/", "port": "api"}, "periodSecond": 5}}},
        ("schema/additionalProperties", "spec.readinessProbe.probe.periodSecond"),
    ),
    (
        "affinity is a real Affinity",
        {"spec.affinity": {"nodeAffinity": {}}},
        {"spec.affinity": {"nodeAfinity": {}}},
        ("schema/additionalProperties", "spec.affinity.nodeAfinity"),
    ),
    (
        "resources are real ResourceRequirements",
        {},
        {"spec.resources": {"limit": {"cpu": 1}}},
        ("schema/additionalProperties", "spec.resources.limit"),
    ),
    ("service name is DNS-1035", {"metadata.name": "a1"}, {"metadata.name": "1a"}, ("name-dns1035", "metadata.name")),
    (
        "name fits the container name",
        {"metadata.name": "a" * 59},
        {"metadata.name": "a" * 60},
        ("name-length", "metadata.name"),
    ),
    (
        "kserve not supported",
        {"spec.inferencePlatform": "standalone"},
        {"spec.inferencePlatform": "kserve"},
        ("not-supported", "spec.inferencePlatform"),
    ),
    (
        "multiNode not supported",
        {},
        {"spec.multiNode": {"parallelism": {"tensor": 8}}},
        ("not-supported", "spec.multiNode"),
    ),
    (
        "serviceMonitor interval is a duration",
        {"spec.metrics": {"enabled": True, "serviceMonitor": {"interval": "1m30s"}}},
        {"spec.metrics": {"enabled": True, "serviceMonitor": {"interval": "90 seconds"}}},
        ("schema/pattern", "spec.metrics.serviceMonitor.interval"),
    ),
]


@pytest.mark.parametrize(
    ("valid", "invalid", "expected"), [c[1:] for c in SERVICE_CASES], ids=[c[0] for c in SERVICE_CASES]
)
def test_nimservice_rule(valid: dict[str, Any], invalid: dict[str, Any], expected: tuple[str, str]) -> None:
    assert errors_of(NIMCACHE, variant(NIMSERVICE, valid)) == set()
    assert expected in errors_of(NIMCACHE, variant(NIMSERVICE, invalid))


def test_unsupported_kind_is_named() -> None:
    docs, _ = load_text("apiVersion: apps.nvidia.com/v1alpha1\nkind: NIMPipeline\nmetadata: {name: p}\n", "p.yaml")
    problems = validate(docs).problems
    assert [(p.rule, p.where.line) for p in problems] == [("kind-not-supported", 2)]
    assert "NIMPipeline is not supported" in problems[0].message


def test_same_resource_twice_names_both_files() -> None:
    first, _ = load_text(dump(NIMCACHE), "a.yaml")
    second, _ = load_text(dump(NIMCACHE), "b.yaml")
    problems = validate([*first, *second]).problems
    duplicate = [p for p in problems if p.rule == "duplicate"]
    assert len(duplicate) == 1
    assert duplicate[0].where.path == "b.yaml"
    assert "a.yaml:4" in duplicate[0].message  # the line of metadata.name


def test_nimservice_must_reference_a_nimcache_in_its_namespace() -> None:
    other_ns = variant(NIMCACHE, {"metadata.namespace": "elsewhere"})
    assert ("nimcache-reference", "spec.storage.nimCache.name") in errors_of(other_ns, NIMSERVICE)


def test_type_slip_says_how_to_quote_it() -> None:
    text = (
        dump(NIMCACHE)
        .replace('tensorParallelism: "1"', "tensorParallelism: 1")
        .replace("tensorParallelism: '1'", "tensorParallelism: 1")
    )
    docs, _ = load_text(text, "m.yaml")
    [problem] = validate(docs).errors
    assert problem.message == 'must be a string; quote it: "1"'


def test_errors_point_at_the_line_of_the_field() -> None:
    text = """apiVersion: apps.nvidia.com/v1alpha1
kind: NIMCache
metadata:
  name: c
  namespace: nim
spec:
  source:
    ngc:
      modelPuller: nvcr.io/nim/x:1
      authSecret: s
  storage:
    pvc:
      create: true
      sizee: 50Gi
      volumeAccessMode: ReadWriteOnce
"""
    docs, _ = load_text(text, "m.yaml")
    found = {(p.rule, p.where.line, p.message) for p in validate(docs).errors}
    assert ("schema/additionalProperties", 14, 'unknown field "sizee" (did you mean "size"?)') in found
    assert any(rule == "pvc-size" and line == 12 for rule, line, _ in found)


def test_misplaced_field_suggests_where_it_belongs() -> None:
    body = variant(NIMSERVICE, {"spec.router": {"hostDomainName": "example.com"}})
    docs, _ = load_text(dump(NIMCACHE, body), "m.yaml")
    [problem] = validate(docs).errors
    assert "did you mean spec.expose.router?" in problem.message


def test_all_problems_are_reported_at_once() -> None:
    broken = variant(
        NIMCACHE, {"spec.storage.pvc.size": DELETE, "spec.proxy": {"httpProxy": "x"}, "metadata.name": "X"}
    )
    assert errors_of(broken) == {
        ("pvc-size", "spec.storage.pvc.size"),
        ("proxy-scheme", "spec.proxy.httpProxy"),
        ("schema/pattern", "metadata.name"),
    }


def test_dynamic_resource_claims_are_refused_as_the_operator_webhook_does() -> None:
    service = variant(NIMSERVICE, {"spec.resources": {"claims": [{"name": "gpu"}], "limits": {"nvidia.com/gpu": 1}}})
    assert ("resources-claims", "spec.resources.claims") in errors_of(NIMCACHE, service)


def test_a_root_user_id_for_the_caching_job_is_refused() -> None:
    # runAsNonRoot: true on the caching Job's pod: with userID 0 it could never start
    assert ("user-id-root", "spec.userID") in errors_of(variant(NIMCACHE, {"spec.userID": 0}))
    assert errors_of(variant(NIMCACHE, {"spec.userID": 1001})) == set()
