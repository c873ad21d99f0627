"""plan/compare.py: desired against live, field by field (pure, table-driven; no HTTP)."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.objects import DesiredObject
from reconciler.options import PruneOptions
from reconciler.plan import compare
from reconciler.plan.changes import Action
from reconciler.refs import ObjRef, SourceLocation

HERE = SourceLocation("clusters/demo/m.yaml", 1)
CACHE = ObjRef("NIMCache", "ns", "c")


@pytest.mark.parametrize(
    ("want", "have", "parent", "same"),
    [
        ({"a": 1}, {"a": 1, "b": 2}, "", True),  # fields we do not set are not ours
        ({"a": 1}, {"a": 2}, "", False),
        ({"a": {"b": 1}}, {"a": {}}, "", False),  # a field of ours removed by hand
        ("4", "4000m", "", True),  # quantities by value
        ("8Gi", "8192Mi", "", True),
        ("1Gi", "1G", "", False),
        (1, "1", "", True),  # an int-or-string written either way
        (True, 1, "", False),  # a boolean is never a quantity
        ([1, 2], [1, 2], "", True),
        ([1, 2], [2, 1], "", False),  # a plain list keeps its order
        ([{"name": "A", "value": "1"}], [{"name": "B"}, {"name": "A", "value": "1"}], "env", True),  # keyed by name
        ([{"name": "A", "value": "1"}], [{"name": "A", "value": "2"}], "env", False),
        (
            [{"mountPath": "/m", "name": "v"}],
            [{"mountPath": "/m", "name": "v", "readOnly": False}],
            "volumeMounts",
            True,
        ),
        ({"a": [1]}, {"a": "x"}, "", False),
    ],
)
def test_subset(want: Any, have: Any, parent: str, same: bool) -> None:
    assert compare.subset(want, have, parent) is same


@pytest.mark.parametrize(
    ("live", "shape", "projected"),
    [
        ({"a": 1, "b": 2}, {"a": 0}, {"a": 1}),
        ({"a": {"x": 1, "y": 2}}, {"a": {"x": 0}}, {"a": {"x": 1}}),
        ({"b": 2}, {"a": 0}, {}),  # a field we set that is gone shows as gone
        ({"a": [1, 2]}, {"a": []}, {"a": [1, 2]}),  # lists are shown whole
    ],
)
def test_project_shows_only_the_fields_we_set(live: Any, shape: Any, projected: Any) -> None:
    assert compare.project(live, shape) == projected


def _pvc(size: str, cls: str | None = "fast", modes: tuple[str, ...] = ("ReadWriteOnce",)) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": list(modes), "resources": {"requests": {"storage": size}}}
    if cls:
        spec["storageClassName"] = cls
    return {"spec": spec}


PVC = ObjRef("PersistentVolumeClaim", "ns", "c-pvc")


@pytest.mark.parametrize(
    ("ref", "body", "live", "message"),
    [
        (PVC, _pvc("50Gi"), _pvc("50Gi"), ""),
        (PVC, _pvc("100Gi"), _pvc("50Gi"), ""),  # growing is allowed
        (PVC, _pvc("10Gi"), _pvc("50Gi"), "spec.resources.requests.storage: a PVC cannot shrink"),
        (PVC, _pvc("50Gi", "slow"), _pvc("50Gi"), "spec.storageClassName: a PVC's class cannot change (fast)"),
        (PVC, _pvc("50Gi", "slow"), _pvc("50Gi", None), "spec.storageClassName: a PVC's class cannot change (none)"),
        (PVC, _pvc("50Gi", None), _pvc("50Gi"), ""),  # leaving the class out keeps the one it has
        (PVC, _pvc("50Gi", modes=("ReadWriteMany",)), _pvc("50Gi"), "spec.accessModes: a PVC's access mode"),
        (
            CACHE,
            {"spec": {"source": {"ngc": {"modelPuller": "nvcr.io/nim/b:2"}}}},
            {"spec": {"source": {"ngc": {"modelPuller": "nvcr.io/nim/a:1"}}}},
            "spec.source.ngc.modelPuller: modelPuller is an immutable field",
        ),
        (
            CACHE,
            {"spec": {"source": {"ngc": {"modelPuller": "nvcr.io/nim/a:1"}}}},
            {"spec": {"source": {"ngc": {"modelPuller": "nvcr.io/nim/a:1"}}}},
            "",
        ),
    ],
)
def test_forbidden_changes(ref: ObjRef, body: dict[str, Any], live: dict[str, Any], message: str) -> None:
    found = compare.forbidden(ref, body, live)
    assert found.startswith(message) if message else found == ""


def _body(name: str = "c", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "ns", "annotations": {}},
        "spec": {"port": 8000, **spec},
    }


def test_the_applied_hash_ignores_owner_references_and_itself() -> None:
    plain = compare.stamped(_body())
    owned = compare.stamped(compare.owned(_body(), CACHE, {CACHE: "uid-1"}))
    again = compare.stamped(plain)
    stamp = plain["metadata"]["annotations"][compare.APPLIED]
    assert (
        owned["metadata"]["annotations"][compare.APPLIED] == stamp == again["metadata"]["annotations"][compare.APPLIED]
    )
    assert compare.stamped(_body(port=9000))["metadata"]["annotations"][compare.APPLIED] != stamp


def test_owned_adds_one_controller_reference_with_the_known_uid() -> None:
    body = compare.owned(_body(), CACHE, {CACHE: "uid-1"})
    assert body["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "apps.nvidia.com/v1alpha1",
            "kind": "NIMCache",
            "name": "c",
            "uid": "uid-1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert compare.owned(_body(), None, {}) == _body()


@pytest.mark.parametrize(
    ("live", "action"),
    [
        (None, Action.CREATED),
        ("same", Action.UNCHANGED),
        ("edited", Action.CONFIGURED),  # the hash matches, a field of ours does not: someone edited it
        ("older", Action.CONFIGURED),  # git changed since the last apply
    ],
)
def test_compare(live: str | None, action: Action) -> None:
    ref = ObjRef("Service", "ns", "c")
    body = compare.stamped(_body())
    have = None
    if live == "same":
        have = {**body, "status": {}, "metadata": {**body["metadata"], "uid": "u"}}
    elif live == "edited":
        have = {**body, "spec": {"port": 9999}}
    elif live == "older":
        have = compare.stamped(_body(port=7000))
    change = compare.compare(ref, body, have)
    assert change.action is action
    if action is not Action.UNCHANGED:
        assert change.diff.startswith("--- live\n+++ desired\n")
        assert compare.APPLIED not in change.diff  # the hash changes with every change: not shown


def test_a_created_object_shows_its_whole_body_in_the_diff() -> None:
    change = compare.compare(ObjRef("Service", "ns", "c"), compare.stamped(_body()), None)
    assert "+  port: 8000" in change.diff and "+kind: Service" in change.diff


def test_the_revision_is_written_but_not_compared() -> None:
    desired = [DesiredObject(_body(), None, HERE)]
    first = compare.plan(desired, {}, PruneOptions(), revision="aaa")
    ref = ObjRef("Service", "ns", "c")
    applied = first.bodies[ref]
    assert applied["metadata"]["annotations"][compare.REVISION] == "aaa"
    later = compare.plan(desired, {ref: applied}, PruneOptions(), revision="bbb")
    assert [c.action for c in later.changes] == [Action.UNCHANGED]


def test_a_blocked_child_holds_its_custom_resource_and_its_siblings() -> None:
    cache_body = {
        "apiVersion": "apps.nvidia.com/v1alpha1",
        "kind": "NIMCache",
        "metadata": {"name": "c", "namespace": "ns"},
    }
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c-pvc", "namespace": "ns"}}
    pvc |= _pvc("10Gi")
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "c-job-1", "namespace": "ns"}, "spec": {}}
    desired = [DesiredObject(b, None if b is cache_body else CACHE, HERE) for b in (cache_body, pvc, job)]
    live = {PVC: {**pvc, **_pvc("50Gi")}}
    planned = compare.plan(desired, live, PruneOptions())
    actions = {c.ref.kind: (c.action, c.reason) for c in planned.changes}
    assert actions["PersistentVolumeClaim"][0] is Action.BLOCKED
    assert actions["NIMCache"] == (Action.BLOCKED, f"held: {CACHE} has a change Kubernetes forbids")
    assert actions["Job"] == (Action.BLOCKED, f"held: {CACHE} has a change Kubernetes forbids")


def test_an_autoscaled_deployment_keeps_the_live_replicas() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "s", "namespace": "ns"},
        "spec": {"replicas": 1},
    }
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "s", "namespace": "ns"},
    }
    ref = ObjRef("Deployment", "ns", "s")
    first = compare.plan([DesiredObject(deployment, None, HERE), DesiredObject(hpa, None, HERE)], {}, PruneOptions())
    scaled = {**first.bodies[ref], "spec": {"replicas": 4}}
    later = compare.plan(
        [DesiredObject(deployment, None, HERE), DesiredObject(hpa, None, HERE)], {ref: scaled}, PruneOptions()
    )
    change = next(c for c in later.changes if c.ref == ref)
    assert change.action is Action.UNCHANGED and later.bodies[ref]["spec"]["replicas"] == 4
