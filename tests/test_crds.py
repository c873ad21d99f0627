"""cluster/crds.py: the generated CRDs are structural (what a real API server accepts) and in sync with deploy/crds/."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.cluster import crds

from .apiserver import ApiServer
from .helpers import REPO

structural_problems = crds.structural_problems


@pytest.mark.parametrize("crd", crds.definitions(), ids=lambda c: c["metadata"]["name"])
def test_generated_crd_is_structural(crd: dict[str, Any]) -> None:
    version = crd["spec"]["versions"][0]
    assert structural_problems(version["schema"]["openAPIV3Schema"]) == []
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    assert columns[0] == "Status" and columns[-1] == "Age"
    assert crd["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "nim-reconciler"


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        ({"type": "object", "properties": {"a": {"$ref": "#/x"}}}, ".a: $ref is not allowed"),
        ({"type": "object", "properties": {"a": {"description": "no type"}}}, ".a: type must not be empty"),
        ({"type": "object", "properties": {"a": {"type": "array"}}}, ".a: items must be specified for an array"),
        (
            {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "string"}},
            ".: properties and additionalProperties are mutually exclusive",
        ),
        ({"type": "object", "additionalProperties": False}, ".: additionalProperties: false is not allowed"),
        ({"type": "array", "items": {"type": "string"}, "uniqueItems": True}, ".: uniqueItems: true is not allowed"),
        (
            {"type": "object", "patternProperties": {"^a": {"type": "string"}}},
            ".: patternProperties is not allowed",
        ),
        (
            {"type": "string", "anyOf": [{"type": "string", "pattern": "^a"}]},
            "[anyOf][0]: type must not be set inside allOf/anyOf/oneOf/not",
        ),
        (
            {"x-kubernetes-int-or-string": True, "type": "string"},
            ".: type must be empty with x-kubernetes-int-or-string",
        ),
        (
            {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
                "items": {"type": "object", "properties": {"name": {"type": "string"}}},
            },
            ".: list-map key name must be required in its items",
        ),
    ],
)
def test_the_structural_check_knows_each_rule(schema: dict[str, Any], problem: str) -> None:
    assert any(p.startswith(problem) for p in structural_problems(schema)), structural_problems(schema)


def test_value_validations_inside_junctors_are_structural() -> None:
    schema = {
        "type": "string",
        "anyOf": [{"pattern": "^a"}, {"maxLength": 3}],
        "x-kubernetes-preserve-unknown-fields": True,
    }
    assert structural_problems({"type": "object", "properties": {"a": schema}}) == []


def test_the_api_server_refuses_a_non_structural_crd(tmp_path: Path) -> None:
    # Regression: spec.draResources was `type: array` without items; kube-apiserver refuses such a CRD, the test
    # server accepted it, and `kubectl apply -f deploy/crds/` failed on a real cluster only.
    from reconciler.cluster.kube import Cluster
    from reconciler.errors import Invalid
    from reconciler.kinds import CRD
    from reconciler.options import ClusterConfig

    crd = crds.definitions()[1]
    broken = copy.deepcopy(crd)
    spec = broken["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    del spec["properties"]["draResources"]["items"]
    with ApiServer(tmp_path) as api:
        cluster = Cluster(ClusterConfig(kubeconfig=(str(api.kubeconfig),), agent="crd-test"))
        with pytest.raises(Invalid, match=r"properties\[draResources\]\.items: Required value: must be specified"):
            cluster.apply(CRD, broken)
        assert cluster.apply(CRD, crd)["metadata"]["name"] == "nimservices.apps.nvidia.com"
        cluster.close()


def test_nimcache_crd_has_the_operator_printer_columns() -> None:
    nimcache = next(c for c in crds.definitions() if c["spec"]["names"]["kind"] == "NIMCache")
    columns = nimcache["spec"]["versions"][0]["additionalPrinterColumns"]
    assert [(c["name"], c["jsonPath"]) for c in columns] == [
        ("Status", ".status.state"),
        ("PVC", ".status.pvc"),
        ("Age", ".metadata.creationTimestamp"),
    ]


def test_deploy_crds_are_in_sync_with_the_schemas() -> None:
    for crd in crds.definitions():
        path = REPO / "deploy" / "crds" / f"{crd['metadata']['name']}.yaml"
        assert yaml.safe_load(path.read_text()) == crd, f"{path} is stale: run python scripts/gen_crds.py"


def test_quantities_become_int_or_string_and_env_a_list_map() -> None:
    nimservice = next(c for c in crds.definitions() if c["spec"]["names"]["kind"] == "NIMService")
    spec = nimservice["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    assert spec["storage"]["properties"]["sharedMemorySizeLimit"]["x-kubernetes-int-or-string"] is True
    assert spec["env"]["x-kubernetes-list-type"] == "map" and spec["env"]["x-kubernetes-list-map-keys"] == ["name"]


def test_custom_resources_are_served_once_the_crds_are_applied() -> None:
    with ApiServer() as api:
        crd_res = api.store.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        assert crd_res is not None and api.store.resource("apps.nvidia.com", "v1alpha1", "nimcaches") is None
        for crd in crds.definitions():
            api.store.apply(crd_res, "", crd["metadata"]["name"], crd, "nim-reconciler", True, False)
        assert api.store.resource("apps.nvidia.com", "v1alpha1", "nimcaches") is not None


def _install(api: ApiServer, *flags: str) -> tuple[int, str]:
    from click.testing import CliRunner

    from reconciler.cli.main import main

    result = CliRunner().invoke(main, ["install-crds", "--kubeconfig", str(api.kubeconfig), *flags])
    return result.exit_code, result.output


def _operator_crds(api: ApiServer) -> None:
    """NVIDIA's operator installed its CRDs (its own field manager, no label of ours)."""
    res = api.store.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    assert res is not None
    for crd in crds.definitions():
        body = {**crd, "metadata": {"name": crd["metadata"]["name"]}}
        api.store.create(res, "", body, "k8s-nim-operator", False)


def test_install_crds_creates_then_reports_unchanged_and_dry_run_says_what_would_change(tmp_path: Path) -> None:
    with ApiServer(tmp_path) as api:
        assert _install(api, "--dry-run") == (1, _lines("created", "created"))
        assert api.writes() and all(r.query.get("dryRun") == "All" for r in api.writes())
        assert _install(api) == (0, _lines("created", "created"))
        before = len(api.writes())
        assert _install(api) == (0, _lines("unchanged", "unchanged"))
        assert _install(api, "--dry-run") == (0, _lines("unchanged", "unchanged"))
        assert len(api.writes()) == before  # nothing written when nothing changed


def test_install_crds_leaves_the_crds_of_another_manager_alone(tmp_path: Path) -> None:
    with ApiServer(tmp_path) as api:
        _operator_crds(api)
        code, out = _install(api)
        assert code == 3
        assert "► CustomResourceDefinition/nimcaches.apps.nvidia.com blocked (installed by k8s-nim-operator" in out
        assert api.writes() == []
        stored = api.store.objects[("customresourcedefinitions", "", "nimcaches.apps.nvidia.com")]
        assert "labels" not in stored["metadata"]


def test_install_crds_adopt_takes_them_over_and_says_so(tmp_path: Path) -> None:
    with ApiServer(tmp_path) as api:
        _operator_crds(api)
        code, out = _install(api, "--adopt")
        assert code == 0, out
        adopted = "► CustomResourceDefinition/nimservices.apps.nvidia.com configured (adopted from k8s-nim-operator)"
        assert adopted in out
        stored = api.store.objects[("customresourcedefinitions", "", "nimcaches.apps.nvidia.com")]
        assert stored["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "nim-reconciler"


def _lines(cache: str, service: str) -> str:
    return (
        f"► CustomResourceDefinition/nimcaches.apps.nvidia.com {cache}\n"
        f"► CustomResourceDefinition/nimservices.apps.nvidia.com {service}\n"
    )
