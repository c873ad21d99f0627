"""Server-side apply for the test API server: field sets, merging, ownership, conflicts.

Written from the structured-merge-diff behaviour of kube-apiserver (sigs.k8s.io/structured-merge-diff):
- a manager owns the set of fields it applied; applying again with fewer fields removes the ones no other
  manager owns;
- lists declared ``x-kubernetes-list-type: map`` merge element by element on their keys (containers by name,
  env by name, ports by containerPort+protocol, volumeMounts by mountPath …); other lists are atomic;
- applying a different value for a field another manager owns is a conflict, unless ``force`` takes it over.
"""

from __future__ import annotations

import copy
import json
from typing import Any

Path = tuple[Any, ...]  # str for a map key, ("k", key-json) for a keyed list element


def list_keys(parent: str, items: list[Any]) -> tuple[str, ...] | None:
    """The merge keys of a list named ``parent`` (None: atomic), as the Kubernetes OpenAPI declares them."""
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    if parent in ("containers", "initContainers", "ephemeralContainers", "env", "volumes", "imagePullSecrets"):
        return ("name",)
    if parent == "volumeMounts":
        return ("mountPath",)
    if parent == "ownerReferences":
        return ("uid",)
    if parent == "conditions":
        return ("type",)
    if parent == "ports":
        return ("containerPort", "protocol") if "containerPort" in items[0] else ("port", "protocol")
    return None


def _key(keys: tuple[str, ...], item: dict[str, Any]) -> tuple[str, str]:
    values = {k: item.get(k, "TCP" if k == "protocol" else None) for k in keys}
    return ("k", json.dumps(values, sort_keys=True, separators=(",", ":")))  # as kube-apiserver writes it


def field_set(obj: Any, path: Path = ()) -> set[Path]:
    """Every leaf and keyed-list element path of ``obj``."""
    out: set[Path] = set()
    if isinstance(obj, dict):
        if not obj and path:
            out.add(path)
        for key, value in obj.items():
            out |= field_set(value, (*path, key))
    elif isinstance(obj, list) and path and isinstance(path[-1], str) and list_keys(path[-1], obj):
        keys = list_keys(path[-1], obj)
        assert keys is not None
        for item in obj:
            element = (*path, _key(keys, item))
            out.add(element)
            out |= field_set(item, element)
    else:
        out.add(path)
    return out


def value_at(obj: Any, path: Path) -> Any:
    for i, seg in enumerate(path):
        if isinstance(seg, tuple):
            parent = path[i - 1]
            keys = list_keys(parent, obj) if isinstance(obj, list) else None
            obj = next((x for x in obj if keys and _key(keys, x) == seg), None) if isinstance(obj, list) else None
        elif isinstance(obj, dict):
            obj = obj.get(seg)
        else:
            return None
        if obj is None:
            return None
    return obj


def merge(live: Any, config: Any, parent: str = "") -> Any:
    """``config`` merged into ``live``: maps key by key, keyed lists element by element, the rest replaced."""
    if isinstance(live, dict) and isinstance(config, dict):
        out = dict(live)
        for key, value in config.items():
            out[key] = merge(live.get(key), value, key) if key in live else copy.deepcopy(value)
        return out
    if isinstance(live, list) and isinstance(config, list):
        keys = list_keys(parent, config) or list_keys(parent, live)
        if keys and all(isinstance(x, dict) for x in live):
            merged = [dict(x) for x in live]
            index = {_key(keys, x): i for i, x in enumerate(merged)}
            for item in config:
                k = _key(keys, item)
                if k in index:
                    merged[index[k]] = merge(merged[index[k]], item)
                else:
                    index[k] = len(merged)
                    merged.append(copy.deepcopy(item))
            return merged
    return copy.deepcopy(config)


def remove(obj: dict[str, Any], path: Path) -> None:
    """Delete the field or keyed element at ``path`` (no-op when it is already gone)."""
    parent = value_at(obj, path[:-1]) if len(path) > 1 else obj
    last = path[-1]
    if isinstance(last, tuple) and isinstance(parent, list):
        keys = list_keys(path[-2], parent)
        parent[:] = [x for x in parent if not (keys and _key(keys, x) == last)]
    elif isinstance(parent, dict):
        parent.pop(last, None)


def to_fields_v1(paths: set[Path]) -> dict[str, Any]:
    """The ``fieldsV1`` form kubectl shows in managedFields."""
    root: dict[str, Any] = {}
    for path in sorted(paths, key=lambda p: json.dumps(p, default=str)):
        node = root
        for seg in path:
            name = f"k:{seg[1]}" if isinstance(seg, tuple) else f"f:{seg}"
            node = node.setdefault(name, {})
            if isinstance(seg, tuple):
                node.setdefault(".", {})
    return root


def from_fields_v1(tree: dict[str, Any], at: Path = ()) -> set[Path]:
    """The field paths of a ``fieldsV1`` tree (the inverse of ``to_fields_v1``)."""
    out: set[Path] = set()
    for name, child in tree.items():
        if name == ".":
            continue
        kind, _, rest = name.partition(":")
        seg: Any = ("k", rest) if kind == "k" else rest
        path = (*at, seg)
        inner = {k: v for k, v in (child or {}).items() if k != "."}
        if kind == "k" or not inner:
            out.add(path)
        out |= from_fields_v1(inner, path)
    return out


class Conflict(Exception):
    def __init__(self, conflicts: list[tuple[str, Path]]) -> None:
        super().__init__(conflicts)
        self.conflicts = conflicts


def dotted(path: Path) -> str:
    return "".join(f"[{seg[1]}]" if isinstance(seg, tuple) else f".{seg}" for seg in path)


def apply(
    live: dict[str, Any], config: dict[str, Any], manager: str, owners: dict[str, set[Path]], force: bool
) -> tuple[dict[str, Any], dict[str, set[Path]]]:
    """Apply ``config`` as ``manager``: the new object and the new ownership, or ``Conflict``."""
    wanted = field_set(config)
    owners = {m: set(p) for m, p in owners.items()}
    conflicts = [
        (other, p)
        for other, paths in owners.items()
        if other != manager
        for p in wanted & paths
        if value_at(live, p) != value_at(config, p) and not isinstance(value_at(config, p), dict | list)
    ]
    if conflicts and not force:
        raise Conflict(conflicts)
    for other, p in conflicts:
        owners[other].discard(p)
    merged = merge(live, config)
    stopped = owners.get(manager, set()) - wanted
    still_owned = set().union(*(paths for m, paths in owners.items() if m != manager)) if owners else set()
    for p in sorted(stopped, key=len):  # whole keyed elements first, then what is left of maps
        if p not in still_owned:
            remove(merged, p)
    owners[manager] = wanted
    return merged, {m: p for m, p in owners.items() if p}


def update(
    old: dict[str, Any], new: dict[str, Any], manager: str, owners: dict[str, set[Path]]
) -> dict[str, set[Path]]:
    """Ownership after a non-apply write: changed fields move to ``manager`` (no conflicts for updates)."""
    before, after = field_set(old), field_set(new)
    changed = {p for p in after if p not in before or value_at(old, p) != value_at(new, p)}
    owners = {m: {p for p in paths if p in after and p not in changed} for m, paths in owners.items()}
    owners[manager] = owners.get(manager, set()) | changed
    return {m: p for m, p in owners.items() if p}
