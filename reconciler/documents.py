"""Manifest loading: every YAML document under the given paths, with the line of every field (reads files).

Contract:
- input: files or directories (searched recursively for ``*.yaml`` / ``*.yml``, hidden directories skipped);
- output: a ``Loaded`` value: the documents in path order, and every problem found, never an exception for
  bad input. A document keeps ``SourceLocation(path, line)`` and the line of every mapping key and list item.
- the repo is a jail: a symbolic link is followed only to a place inside the folder being read (``jail.walk``);
- safety: files over ``MAX_FILE_BYTES`` and non-UTF-8 files are rejected; duplicate keys, non-string keys,
  custom tags, nesting deeper than ``MAX_DEPTH`` and alias expansion beyond ``_alias_budget`` are problems;
  a document that is not a mapping is a problem; empty documents are skipped.
- like the Kubernetes API server, ``key: null`` is treated as an absent key.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reconciler.errors import Problem, error
from reconciler.jail import escapes, walk
from reconciler.kinds import CUSTOM_KINDS
from reconciler.refs import ObjRef, SourceLocation
from reconciler.yaml_nodes import NULL_TAG, Bad, Builder, FieldPath, Loader, check_alias_budget

if not yaml.__with_libyaml__:  # pragma: no cover - the wheels bundle libyaml
    raise ImportError("PyYAML was built without libyaml; reinstall PyYAML from a wheel")

MAX_FILE_BYTES = 5 * 1024 * 1024
# Bytes do not bound memory: 5 MiB of "0," is 2.6 million nodes, ~1.5 GB once composed. A file large enough to
# hold that many is first counted with the C parser's event stream (constant memory, ~0.6 µs per node), and
# refused above these limits before anything is built. Smaller files cannot reach them.
MAX_NODES_PER_DOCUMENT = 50_000
MAX_NODES_PER_FILE = 500_000
# Nor do nodes alone: each document is a value with its own line table (and, lacking a kind, a problem of its
# own), so 160,000 three-node documents (~1.4 MiB) cost ~180 MiB. A repo file holds a few hundred at most.
MAX_DOCUMENTS_PER_FILE = 10_000
SCAN_ABOVE_BYTES = 256 * 1024
FILE_SECONDS = 10.0  # the time budget of reading one file, far under a CronJob's deadline
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Document:
    """One YAML document: its body, where it starts, and the line of every field path."""

    body: dict[str, Any]
    where: SourceLocation
    lines: Mapping[FieldPath, int] = field(default_factory=dict, repr=False, compare=False)
    raw: Mapping[FieldPath, str] = field(default_factory=dict, repr=False, compare=False)
    has_float: bool | None = field(default=None, repr=False, compare=False)  # None: not known (not from the loader)

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
        """The ``path:line`` of the field at ``path`` (of its deepest ancestor that has a line)."""
        return SourceLocation(self.where.path, self.line_of(path))


@dataclass(frozen=True)
class Loaded:
    """Every document under the paths given, every problem found, and how many files were read."""

    documents: list[Document]
    problems: list[Problem]
    files: int


def find_files(paths: Sequence[Path], jail: Path | None = None) -> tuple[list[Path], list[Problem]]:
    """Expand directories into their YAML files (sorted); a missing path is a problem. Nothing outside ``jail``
    (default: each path itself, a file's own folder) is read: see ``walk``."""
    files: list[Path] = []
    problems: list[Problem] = []
    for p in paths:
        prison = (jail or (p if p.is_dir() else p.parent)).resolve()
        if p.is_dir():
            found, refused = walk(p, prison, YAML_SUFFIXES)
            files.extend(found)
            problems.extend(refused)
        elif p.is_file() or p.is_symlink():
            refused_file = escapes(p, prison)
            if refused_file is None:
                files.append(p)
            else:
                problems.append(refused_file)
        else:
            problems.append(error(SourceLocation(str(p)), "", "no such file or directory", "path-not-found"))
    return files, problems


def load_paths(paths: Sequence[Path], jail: Path | None = None) -> Loaded:
    """Load every YAML document under ``paths``, nothing outside ``jail`` (see the module contract)."""
    files, problems = find_files(paths, jail)
    loaded = load_files(files)
    return Loaded(loaded.documents, problems + loaded.problems, len(files))


def load_files(files: Sequence[Path]) -> Loaded:
    """The documents of ``files`` (found by ``find_files``) and their problems, file by file in order."""
    documents: list[Document] = []
    problems: list[Problem] = []
    for f in files:
        docs, probs = load_file(f)
        documents.extend(docs)
        problems.extend(probs)
    return Loaded(documents, problems, len(files))


def load_file(path: Path) -> tuple[list[Document], list[Problem]]:
    """The documents of one manifest file and its problems (reads the file; never raises for bad input)."""
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
    if len(text) > SCAN_ABOVE_BYTES:
        refused = _too_many_nodes(text, name)
        if refused is not None:
            return [], [refused]
    documents: list[Document] = []
    problems: list[Problem] = []
    loader = Loader(text)
    may_alias = "&" in text  # an alias needs an anchor: without '&' there is nothing to bound
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                break
            doc_line = node.start_mark.line + 1
            try:
                doc = _document(loader, node, name, may_alias)
            except Bad as bad:
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


def _too_many_nodes(text: str, name: str) -> Problem | None:
    """The problem when the stream holds more nodes or documents than the limits (or takes longer than the budget
    to count); None when it may be composed. A syntax error is left for the composer to report, at its line."""
    loader = yaml.CSafeLoader(text)
    started = time.monotonic()
    in_file = in_document = documents = 0
    node_events = (yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent, yaml.AliasEvent)
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.DocumentStartEvent):
                in_document, documents = 0, documents + 1
                if documents > MAX_DOCUMENTS_PER_FILE:
                    line = event.start_mark.line + 1 if event.start_mark is not None else 0
                    msg = f"a file of more than {MAX_DOCUMENTS_PER_FILE} YAML documents is refused (memory)"
                    return error(SourceLocation(name, line), "", msg, "yaml-size")
            elif isinstance(event, node_events):
                in_file, in_document = in_file + 1, in_document + 1
                line = event.start_mark.line + 1 if event.start_mark is not None else 0
                if in_document > MAX_NODES_PER_DOCUMENT:
                    msg = f"a document of more than {MAX_NODES_PER_DOCUMENT} YAML nodes is refused (memory)"
                    return error(SourceLocation(name, line), "", msg, "yaml-size")
                if in_file > MAX_NODES_PER_FILE:
                    msg = f"a file of more than {MAX_NODES_PER_FILE} YAML nodes is refused (memory)"
                    return error(SourceLocation(name, line), "", msg, "yaml-size")
                if in_file % 10_000 == 0 and time.monotonic() - started > FILE_SECONDS:
                    msg = f"reading the file took over {FILE_SECONDS:g} s; refused"
                    return error(SourceLocation(name, line), "", msg, "yaml-time")
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()
    return None


def _is_empty(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == NULL_TAG


def _yaml_message(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    parts = [p for p in (context, problem) if p]
    return ", ".join(parts) if parts else str(exc).splitlines()[0]


def _document(loader: yaml.CSafeLoader, node: yaml.Node, name: str, may_alias: bool) -> Document | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    if may_alias:
        check_alias_budget(node)
    builder = Builder(loader)
    body = builder.build(node, ())
    assert isinstance(body, dict)
    return Document(body, SourceLocation(name, node.start_mark.line + 1), builder.lines, builder.raw, builder.floats)


@dataclass(frozen=True)
class NimResource:
    """A NIMCache, NIMService or Namespace document with a usable kind, namespace ('' for a Namespace) and name."""

    kind: str
    namespace: str
    name: str
    doc: Document

    @property
    def body(self) -> dict[str, Any]:
        """The document as parsed."""
        return self.doc.body

    @property
    def spec(self) -> dict[str, Any]:
        """``spec``, or {} when it is missing or not a mapping."""
        spec = self.doc.body.get("spec")
        return spec if isinstance(spec, dict) else {}

    @property
    def ref(self) -> ObjRef:
        """``Kind/namespace/name`` of the resource."""
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
    """The document as a NIMCache / NIMService (or Namespace) with a usable kind, namespace and name, or None."""
    kind, name, namespace = (
        doc.body.get("kind"),
        get(doc.body, "metadata", "name"),
        get(doc.body, "metadata", "namespace"),
    )
    if kind in CUSTOM_KINDS and isinstance(name, str) and isinstance(namespace, str):
        return NimResource(kind, namespace, name, doc)
    if kind == "Namespace" and isinstance(name, str):  # cluster-scoped
        return NimResource(kind, "", name, doc)
    return None
