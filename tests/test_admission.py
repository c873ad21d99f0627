"""Offline admission: what kube-apiserver would refuse in a rendered object is refused before anything is written.

The same table of broken objects is judged twice: by ``reconciler.validate.admission`` / ``openapi`` offline, and
by the test API server (written separately, from the same Kubernetes validation code) over real HTTP with the
official client. Both must refuse each one, at the same field.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient

from reconciler import pipeline
from reconciler.cli.main import main
from reconciler.options import Options
from reconciler.validate import admission, names, openapi

from .apiserver import ApiServer
from .helpers import edit, install, run

REPO = Path(__file__).resolve().parents[1]


def _rendered() -> dict[str, dict[str, Any]]:
    """One valid rendered object per kind, from the example repo (the NIMService's children)."""
    result = pipeline.render(Options(repo=REPO, cluster="demo"))
    assert result.check.ok, result.check.problems
    found: dict[str, dict[str, Any]] = {}
    for obj in result.objects:
        found.setdefault(obj.body["kind"], obj.body)
    found["HorizontalPodAutoscaler"] = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "x", "namespace": "nim-service"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "x"},
            "minReplicas": 1,
            "maxReplicas": 3,
        },
    }
    found["Ingress"] = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "x", "namespace": "nim-service"},
        "spec": {
            "rules": [
                {
                    "host": "nim.example.com",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "x", "port": {"number": 8000}}},
                            }
                        ]
                    },
                }
            ]
        },
    }
    return found


BASE = _rendered()
POD = ("spec", "template", "spec")
C0 = (*POD, "containers", 0)


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        node = body
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return change


def _port_name(name: str) -> Callable[[dict[str, Any]], None]:
    return _set((*C0, "ports", 0, "name"), name)


def _two_handlers(body: dict[str, Any]) -> None:
    probe = body["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]
    probe["tcpSocket"] = {"port": 8000}


def _mount_unknown_volume(body: dict[str, Any]) -> None:
    body["spec"]["template"]["spec"]["containers"][0]["volumeMounts"].append({"name": "nowhere", "mountPath": "/x"})


def _duplicate_mount_path(body: dict[str, Any]) -> None:
    mounts = body["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    mounts.append({**mounts[0], "name": mounts[-1]["name"]})


def _duplicate_container(body: dict[str, Any]) -> None:
    containers = body["spec"]["template"]["spec"]["containers"]
    containers.append({"name": containers[0]["name"], "image": "busybox:1"})


def _requests_over_limits(body: dict[str, Any]) -> None:
    body["spec"]["template"]["spec"]["containers"][0]["resources"] = {
        "limits": {"memory": "1Gi"},
        "requests": {"memory": "2Gi"},
    }


def _gpu_request_not_limit(body: dict[str, Any]) -> None:
    body["spec"]["template"]["spec"]["containers"][0]["resources"] = {
        "limits": {"nvidia.com/gpu": 1},
        "requests": {"nvidia.com/gpu": 2},
    }


# (kind, what is broken, the change, the field both must refuse, words of the offline message)
CASES: list[tuple[str, str, Callable[[dict[str, Any]], None], tuple[Any, ...], str]] = [
    ("Deployment", "port name over 15", _port_name("http-openai-api-x"), (*C0, "ports", 0, "name"), "15 characters"),
    ("Deployment", "port name no letter", _port_name("8000"), (*C0, "ports", 0, "name"), "at least one letter"),
    ("Deployment", "port name --", _port_name("a--b"), (*C0, "ports", 0, "name"), "consecutive hyphens"),
    ("Deployment", "two probe handlers", _two_handlers, (*C0, "livenessProbe", "tcpSocket"), "more than 1 handler"),
    ("Deployment", "mount without volume", _mount_unknown_volume, (*C0, "volumeMounts"), "Not found"),
    ("Deployment", "duplicate mount path", _duplicate_mount_path, (*C0, "volumeMounts"), "must be unique"),
    ("Deployment", "duplicate container", _duplicate_container, (*POD, "containers", 1, "name"), "Duplicate"),
    ("Deployment", "requests over limits", _requests_over_limits, (*C0, "resources", "requests"), "less than or equal"),
    ("Deployment", "GPU request not limit", _gpu_request_not_limit, (*C0, "resources", "requests"), "must be equal"),
    ("Deployment", "env name with =", _set((*C0, "env", 0, "name"), "A=B"), (*C0, "env", 0, "name"), "other than '='"),
    (
        "Deployment",
        "selector not in labels",
        _set(("spec", "template", "metadata", "labels"), {"app": "other"}),
        ("spec", "template", "metadata", "labels"),
        "does not match",
    ),
    ("Deployment", "empty selector", _set(("spec", "selector"), {}), ("spec", "selector"), "empty selector"),
    ("Deployment", "restart Never", _set((*POD, "restartPolicy"), "Never"), (*POD, "restartPolicy"), "Unsupported"),
    ("Deployment", "bad label", _set(("metadata", "labels", "team"), "a b"), ("metadata", "labels"), "valid label"),
    ("Deployment", "bad label key", _set(("metadata", "labels", "-x"), "y"), ("metadata", "labels"), "name part"),
    (
        "Deployment",
        "annotations over 256 KiB",
        _set(("metadata", "annotations", "big"), "x" * (256 * 1024)),
        ("metadata", "annotations"),
        "Too long",
    ),
    ("Deployment", "replicas a string", _set(("spec", "replicas"), "many"), ("spec", "replicas"), "not of type"),
    ("Deployment", "unknown field", _set(("spec", "bogusField"), 1), ("spec", "bogusField"), "not declared"),
    (
        "Deployment",
        "two ports of one number",
        lambda b: b["spec"]["template"]["spec"]["containers"][0]["ports"].append({"name": "b", "containerPort": 8000}),
        (*C0, "ports", 1),
        "Duplicate value: 8000",
    ),
    (
        "Service",
        "two service ports of one number",
        lambda b: b["spec"]["ports"].append({**b["spec"]["ports"][0], "name": "other"}),
        ("spec", "ports", 1),
        "Duplicate value",
    ),
    (
        "Deployment",
        "one pull secret twice",
        _set((*POD, "imagePullSecrets"), [{"name": "ngc-secret"}, {"name": "ngc-secret"}]),
        (*POD, "imagePullSecrets", 1),
        "Duplicate value",
    ),
    ("Deployment", "replicas 2.0", _set(("spec", "replicas"), 2.0), ("spec", "replicas"), "must be an integer"),
    (
        "Deployment",
        "container port 8000.0",
        _set((*C0, "ports", 0, "containerPort"), 8000.0),
        (*C0, "ports", 0, "containerPort"),
        "must be an integer",
    ),
    (
        "Service",
        "target port 8000.0 (int-or-string)",
        _set(("spec", "ports", 0, "targetPort"), 8000.0),
        ("spec", "ports", 0, "targetPort"),
        "must be an integer",
    ),
    ("Job", "restart Always", _set((*POD, "restartPolicy"), "Always"), (*POD, "restartPolicy"), "Unsupported"),
    (
        "Service",
        "unnamed second port",
        lambda b: b["spec"]["ports"].append({"port": 9000}),
        ("spec", "ports", 1, "name"),
        "Required",
    ),
    ("Service", "port 0", _set(("spec", "ports", 0, "port"), 0), ("spec", "ports", 0, "port"), "between 1 and 65535"),
    ("HorizontalPodAutoscaler", "max below min", _set(("spec", "maxReplicas"), 0), ("spec", "maxReplicas"), "must be"),
    ("HorizontalPodAutoscaler", "min -1", _set(("spec", "minReplicas"), -1), ("spec", "minReplicas"), "0"),
    (
        "HorizontalPodAutoscaler",
        "min 0 on CPU only",
        _set(("spec", "minReplicas"), 0),
        ("spec", "metrics"),
        "at least one Object or External metric",
    ),
    (
        "Ingress",
        "relative Prefix path",
        _set(("spec", "rules", 0, "http", "paths", 0, "path"), "v1"),
        ("spec", "rules", 0, "http", "paths", 0, "path"),
        "absolute path",
    ),
    (
        "Ingress",
        "unknown path type",
        _set(("spec", "rules", 0, "http", "paths", 0, "pathType"), "Regex"),
        ("spec", "rules", 0, "http", "paths", 0, "pathType"),
        "",
    ),
    (
        "PersistentVolumeClaim",
        "no access mode",
        _set(("spec", "accessModes"), []),
        ("spec", "accessModes"),
        "access mode",
    ),
]


def _broken(kind: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    body = copy.deepcopy(BASE[kind])
    change(body)
    return body


def _offline(body: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    return [(v.path, str(v)) for v in (openapi.schema_violations(body) or admission.admit(body))]


def _parts(field: str) -> tuple[str, ...]:
    """``a.b[0].c`` or ``a.b.0.c`` → ("a", "b", "0", "c"): the server's and ours, compared alike."""
    return tuple(p for p in re.split(r"[.\[\]]+", field) if p)


def _under(server_field: str, path: tuple[Any, ...]) -> bool:
    ours = tuple(str(p) for p in path)
    theirs = _parts(server_field)
    return ours[: len(theirs)] == theirs or theirs[: len(ours)] == ours


@pytest.mark.parametrize("kind", sorted(BASE))
def test_the_objects_we_render_are_admitted(kind: str) -> None:
    assert _offline(BASE[kind]) == []


@pytest.mark.parametrize(("kind", "what", "change", "field", "words"), CASES, ids=[c[1] for c in CASES])
def test_offline_admission_refuses_what_kube_apiserver_refuses(
    kind: str, what: str, change: Callable[[dict[str, Any]], None], field: tuple[Any, ...], words: str
) -> None:
    found = _offline(_broken(kind, change))
    assert any(path[: len(field)] == field and words in text for path, text in found), found


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DynamicClient]:
    tmp = tmp_path_factory.mktemp("admission")
    # offline admission takes minReplicas 0 as a cluster with the (alpha) HPAScaleToZero gate does; so does this
    # server (test_parity shows a cluster without the gate refusing it)
    namespaces = ("nim-service", "nemoguard", "nim-init-demo")
    with ApiServer(tmp, namespaces=namespaces, feature_gates=("HPAScaleToZero",)) as api:
        client = k8s_config.new_client_from_config(config_file=str(api.kubeconfig))
        yield DynamicClient(client, cache_file=str(tmp / "discovery.json"))


@pytest.mark.parametrize(("kind", "what", "change", "field", "words"), CASES, ids=[c[1] for c in CASES])
def test_the_test_api_server_refuses_the_same_objects_at_the_same_field(
    server: DynamicClient,
    kind: str,
    what: str,
    change: Callable[[dict[str, Any]], None],
    field: tuple[Any, ...],
    words: str,
) -> None:
    body = _broken(kind, change)
    res = server.resources.get(api_version=body["apiVersion"], kind=kind)
    with pytest.raises(ApiException) as refused:
        server.server_side_apply(
            res, body=body, namespace=body["metadata"]["namespace"], field_manager="t", force_conflicts=True
        )
    assert refused.value.status == 422, refused.value.body
    causes = json.loads(refused.value.body)["details"]["causes"]
    assert any(_under(c["field"], field) for c in causes), causes


def test_the_test_api_server_takes_what_we_render(server: DynamicClient) -> None:
    for kind, body in BASE.items():
        if kind in ("NIMCache", "NIMService", "Namespace"):
            continue
        res = server.resources.get(api_version=body["apiVersion"], kind=kind)
        server.server_side_apply(
            res, body=body, namespace=body["metadata"]["namespace"], field_manager="t", force_conflicts=True
        )


@pytest.mark.parametrize(
    ("check", "value", "valid"),
    [
        (names.port_name, "http", True),
        (names.port_name, "http-openai-api", True),  # 15
        (names.port_name, "http-openai-apis", False),  # 16
        (names.port_name, "80", False),
        (names.port_name, "-http", False),
        (names.port_name, "HTTP", False),
        (names.qualified_name, "app.kubernetes.io/name", True),
        (names.qualified_name, "nvidia.com/", False),
        (names.qualified_name, "a/b/c", False),
        (names.qualified_name, "x" * 64, False),
        (names.label_value, "", True),
        (names.label_value, "v1.2_3-x", True),
        (names.label_value, "a b", False),
        (names.label_value, "x" * 64, False),
        (names.env_name, "NIM_CACHE_PATH", True),
        (names.env_name, "1.weird-but-ok", True),
        (names.env_name, "A=B", False),
        (names.env_name, "", False),
        (names.dns_1035, "9lives", False),
        (names.dns_label, "Upper", False),
        (names.host, "*.example.com", True),
        (names.host, "a.*.example.com", False),
    ],
)
def test_name_syntax(check: Callable[[Any], str | None], value: str, valid: bool) -> None:
    assert (check(value) is None) is valid


# --- the user's view: where a refusal comes from, and that nothing is written -------------------------------


def _bad_port_label(docs: list[Any]) -> None:
    docs[0]["spec"]["labels"] = {"team": "billing team"}  # a space: not a label value


def test_a_manifest_value_the_cluster_would_refuse_names_the_manifest_line_and_nothing_is_written(
    api: ApiServer, repo: Path
) -> None:
    install(api)
    edit(repo, "llama-3-2-1b-nimservice.yaml", _bad_port_label)
    writes = sum(1 for r in api.requests if r.write)
    code, out = run(api, repo)
    assert code == 2, out
    line = next(
        i
        for i, t in enumerate((next(repo.rglob("llama-3-2-1b-nimservice.yaml"))).read_text().splitlines(), 1)
        if "billing team" in t
    )
    deployment = "Deployment/nim-service/meta-llama-3-2-1b-instruct"
    expected = (
        f"llama-3-2-1b-nimservice.yaml:{line}: spec.labels.team: the cluster would refuse {deployment}: "
        'spec.template.metadata.labels.team: Invalid value: "billing team"'
    )
    assert expected in out
    assert sum(1 for r in api.requests if r.write) == writes  # nothing applied
    # validate, render and an offline dry run give the same verdict
    for args in (
        ["validate", str(repo / "clusters")],
        ["render", str(repo)],
        ["--repo", str(repo), "--dry-run", "--offline"],
    ):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, (args, result.output)
        assert "spec.labels.team: the cluster would refuse" in result.output, args


@pytest.mark.parametrize(
    ("line", "refused"),
    [
        ('  replicas: "many"', "spec.replicas: Invalid value"),
        ("  bogusField: 1", "spec.bogusField: Forbidden: field not declared in schema"),
        ("  replicas: 2.0", "spec.replicas: Invalid value: 2.0: must be an integer"),
    ],
)
def test_a_template_override_the_cluster_would_refuse_names_the_template_line(
    tmp_path: Path, line: str, refused: str
) -> None:
    overrides = tmp_path / "templates" / "nimservice"
    overrides.mkdir(parents=True)
    shipped = (REPO / "templates" / "nimservice" / "deployment.yaml.j2").read_text().splitlines()
    at = shipped.index("spec:") + 1
    (overrides / "deployment.yaml.j2").write_text("\n".join([*shipped[:at], line, *shipped[at:]]) + "\n")
    result = CliRunner().invoke(
        main, ["--repo", str(REPO), "--dry-run", "--offline", "--templates", str(tmp_path / "templates")]
    )
    assert result.exit_code == 2, result.output
    deployment = "Deployment/nim-service/meta-llama-3-2-1b-instruct"
    assert f"deployment.yaml.j2:{at + 1}: the cluster would refuse {deployment}: {refused}" in result.output
    assert "► " not in result.output  # no plan printed for invalid input
