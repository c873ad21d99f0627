"""The annotations a platform team governs reconciliation with, checked on NIMCache and NIMService manifests:
``nim-reconciler/reconcile`` (suspend one resource) and ``nim-reconciler/ignore-differences`` (fields of its
children another manager owns)."""

from __future__ import annotations

from collections.abc import Iterator

from reconciler import ignores
from reconciler.documents import Document, get
from reconciler.errors import Problem
from reconciler.objects import SUSPEND
from reconciler.validate.common import err


def suspend_rule(doc: Document) -> Iterator[Problem]:
    """``nim-reconciler/reconcile``, when given, is ``disabled`` (suspended) or ``enabled``."""
    path = ("metadata", "annotations", SUSPEND)
    value = get(doc.body, *path)
    if value is not None and value not in ("disabled", "enabled"):
        yield err(doc, path, f"must be 'disabled' (leave this resource and its children as they are) or "
                  f"'enabled', not {value!r}", "reconcile-annotation")  # fmt: skip


def ignore_rule(doc: Document) -> Iterator[Problem]:
    """``nim-reconciler/ignore-differences``, when given, is a JSON list of ``{kind, jsonPointers}`` for kinds
    this resource renders, none pointing at a field that makes the object ours or that Kubernetes needs fixed."""
    path = ("metadata", "annotations", ignores.IGNORE_DIFFERENCES)
    value = get(doc.body, *path)
    if value is None:
        return
    for where, why in ignores.problems(value, str(doc.body.get("kind"))):
        yield err(doc, path, f"{where + ': ' if where else ''}{why}", "ignore-differences")


def check(doc: Document) -> list[Problem]:
    """Every governance annotation problem of one manifest."""
    return [*suspend_rule(doc), *ignore_rule(doc)]
