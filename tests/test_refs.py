"""refs.py, errors.py and kinds.py: how objects, places and problems are named, and the REST paths (pure)."""

from __future__ import annotations

import pytest

from reconciler.errors import ClusterError, error, warning
from reconciler.kinds import BY_KIND, CRD, ORDER, RANK
from reconciler.refs import ObjRef, SourceLocation, field_path


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (ObjRef("Job", "ns", "j"), "Job/ns/j"),
        (ObjRef("CustomResourceDefinition", "", "x.y"), "CustomResourceDefinition/x.y"),
        (SourceLocation("clusters/a/m.yaml", 12), "clusters/a/m.yaml:12"),
        (SourceLocation("clusters/a/m.yaml"), "clusters/a/m.yaml"),  # line unknown
        (error(SourceLocation("m.yaml", 3), "spec.x", "bad", "r"), "m.yaml:3: spec.x: bad"),
        (warning(SourceLocation("m.yaml", 3), "spec.x", "odd", "r"), "m.yaml:3: spec.x: warning: odd"),
        (error(SourceLocation("m.yaml", 1), "", "not YAML", "r"), "m.yaml:1: not YAML"),
        (ClusterError(ObjRef("Job", "ns", "j"), "refused (422)", 422), "Job/ns/j: refused (422)"),
    ],
)
def test_names(value: object, text: str) -> None:
    assert str(value) == text


@pytest.mark.parametrize(
    ("parts", "path"),
    [(("spec", "env", 0, "name"), "spec.env[0].name"), ((), ""), ((0,), "[0]"), (("a",), "a")],
)
def test_field_path(parts: tuple[str | int, ...], path: str) -> None:
    assert field_path(parts) == path


@pytest.mark.parametrize(
    ("kind", "namespace", "name", "path"),
    [
        (BY_KIND["Service"], "ns", "s", "/api/v1/namespaces/ns/services/s"),
        (BY_KIND["Job"], "ns", "", "/apis/batch/v1/namespaces/ns/jobs"),
        (BY_KIND["NIMCache"], "", "", "/apis/apps.nvidia.com/v1alpha1/nimcaches"),  # all namespaces
        (CRD, "ignored", "x", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/x"),  # cluster-scoped
    ],
)
def test_rest_paths(kind: object, namespace: str, name: str, path: str) -> None:
    assert kind.path(namespace, name) == path  # type: ignore[attr-defined]


def test_apply_order_puts_owners_before_their_children() -> None:
    order = [k.kind for k in ORDER]
    assert order.index("NIMCache") < order.index("PersistentVolumeClaim") < order.index("Job")
    assert order.index("NIMService") < order.index("Deployment") < order.index("HorizontalPodAutoscaler")
    assert order[0] == "Namespace" and RANK["NIMCache"] == 1
