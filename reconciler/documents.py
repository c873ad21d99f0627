"""Manifest loading: every YAML document under the given paths, with the line of every field (reads files).

Contract:
- input: files or directories (searched recursively for ``*.yaml`` / ``*.yml``, hidden directories skipped);
- output: a ``Loaded`` value: the documents in path order, and every problem found, never an exception for
  bad input. A document keeps ``SourceLocation(path, line)`` and the line of every mapping key and list item.
- safety: files over ``MAX_FILE_BYTES`` and non-UTF-8 files are rejected; duplicate keys, non-string keys,
  custom tags, nesting deeper than ``MAX_DEPTH`` and alias expansion beyond ``_alias_budget`` are problems;
  a document that is not a mapping is a problem; empty documents are skipped.
- like the Kubernetes API server, ``key: null`` is treated as an absent key.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reconciler.errors import Problem, error
from reconciler.kinds import CUSTOM_KINDS
from reconciler.refs import ObjRef, SourceLocation, field_path

if not yaml.__with_libyaml__:  # pragma: no cover - the wheels bundle libyaml
    raise ImportError("PyYAML was built without libyaml; reinstall PyYAML from a wheel")

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 64
YAML_SUFFIXES = (".yaml", ".yml")

FieldPath = tuple[str | int, ...]

_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
# Kubernetes reads YAML through JSON: timestamps and binary stay the text that was written.
_AS_TEXT = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary"}


@dataclass(frozen=True)
class Document:
    """One YAML document: its body, where it starts, and the line of every field path."""

    body: dict[str, Any]
    where: SourceLocation
    lines: Mapping[FieldPath, int] = field(default_factory=dict, repr=False, compare=False)
    raw: Mapping[FieldPath, str] = field(default_factory=dict, repr=False, compare=False)

    def line_of(self, path: Sequence[str | int]) -> int:
        """The line of ``path``, or of its deepest ancestor that has one."""
        parts = tuple(path)
        while parts:
            line = self.lines.get(parts)
            if line is not None:
                return line
            parts = parts[:-1]
        return self.where.line

    def at(self, path: Sequence[str | int]) -> SourceLocation:
        return SourceLocation(self.where.path, self.line_of(path))


@dataclass(frozen=True)
class Loaded:
    documents: list[Document]
    problems: list[Problem]
    files: int


class _Bad(Exception):
    """A problem that ends the current document."""

    def __init__(self, line: int, field_: str, message: str, rule: str) -> None:
        super().__init__(message)
        self.line, self.field, self.message, self.rule = line, field_, message, rule


def find_files(paths: Sequence[Path]) -> tuple[list[Path], list[Problem]]:
    """Expand directories into their YAML files (sorted); a missing path is a problem."""
    files: list[Path] = []
    problems: list[Problem] = []
    for p in paths:
        if p.is_file():
            files.append(p)
        elif p.is_dir():
            files.extend(sorted(f for f in _walk(p) if f.suffix in YAML_SUFFIXES))
        else:
            problems.append(error(SourceLocation(str(p)), "", "no such file or directory", "path-not-found"))
    return files, problems


def _walk(root: Path) -> Iterator[Path]:
    for child in sorted(root.iterdir()):
        if child.name.startswith("."):
            continue
        if child.is_dir():
            yield from _walk(child)
        elif child.is_file():
            yield child


def load_paths(paths: Sequence[Path]) -> Loaded:
    """Load every YAML document under ``paths`` (see the module contract)."""
    files, problems = find_files(paths)
    documents: list[Document] = []
    for f in files:
        docs, probs = load_file(f)
        documents.extend(docs)
        problems.extend(probs)
    return Loaded(documents, problems, len(files))


def load_file(path: Path) -> tuple[list[Document], list[Problem]]:
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            msg = f"file is {size} bytes; manifests over {MAX_FILE_BYTES} bytes are refused"
            return [], [error(SourceLocation(name), "", msg, "file-too-large")]
        data = path.read_bytes()
    except OSError as exc:
        return [], [error(SourceLocation(name), "", f"cannot read file: {exc.strerror}", "file-unreadable")]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        msg = f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        return [], [error(SourceLocation(name, line), "", msg, "file-encoding")]
    return load_text(text, name)


def load_text(text: str, name: str) -> tuple[list[Document], list[Problem]]:
    """Parse a (multi-document) YAML stream; ``name`` is the path shown in problems."""
    documents: list[Document] = []
    problems: list[Problem] = []
    loader = yaml.CSafeLoader(text)
    may_alias = "&" in text  # an alias needs an anchor: without '&' there is nothing to bound
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                break
            doc_line = node.start_mark.line + 1
            try:
                doc = _document(loader, node, name, may_alias)
            except _Bad as bad:
                problems.append(error(SourceLocation(name, bad.line), bad.field, bad.message, bad.rule))
                continue
            if doc is not None:
                documents.append(doc)
            elif not _is_empty(node):
                kind = "a list" if isinstance(node, yaml.SequenceNode) else f"the scalar {node.value!r}"
                msg = f"a manifest must be a mapping (apiVersion, kind, metadata, spec), not {kind}"
                problems.append(error(SourceLocation(name, doc_line), "", msg, "document-not-mapping"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        problems.append(
            error(SourceLocation(name, line), "", f"YAML syntax error: {_yaml_message(exc)}", "yaml-syntax")
        )
    except (RecursionError, MemoryError):
        problems.append(error(SourceLocation(name), "", "YAML nesting is too deep to read", "yaml-depth"))
    finally:
        loader.dispose()
    return documents, problems


def _is_empty(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL


def _yaml_message(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    parts = [p for p in (context, problem) if p]
    return ", ".join(parts) if parts else str(exc).splitlines()[0]


def _document(loader: yaml.CSafeLoader, node: yaml.Node, name: str, may_alias: bool) -> Document | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    if may_alias:
        _check_alias_budget(node)
    builder = _Builder(loader)
    body = builder.build(node, ())
    assert isinstance(body, dict)
    return Document(body, SourceLocation(name, node.start_mark.line + 1), builder.lines, builder.raw)


def _check_alias_budget(root: yaml.Node) -> None:
    """Reject documents whose aliases expand far beyond what was written ("billion laughs")."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise _Bad(node.start_mark.line + 1, "", "recursive YAML alias", "yaml-alias")
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
        raise _Bad(root.start_mark.line + 1, "", msg, "yaml-alias")


class _Builder:
    """Builds plain Python values from a composed node tree, recording lines as it goes."""

    def __init__(self, loader: yaml.CSafeLoader) -> None:
        self.loader = loader
        self.lines: dict[FieldPath, int] = {}
        self.raw: dict[FieldPath, str] = {}

    def build(self, node: yaml.Node, path: FieldPath) -> Any:
        if len(path) > MAX_DEPTH:
            raise _Bad(node.start_mark.line + 1, _dotted(path), f"nesting deeper than {MAX_DEPTH} levels", "yaml-depth")
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP:
                raise self._tag(node, path)
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ:
                raise self._tag(node, path)
            out = []
            for i, item in enumerate(node.value):
                self.lines[(*path, i)] = item.start_mark.line + 1
                out.append(self.build(item, (*path, i)))
            return out
        return self._scalar(node, path)

    def _scalar(self, node: yaml.Node, path: FieldPath) -> Any:
        tag = node.tag
        if tag == _STR:
            return node.value
        if tag in _AS_TEXT:
            return node.value
        if not tag.startswith("tag:yaml.org,2002:") or tag in (_MERGE, "tag:yaml.org,2002:value"):
            raise self._tag(node, path)
        value = self.loader.construct_object(node)
        if value is not None:
            self.raw[path] = node.value
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
                raise _Bad(key_line, _dotted((*path, key)), msg, "yaml-duplicate-key")
            seen[key] = key_line
            self.lines[(*path, key)] = key_line
            value = self.build(value_node, (*path, key))
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
                raise _Bad(source.start_mark.line + 1, _dotted(path), "a merge key (<<) needs a mapping", "yaml-merge")
            result.update(self._mapping(source, path))
        return result

    def _key(self, node: yaml.Node, path: FieldPath) -> str:
        if isinstance(node, yaml.ScalarNode) and node.tag in (_STR, *_AS_TEXT):
            return str(node.value)
        text = node.value if isinstance(node, yaml.ScalarNode) else "a collection"
        msg = f'mapping keys must be strings; quote it: "{text}"'
        raise _Bad(node.start_mark.line + 1, _dotted(path), msg, "yaml-key-type")

    def _tag(self, node: yaml.Node, path: FieldPath) -> _Bad:
        msg = f"YAML tag {node.tag} is not supported in manifests"
        return _Bad(node.start_mark.line + 1, _dotted(path), msg, "yaml-tag")


def _dotted(path: FieldPath) -> str:
    return field_path(path)


@dataclass(frozen=True)
class NimResource:
    """A NIMCache or NIMService document with a usable kind, namespace and name."""

    kind: str
    namespace: str
    name: str
    doc: Document

    @property
    def body(self) -> dict[str, Any]:
        return self.doc.body

    @property
    def spec(self) -> dict[str, Any]:
        spec = self.doc.body.get("spec")
        return spec if isinstance(spec, dict) else {}

    @property
    def ref(self) -> ObjRef:
        return ObjRef(self.kind, self.namespace, self.name)


def get(node: Any, *keys: str | int) -> Any:
    """``node[k1][k2]…`` or None when any step is missing or of the wrong type."""
    for key in keys:
        if isinstance(key, int):
            node = node[key] if isinstance(node, list) and -len(node) <= key < len(node) else None
        else:
            node = node.get(key) if isinstance(node, dict) else None
    return node


def identify(doc: Document) -> NimResource | None:
    """The document as a NIMCache / NIMService with a usable kind, namespace and name, or None (pure)."""
    kind, name, namespace = (
        doc.body.get("kind"),
        get(doc.body, "metadata", "name"),
        get(doc.body, "metadata", "namespace"),
    )
    if kind in CUSTOM_KINDS and isinstance(name, str) and isinstance(namespace, str):
        return NimResource(kind, namespace, name, doc)
    return None
