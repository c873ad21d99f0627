"""Property tests: no input makes the loader or the validator crash; what comes out is problems a user can act
on (at the file, with a message and a rule), and a resource is valid exactly when none of them is an error."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.documents import Document, load_text
from reconciler.errors import Problem
from reconciler.refs import SourceLocation
from reconciler.validate.check import validate

from .manifests import NIMCACHE, NIMSERVICE

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
keys = st.one_of(
    st.sampled_from(
        [
            "spec",
            "source",
            "ngc",
            "model",
            "storage",
            "pvc",
            "size",
            "name",
            "env",
            "kind",
            "metadata",
            "nimCache",
            "scale",
            "enabled",
            "replicas",
            "expose",
        ]
    ),
    st.text(max_size=8),
)
json_like = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=25,
)


def _actionable(problems: list[Problem]) -> None:
    for p in problems:
        assert p.where.path == "random.yaml" and p.message and p.rule, p
        assert str(p).startswith("random.yaml")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_random_text_never_crashes_the_loader_or_validator(text: str) -> None:
    docs, problems = load_text(text, "random.yaml")
    result = validate(docs)
    _actionable([*problems, *result.problems])
    assert len(result.resources) <= len(docs)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([NIMCACHE, NIMSERVICE]), st.dictionaries(keys, json_like, max_size=4), json_like)
def test_random_documents_give_problems_not_crashes(base: dict[str, Any], spec: dict[str, Any], extra: Any) -> None:
    body = {**base, "spec": {**base["spec"], **spec}, "extra": extra}
    result = validate([Document(body, SourceLocation("random.yaml", 1))])
    _actionable(result.problems)
    assert 'unknown field "extra"' in {p.message.split(";")[0] for p in result.errors}  # never a valid field
    assert result.resources == []


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(keys, json_like, max_size=6))
def test_random_specs_in_place_of_a_real_one(spec: dict[str, Any]) -> None:
    for base in (NIMCACHE, NIMSERVICE):
        result = validate([Document({**base, "spec": spec}, SourceLocation("random.yaml", 1))])
        _actionable(result.problems)
        assert bool(result.resources) == (not result.errors)
