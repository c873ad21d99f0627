"""Strict Kubernetes OpenAPI validation of rendered objects (kubernetes-validate's bundled schemas, loaded once).

Custom resources we render for other projects' CRDs (ServiceMonitor, HTTPRoute, GRPCRoute) have no schema in the
Kubernetes OpenAPI; they are checked against the small structural schemas below, written from their CRDs.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
import kubernetes_validate

from reconciler.kinds import CUSTOM_KINDS

VERSION = "1.33.0"
FILES = {
    "PersistentVolumeClaim": "persistentvolumeclaim-v1.json",
    "Job": "job-batch-v1.json",
    "ServiceAccount": "serviceaccount-v1.json",
    "Service": "service-v1.json",
    "Deployment": "deployment-apps-v1.json",
    "HorizontalPodAutoscaler": "horizontalpodautoscaler-autoscaling-v2.json",
    "Ingress": "ingress-networking-v1.json",
    "Pod": "pod-v1.json",
    # deploy/
    "Namespace": "namespace-v1.json",
    "CronJob": "cronjob-batch-v1.json",
    "ClusterRole": "clusterrole-rbac-v1.json",
    "ClusterRoleBinding": "clusterrolebinding-rbac-v1.json",
    "Role": "role-rbac-v1.json",
    "RoleBinding": "rolebinding-rbac-v1.json",
    "Secret": "secret-v1.json",
    "CustomResourceDefinition": "customresourcedefinition-apiextensions-v1.json",
}
_META = {"type": "object", "required": ["name", "namespace"]}
_PARENT = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {"name": {"type": "string"}, "namespace": {"type": "string"}},
}
_BACKEND = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
}
_ROUTE_COMMON = {
    "parentRefs": {"type": "array", "items": _PARENT},
    "hostnames": {"type": "array", "items": {"type": "string"}},
}
CRD_SCHEMAS: dict[str, dict[str, Any]] = {
    "HTTPRoute": {
        "type": "object",
        "properties": {
            "metadata": _META,
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    **_ROUTE_COMMON,
                    "rules": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "matches": {"type": "array"},
                                "backendRefs": {"type": "array", "items": _BACKEND},
                            },
                        },
                    },
                },
            },
        },
    },
    "GRPCRoute": {
        "type": "object",
        "properties": {
            "metadata": _META,
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    **_ROUTE_COMMON,
                    "rules": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {"backendRefs": {"type": "array", "items": _BACKEND}},
                        },
                    },
                },
            },
        },
    },
    "ServiceMonitor": {
        "type": "object",
        "properties": {
            "metadata": _META,
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "required": ["selector", "endpoints"],
                "properties": {
                    "namespaceSelector": {"type": "object", "properties": {"matchNames": {"type": "array"}}},
                    "selector": {"type": "object", "properties": {"matchLabels": {"type": "object"}}},
                    "endpoints": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "path": {"type": "string"},
                                "port": {"type": "string"},
                                "interval": {"type": "string"},
                                "scrapeTimeout": {"type": "string"},
                            },
                        },
                    },
                },
            },
        },
    },
}


_BASE = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / f"v{VERSION}-local-strict"


@cache
def _definitions() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((_BASE / "_definitions.json").read_text())
    return loaded


@cache
def _kind_schema(kind: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((_BASE / FILES[kind]).read_text())
    return loaded


@cache
def _validators() -> dict[str, Any]:
    base = _BASE
    definitions = _definitions()
    registry = jsonschema_rs.Registry([("https://kubernetes.io/api/_definitions.json", definitions)])
    out = {
        kind: jsonschema_rs.validator_for(json.loads((base / f).read_text()), registry=registry)
        for kind, f in FILES.items()
    }
    out.update({kind: jsonschema_rs.validator_for(s) for kind, s in CRD_SCHEMAS.items()})
    return out


def errors(body: dict[str, Any]) -> list[str]:
    """Every schema error of one rendered object (custom resources of ours are checked by validate)."""
    if body["kind"] in CUSTOM_KINDS:
        return []
    validator = _validators()[body["kind"]]
    found = [f"{'.'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(body)]
    if body["kind"] in FILES:  # Go's decoder refuses 2.0 for an int32 (JSON Schema calls it an integer)
        found += [
            f"{'.'.join(map(str, p))}: json: cannot unmarshal number {v!r} into an integer"
            for p, v in _floats(body)
            if _wants_integer(body["kind"], p)
        ]
    return found


def _floats(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[tuple[str | int, ...], float]]:
    if isinstance(value, dict):
        return [f for k, v in value.items() for f in _floats(v, (*path, k))]
    if isinstance(value, list):
        return [f for i, v in enumerate(value) for f in _floats(v, (*path, i))]
    return [(path, value)] if isinstance(value, float) else []


def _wants_integer(kind: str, path: tuple[str | int, ...]) -> bool:
    nodes: list[Any] = [_kind_schema(kind)]
    for part in path:
        nodes = [
            n.get("items")
            if isinstance(part, int)
            else (n.get("properties") or {}).get(part, n.get("additionalProperties"))
            for n in _resolved(nodes)
        ]
    types = [n.get("type") for n in _resolved(nodes)]
    return any(t == "integer" or (isinstance(t, list) and "integer" in t) for t in types)


def _resolved(nodes: list[Any]) -> list[dict[str, Any]]:
    out, todo = [], list(nodes)
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            out.append(node)
            ref = node.get("$ref", "")
            if "#/$defs/" in ref:
                todo.append(_definitions()["$defs"].get(ref.split("#/$defs/")[1]))
            todo.extend(node.get("oneOf", []) + node.get("anyOf", []) + node.get("allOf", []))
    return out
