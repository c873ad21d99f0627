"""NVIDIA's sample snapshots as a corpus: which files are in scope, and the samples' known defects."""

from __future__ import annotations

from pathlib import Path

from .helpers import SAMPLES

SNAPSHOTS = {"nvidia-samples": SAMPLES, "nvidia-samples-919": SAMPLES.with_name("nvidia-samples-919")}
# no silent skip: both snapshots are part of the shared reference this repository is built against
assert all(root.is_dir() for root in SNAPSHOTS.values()), SNAPSHOTS

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


def in_scope(root: Path = SAMPLES) -> list[str]:
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*.yaml"))
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
