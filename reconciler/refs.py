"""Value types that name things: a place in a source file, and a Kubernetes object (pure)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class SourceLocation:
    """A line in a manifest file; prints as ``path:line`` (line is 1-based, 0 when unknown)."""

    path: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


@dataclass(frozen=True, order=True)
class ObjRef:
    """A Kubernetes object; prints as ``Kind/namespace/name`` (``Kind/name`` when cluster-scoped)."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"


def field_path(parts: tuple[str | int, ...]) -> str:
    """``("spec", "env", 0, "name")`` → ``spec.env[0].name`` (pure)."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out
