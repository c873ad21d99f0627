"""Property tests: no input makes the loader or the validator crash; only problems come out."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.documents import Document, load_text
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


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_random_text_never_crashes_the_loader_or_validator(text: str) -> None:
    docs, problems = load_text(text, "random.yaml")
    validate(docs)
    assert all(p.where.path == "random.yaml" for p in problems)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([NIMCACHE, NIMSERVICE]), st.dictionaries(keys, json_like, max_size=4), json_like)
def test_random_documents_give_problems_not_crashes(base: dict[str, Any], spec: dict[str, Any], extra: Any) -> None:
    body = {**base, "spec": {**base["spec"], **spec}, "extra": extra}
    result = validate([Document(body, SourceLocation("random.yaml", 1))])
    assert result.errors  # "extra" is never a valid top-level field


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(keys, json_like, max_size=6))
def test_random_specs_in_place_of_a_real_one(spec: dict[str, Any]) -> None:
    for base in (NIMCACHE, NIMSERVICE):
        validate([Document({**base, "spec": spec}, SourceLocation("random.yaml", 1))])
