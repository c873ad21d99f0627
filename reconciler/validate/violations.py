"""A field that kube-apiserver would refuse, and the helpers that word it as kube-apiserver does (pure)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
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


# Keys and values already judged valid in this process. Most objects carry the same few labels, and a
# set lookup of a str (its hash cached) is far cheaper than memoising whole maps: the offline admission budget
# (issue 17) is spent here. Only valid strings are kept; capped so a long-running process cannot grow it forever.
_GOOD_KEYS: set[str] = set()
_GOOD_VALUES: set[str] = set()
_GOOD_CAP = 1 << 16


def labels(values: Any, at: Path) -> list[Violation]:
    """A label map (or a selector's matchLabels, a nodeSelector): qualified-name keys, label values."""
    if not isinstance(values, dict) or not values:
        return []
    keys, good = _GOOD_KEYS, _GOOD_VALUES
    for key, value in values.items():  # the common case: every pair seen before, no call made
        if type(value) is not str or key not in keys or value not in good:
            break
    else:
        return []
    out: list[Violation] = []
    for key, value in values.items():
        if type(value) is str and good_key(key) and value in good:
            continue
        out += _label(key, value, at)
    return out


def good_key(key: Any) -> bool:
    """Whether ``key`` is a valid label or annotation key already seen (a fast, memoised ``qualified_name``)."""
    if type(key) is not str:
        return False
    if key in _GOOD_KEYS:
        return True
    if names.qualified_name(key):
        return False
    _remember(_GOOD_KEYS, key)
    return True


def _label(key: Any, value: Any, at: Path) -> list[Violation]:
    out = []
    detail = None if good_key(key) else names.qualified_name(key)
    if detail:
        out.append(invalid((*at, key), key, detail))
    detail = names.label_value(value)
    if detail:
        out.append(invalid((*at, key), value, detail))
    else:
        _remember(_GOOD_VALUES, value)
    return out


def _remember(good: set[str], text: str) -> None:
    if len(good) >= _GOOD_CAP:
        good.clear()
    good.add(text)
