"""Namespace manifests in clusters/<cluster>/, as Flux and Argo CD repos hold them: validated, applied before
everything in them, never pruned unless annotated; a missing namespace is still an error naming the manifest."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from reconciler.cli.main import main

from .apiserver import ApiServer
from .helpers import REPO, install, live, run

NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-x\n  labels:\n    team: x\n"


def _team_x(repo: Path, namespace: str = NAMESPACE) -> Path:
    """The NemoGuard pair moved to team-x, with (or without) a Namespace manifest for it."""
    docs = list(yaml.safe_load_all((REPO / "clusters/demo/nemoguard/content-safety.yaml").read_text()))
    for doc in docs:
        doc["metadata"]["namespace"] = "team-x"
    folder = repo / "clusters" / "demo" / "team-x"
    folder.mkdir(parents=True)
    (folder / "models.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    if namespace:
        (folder / "namespace.yaml").write_text(namespace)
    return folder


def _validate(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["validate", str(path)])
    return result.exit_code, result.output


def test_a_namespace_manifest_validates_and_renders_first_with_our_labels(tmp_path: Path) -> None:
    folder = _team_x(tmp_path)
    assert _validate(folder)[0] == 0
    result = CliRunner().invoke(main, ["render", str(tmp_path), "--cluster", "demo", "-o", "json"])
    items = json.loads(result.stdout)["items"]
    first = items[0]
    assert (first["kind"], first["metadata"]["name"]) == ("Namespace", "team-x")
    assert first["metadata"]["labels"] == {
        "team": "x",
        "app.kubernetes.io/managed-by": "nim-reconciler",
        "nim-reconciler/cluster": "demo",
    }
    assert first["metadata"]["annotations"]["nim-reconciler/source"] == "clusters/demo/team-x/namespace.yaml"


def test_a_bad_namespace_manifest_is_an_error_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "ns.yaml"
    path.write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: Team_X\nspec:\n  finalizers: []\n")
    code, out = _validate(path)
    assert code == 2
    assert f"{path}:4: metadata.name:" in out
    assert f'{path}:5: spec: unknown field "spec"' in out
    path.write_text("apiVersion: apps/v1\nkind: Namespace\nmetadata:\n  name: team-x\n")
    code, out = _validate(path)
    assert code == 2 and f"{path}:1: apiVersion: apiVersion must be v1 for Namespace" in out


def test_a_declared_namespace_is_applied_before_everything_in_it(api: ApiServer, repo: Path) -> None:
    install(api)
    _team_x(repo)
    code, out = run(api, repo)
    assert code == 0, out
    assert "► Namespace/team-x created" in out
    writes = [r for r in api.writes() if "team-x" in r.path]
    assert writes[0].path == "/api/v1/namespaces/team-x"  # first, so that what goes in it can be created
    assert ("nimcaches", "team-x", "content-safety-cache") in api.store.objects
    assert live(api, "Namespace")["team-x"]["metadata"]["labels"]["team"] == "x"


def test_a_missing_namespace_is_an_error_that_names_the_manifest(api: ApiServer, repo: Path) -> None:
    install(api)
    _team_x(repo, namespace="")
    code, out = run(api, repo)
    assert code == 2
    assert "/clusters/demo/team-x/models.yaml:1: namespace team-x does not exist: create it first" in out, out
    assert not [r for r in api.writes() if "crd" not in r.path and "customresource" not in r.path]


def test_prune_guard_a_namespace_is_pruned_only_when_annotated(api: ApiServer, repo: Path) -> None:
    install(api)
    folder = _team_x(repo)
    assert run(api, repo)[0] == 0
    (folder / "namespace.yaml").unlink()
    (folder / "models.yaml").unlink()
    code, out = run(api, repo)
    assert code == 0, out
    assert "► Namespace/team-x skipped (a Namespace is pruned only when annotated nim-reconciler/prune: enabled)" in out
    assert "► NIMCache/team-x/content-safety-cache pruned" in out  # never deployed: nothing mounted its cache
    res = api.store.resource("", "v1", "namespaces")
    assert res is not None
    patch = {"metadata": {"annotations": {"nim-reconciler/prune": "enabled"}}}
    api.store.merge_patch(res, "", "team-x", patch, "kubectl-annotate", False)
    code, out = run(api, repo)
    assert code == 0 and "► Namespace/team-x pruned" in out, out


def test_a_confined_run_refuses_namespace_manifests(api: ApiServer, repo: Path) -> None:
    install(api)
    _team_x(repo)
    code, out = run(api, repo, "--namespace", "team-x", "--namespace", "nemoguard")
    assert code == 2 and "Namespace/team-x: a run confined with --namespace cannot apply Namespaces" in out
