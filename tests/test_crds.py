"""cluster/crds.py: the generated CRDs are structural (what a real API server accepts) and in sync with deploy/crds/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.cluster import crds

from .apiserver import ApiServer
from .helpers import REPO

FORBIDDEN = {"$ref", "$defs", "$schema", "$id", "const", "oneOf", "default"}


def structural_problems(node: Any, path: str = "") -> list[str]:
    """The structural-schema rules of apiextensions.k8s.io/v1 that our generator must meet."""
    problems = [f"{path}: {key} is not allowed" for key in FORBIDDEN & set(node)]
    typed = "type" in node or node.get("x-kubernetes-int-or-string") or node.get("x-kubernetes-preserve-unknown-fields")
    if not typed:
        problems.append(f"{path}: no type")
    if node.get("additionalProperties") is False:
        problems.append(f"{path}: additionalProperties: false")
    if "properties" in node and "additionalProperties" in node:
        problems.append(f"{path}: properties and additionalProperties together")
    if node.get("x-kubernetes-list-type") == "map":
        item = node["items"]
        missing = [k for k in node["x-kubernetes-list-map-keys"] if k not in item.get("required", [])]
        problems += [f"{path}: list-map key {k} is not required in its items" for k in missing]
    for key, child in (node.get("properties") or {}).items():
        problems += structural_problems(child, f"{path}.{key}")
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            problems += structural_problems(node[key], f"{path}[{key}]")
    return problems


@pytest.mark.parametrize("crd", crds.definitions(), ids=lambda c: c["metadata"]["name"])
def test_generated_crd_is_structural(crd: dict[str, Any]) -> None:
    version = crd["spec"]["versions"][0]
    assert structural_problems(version["schema"]["openAPIV3Schema"]) == []
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    assert columns[0] == "Status" and columns[-1] == "Age"
    assert crd["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "nim-reconciler"


def test_structural_check_itself_catches_mistakes() -> None:
    bad = {"type": "object", "properties": {"a": {"$ref": "#/x"}, "b": {"additionalProperties": False}}}
    assert structural_problems(bad) == [
        ".a: $ref is not allowed",
        ".a: no type",
        ".b: no type",
        ".b: additionalProperties: false",
    ]


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
