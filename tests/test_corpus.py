"""NVIDIA's own samples as a compatibility corpus: ../shared/reference/nvidia-samples and the newer set
nvidia-samples-919 (model-free, NIM 3, Retriever 2.x, no pre-caching, scheduling, sidecars, Ray multi-node).

In scope: every NIMCache, and the NIMServices under serving/standalone/. Each sample file is checked on its own
(the samples reuse names across files).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler import pipeline
from reconciler.errors import Severity

from .corpus import DEFECTS, SNAPSHOTS, in_scope
from .helpers import SAMPLES


def errors(path: Path) -> list[tuple[int, str, str]]:
    check, _ = pipeline.check_paths([path])
    return [(p.where.line, p.field, p.rule) for p in check.problems if p.severity is Severity.ERROR]


EVERY_IN_SCOPE = [(snapshot, name) for snapshot, root in SNAPSHOTS.items() for name in in_scope(root)]


@pytest.mark.parametrize(("snapshot", "name"), EVERY_IN_SCOPE)
def test_in_scope_sample_validates_or_shows_its_known_defect(snapshot: str, name: str) -> None:
    # the newer set keeps the old defects, at the same lines
    assert errors(SNAPSHOTS[snapshot] / name) == DEFECTS.get(name, [])


def test_the_known_defect_message_points_to_the_right_place() -> None:
    check, _ = pipeline.check_paths([SAMPLES / "serving/standalone/routers/ingress/llm.yaml"])
    [problem] = [p for p in check.problems if p.severity is Severity.ERROR]
    assert "did you mean spec.expose.router?" in problem.message


OUT_OF_SCOPE = {
    "pipelines/guardrail/guardrail-pipeline.yaml": "kind NIMPipeline is not supported",
    "pipelines/rag/rag-pipeline.yaml": "kind NIMPipeline is not supported",
    "serving/kserve/standard/llm.yaml": "kserve (KServe InferenceService) is not supported",
    "serving/kserve/knative/multi-llm.yaml": "kserve (KServe InferenceService) is not supported",
    "serving/advanced/multi-node/multi-node-nimservice.yaml": "multiNode (LeaderWorkerSet multi-node serving) is not",
    "serving/advanced/dra/manual/llm.yaml": "draResources (dynamic resource allocation) is not supported",
    "serving/advanced/epp/nimservice.yaml": "eppConfig (endpoint picker) is not supported",
}
OUT_OF_SCOPE_919 = {
    **OUT_OF_SCOPE,
    "serving/advanced/multi-node/multi-node-nimservice-ray.yaml": "multiNode (LeaderWorkerSet + Ray multi-node",
    "serving/kserve/standard/model-free.yaml": "kserve (KServe InferenceService) is not supported",
}


@pytest.mark.parametrize(
    ("snapshot", "name", "message"),
    [("nvidia-samples", *item) for item in sorted(OUT_OF_SCOPE.items())]
    + [("nvidia-samples-919", *item) for item in sorted(OUT_OF_SCOPE_919.items())],
)
def test_out_of_scope_sample_is_reported_as_not_supported(snapshot: str, name: str, message: str) -> None:
    check, _ = pipeline.check_paths([SNAPSHOTS[snapshot] / name])
    assert not check.ok
    assert any(message in p.message for p in check.problems)


@pytest.mark.parametrize("snapshot", sorted(SNAPSHOTS))
def test_every_out_of_scope_sample_is_rejected_cleanly(snapshot: str) -> None:
    root = SNAPSHOTS[snapshot]
    others = [p for p in root.rglob("*.yaml") if str(p.relative_to(root)) not in in_scope(root)]
    assert others
    for path in others:
        check, _ = pipeline.check_paths([path])
        assert not check.ok, path
        assert any("not supported" in p.message for p in check.problems), path


@pytest.mark.parametrize(("snapshot", "name"), [(s, n) for s, n in EVERY_IN_SCOPE if n not in DEFECTS])
def test_in_scope_sample_renders_valid_kubernetes_objects(snapshot: str, name: str) -> None:
    from reconciler.render.renderer import Renderer

    from . import k8s_openapi

    root = SNAPSHOTS[snapshot]
    _, validated = pipeline.check_paths([root / name])
    rendered = Renderer().render(validated.resources, "samples", root)
    assert [p for p in rendered.problems if p.severity is Severity.ERROR] == []
    assert rendered.objects
    for obj in rendered.objects:
        assert k8s_openapi.errors(obj.body) == [], (name, obj.ref)
