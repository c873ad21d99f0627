"""JSON Schema validation against ``schemas/``: the only module that imports jsonschema (pure).

Contract: ``problems(doc, kind)`` is [] for a document its kind's schema accepts, else one ``Problem`` per
violation at the ``path:line`` of the offending field. Valid documents take a fast path (jsonschema-rs);
jsonschema explains the invalid ones.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

import jsonschema_rs

from reconciler.datafiles import data_dir
from reconciler.documents import Document, get
from reconciler.errors import Problem, error
from reconciler.refs import field_path

if TYPE_CHECKING:
    import jsonschema

SCHEMA_FILES = {
    "NIMCache": "nimcache.schema.json",
    "NIMService": "nimservice.schema.json",
    "Namespace": "namespace.schema.json",
}
_SHARED = ("common.schema.json", "k8s.schema.json")
_BASE = "https://nim-reconciler.dev/schemas/"


def load_schemas() -> dict[str, Any]:
    """Every schema file by name (read once)."""
    return _schemas()


@cache
def _schemas() -> dict[str, Any]:
    root = data_dir("schemas")
    names = (*SCHEMA_FILES.values(), *_SHARED)
    return {name: json.loads((root / name).read_text(encoding="utf-8")) for name in names}


def fast_validator(kind: str) -> Any:
    """The compiled (jsonschema-rs) validator of a kind's manifest schema, the one our CRDs are generated from."""
    return _fast_validator(kind)


@cache
def _fast_validator(kind: str) -> Any:
    schemas = _schemas()
    registry = jsonschema_rs.Registry([(_BASE + n, schemas[n]) for n in _SHARED])
    return jsonschema_rs.validator_for(schemas[SCHEMA_FILES[kind]], registry=registry)


@cache
def _explaining_validator(kind: str) -> jsonschema.Draft202012Validator:
    # Imported here: jsonschema costs ~0.1 s to import and is needed only for documents that fail the fast path.
    import jsonschema
    from referencing import Registry, Resource

    schemas = _schemas()
    registry: Registry[Any] = Registry().with_resources(
        (_BASE + n, Resource.from_contents(schemas[n])) for n in _SHARED
    )
    # Python's `$` also matches before a final newline ("bad\n" would pass ^[a-z]+$); JSON Schema means the end.
    strict = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
        jsonschema.Draft202012Validator, {"pattern": _whole_pattern}
    )
    validator: jsonschema.Draft202012Validator = strict(schemas[SCHEMA_FILES[kind]], registry=registry)
    return validator


_END = re.compile(r"(?<!\\)\$(?=$|[|)])")


def _whole_pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Any:
    """JSON Schema's ``pattern`` with every end anchor meaning the end of the string (``\\Z``)."""
    from jsonschema import ValidationError

    if isinstance(instance, str) and not re.search(_END.sub(r"\\Z", pattern), instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def problems(doc: Document, kind: str) -> list[Problem]:
    """Every schema violation of ``doc`` (a document of ``kind``), explained at its field."""
    fast = _fast_validator(kind)
    if fast.is_valid(doc.body):
        return _integral_floats(doc, kind)
    problems: list[Problem] = []
    for err in _explaining_validator(kind).iter_errors(doc.body):
        problems.extend(_explain(doc, kind, err))
    if not problems:  # the two validators disagree: never call the document valid, say what the fast one found
        first = next(iter(fast.iter_errors(doc.body)))
        path = tuple(first.instance_path)
        problems.append(error(doc.at(path), field_path(path), first.message, "schema/fast-validator"))
    return problems


def _integral_floats(doc: Document, kind: str) -> list[Problem]:
    """``replicas: 2.0``: JSON Schema counts 2.0 an integer, Kubernetes' decoders refuse it for int32/int64."""
    found = []
    for path, raw in doc.raw.items():
        if not isinstance(get(doc.body, *path), float):
            continue
        if "integer" in types_at(SCHEMA_FILES[kind], "", tuple(p if isinstance(p, str) else 0 for p in path)):
            message = f"must be an integer, not {raw} (Kubernetes refuses a number with a decimal point here)"
            found.append(error(doc.at(path), field_path(path), message, "schema/type"))
    return found


@cache
def types_at(file: str, pointer: str, path: tuple[str | int, ...]) -> frozenset[str]:
    """The JSON types the schema at ``pointer`` (``/$defs/…``, or ``""`` for the root) of the schema file ``file``
    allows at ``path`` (list indexes as 0), ``$ref``s followed across files; empty when unknown."""
    nodes: list[tuple[Any, str]] = [({"$ref": f"{file}#{pointer}"}, file)]
    for part in path:
        nodes = [(child, d) for node, d in _expand(nodes) for child in [_child(node, part)] if child is not None]
    types: set[str] = set()
    for node, _ in _expand(nodes):
        kinds = node.get("type")
        types.update([kinds] if isinstance(kinds, str) else kinds or [])
    return frozenset(types)


@cache
def _schema_file(name: str) -> Any:
    """One schema file by name: a manifest schema (read once with the others) or another file of schemas/."""
    known = _schemas()
    if name in known:
        return known[name]
    path = data_dir("schemas") / name
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _expand(nodes: list[tuple[Any, str]]) -> list[tuple[dict[str, Any], str]]:
    """Schema nodes with their ``$ref`` followed and ``allOf`` / ``anyOf`` / ``oneOf`` branches included."""
    out, todo = [], list(nodes)
    while todo:
        node, doc = todo.pop()
        if not isinstance(node, dict):
            continue
        out.append((node, doc))
        ref = node.get("$ref")
        if isinstance(ref, str):
            target_doc, _, pointer = ref.partition("#")
            target_doc = target_doc.removeprefix(_BASE) or doc
            target: Any = _schema_file(target_doc)
            for step in filter(None, pointer.split("/")):
                target = target.get(step, {}) if isinstance(target, dict) else {}
            todo.append((target, target_doc))
        todo += [(branch, doc) for key in ("allOf", "anyOf", "oneOf") for branch in node.get(key, [])]
    return out


def _child(node: dict[str, Any], part: str | int) -> Any:
    if isinstance(part, int):
        return node.get("items")
    extra = node.get("additionalProperties")
    return node.get("properties", {}).get(part, extra if isinstance(extra, dict) else None)


def _explain(doc: Document, kind: str, err: jsonschema.ValidationError) -> list[Problem]:
    path = tuple(err.absolute_path)
    rule = f"schema/{err.validator}"
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        schema = err.schema if isinstance(err.schema, dict) else {}
        allowed = sorted(schema.get("properties", {}))
        extra = [k for k in err.instance if k not in allowed]
        return [
            error(doc.at((*path, k)), field_path((*path, k)), _unknown(kind, path, k, allowed), rule) for k in extra
        ]
    if err.validator == "required":
        missing = _missing(err)
        return [error(doc.at(path), field_path((*path, missing)), "required field is missing", rule)]
    return [error(doc.at(path), field_path(path), _message(doc, path, err), rule)]


def _missing(err: jsonschema.ValidationError) -> str:
    instance = err.instance if isinstance(err.instance, dict) else {}
    wanted = err.validator_value if isinstance(err.validator_value, list) else []
    return next((str(k) for k in wanted if k not in instance), "?")


def _unknown(kind: str, path: tuple[str | int, ...], key: str, allowed: list[str]) -> str:
    message = f'unknown field "{key}"'
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    here = tuple(p for p in path if isinstance(p, str))
    candidates: list[tuple[str, ...]] = _field_paths(kind).get(key, [])
    elsewhere = [p for p in candidates if p[: len(here)] == here and len(p) > len(here) + 1]
    if close:
        message += f' (did you mean "{close[0]}"?)'
    elif elsewhere:
        message += f" (did you mean {'.'.join(sorted(elsewhere, key=len)[0])}?)"
    elif allowed:
        message += f"; expected one of: {', '.join(allowed)}"
    return message


@cache
def _field_paths(kind: str) -> dict[str, list[tuple[str, ...]]]:
    """Every field name of our own schema for ``kind`` → the paths where it may appear."""
    schemas = _schemas()
    found: dict[str, list[tuple[str, ...]]] = {}

    def walk(node: Any, doc: str, path: tuple[str, ...], depth: int) -> None:
        if not isinstance(node, dict) or depth > 8:
            return
        ref = node.get("$ref")
        if isinstance(ref, str):
            target_doc, _, pointer = ref.partition("#")
            target_doc = target_doc or doc
            if target_doc in schemas and target_doc != "k8s.schema.json":
                target: Any = schemas[target_doc]
                for part in pointer.strip("/").split("/"):
                    target = target[part] if part else target
                walk(target, target_doc, path, depth + 1)
        for name, sub in node.get("properties", {}).items():
            found.setdefault(name, []).append((*path, name))
            walk(sub, doc, (*path, name), depth + 1)
        walk(node.get("items"), doc, path, depth + 1)

    name = SCHEMA_FILES[kind]
    walk(schemas[name], name, (), 0)
    return found


_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
}


def _message(doc: Document, path: tuple[str | int, ...], err: jsonschema.ValidationError) -> str:
    custom = err.schema.get("x-message") if isinstance(err.schema, dict) else None
    validator = err.validator
    value: Any = err.validator_value
    instance: Any = err.instance
    if validator == "type":
        return _type_message(doc, path, value, instance)
    if custom and validator in ("pattern", "anyOf", "oneOf"):
        shown = doc.raw.get(path, instance if isinstance(instance, str) else json.dumps(instance))
        return f'"{shown}" {custom}'
    if validator == "enum":
        return _enum_message(instance, value)
    if validator == "minLength" and value == 1:
        return "must not be empty"
    if validator == "maxLength":
        return f"must be at most {value} characters (has {len(instance)})"
    if validator == "minimum":
        return f"must be at least {value} (got {instance})"
    if validator == "maximum":
        return f"must be at most {value} (got {instance})"
    if validator == "const":
        return f"must be {json.dumps(value)}"
    if validator in ("anyOf", "oneOf") and err.context:
        from jsonschema.exceptions import best_match

        best = best_match(err.context)
        return best.message if best is not None else err.message
    return err.message


def _type_message(doc: Document, path: tuple[str | int, ...], expected: Any, instance: Any) -> str:
    names = [expected] if isinstance(expected, str) else list(expected)
    wanted = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
    if "string" in names and isinstance(instance, bool | int | float):
        raw = doc.raw.get(path, json.dumps(instance))
        return f'must be a string; quote it: "{raw}"'
    return f"must be {wanted}, not {_describe(instance)}"


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f'the string "{value}"'
    return f"the number {value}"


def _enum_message(instance: Any, allowed: Sequence[Any]) -> str:
    message = f"{json.dumps(instance)} is not one of: {', '.join(str(a) for a in allowed)}"
    if isinstance(instance, str):
        close = difflib.get_close_matches(instance, [str(a) for a in allowed], n=1, cutoff=0.6)
        if close:
            message += f' (did you mean "{close[0]}"?)'
    return message
