"""render/yaml_subset.py and render/shapes.py: the fast paths give exactly what PyYAML gives (differential tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler import offline
from reconciler.options import Options
from reconciler.render import yaml_subset
from reconciler.render.assemble import parse
from reconciler.render.renderer import Renderer
from reconciler.render.shapes import Shapes, Tokens, quote

from .helpers import REPO
from .manifests import NIMCACHE, NIMSERVICE, TRICKY, dump, variant
from .render_helpers import render_dir


def pyyaml(text: str) -> list[Any]:
    return [d for d in yaml.load_all(text, Loader=yaml.CSafeLoader) if d is not None]


SUBSET = [
    "a: 1\nb: x\n",
    'a:\n  b:\n    - 1\n    - two\n  c: {"k": [1, 2]}\n',
    "list:\n- a\n- b\nnext: 1\n",
    "items:\n  - name: api\n    port: 8000\n  - name: grpc\n    port: 8001\n",
    "a: 25%\nb: yes\nc: 0755\nd: 1.10\ne: ~\nf: null\ng: true\nh: Never\ni: /dev/termination-log\n",
    "a:\nb: 2\n",
    "# comment\n---\na: 1\n---\n---\nb: 2\n",
    'a: "x\\n---\\nkind: ClusterRoleBinding"\nb: "\\u00e9"\n',
    "nested:\n  -\n    - 1\n    - 2\n  - 3\n",
    "a: -1\nb: 0\nc: 12\n",
]
FALLBACK = [
    "a: &x 1\nb: *x\n",
    "a: |\n  text\n",
    "a: 'single'\n",
    "a: b: c\n",
    "a: 1 # comment\n",
    "a:\n\t- 1\n",
    "? complex\n: key\n",
    "a: !tag x\n",
    "a: {b: c}\n",
    "yes: 1\n",
]


@pytest.mark.parametrize("text", SUBSET)
def test_subset_reads_like_pyyaml(text: str) -> None:
    assert yaml_subset.documents(text) == pyyaml(text)


@pytest.mark.parametrize("text", FALLBACK)
def test_anything_else_is_left_to_pyyaml(text: str) -> None:
    with pytest.raises(yaml_subset.Unsupported):
        yaml_subset.documents(text)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text()),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values, json_values)
def test_quoted_values_in_block_yaml_read_back_exactly(first: Any, second: Any) -> None:
    text = f"kind: X\nspec:\n  a: {quote(first)}\n  items:\n    - {quote(second)}\n    - name: n\n"
    expected = [{"kind": "X", "spec": {"a": first, "items": [second, {"name": "n"}]}}]
    assert parse(text) == pyyaml(text) == expected


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values, json_values, json_values)
def test_values_placed_in_a_shape_equal_the_same_values_written_into_it_as_json(
    first: Any, second: Any, third: Any
) -> None:
    # Shapes.objects (an offline plan: bodies read, then dropped) against Shapes.documents (every other render)
    tokens = Tokens()
    tokens.start()
    names = [tokens.token(v) for v in (first, second, third)]
    written, tokens.values = tokens.values or [], None
    skeleton = f"kind: X\nspec:\n  a: {names[0]}\n  items:\n    - {names[1]}\n    - name: {names[2]}\n"
    shapes = Shapes(tokens, parse)
    placed, expected = shapes.objects(skeleton, [first, second, third]), shapes.documents(skeleton, written)
    assert placed == expected == [{"kind": "X", "spec": {"a": first, "items": [second, {"name": third}]}}]
    assert json.dumps(placed) == json.dumps(expected)  # the same types too: True is not 1, 1.0 is not 1
    again = shapes.objects(skeleton, [second, third, first])  # the shape is kept; each object gets its own tree
    assert again is not None and placed is not None and again[0]["spec"] is not placed[0]["spec"]


def _shared_and_copied(repo: Path, cluster: str) -> list[list[Any]]:
    from reconciler import layout, pipeline

    _, validated = pipeline.check_paths([layout.locate(repo, cluster).path])
    resources = validated.resources
    return [[o.body for o in Renderer().part(resources, resources, cluster, repo, shared=share).objects]
            for share in (True, False)]  # fmt: skip


@pytest.mark.parametrize(("repo", "cluster"), [(REPO, "demo"), (REPO / "tests" / "fixtures" / "full", "full")])
def test_bodies_holding_the_manifests_values_equal_bodies_of_copies(repo: Path, cluster: str) -> None:
    shared, copied = _shared_and_copied(repo, cluster)
    assert shared == copied and json.dumps(shared) == json.dumps(copied)  # the same types too


def test_bodies_holding_tricky_values_equal_bodies_of_copies(tmp_path: Path) -> None:
    _tricky_repo(tmp_path)
    shared, copied = _shared_and_copied(tmp_path, "t")
    assert shared == copied and json.dumps(shared) == json.dumps(copied)


@pytest.mark.parametrize(("repo", "cluster"), [(REPO, "demo"), (REPO / "tests" / "fixtures" / "full", "full")])
def test_an_offline_plan_judges_what_a_render_with_bodies_judges(repo: Path, cluster: str, tmp_path: Path) -> None:
    options = Options(repo=repo, cluster=cluster)
    identities, whole = offline.render(options, bodies=False), offline.render(options)
    assert identities.check == whole.check and identities.objects == [o.identity() for o in whole.objects]


def test_an_offline_plan_of_tricky_values_judges_what_a_render_with_bodies_judges(tmp_path: Path) -> None:
    _tricky_repo(tmp_path)
    options = Options(repo=tmp_path, cluster="t")
    identities, whole = offline.render(options, bodies=False), offline.render(options)
    assert identities.check == whole.check and identities.objects == [o.identity() for o in whole.objects]


def test_characters_beyond_the_basic_plane_survive_both_readers() -> None:
    text = f"a: {quote('emoji 😀 and 𐀀')}\n"
    assert parse(text) == pyyaml(text) == [{"a": "emoji 😀 and 𐀀"}]


def bodies(renderer: Renderer, repo: Path, cluster: str, templates: Path | None = None) -> list[Any]:
    from reconciler import layout, pipeline

    where = layout.locate(repo, cluster)
    _, validated = pipeline.check_paths([where.path])
    return [o.body for o in renderer.render(validated.resources, cluster, repo).objects]


@pytest.mark.parametrize(("repo", "cluster"), [(REPO, "demo"), (REPO / "tests" / "fixtures" / "full", "full")])
def test_fast_rendering_equals_the_reference_path(repo: Path, cluster: str) -> None:
    assert bodies(Renderer(), repo, cluster) == bodies(Renderer(fast=False), repo, cluster)


def _tricky_repo(tmp_path: Path) -> None:
    cluster = tmp_path / "clusters" / "t"
    cluster.mkdir(parents=True)
    for i, value in enumerate(TRICKY):
        cache = variant(
            NIMCACHE,
            {
                "metadata.name": f"c{i}",
                "spec.env": [{"name": "V", "value": value}],
                "metadata.annotations": {"note": value},
            },
        )
        service = variant(
            NIMSERVICE,
            {
                "metadata.name": f"s{i}",
                "spec.storage.nimCache.name": f"c{i}",
                "spec.labels": {"l": "x"},
                "spec.annotations": {"note": value},
            },
        )
        (cluster / f"m{i}.yaml").write_text(dump(cache, service))


def test_fast_rendering_equals_the_reference_path_for_tricky_values(tmp_path: Path) -> None:
    _tricky_repo(tmp_path)
    assert bodies(Renderer(), tmp_path, "t") == bodies(Renderer(fast=False), tmp_path, "t")


def test_a_template_that_embeds_a_value_in_a_longer_string_takes_the_slow_path(tmp_path: Path) -> None:
    name = "nimservice/serviceaccount.yaml.j2"
    text = (
        (REPO / "templates" / name)
        .read_text()
        .replace("  annotations: {{ annotations|j }}\n", "  annotations:\n    note: sa-{{ name }}-x\n")
    )
    (tmp_path / "nimservice").mkdir()
    (tmp_path / "nimservice" / "serviceaccount.yaml.j2").write_text(text)
    result = render_dir(REPO, "demo", tmp_path)
    accounts = [o.body for o in result.objects if o.body["kind"] == "ServiceAccount"]
    assert {a["metadata"]["annotations"]["note"] for a in accounts} == {
        "sa-content-safety-x",
        "sa-meta-llama-3-2-1b-instruct-x",
    }
    assert bodies(Renderer(tmp_path), REPO, "demo") == bodies(Renderer(tmp_path, fast=False), REPO, "demo")
