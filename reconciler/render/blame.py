"""Who caused a refused field of a rendered object: a manifest field, a template override, or neither (pure).

Contract: ``refusal(res, body, violation, override)`` is the error a user sees for one ``Violation`` found by
offline admission: at the manifest field that holds the offending key or value (``path:line``, the field named),
else at the line of the override template that wrote it, else at the manifest. The message names the object and
the rendered field, as kube-apiserver would have.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from reconciler.documents import NimResource
from reconciler.errors import Problem, error
from reconciler.refs import ObjRef, SourceLocation, field_path
from reconciler.validate.violations import Violation

Leaf = tuple[tuple[str | int, ...], Any]


def refusal(res: NimResource, body: dict[str, Any], violation: Violation, override: tuple[Path, str] | None) -> Problem:
    """The error for one refused field; ``override`` is the template override that rendered ``body`` and the
    text of the shipped template it replaces, when there is one."""
    meta = body.get("metadata") or {}
    ref = ObjRef(str(body.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name")))
    message = f"the cluster would refuse {ref}: {violation}"
    key, value = _hints(body, violation)
    if override is not None:
        line = _written_by(override, key, value)
        if line:
            return error(SourceLocation(str(override[0]), line), "", message, "admission", res.doc.where)
    # a duplicate is the later of two entries: the manifest's last match is the one to point at
    found = _in_manifest(res, key, value, last=violation.message.startswith("Duplicate value"))
    if found is not None:
        return error(res.doc.at(found), field_path(found), message, "admission")
    if override is not None:
        return error(SourceLocation(str(override[0]), 1), "", message, "admission", res.doc.where)
    return error(res.doc.where, "", message, "admission")


def _hints(body: dict[str, Any], violation: Violation) -> tuple[str | None, Any]:
    """The key and the value the violation is about: the last field name of its path, and the value there."""
    node: Any = body
    for part in violation.path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
            break
    key = next((p for p in reversed(violation.path) if isinstance(p, str)), None)
    return key, node


def _written_by(override: tuple[Path, str], key: str | None, value: Any) -> int:
    """The line of the override that writes ``key`` (or ``value``) when the shipped template does not."""
    path, shipped = override
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return 0
    written = [f"{key}: {value}"] if key and isinstance(value, (int, float)) and not isinstance(value, bool) else []
    needles = [*written, *(f"{key}:" for key in [key] if key), *([value] if isinstance(value, str) and value else [])]
    for needle in needles:
        if needle in text and needle not in shipped:
            return text[: text.index(needle)].count("\n") + 1
    return 0


def _in_manifest(res: NimResource, key: str | None, value: Any, last: bool = False) -> tuple[str | int, ...] | None:
    """The manifest field that holds ``value`` (under ``key`` preferably), or whose key is ``value``; the last
    such field when ``last``."""
    leaves = list(_leaves(res.body, ()))
    if last:
        leaves.reverse()
    if isinstance(value, dict):  # a map the manifest fed (labels): the entry that differs from ours
        pairs = list(value.items())
        for path, leaf in leaves:
            if path and (path[-1], leaf) in pairs and path[0] != "metadata":
                return path
        return None
    for path, leaf in leaves:
        if path and path[-1] == key and leaf == value and not isinstance(value, bool):
            return path
    if isinstance(value, str) and value:
        for path, leaf in leaves:
            if leaf == value or (path and path[-1] == value):
                return path
    return None


def _leaves(node: Any, at: tuple[str | int, ...]) -> Iterator[Leaf]:
    if isinstance(node, dict):
        for k, v in node.items():
            if not isinstance(v, dict | list):
                yield (*at, k), v
            yield from _leaves(v, (*at, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            if not isinstance(v, dict | list):
                yield (*at, i), v
            yield from _leaves(v, (*at, i))
