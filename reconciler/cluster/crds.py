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
    """Both CRDs, ready to apply; raises ``ValueError`` if one is not structural (a real API server refuses it)."""
    schemas = load_schemas()
    crds = [_crd(kind, schemas) for kind in CUSTOM_KINDS]
    for crd in crds:
        problems = structural_problems(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
        if problems:
            raise ValueError(f"{crd['metadata']['name']} is not a structural schema: {'; '.join(problems)}")
    return crds


# What apiextensions.k8s.io/v1 refuses anywhere in a schema.
_NOT_ALLOWED = ("$ref", "$schema", "$defs", "definitions", "id", "additionalItems", "patternProperties", "dependencies")
# What a value validation inside allOf / anyOf / oneOf / not must leave to the structural part around it.
_STRUCTURE = ("type", "additionalProperties", "default", "nullable")


def structural_problems(node: Any, path: str = "", in_junctor: bool = False) -> list[str]:
    """Every rule of apiextensions-apiserver's structural schemas that ``node`` breaks, by field path (pure):
    a type on every node unless int-or-string or preserve-unknown-fields; ``items`` on every array; ``properties``
    xor ``additionalProperties`` (never ``false``); no ``$ref``, definitions or pattern properties; no
    ``uniqueItems: true``; inside allOf/anyOf/oneOf/not only value validations; list-map keys required."""
    if not isinstance(node, dict):
        return [f"{path or '.'}: must be a schema object"]
    where = path or "."
    problems = [f"{where}: {key} is not allowed" for key in _NOT_ALLOWED if key in node]
    if node.get("uniqueItems") is True:
        problems.append(f"{where}: uniqueItems: true is not allowed")
    if node.get("x-kubernetes-preserve-unknown-fields") is False:
        problems.append(f"{where}: x-kubernetes-preserve-unknown-fields must be true or absent")
    if in_junctor:
        problems += [
            f"{where}: {key} must not be set inside allOf/anyOf/oneOf/not" for key in _STRUCTURE if key in node
        ]
        problems += [
            f"{where}: {k} must not be set inside allOf/anyOf/oneOf/not" for k in node if k.startswith("x-kubernetes-")
        ]
    else:
        problems += _typing(node, where)
    for key, child in (node.get("properties") or {}).items():
        problems += structural_problems(child, f"{path}.{key}", in_junctor)
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            problems += structural_problems(node[key], f"{path}[{key}]", in_junctor)
    for key in ("allOf", "anyOf", "oneOf"):
        for i, branch in enumerate(node.get(key) or []):
            problems += structural_problems(branch, f"{path}[{key}][{i}]", True)
    if isinstance(node.get("not"), dict):
        problems += structural_problems(node["not"], f"{path}[not]", True)
    return problems


def _typing(node: dict[str, Any], where: str) -> list[str]:
    problems = []
    int_or_string, free = (
        node.get("x-kubernetes-int-or-string") is True,
        node.get("x-kubernetes-preserve-unknown-fields"),
    )
    if "type" not in node and not int_or_string and not free:
        problems.append(f"{where}: type must not be empty")
    if int_or_string and "type" in node:
        problems.append(f"{where}: type must be empty with x-kubernetes-int-or-string")
    if node.get("type") == "array" and "items" not in node:
        problems.append(f"{where}: items must be specified for an array")
    if "properties" in node and "additionalProperties" in node:
        problems.append(f"{where}: properties and additionalProperties are mutually exclusive")
    if node.get("additionalProperties") is False:
        problems.append(f"{where}: additionalProperties: false is not allowed (unknown fields are pruned)")
    if node.get("x-kubernetes-list-type") == "map":
        required = (node.get("items") or {}).get("required") or []
        problems += [
            f"{where}: list-map key {k} must be required in its items"
            for k in node.get("x-kubernetes-list-map-keys") or []
            if k not in required
        ]
    return problems


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
    elif node.get("type") == "array":  # an array of anything (draResources): structural needs its items typed
        node["items"] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    if node.get("type") == "object" and "properties" not in node and "additionalProperties" not in node:
        node["x-kubernetes-preserve-unknown-fields"] = True
    if "type" not in node and "x-kubernetes-int-or-string" not in node:
        node["type"] = "object"
        node["x-kubernetes-preserve-unknown-fields"] = True
    return node
