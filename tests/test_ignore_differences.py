"""Drift ignore rules: ``nim-reconciler/ignore-differences`` on a manifest leaves fields of its children to another
manager (neither compared nor written after creation), as Argo CD's ignoreDifferences; refused where the field
makes the object ours or Kubernetes needs it fixed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler import ignores

from .apiserver import ApiServer
from .helpers import converge, edit, live, run

SERVICE = "content-safety"
REPLICAS = json.dumps([{"kind": "Deployment", "jsonPointers": ["/spec/replicas"]}])


def test_a_field_another_manager_owns_is_neither_compared_nor_taken_back(api: ApiServer, repo: Path) -> None:
    def keda(docs: list[dict[str, Any]]) -> None:  # replicas are KEDA's, not git's
        docs[1]["metadata"]["annotations"] = {ignores.IGNORE_DIFFERENCES: REPLICAS}
        docs[1]["spec"]["replicas"] = 1

    edit(repo, "content-safety.yaml", keda)
    converge(api, repo)
    assert live(api, "Deployment", "nemoguard")[SERVICE]["spec"]["replicas"] == 1, "created with git's value"
    deployments = api.store.resource("apps", "v1", "deployments")
    assert deployments is not None
    api.store.merge_patch(deployments, "nemoguard", SERVICE, {"spec": {"replicas": 3}}, "keda-operator", False)

    before = len(api.writes())
    code, out = run(api, repo)
    assert code == 0 and f"► Deployment/nemoguard/{SERVICE} configured" not in out, out
    assert api.writes()[before:] == [], "no drift: the field is not compared"

    edit(repo, "content-safety.yaml", lambda docs: docs[1]["spec"].update(replicas=2))
    code, out = run(api, repo)
    assert code == 0 and live(api, "Deployment", "nemoguard")[SERVICE]["spec"]["replicas"] == 3, out

    edit(repo, "content-safety.yaml", lambda docs: docs[1]["spec"]["image"].update(tag="1.10.2"))
    code, out = run(api, repo)
    deployment = live(api, "Deployment", "nemoguard")[SERVICE]
    assert code == 0 and deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.10.2"), out
    assert deployment["spec"]["replicas"] == 3, "an apply for another change leaves the field out"
    owners = {e["manager"]: e["fieldsV1"] for e in deployment["metadata"]["managedFields"]}
    assert "f:replicas" not in owners["nim-reconciler"].get("f:spec", {}), "ours no more: KEDA's alone"
    assert "f:replicas" in owners["keda-operator"]["f:spec"]


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("replicas", 'must be a JSON list such as [{"kind": "Deployment"'),
        ("[]", "must be a JSON list"),
        ('[{"kind": "Deployment", "jqPathExpressions": [".spec"]}]', "[0]: must be an object with kind and"),
        ('[{"kind": "Secret", "jsonPointers": ["/data"]}]', "[0].kind: must be one of PersistentVolumeClaim"),
        ('[{"kind": "Deployment", "jsonPointers": []}]', "[0].jsonPointers: must be a non-empty list"),
        ('[{"kind": "Deployment", "jsonPointers": ["spec/replicas"]}]', "is not a JSON pointer"),
        ('[{"kind": "Deployment", "jsonPointers": ["/metadata/labels/a~2b"]}]', "~ is written ~0"),
        ('[{"kind": "Deployment", "jsonPointers": ["/spec/selector"]}]',
         "[0].jsonPointers[0]: /spec/selector cannot be ignored on a Deployment: /spec/selector is the selector"),
        ('[{"kind": "Deployment", "jsonPointers": ["/spec"]}]', "/spec cannot be ignored on a Deployment"),
        ('[{"kind": "Deployment", "jsonPointers": ["/spec/selector/matchLabels/app"]}]', "cannot be ignored"),
        ('[{"kind": "Deployment", "jsonPointers": ["/metadata/labels"]}]', "/metadata/labels/app.kubernetes.io~1"),
        ('[{"kind": "Job", "jsonPointers": ["/spec/template/spec/containers/0/image"]}]', "pod template is immutable"),
        ('[{"kind": "Service", "jsonPointers": ["/spec/selector"]}]', "routes traffic"),
    ],
)
def test_bad_rules_are_refused_at_validation_with_why(value: str, says: str) -> None:
    owner = "NIMCache" if '"Job"' in value else "NIMService"
    found = ignores.problems(value, owner)
    assert found and any(says in f"{where}: {why}" if where else says in why for where, why in found), found


@pytest.mark.parametrize(
    "value",
    [
        '[{"kind": "Deployment", "jsonPointers": ["/spec/replicas", "/spec/template/metadata/annotations/x"]}]',
        '[{"kind": "HorizontalPodAutoscaler", "jsonPointers": ["/spec/maxReplicas"]}]',
        '[{"kind": "Service", "jsonPointers": ["/metadata/annotations/external-dns.alpha.kubernetes.io~1hostname"]}]',
    ],
)
def test_good_rules_pass(value: str) -> None:
    assert ignores.problems(value, "NIMService") == []


def test_a_manifest_with_a_bad_rule_is_refused_at_its_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from reconciler.cli.main import main

    from .manifests import NIMCACHE, NIMSERVICE, dump, variant

    bad = variant(NIMSERVICE, {"metadata.annotations": {ignores.IGNORE_DIFFERENCES: '[{"kind": "Deployment", '
                                                        '"jsonPointers": ["/spec/selector"]}]'}})  # fmt: skip
    (tmp_path / "m.yaml").write_text(dump(NIMCACHE, bad))
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "m.yaml")])
    assert result.exit_code == 2
    [line] = [x for x in result.output.splitlines() if "ignore-differences" in x]
    at = next(i for i, t in enumerate(dump(NIMCACHE, bad).splitlines(), 1) if "ignore-differences" in t)
    assert line.startswith(f"{tmp_path / 'm.yaml'}:{at}: metadata.annotations.nim-reconciler/ignore-differences: "
                           "[0].jsonPointers[0]: /spec/selector cannot be ignored on a Deployment")  # fmt: skip


@pytest.mark.parametrize(
    ("body", "live", "pointers", "applied"),
    [
        # only ours: the live value is applied (leaving it out would delete it)
        ({"spec": {"replicas": 1}}, {"spec": {"replicas": 3}, "metadata": {"managedFields": [
            {"manager": "nim-reconciler", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]}},
         ["/spec/replicas"], {"spec": {"replicas": 3}}),
        # another manager's: left out
        ({"spec": {"replicas": 1, "x": 1}}, {"spec": {"replicas": 3}, "metadata": {"managedFields": [
            {"manager": "kube-controller-manager", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]}},
         ["/spec/replicas"], {"spec": {"x": 1}}),
        # gone from the live object: not written back
        ({"metadata": {"annotations": {"a/b": "1"}}}, {"metadata": {"annotations": {}}},
         ["/metadata/annotations/a~1b"], {"metadata": {"annotations": {}}}),
        # not in the body: nothing to do
        ({"spec": {}}, {"spec": {"replicas": 2}}, ["/spec/replicas"], {"spec": {}}),
    ],
)  # fmt: skip
def test_what_an_existing_object_gets_applied(body: Any, live: Any, pointers: list[str], applied: Any) -> None:
    assert ignores.release(body, live, pointers) == applied


def test_the_hash_leaves_ignored_fields_out() -> None:
    from reconciler.plan.compare import APPLIED, stamped

    def stamp(replicas: int) -> str:
        body = {"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": replicas, "x": 1}}
        return str(stamped(body, ["/spec/replicas"])["metadata"]["annotations"][APPLIED])

    assert stamp(1) == stamp(5)
    plain = {"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 1, "x": 1}}
    assert stamped(plain)["metadata"]["annotations"][APPLIED] != stamp(1)
