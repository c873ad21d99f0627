"""objects.py: the domain facts every stage shares — our labels, owners, the cache a service uses (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler import objects
from reconciler.refs import ObjRef

CACHE = ObjRef("NIMCache", "ns", "c")


@pytest.mark.parametrize(
    ("cluster", "selector"),
    [
        ("prod", "app.kubernetes.io/managed-by=nim-reconciler,nim-reconciler/cluster=prod"),
        (None, "app.kubernetes.io/managed-by=nim-reconciler"),
    ],
)
def test_selector(cluster: str | None, selector: str) -> None:
    assert objects.selector(cluster) == selector


@pytest.mark.parametrize(
    ("ref", "body", "owner"),
    [
        (CACHE, {}, CACHE),  # a custom resource owns itself
        (ObjRef("Job", "ns", "j"), {"metadata": {"ownerReferences": [{"kind": "NIMCache", "name": "c"}]}}, CACHE),
        (ObjRef("Job", "ns", "j"), {"metadata": {}}, None),
        (ObjRef("Job", "ns", "j"), None, None),
        (ObjRef("Job", "ns", "j"), {"metadata": {"ownerReferences": ["junk"]}}, None),
    ],
)
def test_owner_of(ref: ObjRef, body: dict[str, Any] | None, owner: ObjRef | None) -> None:
    assert objects.owner_of(ref, body) == owner


def test_a_controller_reference_round_trips_through_owner_of() -> None:
    body = {"metadata": {"ownerReferences": [objects.controller_reference(CACHE, "uid-1")]}}
    assert objects.owner_of(ObjRef("PersistentVolumeClaim", "ns", "c-pvc"), body) == CACHE
    assert body["metadata"]["ownerReferences"][0]["controller"] is True


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ({"spec": {"storage": {"nimCache": {"name": "c"}}}}, "c"),
        ({"spec": {"storage": {"pvc": {"name": "p"}}}}, None),
        ({"spec": {"storage": {"nimCache": "c"}}}, None),  # malformed: never a crash
        ({"spec": {"storage": {"nimCache": {"name": ""}}}}, None),
        ({"spec": None}, None),
    ],
)
def test_the_cache_a_service_uses(body: dict[str, Any], name: str | None) -> None:
    assert objects.cache_name(body) == name
    service = ObjRef("NIMService", "ns", "s")
    assert objects.cache_of(service, body) == (ObjRef("NIMCache", "ns", name) if name else None)


@pytest.mark.parametrize(
    ("body", "pvc"),
    [
        ({"metadata": {"name": "c"}, "spec": {"storage": {"pvc": {"create": True}}}}, "c-pvc"),
        ({"metadata": {"name": "c"}, "spec": {"storage": {"pvc": {"name": "models"}}}}, "models"),
    ],
)
def test_the_pvc_a_cache_uses(body: dict[str, Any], pvc: str) -> None:
    assert objects.pvc_name(body) == pvc


@pytest.mark.parametrize(
    ("labels", "ours"),
    [
        ({"app.kubernetes.io/managed-by": "nim-reconciler"}, True),
        ({"app.kubernetes.io/managed-by": "Helm"}, False),
        (None, False),
    ],
)
def test_is_ours(labels: dict[str, str] | None, ours: bool) -> None:
    assert objects.is_ours({"metadata": {"labels": labels}}) is ours


def _job(name: str, owner: str | None) -> dict[str, Any]:
    refs = [{"kind": "NIMCache", "name": owner, "controller": True}] if owner else []
    return {"kind": "Job", "metadata": {"name": name, "namespace": "ns", "ownerReferences": refs}}


def test_jobs_are_found_by_their_owning_cache_in_order() -> None:
    cache_a, cache_b = ObjRef("NIMCache", "ns", "a"), ObjRef("NIMCache", "ns", "b")
    listed = {
        ObjRef("Job", "ns", "a-job-2"): _job("a-job-2", "a"),
        ObjRef("Deployment", "ns", "a"): {"kind": "Deployment", "metadata": {"name": "a", "ownerReferences": [
            {"kind": "NIMService", "name": "a"}]}},
        ObjRef("Job", "ns", "b-job"): _job("b-job", "b"),
        ObjRef("Job", "ns", "a-job-1"): _job("a-job-1", "a"),
        ObjRef("Job", "ns", "orphan"): _job("orphan", None),
        cache_a: {"kind": "NIMCache", "metadata": {"name": "a"}},
    }
    assert objects.jobs_by_owner(listed) == {
        cache_a: [ObjRef("Job", "ns", "a-job-2"), ObjRef("Job", "ns", "a-job-1")],
        cache_b: [ObjRef("Job", "ns", "b-job")],
    }
