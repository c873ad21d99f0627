"""Golden files: the rendered YAML of every example and of the full-featured fixtures, byte for byte.

Regenerate after a deliberate change with UPDATE_GOLDEN=1 python -m pytest tests/test_render_golden.py
and review the diff.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import pytest

from reconciler.report.output import objects_yaml

from . import k8s_openapi
from .helpers import REPO
from .render_helpers import render_dir

GOLDEN = REPO / "tests" / "golden"
CASES = {"demo": (REPO, "demo"), "full": (REPO / "tests" / "fixtures" / "full", "full")}


def rendered_by_source(repo: Path, cluster: str) -> dict[str, str]:
    result = render_dir(repo, cluster)
    assert result.check.ok, result.check.problems
    groups: dict[str, list[dict[str, object]]] = defaultdict(list)
    for obj in result.objects:
        groups[Path(obj.source.path).relative_to(repo / "clusters" / cluster).as_posix()].append(obj.body)
    return {name: objects_yaml(bodies) for name, bodies in groups.items()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendered_yaml_matches_the_golden_files(case: str) -> None:
    repo, cluster = CASES[case]
    rendered = rendered_by_source(repo, cluster)
    folder = GOLDEN / case
    if os.environ.get("UPDATE_GOLDEN"):
        for name, text in rendered.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text)
    expected = {p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*.yaml")}
    assert sorted(rendered) == sorted(expected)
    for name, text in rendered.items():
        assert text == expected[name], f"{case}/{name} differs from its golden file"


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_rendered_object_is_valid_kubernetes(case: str) -> None:
    repo, cluster = CASES[case]
    result = render_dir(repo, cluster)
    for obj in result.objects:
        assert k8s_openapi.errors(obj.body) == [], obj.ref


def test_the_kubernetes_check_itself_catches_mistakes() -> None:
    result = render_dir(REPO, "demo")
    deployment = next(o.body for o in result.objects if o.body["kind"] == "Deployment")
    broken = {**deployment, "spec": {**deployment["spec"], "replicas": "1", "templat": {}}}
    assert k8s_openapi.errors(broken) == [
        'spec.replicas: "1" is not of types "null", "integer"',
        "spec: Additional properties are not allowed ('templat' was unexpected)",
    ]


def test_rendering_twice_gives_the_same_bytes() -> None:
    first = rendered_by_source(*CASES["full"])
    second = rendered_by_source(*CASES["full"])
    assert first == second
