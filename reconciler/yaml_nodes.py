"""YAML node trees to plain values, with the line of every field and the limits that keep hostile input cheap (pure).

Contract: ``Builder(loader).build(node, ())`` returns the value of a composed node tree (mappings with string
keys only, ``key: null`` left out as the API server does, timestamps and binary kept as the text written) and
fills ``lines`` / ``raw`` by field path; ``check_alias_budget`` refuses alias bombs. Both raise ``Bad`` for a
problem that ends the document.
"""

from __future__ import annotations

import math
import re
import sys
from typing import Any

import yaml

from reconciler.refs import field_path

MAX_DEPTH = 64
FieldPath = tuple[str | int, ...]

_STR = "tag:yaml.org,2002:str"
NULL_TAG = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
# Kubernetes reads YAML through JSON: timestamps and binary stay the text that was written.
_AS_TEXT = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary"}


# YAML 1.1 (PyYAML, and kubectl's go-yaml) reads 0755 as 493, 1:30 as 90 and 1_000 as 1000; YAML 1.2 and JSON
# read them otherwise or not at all. A number is taken only as plain decimal, so what was written is what is meant.
_DECIMAL_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)")
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"


_RESOLVED: dict[tuple[type, str | None, Any], str] = {}  # (kind, text, implicit) -> tag, for every Loader
_RESOLVED_MAX = 100_000  # distinct short scalars remembered (a hostile file cannot grow the memo past this)


class Loader(yaml.CSafeLoader):
    """PyYAML's C loader, with each scalar's implicit tag remembered.

    The C composer asks the (Python) resolver for the tag of every node, which tries its regular expressions
    again for every ``name:`` of every document: a fifth of loading a large repo. The safe loader has no path
    resolvers, so a tag depends only on the node's kind, its text and whether it was plain: remembering it
    changes nothing but the time."""

    def resolve(self, kind: type, value: str | None, implicit: Any) -> str:
        """The tag PyYAML gives, looked up when seen before."""
        key = (kind, value, implicit)
        tag = _RESOLVED.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
            short = value is None or len(value) <= 200  # names, numbers, words: what repeats
            if short and not self.yaml_path_resolvers and len(_RESOLVED) < _RESOLVED_MAX:
                _RESOLVED[key] = tag
        return tag


_PATHS: dict[FieldPath, FieldPath] = {}
_PATHS_MAX = 200_000
_SHARED_TEXT = 64  # strings up to this long are interned


def _shared(path: FieldPath) -> FieldPath:
    """One tuple for each field path however many documents have it: the line tables of a large repo hold
    hundreds of thousands of paths, mostly the same few hundred (bounded: a hostile file cannot grow it)."""
    found = _PATHS.get(path)
    if found is not None:
        return found
    if len(_PATHS) < _PATHS_MAX:
        _PATHS[path] = path
    return path


class Bad(Exception):
    """A problem that ends the current document."""

    def __init__(self, line: int, field_: str, message: str, rule: str) -> None:
        super().__init__(message)
        self.line, self.field, self.message, self.rule = line, field_, message, rule


def check_alias_budget(root: yaml.Node) -> None:
    """Reject documents whose aliases expand far beyond what was written ("billion laughs")."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise Bad(node.start_mark.line + 1, "", "recursive YAML alias", "yaml-alias")
        active.add(key)
        total = 1
        if isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total += sum(size(v) for v in node.value)
        active.discard(key)
        sizes[key] = total
        return total

    expanded = size(root)
    if expanded > 10 * len(sizes) + 1000:
        msg = f"YAML aliases expand {len(sizes)} nodes into {expanded}; refused (alias bomb?)"
        raise Bad(root.start_mark.line + 1, "", msg, "yaml-alias")


class Builder:
    """Builds plain Python values from a composed node tree, recording lines as it goes."""

    def __init__(self, loader: yaml.CSafeLoader) -> None:
        self.loader = loader
        self.lines: dict[FieldPath, int] = {}
        self.raw: dict[FieldPath, str] = {}
        self.floats = False  # whether any float was built (offline admission looks for 2.0 only then)

    def build(self, node: yaml.Node, path: FieldPath) -> Any:
        """The Python value of ``node`` at ``path``, recording the line (and raw text) of every field."""
        if len(path) > MAX_DEPTH:
            raise Bad(node.start_mark.line + 1, _dotted(path), f"nesting deeper than {MAX_DEPTH} levels", "yaml-depth")
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP:
                raise self._tag(node, path)
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ:
                raise self._tag(node, path)
            out = []
            for i, item in enumerate(node.value):
                child = _shared((*path, i))
                self.lines[child] = item.start_mark.line + 1
                out.append(self.build(item, child))
            return out
        return self._scalar(node, path)

    def _scalar(self, node: yaml.Node, path: FieldPath) -> Any:
        tag = node.tag
        if tag == _STR:
            value = node.value
            # one string object for the words every manifest repeats (kinds, images, namespaces): memory
            return sys.intern(value) if len(value) <= _SHARED_TEXT else value
        if tag in _AS_TEXT:
            return node.value
        if not tag.startswith("tag:yaml.org,2002:") or tag in (_MERGE, "tag:yaml.org,2002:value"):
            raise self._tag(node, path)
        value = self.loader.construct_object(node)
        if tag == _INT_TAG and not _DECIMAL_INT.fullmatch(node.value):
            msg = f"{node.value} is read by YAML 1.1 as {value}; write {value}, or quote it if text is meant"
            raise Bad(node.start_mark.line + 1, _dotted(path), msg, "yaml-number")
        if tag == _FLOAT_TAG and (":" in node.value or "_" in node.value or not math.isfinite(value)):
            msg = f"{node.value} is not a plain finite number; write it in decimal, or quote it if text is meant"
            raise Bad(node.start_mark.line + 1, _dotted(path), msg, "yaml-number")
        if value is not None:
            self.raw[path] = node.value
            self.floats = self.floats or type(value) is float
        return value

    def _mapping(self, node: yaml.MappingNode, path: FieldPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        seen: dict[str, int] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if key_node.tag == _MERGE:
                merged.update(self._merge(value_node, path))
                continue
            key = self._key(key_node, path)
            if key in seen:
                msg = f'duplicate key "{key}" (first at line {seen[key]}); YAML would silently keep the last one'
                raise Bad(key_line, _dotted((*path, key)), msg, "yaml-duplicate-key")
            seen[key] = key_line
            child = _shared((*path, key))
            self.lines[child] = key_line
            value = self.build(value_node, child)
            if value is not None:
                out[key] = value
        for key, value in merged.items():
            out.setdefault(key, value)
        return out

    def _merge(self, node: yaml.Node, path: FieldPath) -> dict[str, Any]:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        result: dict[str, Any] = {}
        for source in reversed(sources):
            if not isinstance(source, yaml.MappingNode):
                raise Bad(source.start_mark.line + 1, _dotted(path), "a merge key (<<) needs a mapping", "yaml-merge")
            result.update(self._mapping(source, path))
        return result

    def _key(self, node: yaml.Node, path: FieldPath) -> str:
        if isinstance(node, yaml.ScalarNode) and node.tag in (_STR, *_AS_TEXT):
            return sys.intern(str(node.value))  # a key: metadata, name, spec … in every document
        text = node.value if isinstance(node, yaml.ScalarNode) else "a collection"
        msg = f'mapping keys must be strings; quote it: "{text}"'
        raise Bad(node.start_mark.line + 1, _dotted(path), msg, "yaml-key-type")

    def _tag(self, node: yaml.Node, path: FieldPath) -> Bad:
        msg = f"YAML tag {node.tag} is not supported in manifests"
        return Bad(node.start_mark.line + 1, _dotted(path), msg, "yaml-tag")


def _dotted(path: FieldPath) -> str:
    return field_path(path)
