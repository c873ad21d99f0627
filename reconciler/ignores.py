"""Drift ignore rules (pure): fields of our children that another manager owns, as Argo CD's
``ignoreDifferences`` names them with JSON pointers (RFC 6901).

A NIMCache or NIMService manifest says ``nim-reconciler/ignore-differences: '[{"kind": "Deployment",
"jsonPointers": ["/spec/replicas"]}]'``. Contract: ``rules(body)`` reads them (``problems(value)`` says what is
wrong with a value, for validation); ``without(body, pointers)`` is the body less those fields (what the applied
hash covers, so a git change there is no change); ``release(body, live, pointers)`` is what a run applies to an
existing object: a field another manager owns is left out (server-side apply then leaves it theirs), and a field
only we own keeps its live value (leaving it out would make the API server delete it). A created object gets
every field. The HorizontalPodAutoscaler's replicas are one such rule, built in (``HPA_RULE``).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

IGNORE_DIFFERENCES = "nim-reconciler/ignore-differences"
MANAGER = "nim-reconciler"
HPA_RULE = ("/spec/replicas",)  # a Deployment with an HPA: the HPA decides how many replicas run

CHILDREN = {
    "NIMCache": ("PersistentVolumeClaim", "Job"),
    "NIMService": ("PersistentVolumeClaim", "ServiceAccount", "Service", "Deployment", "HorizontalPodAutoscaler",
                   "Ingress", "HTTPRoute", "GRPCRoute", "ServiceMonitor"),
}  # fmt: skip
_OURS = "what makes the object ours and ties it to its manifest"
# Pointers that may not be ignored, nor anything above or below them: why, by kind ("*": every kind).
PROTECTED: dict[str, dict[str, str]] = {
    "*": {
        "/apiVersion": _OURS, "/kind": _OURS, "/metadata/name": _OURS, "/metadata/namespace": _OURS,
        "/metadata/ownerReferences": _OURS,
        "/metadata/labels/app.kubernetes.io~1managed-by": _OURS, "/metadata/labels/nim-reconciler~1cluster": _OURS,
        "/metadata/annotations/nim-reconciler~1applied": _OURS,
        "/metadata/annotations/nim-reconciler~1source": _OURS,
    },
    "Deployment": {"/spec/selector": "the selector is immutable and ties the pods to the Service",
                   "/spec/template/metadata/labels/app": "the pods' label the selector and the Service match"},
    "Service": {"/spec/selector": "the selector is what routes traffic to the NIM's pods"},
    "Job": {"/spec/template": "a Job's pod template is immutable", "/spec/selector": "a Job's selector is immutable"},
    "PersistentVolumeClaim": {"/spec/accessModes": "immutable once bound", "/spec/storageClassName": "immutable",
                              "/spec/volumeMode": "immutable", "/spec/volumeName": "immutable"},
    "HorizontalPodAutoscaler": {"/spec/scaleTargetRef": "what the HPA scales"},
    "ServiceMonitor": {"/spec/selector": "what Prometheus scrapes"},
}  # fmt: skip


@dataclass(frozen=True)
class Rule:
    kind: str
    pointers: tuple[str, ...]


def parts(pointer: str) -> list[str]:
    """The reference tokens of a JSON pointer ("/a~1b/c" → ["a/b", "c"]); "" is the whole document."""
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]] if pointer else []


def _load(value: object) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return None


def problems(value: object, owner_kind: str) -> list[tuple[str, str]]:
    """What is wrong with an annotation value: (where inside it, why) pairs; none for a good one."""
    data = _load(value)
    if not isinstance(data, list) or not data:
        return [("", 'must be a JSON list such as [{"kind": "Deployment", "jsonPointers": ["/spec/replicas"]}]')]
    found: list[tuple[str, str]] = []
    for i, item in enumerate(data):
        kinds = CHILDREN.get(owner_kind, ())
        if not isinstance(item, dict) or set(item) - {"kind", "jsonPointers"}:
            found.append((f"[{i}]", "must be an object with kind and jsonPointers (JSONPath is not supported)"))
            continue
        if item.get("kind") not in kinds:
            found.append((f"[{i}].kind", f"must be one of {', '.join(kinds)} (what a {owner_kind} renders)"))
            continue
        pointers = item.get("jsonPointers")
        if not isinstance(pointers, list) or not pointers:
            found.append((f"[{i}].jsonPointers", "must be a non-empty list of JSON pointers"))
            continue
        for j, pointer in enumerate(pointers):
            why = pointer_problem(item["kind"], pointer)
            if why:
                found.append((f"[{i}].jsonPointers[{j}]", why))
    return found


def pointer_problem(kind: str, pointer: object) -> str:
    """Why ``pointer`` cannot be ignored on ``kind`` ('' when it can)."""
    if not isinstance(pointer, str) or not pointer.startswith("/"):
        return f"{pointer!r} is not a JSON pointer (it starts with /)"
    if any(t and t[0] not in "01" for t in pointer.split("~")[1:]):
        return f"{pointer}: ~ is written ~0, and / inside a name ~1 (RFC 6901)"
    mine = parts(pointer)
    for path, why in {**PROTECTED["*"], **PROTECTED.get(kind, {})}.items():
        theirs = parts(path)
        if mine[: len(theirs)] == theirs or theirs[: len(mine)] == mine:
            return f"{pointer} cannot be ignored on a {kind}: {path} is {why}"
    return ""


def rules(body: Mapping[str, Any]) -> list[Rule]:
    """The rules a custom resource's manifest gives (validated: an unreadable value gives none)."""
    raw = ((body.get("metadata") or {}).get("annotations") or {}).get(IGNORE_DIFFERENCES)
    data = _load(raw)
    if raw is None or problems(data, str(body.get("kind"))):
        return []
    return [Rule(item["kind"], tuple(item["jsonPointers"])) for item in data]


def pointers_for(rules_of_owner: Sequence[Rule], kind: str) -> tuple[str, ...]:
    """The pointers that apply to a child of ``kind``."""
    return tuple(p for r in rules_of_owner if r.kind == kind for p in r.pointers)


def _at(obj: Any, path: Sequence[str]) -> tuple[bool, Any]:
    for token in path:
        if isinstance(obj, dict) and token in obj:
            obj = obj[token]
        elif isinstance(obj, list) and token.isdigit() and int(token) < len(obj):
            obj = obj[int(token)]
        else:
            return False, None
    return True, obj


def _edit(body: dict[str, Any], path: Sequence[str], value: Any, remove: bool) -> None:
    parent = _at(body, path[:-1])[1]
    last = path[-1]
    if isinstance(parent, dict):
        if remove:
            parent.pop(last, None)
        else:
            parent[last] = copy.deepcopy(value)
    elif isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        if remove:
            parent.pop(int(last))
        else:
            parent[int(last)] = copy.deepcopy(value)


def without(body: dict[str, Any], pointers: Sequence[str]) -> dict[str, Any]:
    """``body`` less the fields at ``pointers`` (a copy; absent fields are no matter)."""
    if not pointers:
        return body
    out = copy.deepcopy(body)
    for pointer in sorted(pointers, key=lambda p: [int(t) if t.isdigit() else -1 for t in parts(p)], reverse=True):
        if _at(out, parts(pointer))[0]:
            _edit(out, parts(pointer), None, remove=True)
    return out


def _owned_by_others(live: Mapping[str, Any], path: Sequence[str], manager: str) -> bool:
    """Another manager's managedFields name the field (FieldsV1: ``f:`` for map keys; list items are not
    followed: a pointer into a list counts as ours)."""
    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        if not isinstance(entry, dict) or entry.get("manager") == manager:
            continue
        node: Any = entry.get("fieldsV1") or {}
        for token in path:
            node = node.get(f"f:{token}") if isinstance(node, dict) else None
            if node is None:
                break
        else:
            return True
    return False


def release(body: dict[str, Any], live: Mapping[str, Any], pointers: Sequence[str], manager: str = MANAGER
            ) -> dict[str, Any]:  # fmt: skip
    """What to apply to an existing object (see the module's contract)."""
    if not pointers:
        return body
    out = copy.deepcopy(body)
    for pointer in pointers:
        path = parts(pointer)
        if not path or not _at(out, path)[0]:
            continue
        present, value = _at(live, path)
        if present and not _owned_by_others(live, path, manager):
            _edit(out, path, value, remove=False)  # only ours: keep what the cluster has, delete nothing
        else:
            _edit(out, path, None, remove=True)  # theirs (or gone): not ours to write
    return out
