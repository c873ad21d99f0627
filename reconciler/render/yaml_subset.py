"""Parse back what our templates produce, fast, with PyYAML as the judge of anything unusual (pure).

Rendered templates are block YAML whose dynamic values are single-line JSON (the ``j`` filter). For that
subset a line-based reader with ``json.loads`` is about ten times faster than PyYAML's constructor, which would
otherwise be most of the cost of a dry run. Anything outside the subset (tabs, anchors, tags, block scalars,
flow values that are not JSON, plain scalars with ``: `` or `` #`` …) raises ``Unsupported`` and the caller
uses PyYAML instead; the tests check that both readers agree on every rendered object.

Contract: ``documents(text)`` returns the same list of documents as
``yaml.load_all(text, Loader=yaml.CSafeLoader)`` (empty documents dropped), or raises ``Unsupported``.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

import yaml


class Unsupported(Exception):
    """The text is outside the subset this reader handles: parse it with PyYAML."""


_KEY = re.compile(r"^([A-Za-z0-9_][A-Za-z0-9_./-]*):(?: (.*))?$")
_SAFE_PLAIN = re.compile(r"^[A-Za-z/][A-Za-z0-9_./%-]*$")
_INT = re.compile(r"^-?(?:0|[1-9][0-9]*)$")
_YAML11_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


def documents(text: str) -> list[Any]:
    """The documents of ``text`` in our templates' YAML subset; raises ``Unsupported`` for anything else."""
    out: list[Any] = []
    for chunk in _split(text):
        lines = [_line(raw) for raw in chunk if raw.strip() and not raw.lstrip().startswith("#")]
        if lines:
            value, end = _block(lines, 0, lines[0][0])
            if end != len(lines):
                raise Unsupported("content after the document")
            out.append(value)
    return out


def _split(text: str) -> list[list[str]]:
    chunks: list[list[str]] = [[]]
    for raw in text.split("\n"):
        if raw.rstrip() == "---":
            chunks.append([])
        elif raw.startswith(("---", "...", "%")):
            raise Unsupported("document marker with content")
        else:
            chunks[-1].append(raw)
    return chunks


def _line(raw: str) -> tuple[int, str]:
    if "\t" in raw or "\r" in raw:
        raise Unsupported("tab or carriage return")
    text = raw.rstrip(" ")
    return len(text) - len(text.lstrip(" ")), text.lstrip(" ")


def _block(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[Any, int]:
    """The block node starting at line ``i`` with the given indent: a sequence or a mapping."""
    if lines[i][1] == "-" or lines[i][1].startswith("- "):
        return _sequence(lines, i, indent)
    return _mapping(lines, i, indent, {})


def _sequence(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[list[Any], int]:
    items: list[Any] = []
    while i < len(lines) and lines[i][0] == indent and (lines[i][1] == "-" or lines[i][1].startswith("- ")):
        rest = lines[i][1][2:].lstrip(" ") if lines[i][1] != "-" else ""
        if not rest:
            item, i = _child(lines, i + 1, indent, allow_same=False)
        elif _KEY.match(rest):
            offset = indent + len(lines[i][1]) - len(rest)
            lines[i] = (offset, rest)  # "- key: v" opens a mapping at the key's column
            item, i = _mapping(lines, i, offset, {})
        else:
            item, i = _scalar(rest), i + 1
        items.append(item)
    return items, i


def _mapping(lines: list[tuple[int, str]], i: int, indent: int, out: dict[str, Any]) -> tuple[dict[str, Any], int]:
    while i < len(lines) and lines[i][0] == indent:
        match = _KEY.match(lines[i][1])
        if not match:
            raise Unsupported(f"not a simple mapping entry: {lines[i][1][:40]!r}")
        key, rest = match.group(1), match.group(2)
        if _resolve_plain(key) != key or key in out or key == "<<":
            raise Unsupported("key is not a plain unique string")
        if rest is None or rest == "":
            out[key], i = _child(lines, i + 1, indent, allow_same=True)
        else:
            out[key], i = _scalar(rest), i + 1
    if i < len(lines) and lines[i][0] > indent:
        raise Unsupported("unexpected indentation")
    return out, i


def _child(lines: list[tuple[int, str]], i: int, indent: int, allow_same: bool) -> tuple[Any, int]:
    """The value of ``key:`` / ``-`` with nothing after it: a nested block, or null."""
    if i >= len(lines):
        return None, i
    child_indent, text = lines[i]
    nested = child_indent > indent or (allow_same and child_indent == indent and (text == "-" or text[:2] == "- "))
    if not nested:
        return None, i
    return _block(lines, i, child_indent)


def _scalar(text: str) -> Any:
    if text[0] in '{["':
        try:
            return json.loads(text)
        except ValueError as exc:
            raise Unsupported("flow value that is not JSON") from exc
    return _resolve_plain(text)


@lru_cache(maxsize=4096)
def _resolve_plain(text: str) -> Any:
    """A plain scalar as YAML 1.1 reads it (PyYAML decides anything that is not obviously a string or int)."""
    if _SAFE_PLAIN.match(text) and text.lower() not in _YAML11_WORDS and text not in (".inf", ".nan"):
        return text
    if _INT.match(text):
        return int(text)
    if ": " in text or " #" in text or text.endswith(":") or text[0] in "&*!|>'%@`,?-#":
        raise Unsupported(f"plain scalar needs the full YAML rules: {text[:40]!r}")
    return yaml.load(text, Loader=yaml.CSafeLoader)
