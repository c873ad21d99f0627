"""Validation of a cluster's manifests: each document alone, then the set, then best-practice advice (pure).

Contract: ``validate(documents)`` never raises for bad input; it returns every problem it finds, each at the
``path:line`` of the offending field, and the resources that passed without errors.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.documents import Document, NimResource, identify
from reconciler.errors import Problem, Severity
from reconciler.validate import advice, common, governance, nimcache, nimservice, schema
from reconciler.validate.result import Validated

__all__ = ["Validated", "check_document", "silence", "validate"]


def validate(documents: Sequence[Document]) -> Validated:
    """Check each document alone, then the set together (references, duplicates), then give advice."""
    problems: list[Problem] = []
    candidates: list[NimResource] = []
    failed: set[int] = set()
    for doc in documents:
        found = check_document(doc)
        problems.extend(found)
        resource = identify(doc)
        if resource is None:
            continue
        candidates.append(resource)
        if any(p.severity is Severity.ERROR for p in found):
            failed.add(id(resource))
    for resource, problem in common.check_set(candidates):
        problems.append(problem)
        failed.add(id(resource))
    valid = [r for r in candidates if id(r) not in failed]
    # advice on every resource that could be read, not only the valid ones: a warning is never hidden by an error
    problems.extend(advice.advise(candidates))
    return Validated(valid, sorted(problems, key=Problem.sort_key))


def check_document(doc: Document) -> list[Problem]:
    """Every problem of one document on its own: header, schema, then the operator's rules."""
    header = common.check_header(doc)
    if header:
        return header
    kind = doc.body["kind"]
    problems = common.check_unsupported(doc)
    problems.extend(schema.problems(doc, kind))
    if kind in RULES:
        problems.extend(RULES[kind](doc))
        problems.extend(governance.check(doc))
    return problems


RULES = {"NIMCache": nimcache.check_nimcache, "NIMService": nimservice.check_nimservice}


IGNORE = "nim-reconciler/ignore"  # on a manifest: warning rules silenced for it ("kv-cache-reuse,no-profiles-pinned")


def silence(problems: Sequence[Problem], docs: Sequence[Document], rules: frozenset[str]) -> list[Problem]:
    """The problems less the warnings of ``rules`` and of each document's ``nim-reconciler/ignore`` annotation
    (a warning belongs to the document of its file that starts last at or before its line). Errors stay."""
    starts: dict[str, list[tuple[int, frozenset[str]]]] = {}
    for doc in docs:
        raw = ((doc.body.get("metadata") or {}).get("annotations") or {}).get(IGNORE)
        named = frozenset(r.strip() for r in raw.split(",") if r.strip()) if isinstance(raw, str) else frozenset()
        starts.setdefault(doc.where.path, []).append((doc.where.line, named))
    kept = []
    for problem in problems:
        own = [named for line, named in starts.get(problem.where.path, []) if line <= problem.where.line]
        silenced = rules | (own[-1] if own else frozenset())
        if problem.severity is Severity.WARNING and problem.rule in silenced:
            continue
        kept.append(problem)
    return kept
