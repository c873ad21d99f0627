"""YAML written for people and CI logs: every string that holds a line break or a control character is written
double-quoted on one line (``"a\\n::error::x"``), so no text from a manifest or a server can start a line of its
own — a GitHub Actions runner executes any output line that starts with ``::`` (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

from reconciler.errors import UNSAFE

_WIDTH = 2**30  # never fold a long string onto a second line: the fold could start with "::"


class _Dumper(yaml.CSafeDumper):
    """The C emitter with one representer changed: unsafe strings are double-quoted (escapes, one line)."""


def _string(dumper: _Dumper, text: str) -> yaml.ScalarNode:
    style = '"' if UNSAFE.search(text) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _string)


def dump(data: Any, *, sort_keys: bool = False) -> str:
    """One YAML document of ``data`` (no ``---``), keys in the order given unless ``sort_keys``."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=sort_keys, width=_WIDTH, allow_unicode=False)


def dump_all(documents: Iterable[Any]) -> str:
    """A YAML stream, each document after ``---``, keys in the order given."""
    return yaml.dump_all(documents, Dumper=_Dumper, sort_keys=False, explicit_start=True, width=_WIDTH)
