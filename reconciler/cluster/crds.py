"""The NIMCache and NIMService CustomResourceDefinitions, generated from ``schemas/`` (pure).

A real API server accepts only structural schemas: no ``$ref`` / ``$defs``, a ``type`` on every node,
``x-kubernetes-int-or-string`` for quantities and int-or-string, ``x-kubernetes-preserve-unknown-fields`` for
free-form objects, and no ``additionalProperties: false`` (the server prunes unknown fields; ``validate`` is
stricter and reports them). Keyed lists get their list-map markers. ``deploy/crds/`` holds the output.
"""

from __future__ import annotations

import copy
from typing import Any

from reconciler.kinds import API_VERSION, CUSTOM_KINDS, OUR_CRDS
from reconciler.objects import MANAGED_BY, MANAGER
from reconciler.validate.schema import load_schemas

MANAGED = {MANAGED_BY: MANAGER}
_DROP = {"$schema", "$id", "$defs", "$comment", "title", "default", "deprecated", "x-message", "examples"}
# Lists merged by key in server-side apply: (property name, keys).
_LIST_MAPS = {"env": ["name"], "initContainers": ["name"], "sidecarContainers": ["name"]}


def definitions() -> list[dict[str, Any]]:
    """Both CRDs, ready to apply."""
    schemas = load_schemas()
    return [_crd(kind, schemas) for kind in CUSTOM_KINDS]


def _crd(kind: str, schemas: dict[str, Any]) -> dict[str, Any]:
    name = OUR_CRDS[kind]
    plural, group = name.split(".", 1)
    own = schemas[f"{kind.lower()}.schema.json"]
    spec = _structural(own["properties"]["spec"], own, f"{kind.lower()}.schema.json", schemas)
    columns = [{"name": "Status", "type": "string", "jsonPath": ".status.state"}]
    if kind == "NIMCache":
        columns.append({"name": "PVC", "type": "string", "jsonPath": ".status.pvc"})
    columns.append({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"})
    version = {
        "name": API_VERSION.split("/")[1],
        "served": True,
        "storage": True,
        "subresources": {"status": {}},
        "additionalPrinterColumns": columns,
        "schema": {
            "openAPIV3Schema": {
                "type": "object",
                "properties": {
                    "apiVersion": {"type": "string"},
                    "kind": {"type": "string"},
                    "metadata": {"type": "object"},
                    "spec": spec,
                    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                },
                "required": ["spec"],
            }
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": name, "labels": dict(MANAGED)},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"},
            "versions": [version],
        },
    }


def _resolve(ref: str, doc: str, schemas: dict[str, Any]) -> tuple[Any, str]:
    target_doc, _, pointer = ref.partition("#")
    target_doc = target_doc or doc
    node: Any = schemas[target_doc]
    for part in pointer.strip("/").split("/"):
        if part:
            node = node[part]
    return node, target_doc


def _structural(source: Any, root: Any, doc: str, schemas: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    if depth > 40:
        raise ValueError("schema nesting too deep (recursive $ref?)")
    node: dict[str, Any] = dict(copy.deepcopy(source))
    if "$ref" in node:
        target, target_doc = _resolve(node.pop("$ref"), doc, schemas)
        merged: dict[str, Any] = {**copy.deepcopy(target), **node}  # siblings of $ref refine the target
        return _structural(merged, root, target_doc, schemas, depth + 1)
    for key in _DROP:
        node.pop(key, None)
    if "const" in node:
        node["enum"] = [node.pop("const")]
    branches = node.get("anyOf") or node.get("oneOf")
    if branches is not None:
        types = {b.get("type") for b in branches}
        node.pop("anyOf", None)
        node.pop("oneOf", None)
        if types <= {"string", "integer", "number"}:
            node["x-kubernetes-int-or-string"] = True
            return {k: v for k, v in node.items() if k != "type"}
    if node.get("additionalProperties") is False:
        del node["additionalProperties"]
    elif isinstance(node.get("additionalProperties"), dict):
        node["additionalProperties"] = _structural(node["additionalProperties"], root, doc, schemas, depth + 1)
    if "properties" in node:
        node["properties"] = {k: _structural(v, root, doc, schemas, depth + 1) for k, v in node["properties"].items()}
        for prop, keys in _LIST_MAPS.items():
            target = node["properties"].get(prop)
            if isinstance(target, dict) and target.get("type") == "array":
                target["x-kubernetes-list-type"] = "map"
                target["x-kubernetes-list-map-keys"] = keys
    if "items" in node:
        node["items"] = _structural(node["items"], root, doc, schemas, depth + 1)
    if node.get("type") == "object" and "properties" not in node and "additionalProperties" not in node:
        node["x-kubernetes-preserve-unknown-fields"] = True
    if "type" not in node and "x-kubernetes-int-or-string" not in node:
        node["type"] = "object"
        node["x-kubernetes-preserve-unknown-fields"] = True
    return node
