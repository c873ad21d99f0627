"""Parse each template shape once: render with tokens, then put each object's JSON values in (pure).

Parsing rendered YAML back costs more than rendering it. A template rendered with numbered tokens in place of its
values gives a *skeleton*: the same text for every object that takes the same path through the template. The
skeleton is parsed once and kept as JSON text; each object's JSON values then replace the tokens in that text and
``json.loads`` (C) builds the object.

This equals rendering every value as JSON and parsing the result as YAML (the contract of rendering.py) as long as
every token stands alone as a whole value. When one does not (a template that writes ``name-{{ x|j }}``, or a token
used as a mapping key), ``documents`` answers None and the caller renders that object the slow way.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from typing import Any

_MAX_SHAPES = 20_000
_ENCODER = json.JSONEncoder(allow_nan=False)
_ASCII = json.encoder.encode_basestring_ascii
# The C encoder JSONEncoder.encode builds anew on every call (most of its cost for a small value), built once.
# No circular-reference memo: values come from YAML trees, and a cycle would still end in RecursionError.
_C_ENCODE = getattr(json.encoder, "c_make_encoder", None)
_CHUNKS = (
    _C_ENCODE(None, _ENCODER.default, _ASCII, None, ": ", ", ", False, False, False) if _C_ENCODE is not None else None
)


def encode(value: Any) -> str:
    """``value`` as JSON text, exactly as ``json.JSONEncoder(allow_nan=False).encode`` writes it."""
    kind = type(value)
    if kind is str:
        return _ASCII(value)
    if kind is int:
        return int.__repr__(value)
    if _CHUNKS is None:
        return _ENCODER.encode(value)
    return "".join(_CHUNKS(value, 0))


class Tokens:
    """Hands out tokens during one skeleton render, and keeps each value as JSON."""

    def __init__(self) -> None:
        self.prefix = f"@@nim-reconciler-{secrets.token_hex(6)}-"
        self.pattern = re.compile(f'"{re.escape(self.prefix)}([0-9]+)@@"')
        self.values: list[Any] | None = None
        # keep each value itself instead of its JSON: ``Shapes.objects`` places them (bodies read, then dropped)
        self.raw = False
        # JSON of values already seen in this render, by identity; holding the value keeps its id unique
        self.memo: dict[int, tuple[Any, str]] = {}
        self.names: list[str] = []

    def start(self) -> None:
        """Begin collecting the values of one template render."""
        self.values = []

    def forget(self) -> None:
        """Drop the remembered JSON (between resources: values are shared only within one)."""
        self.memo = {}

    def token(self, value: Any) -> str:
        """The placeholder that stands for ``value`` in the skeleton; the value's JSON is kept for filling in."""
        values = self.values
        assert values is not None
        if self.raw:
            values.append(value)
        elif type(value) is str:  # its JSON costs less than a look in the memo
            values.append(_ASCII(value))
        else:
            seen = self.memo.get(id(value))
            if seen is None or seen[0] is not value:
                seen = self.memo[id(value)] = (value, encode(value))
            values.append(seen[1])
        while len(self.names) < len(values):  # the token texts, made once
            self.names.append(f'"{self.prefix}{len(self.names)}@@"')
        return self.names[len(values) - 1]


class Shapes:
    """Skeletons by their text: the parsed documents as JSON text, or None when tokens do not stand alone."""

    def __init__(self, tokens: Tokens, parse: Callable[[str], list[Any]]) -> None:
        self.tokens = tokens
        self.parse = parse
        # a shape as the JSON text between its tokens, and which value goes in each gap (in text order)
        self.cache: dict[str, tuple[list[str], list[int]] | None] = {}
        # a shape as its JSON text with the tokens in, and where each token stands (path from the root, value)
        self.placed: dict[str, tuple[str, list[tuple[tuple[Any, ...], int]]] | None] = {}

    def documents(self, skeleton: str, values: list[str]) -> list[Any] | None:
        """What the text would parse to with ``values`` (JSON) in place of the tokens; None: take the slow path."""
        if skeleton in self.cache:
            shape = self.cache[skeleton]
        else:
            text = self._shape(skeleton, len(values))
            shape = None if text is None else _pieces(self.tokens.pattern.split(text))
            if len(self.cache) < _MAX_SHAPES:
                self.cache[skeleton] = shape
        if shape is None:
            return None
        texts, order = shape
        filled = [texts[0]]
        for index, after in zip(order, texts[1:], strict=True):
            filled += (values[index], after)
        documents: list[Any] = json.loads("".join(filled))
        return documents

    def objects(self, skeleton: str, values: list[Any]) -> list[Any] | None:
        """What the text would parse to with ``values`` themselves in place of the tokens (not copies: each is
        shared with what it came from, so the result must only be read); None: take the slow path."""
        if skeleton in self.placed:
            shape = self.placed[skeleton]
        else:
            text = self._shape(skeleton, len(values))
            shape = None if text is None else (text, _places(json.loads(text), self.tokens.prefix))
            if len(self.placed) < _MAX_SHAPES:
                self.placed[skeleton] = shape
        if shape is None:
            return None
        text, places = shape
        documents: list[Any] = json.loads(text)
        for path, index in places:
            node: Any = documents
            for step in path[:-1]:
                node = node[step]
            node[path[-1]] = values[index]
        return documents

    def _shape(self, skeleton: str, count: int) -> str | None:
        try:
            parsed = self.parse(skeleton)
            text = encode(parsed)
        except Exception:  # the slow path reports the error with the real values
            return None
        found = [int(i) for i in self.tokens.pattern.findall(text)]
        # every token once, each a whole JSON string value (not inside a longer string, not a key)
        if sorted(found) != list(range(count)) or text.count(self.tokens.prefix) != count:
            return None
        if re.search(self.tokens.pattern.pattern + r"\s*:", text):
            return None
        return text


def _places(tree: Any, prefix: str) -> list[tuple[tuple[Any, ...], int]]:
    """Where each token stands in a parsed shape: (keys and indices from the root, its number)."""
    found: list[tuple[tuple[Any, ...], int]] = []
    todo: list[tuple[tuple[Any, ...], Any]] = [((), tree)]
    while todo:
        path, node = todo.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in items:
            if isinstance(child, str) and child.startswith(prefix):
                found.append(((*path, key), int(child[len(prefix) : -2])))
            elif isinstance(child, dict | list):
                todo.append(((*path, key), child))
    return found


def _pieces(split: list[str]) -> tuple[list[str], list[int]]:
    """``pattern.split`` of a shape (text, index, text, …) as its texts and its indices."""
    return split[0::2], [int(i) for i in split[1::2]]


_SURROGATES = re.compile(r"(?<!\\)((?:\\\\)*)\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})")


_EXPONENT = re.compile(r'"(?:[^"\\]|\\.)*"|(-?[0-9]+)(\.[0-9]+)?([eE][-+]?[0-9]+)')


def quote(value: Any) -> str:
    """A value as JSON that YAML 1.1 (PyYAML) reads back exactly. JSON is YAML, except for three details:
    characters beyond U+FFFF become ``\\UXXXXXXXX`` (not a surrogate pair), DEL is escaped, and ``1e-05`` is
    written ``1.0e-05`` (YAML 1.1 reads a float without a dot as a string).
    """
    text = encode(value)
    if "\\ud" in text:
        text = _SURROGATES.sub(_astral, text)
    if "\x7f" in text:
        text = text.replace("\x7f", "\\u007f")
    if "e" in text or "E" in text:
        text = _EXPONENT.sub(_with_dot, text)
    return text


def _with_dot(match: re.Match[str]) -> str:
    if match.group(1) is None:  # a string: unchanged
        return match.group(0)
    return f"{match.group(1)}{match.group(2) or '.0'}{match.group(3)}"


def _astral(match: re.Match[str]) -> str:
    high, low = int(match.group(2), 16), int(match.group(3), 16)
    return f"{match.group(1)}\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08x}"
