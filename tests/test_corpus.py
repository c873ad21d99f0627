"""NVIDIA's own samples (../shared/reference/nvidia-samples) as a compatibility corpus.

In scope: every NIMCache, and the NIMServices under serving/standalone/. Each sample file is checked on its own
(the samples reuse names across files).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler import pipeline
from reconciler.errors import Severity

from .helpers import SAMPLES

pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared/reference/nvidia-samples is not present")

# Known defects in the samples: (file, line, field, rule). The corpus README names full/llm.yaml and
# routers/ingress/llm.yaml; three more samples also set replicas beside scale.enabled, which the operator's own
# CEL rule rejects ("spec.replicas cannot be set when spec.scale.enabled is true").
DEFECTS = {
    "serving/standalone/full/llm.yaml": [(44, "spec.replicas", "replicas-with-scale")],
    "serving/standalone/full/multi-llm.yaml": [(53, "spec.replicas", "replicas-with-scale")],
    "serving/standalone/autoscaling/llm.yaml": [(44, "spec.replicas", "replicas-with-scale")],
    "serving/standalone/autoscaling/multi-llm.yaml": [(53, "spec.replicas", "replicas-with-scale")],
    "serving/standalone/routers/ingress/llm.yaml": [(52, "spec.router", "schema/additionalProperties")],
}


def in_scope() -> list[str]:
    if not SAMPLES.is_dir():
        return []
    files = sorted(str(p.relative_to(SAMPLES)) for p in SAMPLES.rglob("*.yaml"))
    return [
        f
        for f in files
        if f.startswith(("caching/", "serving/standalone/"))
        or f.endswith(
            (
                "nimcache-content-safety.yaml",
                "nimcache-jailbreak-detect.yaml",
                "nimcache-topic-control.yaml",
                "nimcache-embedding.yaml",
                "nimcache-llm.yaml",
                "nimcache-reranking.yaml",
            )
        )
    ]


def errors(path: Path) -> list[tuple[int, str, str]]:
    check, _ = pipeline.check_paths([path])
    return [(p.where.line, p.field, p.rule) for p in check.problems if p.severity is Severity.ERROR]


@pytest.mark.parametrize("name", in_scope())
def test_in_scope_sample_validates_or_shows_its_known_defect(name: str) -> None:
    assert errors(SAMPLES / name) == DEFECTS.get(name, [])


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


@pytest.mark.parametrize(("name", "message"), sorted(OUT_OF_SCOPE.items()))
def test_out_of_scope_sample_is_reported_as_not_supported(name: str, message: str) -> None:
    check, _ = pipeline.check_paths([SAMPLES / name])
    assert not check.ok
    assert any(message in p.message for p in check.problems)


def test_every_out_of_scope_sample_is_rejected_cleanly() -> None:
    others = [p for p in SAMPLES.rglob("*.yaml") if str(p.relative_to(SAMPLES)) not in in_scope()]
    assert others
    for path in others:
        check, _ = pipeline.check_paths([path])
        assert not check.ok, path
        assert any("not supported" in p.message for p in check.problems), path


@pytest.mark.parametrize("name", [n for n in in_scope() if n not in DEFECTS])
def test_in_scope_sample_renders_valid_kubernetes_objects(name: str) -> None:
    from reconciler.render.renderer import Renderer

    from . import k8s_openapi

    _, validated = pipeline.check_paths([SAMPLES / name])
    rendered = Renderer().render(validated.resources, "samples", SAMPLES)
    assert [p for p in rendered.problems if p.severity is Severity.ERROR] == []
    assert rendered.objects
    for obj in rendered.objects:
        assert k8s_openapi.errors(obj.body) == [], (name, obj.ref)
