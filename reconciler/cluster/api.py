"""What the stages need of the Kubernetes API: the protocol ``kube.Cluster`` implements (no I/O here).

Kept abstract so that the lock, events, the record, apply and doctor never import the ``kubernetes`` client:
tests and the cluster seam meet here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from reconciler.kinds import Kind


class ClusterApi(Protocol):
    """What apply needs of ``kube.Cluster`` (kept abstract so this module does not import the client)."""

    def list(self, kind: Kind, selector: str, namespace: str = "") -> list[dict[str, Any]]: ...
    def served(self, api_version: str) -> set[str]: ...
    def get(self, kind: Kind, namespace: str, name: str) -> dict[str, Any] | None: ...
    def apply(
        self, kind: Kind, body: dict[str, Any], *, dry_run: bool = False, status: bool = False
    ) -> dict[str, Any]: ...
    def log(self, namespace: str, pod: str, container: str, limit: int) -> str: ...
    def delete(
        self, kind: Kind, namespace: str, name: str, *, dry_run: bool = False, propagation: str = "Background"
    ) -> None: ...
    def create(self, kind: Kind, body: dict[str, Any]) -> dict[str, Any]: ...
    def replace(self, kind: Kind, body: dict[str, Any]) -> dict[str, Any]: ...
    def patch(self, kind: Kind, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]: ...


class WatchApi(Protocol):
    """What ``serve``'s watches need of ``kube.Cluster``: a LIST with its resourceVersion, and the watch."""

    def list_at(self, kind: Kind, selector: str, namespace: str = "") -> tuple[list[dict[str, Any]], str]: ...
    def watch(self, kind: Kind, selector: str, version: str, seconds: int) -> Iterator[dict[str, Any]]: ...
