"""cluster/doctor.py and `reconcile doctor`: what the manifests need from the cluster, against the API test server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconciler.cli.main import main

from .apiserver import ApiServer
from .helpers import REPO

NAMESPACES = ("nim-service", "nemoguard", "nim-init-demo")


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiServer]:
    with ApiServer(tmp_path, namespaces=NAMESPACES) as server:
        yield server


def add(api: ApiServer, plural: str, body: dict[str, Any], namespace: str = "") -> None:
    group, _, version = body["apiVersion"].rpartition("/")
    res = api.store.resource(group, version, plural)
    assert res is not None
    api.store.create(res, namespace, body, "test", False)


def healthy(api: ApiServer) -> None:
    """Everything the demo repo needs, as an operator of the cluster would have set it up."""
    for ns in NAMESPACES:
        add(
            api,
            "secrets",
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "ngc-api-secret"},
                "type": "Opaque",
                "stringData": {"NGC_API_KEY": "nvapi-VERY-SECRET"},
            },
            ns,
        )
        add(
            api,
            "secrets",
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "ngc-secret"},
                "type": "kubernetes.io/dockerconfigjson",
                "data": {".dockerconfigjson": "e30="},
            },
            ns,
        )
    for name in ("hf-secret", "hf-auth"):
        add(
            api,
            "secrets",
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": name},
                "type": "Opaque",
                "stringData": {"HF_TOKEN": "hf_SECRET"},
            },
            "nim-service",
        )
    add(
        api,
        "storageclasses",
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "x",
        },
    )
    add(
        api,
        "nodes",
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": "gpu-1",
                "labels": {
                    "feature.node.kubernetes.io/pci-10de.present": "true",
                    "node.kubernetes.io/instance-type": "g5.xlarge",
                },
            },
        },
    )


def doctor(api: ApiServer, repo: Path = REPO) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["doctor", "--repo", str(repo), "--kubeconfig", str(api.kubeconfig)])
    return result.exit_code, result.output


def test_a_healthy_cluster_passes_and_no_secret_value_is_printed(api: ApiServer) -> None:
    healthy(api)
    code, out = doctor(api)
    assert code == 0, out
    assert "error:" not in out and "Secret ngc-api-secret holds NGC_API_KEY" in out
    assert "VERY-SECRET" not in out and "hf_SECRET" not in out and "e30=" not in out


def test_problems_are_found_one_line_each(api: ApiServer) -> None:
    healthy(api)
    secrets = api.store.resource("", "v1", "secrets")
    assert secrets is not None
    api.store.delete(secrets, "nemoguard", "ngc-api-secret", "Background", False)
    api.store.merge_patch(
        secrets, "nim-service", "hf-secret", {"stringData": None, "data": {"TOKEN": "eA=="}}, "test", False
    )
    api.store.merge_patch(secrets, "nim-service", "ngc-secret", {"type": "Opaque"}, "test", False)
    nodes = api.store.resource("", "v1", "nodes")
    assert nodes is not None
    api.store.delete(nodes, "", "gpu-1", "Background", False)
    code, out = doctor(api)
    assert code == 2
    assert "Secret nemoguard/ngc-api-secret does not exist" in out
    assert "Secret hf-secret has no key HF_TOKEN (it has: TOKEN)" in out
    assert "pull secret ngc-secret is of type Opaque, not kubernetes.io/dockerconfigjson" in out
    assert "no node matches its node selector (feature.node.kubernetes.io/pci-10de.present=true)" in out


def test_missing_storage_class_and_existing_pvc(api: ApiServer, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "tests" / "fixtures" / "full" / "clusters", repo / "clusters")
    (tmp_path / "s").mkdir()
    with ApiServer(tmp_path / "s", namespaces=("full",)) as other:
        code, out = doctor(other, repo)
    assert code == 2
    assert "StorageClass fast-rwx does not exist" in out
    assert "PersistentVolumeClaim/full/prefilled-models: does not exist, and create is not true" in out


def test_a_failed_cache_shows_how_to_read_its_logs(api: ApiServer) -> None:
    healthy(api)
    assert CliRunner().invoke(main, ["install-crds", "--kubeconfig", str(api.kubeconfig)]).exit_code == 0
    CliRunner().invoke(main, ["--repo", str(REPO), "--kubeconfig", str(api.kubeconfig)])
    caches = api.store.resource("apps.nvidia.com", "v1alpha1", "nimcaches")
    assert caches is not None
    api.store.apply(
        caches,
        "nemoguard",
        "content-safety-cache",
        {
            "apiVersion": "apps.nvidia.com/v1alpha1",
            "kind": "NIMCache",
            "metadata": {"name": "content-safety-cache", "namespace": "nemoguard"},
            "status": {"state": "Failed"},
        },
        "test",
        True,
        False,
        "status",
    )
    code, out = doctor(api)
    assert code == 2 and "kubectl logs -n nemoguard -l nimcache=content-safety-cache" in out
