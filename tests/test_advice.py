"""validate/advice.py: warnings from the seed's best practices (exit 0 unless --strict)."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.documents import load_text
from reconciler.errors import Severity
from reconciler.validate.advice import parameters_billions
from reconciler.validate.check import validate

from .manifests import NIMCACHE, NIMSERVICE, dump, variant


def warnings_of(*bodies: dict[str, Any]) -> set[tuple[str, str]]:
    docs, _ = load_text(dump(*bodies), "m.yaml")
    result = validate(docs)
    assert not result.errors, result.errors
    return {(p.rule, p.field) for p in result.problems if p.severity is Severity.WARNING}


@pytest.mark.parametrize(
    ("text", "billions"),
    [
        ("llama-3.1-70b-instruct", 70),
        ("meta-llama-3-2-1b-instruct", 1),
        ("Llama-3.2-1B-Instruct", 1),
        ("mixtral-8x7b", 56),
        ("nvcr.io/nim/meta/llama-3.1-8b-instruct:1.3.3", 8),
        ("deepseek-r1", None),
        ("nemotron-4-340b", 340),
        ("phi-3.5-mini", None),
    ],
)
def test_parameter_count_is_read_from_names(text: str, billions: float | None) -> None:
    assert parameters_billions(text) == billions


@pytest.mark.parametrize(
    ("name", "size", "warned"),
    [
        ("llama-3-2-1b", "50Gi", False),
        ("llama-3-1-8b", "50Gi", True),
        ("llama-3-1-8b", "100Gi", False),
        ("llama-3-1-70b", "200Gi", True),
        ("llama-3-1-70b", "300Gi", False),
        ("no-size-here", "1Gi", False),
    ],
)
def test_pvc_smaller_than_the_sizing_guide_is_warned(name: str, size: str, warned: bool) -> None:
    cache = variant(
        NIMCACHE,
        {"metadata.name": name, "spec.storage.pvc.size": size, "spec.source.ngc.modelPuller": "nvcr.io/nim/x/model:1"},
    )
    assert (("pvc-size", "spec.storage.pvc.size") in warnings_of(cache)) is warned


def test_read_write_once_cache_shared_by_two_services_is_warned() -> None:
    second = variant(NIMSERVICE, {"metadata.name": "second"})
    assert ("rwo-shared", "spec.storage.pvc.volumeAccessMode") in warnings_of(NIMCACHE, NIMSERVICE, second)
    rwx = variant(NIMCACHE, {"spec.storage.pvc.volumeAccessMode": "ReadWriteMany"})
    assert warnings_of(rwx, NIMSERVICE, second) == set()


def test_read_write_once_cache_with_several_replicas_is_warned() -> None:
    assert ("rwo-shared", "spec.storage.pvc.volumeAccessMode") in warnings_of(
        NIMCACHE, variant(NIMSERVICE, {"spec.replicas": 2})
    )
    scaled = variant(NIMSERVICE, {"spec.scale": {"enabled": True, "hpa": {"maxReplicas": 3}}})
    assert ("rwo-shared", "spec.storage.pvc.volumeAccessMode") in warnings_of(NIMCACHE, scaled)
    assert warnings_of(NIMCACHE, variant(NIMSERVICE, {"spec.replicas": 1})) == set()


def test_two_caches_of_the_same_model_in_one_namespace_are_warned() -> None:
    twin = variant(NIMCACHE, {"metadata.name": "twin", "spec.source.ngc.authSecret": "other-secret"})
    assert ("duplicate-model", "spec.source") in warnings_of(NIMCACHE, twin)
    elsewhere = variant(twin, {"metadata.namespace": "other"})
    assert warnings_of(NIMCACHE, elsewhere) == set()
    other_profile = variant(twin, {"spec.source.ngc.model": {"profiles": ["abc"]}})
    assert warnings_of(NIMCACHE, other_profile) == set()


def test_nemoguard_without_kv_cache_reuse_is_warned() -> None:
    guard = variant(NIMSERVICE, {"spec.image.repository": "nvcr.io/nim/nvidia/llama-3.1-nemoguard-8b-content-safety"})
    assert ("kv-cache-reuse", "spec.image.repository") in warnings_of(NIMCACHE, guard)
    reused = variant(guard, {"spec.env": [{"name": "NIM_ENABLE_KV_CACHE_REUSE", "value": "1"}]})
    assert warnings_of(NIMCACHE, reused) == set()
    disabled = variant(guard, {"spec.env": [{"name": "NIM_ENABLE_KV_CACHE_REUSE", "value": "0"}]})
    assert warnings_of(NIMCACHE, disabled) == set()  # an explicit "0" is a decision, not an oversight
    secret = {"name": "NIM_ENABLE_KV_CACHE_REUSE", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}}
    assert warnings_of(NIMCACHE, variant(guard, {"spec.env": [secret]})) == set()
    other = variant(guard, {"spec.env": [{"name": "NIM_LOG_LEVEL", "value": "INFO"}]})
    assert ("kv-cache-reuse", "spec.env") in warnings_of(NIMCACHE, other)


@pytest.mark.parametrize(
    ("image", "warned"),
    [
        ("nvcr.io/nim/nvidia/llama-3.1-nemoguard-8b-content-safety", True),
        ("nvcr.io/nim/nvidia/llama-3.1-nemoguard-8b-topic-control", True),
        ("nvcr.io/nim/nvidia/nemoguard-jailbreak-detect", False),  # a classifier, not an LLM
        ("nvcr.io/nim/meta/llama-3.1-8b-instruct", False),
    ],
)
def test_the_kv_cache_lint_fires_only_for_nemoguard_llms(image: str, warned: bool) -> None:
    guard = variant(NIMSERVICE, {"spec.image.repository": image})
    assert (("kv-cache-reuse", "spec.image.repository") in warnings_of(NIMCACHE, guard)) is warned


def test_host_path_storage_is_warned() -> None:
    service = variant(NIMSERVICE, {"spec.storage": {"hostPath": "/models"}})
    assert ("host-path", "spec.storage.hostPath") in warnings_of(service)
