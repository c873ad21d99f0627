"""Rendered objects put together (pure): the result value, each object checked to be the one its template is
for, parts joined in apply order, and the names two manifests would both render.

Contract: ``joined(parts)`` is the render of all the parts' resources: objects sorted by apply order, problems in
the order found, then one error at each manifest of a name collision. ``parse(text)`` reads rendered text back
(the fast subset reader, else PyYAML), ``parsed`` and ``checked`` refuse what a template must not produce.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from reconciler.documents import get
from reconciler.errors import Problem, error
from reconciler.kinds import BY_KIND
from reconciler.objects import DesiredObject
from reconciler.refs import ObjRef
from reconciler.render import yaml_subset


@dataclass(frozen=True)
class Rendered:
    """The objects rendered, in apply order, and the problems found while rendering."""

    objects: list[DesiredObject]
    problems: list[Problem]


class RenderError(Exception):
    """A template produced something other than the object it was meant to."""


def joined(parts: Sequence[Rendered]) -> Rendered:
    """Rendered parts as one render: objects in apply order, problems in the order found, then collisions."""
    objects = sorted((o for p in parts for o in p.objects), key=DesiredObject.sort_key)
    return Rendered(objects, [x for p in parts for x in p.problems] + collisions(objects))


def parse(text: str) -> list[Any]:
    """The documents of rendered text: the fast reader for our templates' subset, else PyYAML (C loader)."""
    try:
        return yaml_subset.documents(text)
    except yaml_subset.Unsupported:
        return [d for d in yaml.load_all(text, Loader=yaml.CSafeLoader) if d is not None]


def parsed(text: str, template: str, fast: bool) -> dict[str, Any]:
    """The one object ``text`` holds (``fast``: through ``parse``, else PyYAML alone); RenderError otherwise."""
    try:
        docs = parse(text) if fast else [d for d in yaml.load_all(text, Loader=yaml.CSafeLoader) if d is not None]
    except yaml.YAMLError as exc:
        raise RenderError(f"{template} produced invalid YAML: {exc}") from exc
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise RenderError(f"{template} must produce exactly one object, produced {len(docs)}")
    body: dict[str, Any] = docs[0]
    return body


_KIND_OF = {k.kind.lower(): k for k in BY_KIND.values()}  # a template's file name is its kind's, lowercased


def checked(body: dict[str, Any], template: str, name: str, namespace: str) -> None:
    """The rendered object must be the one the template is for: kind, apiVersion, name and namespace."""
    expected = _KIND_OF[template.rsplit("/", 1)[-1].split(".")[0]]
    meta = body.get("metadata")
    found = (body.get("apiVersion"), body.get("kind"), get(meta, "name"), get(meta, "namespace"))
    wanted = (expected.api_version, expected.kind, name, namespace if expected.namespaced else None)
    if found != wanted:
        raise RenderError(f"{template} rendered {found}, expected {wanted}")


def collisions(objects: Sequence[DesiredObject]) -> list[Problem]:
    """Two manifests that render one object (a NIMCache's ``x-pvc`` and a NIMService whose own PVC is named
    ``x-pvc``): the second apply would take over the first's object. An error at each of the manifests."""
    first: dict[ObjRef, DesiredObject] = {}
    found: list[Problem] = []
    for obj in objects:
        ref = obj.ref
        other = first.setdefault(ref, obj)
        if other is obj or other.source == obj.source:
            continue
        for here, there in ((obj, other), (other, obj)):
            message = (
                f"{ref} is rendered from this manifest and from {there.source}: object names must be unique "
                "per kind and namespace across the cluster"
            )
            found.append(error(here.source, "", message, "name-collision"))
    return found
