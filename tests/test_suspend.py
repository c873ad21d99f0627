"""Suspension: one resource by annotation, or a whole cluster with `reconcile suspend` / `resume` — nothing of it is
written, pruned or given a status while suspended, and the run still shows what git would change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from click.testing import CliRunner

from reconciler.cli.main import main

from .apiserver import ApiServer
from .helpers import converge, edit, live, run

SERVICE = "content-safety"


def autoscale(docs: list[dict[str, Any]]) -> None:
    docs[1]["spec"].pop("replicas", None)
    docs[1]["spec"]["scale"] = {"enabled": True, "hpa": {"minReplicas": 2, "maxReplicas": 5}}


def touched(api: ApiServer, before: int, name: str) -> list[str]:
    """Writes since ``before`` to the objects named ``name`` (and their status)."""
    return [f"{r.method} {r.path}" for r in api.writes()[before:] if r.path.split("/")[-1] == name
            or r.path.endswith(f"/{name}/status")]  # fmt: skip


def test_a_suspended_resource_and_its_children_are_left_as_they_are(api: ApiServer, repo: Path) -> None:
    edit(repo, "content-safety.yaml", autoscale)
    converge(api, repo)
    assert SERVICE in live(api, "HorizontalPodAutoscaler", "nemoguard")
    status = live(api, "NIMService", "nemoguard")[SERVICE]["status"]

    def suspend_and_change(docs: list[dict[str, Any]]) -> None:
        docs[1]["metadata"]["annotations"] = {"nim-reconciler/reconcile": "disabled"}
        docs[1]["spec"].pop("scale")  # the HPA would be pruned
        docs[1]["spec"]["replicas"] = 3  # and the Deployment changed

    edit(repo, "content-safety.yaml", suspend_and_change)
    deployments = api.store.resource("apps", "v1", "deployments")
    assert deployments is not None
    api.store.merge_patch(deployments, "nemoguard", SERVICE, {"metadata": {"labels": {"x": "y"}}}, "kubectl", False)
    before = len(api.writes())
    code, out = run(api, repo)
    assert code == 0, out
    assert touched(api, before, SERVICE) == [], "nothing of it written, pruned or given a status"
    assert SERVICE in live(api, "HorizontalPodAutoscaler", "nemoguard")
    assert live(api, "NIMService", "nemoguard")[SERVICE]["status"] == status
    assert f"► HorizontalPodAutoscaler/nemoguard/{SERVICE} suspended (nim-reconciler/reconcile: disabled on " \
           f"NIMService/nemoguard/{SERVICE} (it stays NotReady; pruned if resumed))" in out  # fmt: skip
    assert f"► Deployment/nemoguard/{SERVICE} suspended" in out and "suspended" in out.splitlines()[-1]

    edit(repo, "content-safety.yaml", lambda docs: docs[1]["metadata"].pop("annotations"))
    code, out = run(api, repo)
    assert code == 0, out
    assert SERVICE not in live(api, "HorizontalPodAutoscaler", "nemoguard"), "resumed: pruned now"
    assert live(api, "Deployment", "nemoguard")[SERVICE]["spec"]["replicas"] == 3


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_a_suspended_cluster_reads_reports_and_writes_nothing_until_resumed(api: ApiServer, repo: Path) -> None:
    converge(api, repo)
    kube = ("--kubeconfig", str(api.kubeconfig))
    code, out = cli("suspend", "--repo", str(repo), *kube, "--reason", "incident 42: GPU nodes drained")
    assert code == 0 and "cluster demo is suspended by " in out
    assert out.strip().endswith("incident 42: GPU nodes drained")
    record = live(api, "ConfigMap", "default")["nim-reconciler-demo"]
    assert '"reason": "incident 42: GPU nodes drained"' in record["data"]["suspension"]
    assert record["data"]["history"] != "[]", "the history is kept"

    edit(repo, "content-safety.yaml", lambda docs: docs[1]["spec"].update(replicas=3))
    before = len(api.writes(leases=True))
    code, out = run(api, repo)
    assert code == 0, out
    assert api.writes(leases=True)[before:] == [], "not even the lock or the record"
    assert "cluster demo is suspended by" in out and "nothing written (`reconcile resume` resumes)" in out
    assert f"► Deployment/nemoguard/{SERVICE} suspended (cluster demo is suspended by" in out

    code, out = cli("status", *kube)
    assert out.startswith("Cluster demo is suspended by ") and "incident 42" in out.splitlines()[0]

    assert cli("resume", "--cluster", "demo", *kube) == (0, "cluster demo resumed\n")
    assert "suspension" not in live(api, "ConfigMap", "default")["nim-reconciler-demo"]["data"]
    code, out = run(api, repo)
    assert code == 0 and live(api, "Deployment", "nemoguard")[SERVICE]["spec"]["replicas"] == 3, out


def test_suspending_a_cluster_before_any_run_and_without_a_cluster_is_clear(tmp_path: Path, repo: Path) -> None:
    with ApiServer(tmp_path) as api:
        code, out = cli("suspend", "--cluster", "demo", "--kubeconfig", str(api.kubeconfig))
        assert code == 0 and live(api, "ConfigMap", "default")["nim-reconciler-demo"]["data"]["suspension"]
    code, out = cli("suspend", "--cluster", "demo")
    assert code == 2 and out.startswith("error: no cluster configured"), out


def test_a_bad_reconcile_annotation_is_refused_at_its_line(tmp_path: Path) -> None:
    from .manifests import NIMCACHE, NIMSERVICE, dump, variant

    bad = variant(NIMSERVICE, {"metadata.annotations": {"nim-reconciler/reconcile": "off"}})
    (tmp_path / "m.yaml").write_text(dump(NIMCACHE, bad))
    code, out = cli("validate", str(tmp_path / "m.yaml"))
    assert code == 2
    [line] = [x for x in out.splitlines() if "nim-reconciler/reconcile" in x]
    assert line.endswith("metadata.annotations.nim-reconciler/reconcile: must be 'disabled' (leave this resource "
                         "and its children as they are) or 'enabled', not 'off'")  # fmt: skip
    at = next(i for i, text in enumerate(dump(NIMCACHE, bad).splitlines(), 1) if "nim-reconciler/reconcile" in text)
    assert line.startswith(f"{tmp_path / 'm.yaml'}:{at}:") and "Errors: 1" in out
