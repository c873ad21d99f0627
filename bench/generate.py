"""Generate a GitOps repo of N varied NIMCache + NIMService manifests (for the benchmarks)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import yaml

MODELS = [
    ("meta/llama-3.2-1b-instruct", "1.12.0", 1),
    ("meta/llama-3.1-8b-instruct", "1.3.3", 8),
    ("meta/llama-3.1-70b-instruct", "1.3.3", 70),
    ("nvidia/llama-3.1-nemoguard-8b-content-safety", "1.0.0", 8),
]


def nimcache(i: int, rng: random.Random) -> dict[str, Any]:
    model, tag, billions = MODELS[i % len(MODELS)]
    size = {1: "50Gi", 8: "100Gi", 70: "300Gi"}[billions]
    kind = i % 3
    if kind == 0:
        source: dict[str, Any] = {
            "ngc": {
                "modelPuller": f"nvcr.io/nim/{model}:{tag}",
                "pullSecret": "ngc-secret",
                "authSecret": "ngc-api-secret",
                "model": {"engine": "tensorrt_llm", "tensorParallelism": "1"},
            }
        }
    elif kind == 1:
        source = {
            "ngc": {
                "modelPuller": f"nvcr.io/nim/{model}:{tag}",
                "pullSecret": "ngc-secret",
                "authSecret": "ngc-api-secret",
                "model": {"profiles": [f"profile-{i:05d}"]},
            }
        }
    else:
        source = {
            "hf": {
                "endpoint": "https://huggingface.co",
                "namespace": "meta-llama",
                "modelName": f"Llama-3.2-1B-Instruct-{i}",
                "authSecret": "hf-secret",
                "modelPuller": "nvcr.io/nim/nvidia/llm-nim:1.12",
                "pullSecret": "ngc-secret",
            }
        }
        size = "50Gi"
    spec: dict[str, Any] = {
        "source": source,
        "storage": {"pvc": {"create": True, "size": size, "volumeAccessMode": "ReadWriteMany"}},
        "resources": {"cpu": str(rng.choice([2, 4])), "memory": rng.choice(["8Gi", "16Gi"])},
    }
    if rng.random() < 0.3:
        spec["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    if rng.random() < 0.2:
        spec["env"] = [{"name": "CUSTOM_VAR", "value": f"v{i}"}]
    return {
        "apiVersion": "apps.nvidia.com/v1alpha1",
        "kind": "NIMCache",
        "metadata": {"name": f"cache-{i:05d}-{billions}b", "namespace": f"team-{i % 20:02d}"},
        "spec": spec,
    }


def nimservice(i: int, rng: random.Random) -> dict[str, Any]:
    model, tag, billions = MODELS[i % len(MODELS)]
    spec: dict[str, Any] = {
        "image": {
            "repository": f"nvcr.io/nim/{model}",
            "tag": tag,
            "pullPolicy": "IfNotPresent",
            "pullSecrets": ["ngc-secret"],
        },
        "authSecret": "ngc-api-secret",
        "storage": {"nimCache": {"name": f"cache-{i:05d}-{billions}b"}},
        "resources": {"limits": {"nvidia.com/gpu": 1}},
        "expose": {"service": {"type": "ClusterIP", "port": 8000}},
        "env": [{"name": "NIM_ENABLE_KV_CACHE_REUSE", "value": "1"}],
    }
    if i % 4 == 1:
        spec["scale"] = {
            "enabled": True,
            "hpa": {
                "minReplicas": 1,
                "maxReplicas": 3,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
                    }
                ],
            },
        }
    else:
        spec["replicas"] = rng.choice([1, 2])
    if i % 5 == 0:
        spec["metrics"] = {"enabled": True, "serviceMonitor": {"interval": "30s"}}
    if i % 7 == 0:
        spec["expose"]["router"] = {"hostDomainName": "example.com", "ingress": {"ingressClass": "nginx"}}
    return {
        "apiVersion": "apps.nvidia.com/v1alpha1",
        "kind": "NIMService",
        "metadata": {"name": f"svc-{i:05d}", "namespace": f"team-{i % 20:02d}"},
        "spec": spec,
    }


def generate(root: Path, pairs: int, seed: int = 7) -> Path:
    """Write ``pairs`` NIMCache + NIMService pairs under ``root/clusters/bench`` (one pair per file)."""
    rng = random.Random(seed)
    target = root / "clusters" / "bench"
    target.mkdir(parents=True, exist_ok=True)
    for i in range(pairs):
        text = yaml.safe_dump_all([nimcache(i, rng), nimservice(i, rng)], sort_keys=False)
        (target / f"team-{i % 20:02d}" / f"pair-{i:05d}.yaml").parent.mkdir(exist_ok=True)
        (target / f"team-{i % 20:02d}" / f"pair-{i:05d}.yaml").write_text(text)
    return target
