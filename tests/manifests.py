"""Minimal valid manifests for table-driven tests, and a way to derive variants of them."""

from __future__ import annotations

import copy
from typing import Any

import yaml

NIMCACHE: dict[str, Any] = {
    "apiVersion": "apps.nvidia.com/v1alpha1",
    "kind": "NIMCache",
    "metadata": {"name": "llama-3-2-1b", "namespace": "nim"},
    "spec": {
        "source": {
            "ngc": {
                "modelPuller": "nvcr.io/nim/meta/llama-3.2-1b-instruct:1.12.0",
                "pullSecret": "ngc-secret",
                "authSecret": "ngc-api-secret",
                "model": {"engine": "tensorrt_llm", "tensorParallelism": "1"},
            }
        },
        "storage": {"pvc": {"create": True, "size": "50Gi", "volumeAccessMode": "ReadWriteOnce"}},
    },
}

NIMSERVICE: dict[str, Any] = {
    "apiVersion": "apps.nvidia.com/v1alpha1",
    "kind": "NIMService",
    "metadata": {"name": "llama-3-2-1b", "namespace": "nim"},
    "spec": {
        "image": {"repository": "nvcr.io/nim/meta/llama-3.2-1b-instruct", "tag": "1.12.0"},
        "authSecret": "ngc-api-secret",
        "storage": {"nimCache": {"name": "llama-3-2-1b"}},
        "resources": {"limits": {"nvidia.com/gpu": 1}},
        "expose": {"service": {"type": "ClusterIP", "port": 8000}},
    },
}

HF_SOURCE = {
    "endpoint": "https://huggingface.co",
    "namespace": "meta-llama",
    "modelName": "Llama-3.2-1B-Instruct",
    "authSecret": "hf-secret",
    "modelPuller": "nvcr.io/nim/nvidia/llm-nim:1.12",
    "pullSecret": "ngc-secret",
}

_DELETE = object()
DELETE: Any = _DELETE


def variant(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``base`` with dotted paths set (``DELETE`` removes the key)."""
    out = copy.deepcopy(base)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        if value is _DELETE:
            node.pop(last, None)
        else:
            node[last] = copy.deepcopy(value)
    return out


def dump(*bodies: dict[str, Any]) -> str:
    return yaml.safe_dump_all(bodies, sort_keys=False)


# Manifest values that would change a rendered object's structure if a template did not quote them.
TRICKY = [
    "x\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding",
    "no",
    "1.10",
    "0755",
    "1",
    "{{ 7*7 }}",
    "ok\n  finalizers: []",
    "nvcr.io/nim/x:1 #evil",
    'abc", "--extra", "x',
    "{a: b}",
    "emoji 😀 𐀀",
    "back\\slash \\ud83d",
]
