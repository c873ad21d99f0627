"""cluster/apply.py, observe.py and kube.py end to end: `reconcile` against the API test server, as a user runs it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconciler.cli.main import main

from .apiserver import ApiServer, Fault
from .helpers import DEMO_NAMESPACES, REPO, complete_jobs, converge, edit, install, kubelet, live, run, write_kubeconfig


@pytest.fixture(scope="module")
def converged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ApiServer, Path]]:
    """One converged cluster for the tests that only read it (or run without writing): set up once per module."""
    with pytest.MonkeyPatch.context() as env:
        env.delenv("KUBECONFIG", raising=False)
        env.delenv("KUBERNETES_SERVICE_HOST", raising=False)
        base = tmp_path_factory.mktemp("converged")
        repo = base / "repo"
        shutil.copytree(REPO / "clusters", repo / "clusters")
        with ApiServer(base, namespaces=DEMO_NAMESPACES) as api:
            code, out = converge(api, repo)
            assert code == 0, out
            yield api, repo


def test_install_crds_then_first_apply_creates_everything(api: ApiServer, repo: Path) -> None:
    install(api)
    crd = live(api, "CustomResourceDefinition")["nimcaches.apps.nvidia.com"]
    assert crd["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "nim-reconciler"
    code, out = run(api, repo)
    assert code == 0, out
    assert "Applied to cluster demo: 30 created" in out and "2 waiting" in out
    assert "► Deployment/nemoguard/content-safety waiting (waiting for NIMCache content-safety-cache (NotReady))" in out
    assert sum(k[0] == "pods" for k in api.store.objects) == 7  # the manifest probes first
    assert all(j.startswith("meta-llama-3-2-1b-instruct-profiles-job-") for j in live(api, "Job"))  # pinned
    kubelet(api)
    code, out = run(api, repo)
    assert code == 0 and "14 created" in out and "7 pruned" in out  # 7 caching Jobs, 7 manifests; the probes go
    complete_jobs(api)
    code, out = run(api, repo)
    assert code == 0 and "2 created" in out and "37 unchanged" in out


def test_children_carry_a_controller_reference_and_every_write_is_our_server_side_apply(
    converged: tuple[ApiServer, Path],
) -> None:
    api, _ = converged
    cache = live(api, "NIMCache", "nim-service")["meta-llama-3-2-1b-instruct"]
    pvc = live(api, "PersistentVolumeClaim", "nim-service")["meta-llama-3-2-1b-instruct-pvc"]
    assert pvc["metadata"]["ownerReferences"][0] == {
        "apiVersion": "apps.nvidia.com/v1alpha1",
        "kind": "NIMCache",
        "name": "meta-llama-3-2-1b-instruct",
        "uid": cache["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    deployment = live(api, "Deployment", "nemoguard")["content-safety"]
    assert deployment["metadata"]["ownerReferences"][0]["kind"] == "NIMService"
    assert all(
        r.query.get("fieldManager") == "nim-reconciler" and r.query.get("force") == "true"
        for r in api.writes()
        if r.method == "PATCH"
    )


def test_second_run_makes_no_write_and_reports_no_change(converged: tuple[ApiServer, Path]) -> None:
    api, repo = converged
    before = len(api.requests)
    code, out = run(api, repo)
    assert code == 0 and "0 created, 0 configured, 0 replaced, 0 pruned, 39 unchanged" in out
    second = api.requests[before:]
    # nothing drifted and the record says this render was applied: a read-only run, not even the lock is taken
    assert [r for r in second if r.write] == []
    assert len(second) <= 20  # CRD checks + one LIST per kind, whatever the number of objects
    lists = [r for r in second if r.method == "GET" and "labelSelector" in r.query]
    assert len(lists) == 15 and all("nim-reconciler/cluster=demo" in r.query["labelSelector"] for r in lists)
    code, out = run(api, repo, "--dry-run")
    assert code == 0 and "0 to create, 0 to configure, 0 to prune, 39 unchanged" in out
    assert [r for r in api.requests[before:] if r.write] == []


def test_a_field_edited_by_hand_is_restored(api: ApiServer, repo: Path) -> None:
    converge(api, repo)
    res = api.store.resource("apps", "v1", "deployments")
    assert res is not None
    api.store.merge_patch(res, "nemoguard", "content-safety", {"spec": {"replicas": 5}}, "kubectl-edit", False)
    code, out = run(api, repo, "--dry-run")
    assert code == 1 and "► Deployment/nemoguard/content-safety configured" in out
    assert "-  replicas: 5" in out and "+  replicas: 1" in out
    code, out = run(api, repo)
    assert code == 0 and "1 configured" in out
    assert live(api, "Deployment")["content-safety"]["spec"]["replicas"] == 1


def test_a_changed_manifest_updates_only_the_objects_it_affects(api: ApiServer, repo: Path) -> None:
    converge(api, repo)
    edit(repo, "content-safety.yaml", lambda d: d[1]["spec"]["env"].append({"name": "NIM_LOG_LEVEL", "value": "DEBUG"}))
    before = len(api.requests)
    code, out = run(api, repo)
    assert code == 0, out
    written = sorted(
        r.path.rsplit("/", 2)[-2] + "/" + r.path.rsplit("/", 1)[-1]
        for r in api.requests[before:]
        if r.write and "/leases/" not in r.path
    )
    # the NIMService's spec changed, so its status records the new observedGeneration
    assert written == [
        "configmaps/nim-reconciler-demo",  # the revision record
        "content-safety/status",
        "deployments/content-safety",
        "nimservices/content-safety",
    ]
    env = live(api, "Deployment")["content-safety"]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "NIM_LOG_LEVEL", "value": "DEBUG"} in env


def test_a_removed_env_var_is_removed_from_the_cluster(api: ApiServer, repo: Path) -> None:
    converge(api, repo)
    edit(repo, "content-safety.yaml", lambda d: d[1]["spec"]["env"].pop(1))
    assert run(api, repo)[0] == 0
    env = live(api, "Deployment")["content-safety"]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert "NIM_SERVED_MODEL_NAME" not in {e["name"] for e in env}


def test_a_removed_manifest_prunes_its_objects_but_nothing_else(api: ApiServer, repo: Path) -> None:
    converge(api, repo)
    before = len(api.requests)  # the probe Pods deleted while converging are not this run's
    next(repo.rglob("content-safety.yaml")).unlink()
    code, out = run(api, repo)
    assert code == 0, out
    # make before break: the model cache outlives the Deployment that mounts it by one run, and so does its NIMCache
    pvc = "PersistentVolumeClaim/nemoguard/content-safety-cache-pvc"
    assert f"► {pvc} skipped (kept while Deployment/nemoguard/content-safety mounts it)" in out
    assert f"► NIMCache/nemoguard/content-safety-cache skipped (kept until its children are gone ({pvc})" in out
    assert "► Deployment/nemoguard/content-safety pruned" in out
    code, out = run(api, repo)
    assert code == 0, out
    assert "► NIMCache/nemoguard/content-safety-cache pruned" in out and f"► {pvc} pruned" in out
    assert not [k for k in api.store.objects if k[1] == "nemoguard" and k[0] != "events"]
    assert len([k for k in api.store.objects if k[0] == "nimcaches"]) == 7
    deletes = [r for r in api.requests[before:] if r.method == "DELETE"]
    assert {r.query["propagationPolicy"] for r in deletes if "/nimcaches/" in r.path or "/nimservices/" in r.path} == {
        "Orphan"
    }


def test_prune_guard_failed_validation_prunes_nothing(api: ApiServer, repo: Path) -> None:
    converge(api, repo)
    next(repo.rglob("content-safety.yaml")).unlink()
    edit(repo, "deepseek-r1-nimcache.yaml", lambda d: d[0]["spec"]["storage"]["pvc"].update(size="lots"))
    before = len(api.requests)
    code, out = run(api, repo)
    assert code == 2 and "spec.storage.pvc.size" in out
    assert api.requests[before:] == []  # invalid input: the cluster is not even contacted


def test_prune_guard_a_failed_apply_prunes_nothing(api: ApiServer, repo: Path) -> None:
    converge(api, repo)
    before = len(api.requests)  # the probe Pods deleted while converging are not this run's
    next(repo.rglob("content-safety.yaml")).unlink()
    edit(repo, "deepseek-r1-nimcache.yaml", lambda d: d[0]["spec"].update(userID=5))
    api.faults.add(Fault(method="PATCH", path="nimcaches/deepseek", status=422, times=1))
    code, out = run(api, repo)
    assert code == 2
    assert "NIMCache/nim-service/deepseek-r1-nimcache failed" in out
    assert "prune guard: an apply failed" in out
    assert [r for r in api.requests[before:] if r.method == "DELETE"] == []


def test_prune_guard_empty_render_needs_allow_empty(api: ApiServer, repo: Path) -> None:
    converge(api, repo)
    before = len(api.requests)  # the probe Pods deleted while converging are not this run's
    for path in (repo / "clusters" / "demo").rglob("*.yaml"):
        path.unlink()
    code, out = run(api, repo, "--max-prune", "100")
    assert code == 3 and "the repo renders nothing: pruning everything needs --allow-empty" in out
    assert [r for r in api.requests[before:] if r.method == "DELETE"] == []
    wide = ("--max-prune", "100", "--max-prune-per-namespace", "100", "--allow-empty")
    code, out = run(api, repo, *wide)
    assert code == 0 and len(live(api, "Deployment")) == 0, out  # the caches go in the next run, once unmounted
    code, out = run(api, repo, *wide)
    assert code == 0 and len(live(api, "NIMCache")) == 0


def test_prune_guard_max_prune(api: ApiServer, repo: Path) -> None:
    converge(api, repo)
    before = len(api.requests)  # the probe Pods deleted while converging are not this run's
    next(repo.rglob("content-safety.yaml")).unlink()
    code, out = run(api, repo, "--max-prune", "3")
    assert code == 3 and "more than --max-prune 3" in out
    assert [r for r in api.requests[before:] if r.method == "DELETE"] == []


def test_prune_guard_an_orphaned_pvc_is_kept_with_a_warning_and_the_run_succeeds(api: ApiServer, repo: Path) -> None:
    # Regression: a PVC whose rendered name changed made every run exit 3 until someone deleted it by hand.
    converge(api, repo)
    edit(repo, "deepseek-r1-nimcache.yaml", lambda d: d[0]["spec"]["storage"]["pvc"].update(name="deepseek-v2"))
    code, out = run(api, repo)
    assert code == 0, out
    kept = "PersistentVolumeClaim/nim-service/deepseek-r1-nimcache-pvc: kept: model cache no longer referenced; "
    assert f"warning: {kept}delete it with: kubectl delete pvc -n nim-service deepseek-r1-nimcache-pvc" in out
    assert ("persistentvolumeclaims", "nim-service", "deepseek-r1-nimcache-pvc") in api.store.objects
    assert ("persistentvolumeclaims", "nim-service", "deepseek-v2") in api.store.objects


def test_prune_disabled_annotation_keeps_an_object(api: ApiServer, repo: Path) -> None:
    converge(api, repo)
    res = api.store.resource("", "v1", "persistentvolumeclaims")
    assert res is not None
    api.store.merge_patch(
        res,
        "nemoguard",
        "content-safety-cache-pvc",
        {"metadata": {"annotations": {"nim-reconciler/prune": "disabled"}}},
        "kubectl",
        False,
    )
    next(repo.rglob("content-safety.yaml")).unlink()
    code, out = run(api, repo)
    assert code == 0, out
    assert "content-safety-cache-pvc skipped (annotated nim-reconciler/prune: disabled)" in out
    assert ("persistentvolumeclaims", "nemoguard", "content-safety-cache-pvc") in api.store.objects
    assert ("nimcaches", "nemoguard", "content-safety-cache") not in api.store.objects


def test_no_prune_leaves_everything(api: ApiServer, repo: Path) -> None:
    converge(api, repo)
    before = len(api.requests)  # the probe Pods deleted while converging are not this run's
    next(repo.rglob("content-safety.yaml")).unlink()
    code, out = run(api, repo, "--no-prune")
    assert code == 0 and "skipped (prune is off (--no-prune))" in out
    assert [r for r in api.requests[before:] if r.method == "DELETE"] == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d[0]["spec"]["storage"]["pvc"].update(size="10Gi"), "a PVC cannot shrink"),
        (
            lambda d: d[0]["spec"]["storage"]["pvc"].update(volumeAccessMode="ReadWriteOnce"),
            "a PVC's access mode cannot change",
        ),
        (lambda d: d[0]["spec"]["storage"]["pvc"].update(storageClass="other"), "a PVC's class cannot change"),
        (
            lambda d: d[0]["spec"]["source"]["ngc"].update(modelPuller="nvcr.io/nim/deepseek-ai/deepseek-r1:1.8.0"),
            "modelPuller is an immutable field. Please create a new NIMCache resource instead",
        ),
    ],
)
def test_forbidden_changes_are_blocked_with_their_message(
    api: ApiServer, repo: Path, change: Any, message: str
) -> None:
    install(api)
    edit(repo, "deepseek-r1-nimcache.yaml", lambda d: d[0]["spec"]["storage"]["pvc"].update(storageClass="fast"))
    run(api, repo)
    edit(repo, "deepseek-r1-nimcache.yaml", change)
    before = len(api.writes())
    code, out = run(api, repo)
    assert code == 3 and message in out
    assert not [
        r
        for r in api.writes()[before:]
        if "deepseek-r1-nimcache" in r.path
        and r.method == "PATCH"
        and ("persistentvolumeclaims" in r.path or "nimcaches" in r.path)
    ]


def test_a_spec_change_of_a_cache_in_progress_replaces_its_job_never_two_at_once(api: ApiServer, repo: Path) -> None:
    # Regression: the new Job started while the old one still ran: two writers on one ReadWriteOnce PVC.
    install(api)
    assert run(api, repo)[0] == 0
    kubelet(api)  # the manifest probes run: the next run makes the caching Jobs
    assert run(api, repo)[0] == 0
    (old_name,) = {k for k in live(api, "Job") if k.startswith("deepseek-r1-nimcache-job-")}
    api.set_status("batch/v1", "jobs", "nim-service", old_name, {"active": 1}, "job-controller")
    edit(repo, "deepseek-r1-nimcache.yaml", lambda d: d[0]["spec"].update(resources={"cpu": "2"}))
    code, out = run(api, repo, "--max-prune", "0")  # a replaced Job is not a prune
    assert code == 0, out
    assert f"► Job/nim-service/{old_name} pruned (superseded by its NIMCache's new caching Job" in out
    jobs = [line for line in out.splitlines() if line.startswith("► Job/nim-service/deepseek-r1-nimcache-job-")]
    (new,) = [line for line in jobs if not line.startswith(f"► Job/nim-service/{old_name}")]
    assert new.endswith(
        f"waiting (waiting for Job/nim-service/{old_name} to be deleted first (never two Jobs on one PVC))"
    )
    deleted = [r for r in api.requests if r.method == "DELETE" and r.path.endswith(old_name)]
    assert [r.query["propagationPolicy"] for r in deleted] == ["Foreground"]  # its pods first
    assert {k for k in live(api, "Job") if k.startswith("deepseek-r1-nimcache-job-")} == set()
    code, out = run(api, repo)
    assert code == 0 and len({k for k in live(api, "Job") if k.startswith("deepseek-r1-nimcache-job-")}) == 1, out


def test_a_resources_change_of_a_ready_cache_downloads_nothing(api: ApiServer, repo: Path) -> None:
    # Regression: changing resources.cpu made a new caching Job: Ready -> Started, its NIMService NotReady.
    converge(api, repo)
    cache = "meta-llama-3-2-1b-instruct"
    jobs = set(live(api, "Job"))
    edit(repo, "llama-3-2-1b-nimcache.yaml", lambda d: d[0]["spec"].update(resources={"cpu": "3"}))
    code, out = run(api, repo)
    assert code == 0, out
    assert f"► NIMCache/nim-service/{cache} configured" in out
    assert f"NIMCache/nim-service/{cache} is Ready: how it is fetched changed, nothing to download" in out
    assert set(live(api, "Job")) <= jobs  # no new Job
    assert live(api, "NIMCache", "nim-service")[cache]["status"]["state"] == "Ready"
    assert f"► NIMService/nim-service/{cache} status" not in out  # its service did not change state


def test_a_content_change_of_a_ready_cache_is_refused(api: ApiServer, repo: Path) -> None:
    converge(api, repo)
    edit(repo, "llama-3-2-1b-nimcache.yaml", lambda d: d[0]["spec"]["source"]["ngc"]["model"].update(engine="vllm"))
    code, out = run(api, repo)
    assert code == 3
    assert (
        "► NIMCache/nim-service/meta-llama-3-2-1b-instruct blocked (spec.source.ngc.model: the content of a Ready"
        in out
    )
    assert "create a new NIMCache for it" in out


def test_transient_failures_are_retried_and_the_run_converges(api: ApiServer, repo: Path) -> None:
    install(api)
    api.faults.add(Fault(method="PATCH", status=503, times=3))
    api.faults.add(Fault(method="GET", status=429, retry_after=0, times=2))
    api.faults.add(Fault(method="PATCH", drop=True, times=2))
    code, out = run(api, repo)
    assert code == 0, out
    assert "30 created" in out
    kubelet(api)
    assert run(api, repo)[0] == 0
    complete_jobs(api)
    assert run(api, repo)[0] == 0
    assert len(live(api, "Deployment")) == 2


def test_unreachable_server_is_a_clear_error(tmp_path: Path, repo: Path) -> None:
    config = write_kubeconfig(tmp_path / "kubeconfig", "http://127.0.0.1:9")
    result = CliRunner().invoke(main, ["--repo", str(repo), "--kubeconfig", str(config), "--dry-run", "--retries", "1"])
    assert result.exit_code == 2 and "cannot reach the API server" in result.output
    assert "gave up after 2 attempts" in result.output


def test_missing_namespaces_are_named_before_anything_is_written(tmp_path: Path, repo: Path) -> None:
    (tmp_path / "s").mkdir()
    with ApiServer(tmp_path / "s", namespaces=("nim-service",)) as server:
        install(server)
        code, out = run(server, repo)
        assert code == 2
        assert "namespace nemoguard does not exist" in out and "namespace nim-init-demo does not exist" in out
        assert [r for r in server.writes() if "customresourcedefinitions" not in r.path] == []


def test_missing_crds_say_how_to_install_them(api: ApiServer, repo: Path) -> None:
    code, out = run(api, repo)
    assert code == 2 and "reconcile install-crds" in out
    assert api.writes() == []


def test_crds_of_the_nvidia_operator_are_refused(api: ApiServer, repo: Path) -> None:
    install(api)
    res = api.store.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    assert res is not None
    for name in ("nimcaches.apps.nvidia.com", "nimservices.apps.nvidia.com"):
        api.store.merge_patch(
            res, "", name, {"metadata": {"labels": {"app.kubernetes.io/managed-by": None}}}, "helm", False
        )
    code, out = run(api, repo)
    assert code == 2 and "not installed by nim-reconciler" in out and "fight" in out
    assert [r for r in api.writes() if "crd" not in r.path and "customresource" not in r.path] == []


def test_dry_run_against_the_cluster_changes_nothing_and_server_dry_run_sends_dry_run_all(
    api: ApiServer, repo: Path
) -> None:
    install(api)
    before = len(api.writes())
    code, out = run(api, repo, "--dry-run")
    assert code == 1 and "30 to create" in out and "2 waiting" in out and "offline" not in out
    assert len(api.writes()) == before
    code, out = run(api, repo, "--dry-run=server")
    assert code == 1
    patches = api.writes()[before:]
    assert patches and all(r.query.get("dryRun") == "All" for r in patches)
    assert live(api, "NIMCache") == {}


def test_json_output_and_no_secret_value_anywhere(api: ApiServer, repo: Path) -> None:
    install(api)
    secrets = api.store.resource("", "v1", "secrets")
    assert secrets is not None
    api.store.create(
        secrets,
        "nim-service",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "ngc-api-secret"},
            "stringData": {"NGC_API_KEY": "nvapi-SECRET-VALUE"},
        },
        "user",
        False,
    )
    code, out = run(api, repo, "-o", "json")
    body = json.loads(out)
    assert code == 0 and body["summary"]["created"] == 30 and body["summary"]["waiting"] == 2
    assert body["mode"] == "apply"
    assert "nvapi-SECRET-VALUE" not in out
    assert not [r for r in api.requests if "/secrets" in r.path]


def test_a_409_from_the_server_is_reported_with_the_object(api: ApiServer, repo: Path) -> None:
    converge(api, repo)
    edit(repo, "content-safety.yaml", lambda d: d[1]["spec"]["env"].append({"name": "X", "value": "1"}))
    api.faults.add(Fault(method="PATCH", path="deployments/content-safety", status=409, times=1))
    code, out = run(api, repo)
    assert code == 2
    assert (
        "► Deployment/nemoguard/content-safety failed (Deployment/nemoguard/content-safety: injected fault (409))"
        in out
    )


def test_kubeconfig_list_from_the_environment_is_merged_and_context_is_honoured(
    api: ApiServer, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(api)
    other = write_kubeconfig(tmp_path / "other-kubeconfig", "http://127.0.0.1:9", "elsewhere")
    monkeypatch.setenv("KUBECONFIG", f"{other}:{api.kubeconfig}")
    result = CliRunner().invoke(main, ["--repo", str(repo), "--context", "test", "--dry-run"])
    assert result.exit_code == 1 and "30 to create" in result.output
    result = CliRunner().invoke(main, ["--repo", str(repo), "--context", "elsewhere", "--dry-run", "--retries", "0"])
    assert result.exit_code == 2 and "cannot reach the API server" in result.output


def test_an_autoscaled_deployment_keeps_the_replicas_its_hpa_chose(api: ApiServer, repo: Path) -> None:
    install(api)

    def autoscale(docs: list[dict[str, Any]]) -> None:
        docs[1]["spec"].pop("replicas")
        docs[1]["spec"]["scale"] = {"enabled": True, "hpa": {"minReplicas": 2, "maxReplicas": 5}}

    edit(repo, "content-safety.yaml", autoscale)
    converge(api, repo)
    assert live(api, "Deployment", "nemoguard")["content-safety"]["spec"]["replicas"] == 2
    res = api.store.resource("apps", "v1", "deployments")
    assert res is not None
    api.store.merge_patch(
        res, "nemoguard", "content-safety", {"spec": {"replicas": 4}}, "kube-controller-manager", False
    )
    before = len(api.writes())
    code, out = run(api, repo)
    assert code == 0 and "0 configured" in out
    assert api.writes()[before:] == []
    assert live(api, "Deployment", "nemoguard")["content-safety"]["spec"]["replicas"] == 4


def test_a_job_is_not_applied_when_its_pvc_failed_in_the_same_run(api: ApiServer, repo: Path) -> None:
    # Regression: the caching Job was created although its PVC was refused (its pod would sit Pending).
    install(api)
    run(api, repo)  # the manifest probes are made
    kubelet(api)
    # the PVC is gone (deleted by hand) and refused when made again, in the run that would make the Job
    del api.store.objects[("persistentvolumeclaims", "nemoguard", "content-safety-cache-pvc")]
    api.faults.add(Fault(method="PATCH", path="persistentvolumeclaims/content-safety-cache-pvc", status=422))
    code, out = run(api, repo)
    assert code == 2
    assert "► PersistentVolumeClaim/nemoguard/content-safety-cache-pvc failed" in out
    job = next(line for line in out.splitlines() if line.startswith("► Job/nemoguard/content-safety-cache-job-"))
    assert job.endswith(
        "waiting (waiting for PersistentVolumeClaim/nemoguard/content-safety-cache-pvc: it failed in this run)"
    )
    assert not [r for r in api.writes() if "/namespaces/nemoguard/jobs" in r.path]
    assert [r for r in api.writes() if "/namespaces/nim-service/jobs" in r.path]  # other caches are not held


def test_a_deployment_is_not_applied_when_its_service_account_failed(api: ApiServer, repo: Path) -> None:
    converge(api, repo)
    edit(repo, "content-safety.yaml", lambda d: d[1]["spec"].update(annotations={"team": "guardrails"}))
    api.faults.add(Fault(method="PATCH", path="serviceaccounts/content-safety", status=422))
    code, out = run(api, repo)
    assert code == 2
    assert "► Deployment/nemoguard/content-safety waiting (waiting for ServiceAccount/nemoguard/content-safety" in out
    deployment = api.store.objects[("deployments", "nemoguard", "content-safety")]
    assert "team" not in (deployment["metadata"].get("annotations") or {})  # not written in this run


def _changed_lines(out: str) -> list[str]:
    return [line.strip() for line in out.splitlines() if line.startswith(("  -", "  +")) and line[3:4] not in "-+"]


def test_a_diff_shows_only_what_we_set(api: ApiServer, repo: Path) -> None:
    # Regression: server defaults (terminationMessagePath, scheme: HTTP …), '1' against 1 and 4000m against 4
    # showed as changes next to the one real change.
    converge(api, repo)
    res = api.store.resource("apps", "v1", "deployments")
    assert res is not None
    api.store.merge_patch(res, "nemoguard", "content-safety", {"spec": {"replicas": 5}}, "kubectl-edit", False)
    extra = {"name": "SIDE_CAR_SETTING", "value": "x"}  # another manager's env entry: not ours, not shown
    deployment = api.store.objects[("deployments", "nemoguard", "content-safety")]
    containers = deployment["spec"]["template"]["spec"]["containers"]
    patch = {"spec": {"template": {"spec": {"containers": [{**containers[0], "env": [*containers[0]["env"], extra]}]}}}}
    api.store.merge_patch(res, "nemoguard", "content-safety", patch, "kubectl-edit", False)
    code, out = run(api, repo, "--dry-run")
    assert code == 1
    assert _changed_lines(out) == ["-  replicas: 5", "+  replicas: 1"], out
    assert "terminationMessagePath" not in out and "SIDE_CAR_SETTING" not in out


def test_a_removed_env_var_shows_as_removed_in_the_diff(api: ApiServer, repo: Path) -> None:
    converge(api, repo)
    edit(repo, "content-safety.yaml", lambda d: d[1]["spec"]["env"].pop())  # NIM_CUSTOM_MODEL_NAME: ours, set by us
    code, out = run(api, repo, "--dry-run")
    assert code == 1
    deployment = out[out.index("► Deployment/nemoguard/content-safety configured") :].split("\n► ")[0]
    assert [line.split() for line in _changed_lines(deployment)] == [
        ["-", "-", "name:", "NIM_CUSTOM_MODEL_NAME"],
        ["-", "value:", "content-safety"],
    ], deployment


def test_a_created_object_shows_its_whole_body_in_a_dry_run(api: ApiServer, repo: Path) -> None:
    install(api)
    code, out = run(api, repo, "--dry-run")
    assert code == 1
    body = out[out.index("► ServiceAccount/nemoguard/content-safety created") :]
    assert "  +kind: ServiceAccount" in body and "  +  name: content-safety" in body


def test_a_first_apply_of_n_pairs_costs_one_request_per_write_and_a_few_more(tmp_path: Path) -> None:
    from bench.generate import generate

    root = generate(tmp_path / "gen", 20)
    with ApiServer(tmp_path, namespaces=tuple(f"team-{i:02d}" for i in range(20))) as api:
        install(api)
        _foreign_crds(api)
        before = len(api.requests)
        code, out = run(api, root, "--cluster", "bench", "-o", "json")
        assert code == 0, out
        made = api.requests[before:]
        summary = json.loads(out[out.index("{") :])["summary"]
        objects = summary["created"] + summary["waiting"]  # everything the repo renders, on a first apply
        statuses = [r for r in made if r.path.endswith("/status")]
        events = [r for r in made if "/events" in r.path]
        assert objects > 100 and summary["created"] > 100
        assert len(made) <= objects + len(statuses) + len(events) + 20, len(made)
        assert all(r.method == "POST" for r in events)  # one request per Event: no read before it


def _foreign_crds(api: ApiServer) -> None:
    from reconciler.kinds import FOREIGN_CRDS

    res = api.store.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    assert res is not None
    for kind, name in FOREIGN_CRDS.items():
        plural, group = name.split(".", 1)
        schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
        version = {"name": "v1", "served": True, "storage": True, "schema": schema}
        names = {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"}
        spec = {"group": group, "scope": "Namespaced", "names": names, "versions": [version]}
        body = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": name}}
        api.store.create(res, "", {**body, "spec": spec}, "other-operator", False)
