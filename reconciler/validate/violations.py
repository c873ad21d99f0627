"""A field that kube-apiserver would refuse, and the helpers that word it as kube-apiserver does (pure)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from reconciler.refs import field_path
from reconciler.validate import names

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Violation:
    """One refused field of a rendered object: its path in the object and kube-apiserver's kind of message."""

    path: Path
    message: str

    def __str__(self) -> str:
        return f"{field_path(self.path)}: {self.message}"


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else json.dumps(value, default=str)


def invalid(path: Path, value: Any, detail: str) -> Violation:
    """``field: Invalid value: "x": detail``."""
    return Violation(path, f"Invalid value: {_shown(value)}: {detail}")


def required(path: Path, detail: str = "") -> Violation:
    """``field: Required value`` (``: detail``)."""
    return Violation(path, "Required value" + (f": {detail}" if detail else ""))


def duplicate(path: Path, value: Any) -> Violation:
    """``field: Duplicate value: "x"``."""
    return Violation(path, f"Duplicate value: {_shown(value)}")


def unsupported(path: Path, value: Any, allowed: Sequence[str]) -> Violation:
    """``field: Unsupported value: "x": supported values: "a", "b"``."""
    return Violation(path, f"Unsupported value: {_shown(value)}: supported values: " + ", ".join(map(_shown, allowed)))


def labels(values: Any, at: Path) -> list[Violation]:
    """A label map (or a selector's matchLabels, a nodeSelector): qualified-name keys, label values."""
    if not isinstance(values, dict) or not values:
        return []
    try:
        bad = _bad_map(tuple(values.items()))
    except TypeError:  # a value that cannot be hashed (a list, from an override): no memo
        bad = _bad_map.__wrapped__(tuple(values.items()))
    return [invalid((*at, key), shown, detail) for key, shown, detail in bad]


@lru_cache(maxsize=8192)  # a resource's objects share one label map: judged once per run
def _bad_map(items: tuple[tuple[Any, Any], ...]) -> tuple[tuple[Any, Any, str], ...]:
    out: list[tuple[Any, Any, str]] = []
    for key, value in items:
        pair = _bad_label(key, value) if isinstance(value, str) else _bad_label.__wrapped__(key, value)
        out += [(key, shown, detail) for shown, detail in pair]
    return tuple(out)


@lru_cache(maxsize=8192)  # most objects carry the same few labels: each pair is judged once per run
def _bad_label(key: str, value: Any) -> tuple[tuple[Any, str], ...]:
    out = []
    detail = names.qualified_name(key)
    if detail:
        out.append((key, detail))
    detail = names.label_value(value)
    if detail:
        out.append((value, detail))
    return tuple(out)
