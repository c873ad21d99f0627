"""deploy/ and the Dockerfile: strict Kubernetes schemas, the CronJob's safety settings, least-privilege RBAC
checked against the requests the code really makes (cluster-wide and confined to namespaces)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from reconciler.cli.main import main

from . import k8s_openapi
from .apiserver import ApiServer, Request
from .helpers import REPO, complete_jobs, install, kubelet
from .rbac import allowed, attributes, checks, denied, deploy_rules, namespaced_rules

DEPLOY = REPO / "deploy"
NAMESPACES = ("nim-service", "nemoguard", "nim-init-demo")


def documents() -> list[tuple[str, dict[str, Any]]]:
    return [
        (str(path.relative_to(REPO)), doc)
        for path in sorted(DEPLOY.rglob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


def one(kind: str, file: str) -> dict[str, Any]:
    return next(d for f, d in documents() if d["kind"] == kind and f.endswith(file))


@pytest.mark.parametrize(("file", "doc"), documents(), ids=lambda v: v if isinstance(v, str) else v["kind"])
def test_every_manifest_is_valid_against_the_kubernetes_schemas(file: str, doc: dict[str, Any]) -> None:
    assert k8s_openapi.errors(doc) == [], file


def test_deploy_has_every_piece() -> None:
    kinds = {d["kind"] for _, d in documents()}
    assert {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"} <= kinds
    assert {"CronJob", "Deployment", "CustomResourceDefinition"} <= kinds


def _pod(spec: dict[str, Any]) -> dict[str, Any]:
    return spec["template"]["spec"] if "template" in spec else spec["jobTemplate"]["spec"]["template"]["spec"]


@pytest.mark.parametrize("file", ["cronjob.yaml", "deployment.yaml"])
def test_the_pod_is_locked_down_and_mounts_the_git_credentials(file: str) -> None:
    workload = one("CronJob" if file == "cronjob.yaml" else "Deployment", file)
    pod = _pod(workload["spec"])
    container = pod["containers"][0]
    assert pod["serviceAccountName"] == "nim-reconciler" and pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"]
    args = " ".join(container["args"])
    assert "--repo=" in args and "--cluster=" in args and "--cache-dir=" in args
    secret = next(v for v in pod["volumes"] if "secret" in v)
    assert secret["secret"]["secretName"] == "git-credentials"
    assert any(m["name"] == secret["name"] for m in container["volumeMounts"])
    token = next(e for e in container["env"] if e["name"] == "GIT_TOKEN")
    assert token["valueFrom"]["secretKeyRef"]["name"] == "git-credentials"  # from the Secret, never in args
    writable = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
    assert any(a.startswith("--cache-dir=") and a.split("=", 1)[1] in writable for a in container["args"])


def test_the_cronjob_never_overlaps_and_skips_missed_starts() -> None:
    spec = one("CronJob", "cronjob.yaml")["spec"]
    assert spec["concurrencyPolicy"] == "Forbid" and 0 < spec["startingDeadlineSeconds"] <= 300


def test_the_loop_deployment_is_a_single_loop() -> None:
    deployment = one("Deployment", "deployment.yaml")
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"
    assert any(a.startswith("--interval=") for a in _pod(deployment["spec"])["containers"][0]["args"])


def test_the_cluster_role_is_least_privilege() -> None:
    cluster, state = deploy_rules()
    for rule in cluster + state:
        assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"], rule
        assert "secrets" not in rule["resources"], "the cron run never reads a Secret"
    crd = next(r for r in cluster if "customresourcedefinitions" in r["resources"])
    assert crd["verbs"] == ["get"] and crd["resourceNames"]
    assert not any(r for r in cluster if "leases" in r["resources"])
    # the probe's objects: a manifest ConfigMap and Pod are made, listed, deleted; no Pod or ConfigMap is read
    # one by one, only a probe's log; nodes are only listed (their GPU products)
    probe = [r for r in cluster if "configmaps" in r["resources"]]
    assert probe == [
        {"apiGroups": [""], "resources": ["pods", "configmaps"], "verbs": ["list", "create", "patch", "delete"]}
    ]
    assert [r["verbs"] for r in cluster if "pods/log" in r["resources"]] == [["get"]]
    assert [r["verbs"] for r in cluster if "nodes" in r["resources"]] == [["list"]]


def test_the_rbac_check_itself_refuses_what_is_not_granted() -> None:
    rules = [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["patch"]}]
    apply = Request("PATCH", "/apis/apps/v1/namespaces/a/deployments/x", {}, "application/apply-patch+yaml", 201)
    assert [str(a) for a in checks(apply.method, apply.path, apply.query, apply.content_type)] == [
        "patch apps/deployments x in a",
        "create apps/deployments x in a",  # server-side apply may create: the API server checks create too
    ]
    assert denied(rules, [apply], set()) == [
        "PATCH /apis/apps/v1/namespaces/a/deployments/x: needs create apps/deployments x in a"
    ]
    listing = attributes("GET", "/api/v1/pods", {})
    assert listing is not None and listing.verb == "list" and not allowed(rules, listing)
    assert attributes("GET", "/apis/apps.nvidia.com/v1alpha1", {}) is None  # discovery: open to everyone


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiServer]:
    with ApiServer(tmp_path, namespaces=(*NAMESPACES, "nim-reconciler")) as server:
        yield server


def _run(api: ApiServer, repo: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--repo", str(repo), "--kubeconfig", str(api.kubeconfig), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def _lifecycle(api: ApiServer, tmp_path: Path, *args: str) -> list[Request]:
    """First apply, caches Ready, services deployed with --wait, then a NIMCache leaves git (prune)."""
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "clusters", repo / "clusters")
    install(api)
    start = len(api.requests)
    assert _run(api, repo, *args)[0] == 0
    kubelet(api)  # the manifest probes run
    assert _run(api, repo, *args)[0] == 0
    complete_jobs(api)
    assert _run(api, repo, *args)[0] == 0
    (repo / "clusters/demo/nim-service/deepseek-r1-nimcache.yaml").unlink()
    code, out = _run(api, repo, *args)
    assert code == 0 and "pruned" in out, out
    return [r for r in api.requests[start:] if "(reconcile" in r.agent]


def test_a_whole_lifecycle_needs_nothing_beyond_the_cluster_role(api: ApiServer, tmp_path: Path) -> None:
    seen = _lifecycle(api, tmp_path, "--lock-namespace", "nim-reconciler")
    cluster, state = deploy_rules()
    record = "/api/v1/namespaces/nim-reconciler/configmaps"  # the revision record; the others are manifests kept
    objects = [r for r in seen if "/leases" not in r.path and not r.path.startswith(record)]
    assert denied(cluster, objects, set()) == []
    assert denied(state, [r for r in seen if r not in objects], {"nim-reconciler"}) == []


def test_a_confined_run_needs_only_the_namespaced_role(api: ApiServer, tmp_path: Path) -> None:
    flags = [f"--namespace={n}" for n in NAMESPACES] + ["--lock-namespace", "nim-service"]
    seen = _lifecycle(api, tmp_path, *flags)
    assert denied(namespaced_rules(), seen, set(NAMESPACES)) == []
    assert not [r.path for r in seen if re.match(r"^/apis?/[^/]+(/[^/]+)?/(?!namespaces/)[a-z]+$", r.path)]


def test_a_confined_run_refuses_manifests_outside_its_namespaces(api: ApiServer, tmp_path: Path) -> None:
    install(api)
    code, out = _run(api, REPO, "--namespace", "nim-service", "--lock-namespace", "nim-service")
    assert code == 2 and "namespace nemoguard is outside --namespace nim-service" in out
    assert not [r for r in api.requests if r.write and "(reconcile" in r.agent]


def test_the_dockerfile_is_slim_non_root_with_git_and_reconcile_as_entrypoint() -> None:
    text = (REPO / "Dockerfile").read_text()
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    final = stages[-1]
    assert re.match(r"python:3\.\d+-slim\b", final), "a slim Python base"
    assert re.search(r"apt-get install [^\n]*--no-install-recommends[^\n]*\bgit\b", final)
    assert "rm -rf /var/lib/apt/lists/*" in final and "--no-cache-dir" in final
    assert not re.search(r"\b(gcc|build-essential|make)\b", final), "no build tools in the final image"
    user = re.findall(r"^USER (\S+)", final, flags=re.M)
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert re.search(r'^ENTRYPOINT \["reconcile"\]', final, flags=re.M)
    uid = int(user[-1].split(":")[0])
    pods = [_pod(one(k, f)["spec"]) for k, f in (("CronJob", "cronjob.yaml"), ("Deployment", "deployment.yaml"))]
    assert all(p["securityContext"]["runAsUser"] == uid for p in pods)  # deploy/ runs the image's own user
    ignored = (REPO / ".dockerignore").read_text().split()
    assert ".git" in ignored and "tests" in ignored


def test_serve_grows_the_cluster_role_only_by_watch_and_probes_its_own_endpoints() -> None:
    from .rbac import serve_rules

    assert {verb for rule in serve_rules() for verb in rule["verbs"]} == {"watch"}
    watched = {r for rule in serve_rules() for r in rule["resources"]}
    assert watched == {"nimcaches", "nimservices", "jobs", "deployments", "persistentvolumeclaims", "pods"}
    deployment = one("Deployment", "serve/serve.yaml")
    pod = _pod(deployment["spec"])
    container = pod["containers"][0]
    assert container["args"][0] == "serve" and "--listen=:8080" in container["args"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    secret_file = next(a.split("=", 1)[1] for a in container["args"] if a.startswith("--webhook-secret-file="))
    mount = next(m for m in container["volumeMounts"] if secret_file.startswith(m["mountPath"] + "/"))
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert mount["readOnly"] is True and volume["secret"]["secretName"] == "nim-reconciler-webhook"
    service = one("Service", "serve/serve.yaml")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    monitor = one("ServiceMonitor", "serve/serve.yaml")
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert monitor["spec"]["selector"]["matchLabels"] == service["metadata"]["labels"]
