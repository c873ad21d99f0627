"""Golden files: the rendered YAML of every example, of the full-featured fixtures and of NVIDIA's newer samples
(nvidia-samples-919, those the operator serves), byte for byte.

Regenerate after a deliberate change with UPDATE_GOLDEN=1 python -m pytest tests/test_render_golden.py
and review the diff.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml

from reconciler import pipeline
from reconciler.documents import NimResource
from reconciler.errors import Severity
from reconciler.objects import MODEL_LAYOUT, NATIVE
from reconciler.refs import ObjRef
from reconciler.render.renderer import Renderer
from reconciler.report.output import objects_yaml
from reconciler.selection import Selection, Stage

from . import k8s_openapi
from .corpus import DEFECTS, in_scope
from .helpers import REPO, SAMPLES
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


# NVIDIA's newer samples, each file on its own, as the operator serves them: rendered offline, except where the
# sample says what the cluster's probe will find (the model-free NIM images print no model manifest), which is
# rendered as a run renders it once the probe has run. Reviewed against the operator's source when regenerated.
SAMPLES_919 = SAMPLES.with_name("nvidia-samples-919")
SERVED_919 = [n for n in in_scope(SAMPLES_919) if n not in DEFECTS]
# Native images, which the operator detects from the image's OCI label: a user of ours says so by annotation
NATIVE_919 = {"serving/standalone/retriever/embed.yaml"}


def sample_root(name: str, scratch: Path) -> Path:
    """Where ``name`` is rendered from: the samples, or a copy whose caches carry the native-layout annotation."""
    if name not in NATIVE_919:
        return SAMPLES_919
    docs = list(yaml.safe_load_all((SAMPLES_919 / name).read_text()))
    for doc in docs:
        if doc["kind"] == "NIMCache":
            doc["metadata"].setdefault("annotations", {})[MODEL_LAYOUT] = NATIVE
    (scratch / name).parent.mkdir(parents=True)
    (scratch / name).write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return scratch


def probed(resources: Sequence[NimResource]) -> dict[ObjRef, Selection]:
    """The selections a cluster shows for the samples' model-free caches once their probe has printed."""
    return {
        r.ref: Selection(Stage.MODEL_FREE)
        for r in resources
        if r.kind == "NIMCache" and "model-free-nim" in str(r.body["spec"]["source"].get("hf", {}).get("modelPuller"))
    }


@pytest.mark.parametrize("name", SERVED_919)
def test_nvidia_samples_render_as_the_golden_files(name: str, tmp_path: Path) -> None:
    root = sample_root(name, tmp_path)
    _, validated = pipeline.check_paths([root / name])
    rendered = Renderer().render(validated.resources, "samples", root, probed(validated.resources))
    assert [p for p in rendered.problems if p.severity is Severity.ERROR] == []
    text = objects_yaml([o.body for o in rendered.objects])
    golden = GOLDEN / "nvidia-samples-919" / name
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text(), f"{name} differs from its golden file"


def test_every_served_919_sample_has_a_golden_file_and_no_other_is_kept() -> None:
    kept = sorted(
        p.relative_to(GOLDEN / "nvidia-samples-919").as_posix() for p in (GOLDEN / "nvidia-samples-919").rglob("*.yaml")
    )
    assert kept == sorted(SERVED_919)
