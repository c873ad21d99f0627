"""Warnings from the seed's best practices (pure): things that work but will probably hurt.

Contract: ``advise(resources)`` takes resources that passed validation and returns warning ``Problem``s only.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from decimal import Decimal

from reconciler import quantity
from reconciler.documents import NimResource, get
from reconciler.errors import Problem, warning
from reconciler.objects import NGC_KEY_MESSAGE, NGC_KEY_UNSET, cache_name, ngc_key_unset
from reconciler.refs import field_path

# The seed's sizing table: (parameter count in billions below which it applies, smallest PVC in Gi).
SIZING = ((7, 50), (14, 100), (70, 200), (float("inf"), 300))
_PARAMS = re.compile(r"(?<![a-z0-9.])(?:(\d+)x)?(\d+(?:\.\d+)?)b(?![a-z0-9])")
# NemoGuard's LLM NIMs, which prefill the same long system prompt on every call (jailbreak-detect is a
# classifier, not an LLM: KV-cache reuse means nothing to it).
NEMOGUARD = ("content-safety", "topic-control")
KV_CACHE_REUSE = "NIM_ENABLE_KV_CACHE_REUSE"


def advise(resources: Sequence[NimResource]) -> list[Problem]:
    """Best-practice warnings for the valid resources of one cluster (pure)."""
    caches = [r for r in resources if r.kind == "NIMCache"]
    services = [r for r in resources if r.kind == "NIMService"]
    out: list[Problem] = []
    for cache in caches:
        out.extend(_pvc_size(cache))
        out.extend(_host_path(cache))
        out.extend(_ngc_key(cache))
    for service in services:
        out.extend(_ngc_key(service))
        out.extend(_scale_to_zero(service))
        out.extend(_kv_cache_reuse(service))
        out.extend(_host_path(service))
        out.extend(_deprecated_ingress(service))
        out.extend(_deprecated_pod_affinity(service))
    out.extend(_shared_rwo(caches, services))
    out.extend(_duplicate_models(caches))
    return out


def _warn(res: NimResource, path: tuple[str | int, ...], message: str, rule: str) -> Problem:
    return warning(res.doc.at(path), field_path(path), message, rule)


def parameters_billions(text: str) -> float | None:
    """``"llama-3.1-70b-instruct"`` → 70.0; ``"mixtral-8x7b"`` → 56.0; None when no size is named."""
    match = _PARAMS.search(text.lower())
    if not match:
        return None
    experts = int(match.group(1)) if match.group(1) else 1
    return experts * float(match.group(2))


def _model_text(cache: NimResource) -> list[str]:
    source = get(cache.spec, "source")
    texts = [cache.name]
    for key in ("modelPuller", "modelName", "datasetName"):
        for kind in ("ngc", "hf", "dataStore"):
            value = get(source, kind, key)
            if isinstance(value, str):
                texts.append(value)
    return texts


def _pvc_size(cache: NimResource) -> Iterator[Problem]:
    size = quantity.try_parse(get(cache.spec, "storage", "pvc", "size"))
    if size is None or get(cache.spec, "storage", "pvc", "create") is not True:
        return
    params = next((p for p in map(parameters_billions, _model_text(cache)) if p is not None), None)
    if params is None:
        return
    minimum = next(gi for limit, gi in SIZING if params < limit)
    if size < Decimal(minimum) * quantity.GI:
        msg = (
            f"{size / quantity.GI:g}Gi is small for a {params:g}B-parameter model; "
            f"the sizing guide suggests at least {minimum}Gi"
        )
        yield _warn(cache, ("spec", "storage", "pvc", "size"), msg, "pvc-size")


def _host_path(res: NimResource) -> Iterator[Problem]:
    if get(res.spec, "storage", "hostPath") is not None:
        msg = "hostPath storage ties the model to one node and is not recommended for production; use a PVC"
        yield _warn(res, ("spec", "storage", "hostPath"), msg, "host-path")


def _ngc_key(res: NimResource) -> Iterator[Problem]:
    at = ngc_key_unset(res.body)
    if at is not None:
        yield _warn(res, at, f"{NGC_KEY_MESSAGE} ({NGC_KEY_UNSET})", "ngc-api-key-unset")


def _scale_to_zero(service: NimResource) -> Iterator[Problem]:
    at = ("spec", "scale", "hpa", "minReplicas")
    if get(service.spec, "scale", "enabled") is True and get(service.body, *at) == 0:
        msg = (
            "0 needs kube-apiserver's HPAScaleToZero feature gate (alpha, off by default): a cluster without it "
            "refuses the HorizontalPodAutoscaler"
        )
        yield _warn(service, at, msg, "scale-to-zero-gate")


def _kv_cache_reuse(service: NimResource) -> Iterator[Problem]:
    repository = get(service.spec, "image", "repository")
    if not isinstance(repository, str) or "nemoguard" not in repository:
        return
    model = next((n for n in NEMOGUARD if n in repository), None)
    env = get(service.spec, "env") or []
    decided = any(isinstance(e, dict) and e.get("name") == KV_CACHE_REUSE for e in env)  # any value, or valueFrom
    if model is not None and not decided:
        msg = (
            f"a NemoGuard {model} NIM (an LLM: image {repository}) without {KV_CACHE_REUSE}: every guardrail "
            f'call recomputes the shared system prompt; set env {KV_CACHE_REUSE}: "1" to reuse its KV cache '
            '(or "0" to decide against it)'
        )
        yield _warn(service, ("spec", "env") if env else ("spec", "image", "repository"), msg, "kv-cache-reuse")


def _deprecated_ingress(service: NimResource) -> Iterator[Problem]:
    if get(service.spec, "expose", "ingress") is not None:
        msg = "spec.expose.ingress is deprecated, use spec.expose.router instead"
        yield _warn(service, ("spec", "expose", "ingress"), msg, "ingress-deprecated")


def _deprecated_pod_affinity(service: NimResource) -> Iterator[Problem]:
    if get(service.spec, "podAffinity") is not None:
        msg = "spec.podAffinity is deprecated and ignored (by the operator too): use spec.affinity.podAffinity"
        yield _warn(service, ("spec", "podAffinity"), msg, "pod-affinity-deprecated")


def _max_pods(service: NimResource) -> int:
    if get(service.spec, "scale", "enabled") is True:
        high = get(service.spec, "scale", "hpa", "maxReplicas")
        return high if isinstance(high, int) else 1
    replicas = get(service.spec, "replicas")
    return replicas if isinstance(replicas, int) else 1


def _shared_rwo(caches: Sequence[NimResource], services: Sequence[NimResource]) -> Iterator[Problem]:
    users: dict[tuple[str, str], list[NimResource]] = defaultdict(list)
    for service in services:
        name = cache_name(service.body)
        if isinstance(name, str):
            users[(service.namespace, name)].append(service)
    for cache in caches:
        mode = get(cache.spec, "storage", "pvc", "volumeAccessMode")
        using = users.get((cache.namespace, cache.name), [])
        pods = sum(_max_pods(s) for s in using)
        if mode in ("ReadWriteOnce", "ReadWriteOncePod") and pods > 1:
            names = ", ".join(s.name for s in using)
            msg = (
                f"{mode} cache mounted by up to {pods} pods (NIMService {names}): pods on other nodes "
                f"cannot mount it; use ReadWriteMany or ReadOnlyMany"
            )
            yield _warn(cache, ("spec", "storage", "pvc", "volumeAccessMode"), msg, "rwo-shared")


def _duplicate_models(caches: Sequence[NimResource]) -> Iterator[Problem]:
    seen: dict[tuple[str, str], NimResource] = {}
    for cache in caches:
        identity = model_identity(cache)
        if identity is None:
            continue
        first = seen.setdefault((cache.namespace, identity), cache)
        if first is not cache:
            msg = (
                f"caches the same model as NIMCache {first.name} ({first.doc.where}); "
                f"share one NIMCache between NIMServices instead"
            )
            yield _warn(cache, ("spec", "source"), msg, "duplicate-model")


def model_identity(cache: NimResource) -> str | None:
    """What a NIMCache downloads (its source without secret names): equal values mean equal bytes on disk."""
    source = get(cache.spec, "source")
    if not isinstance(source, dict) or len(source) != 1:
        return None
    stripped = {
        kind: {k: v for k, v in spec.items() if k not in ("authSecret", "pullSecret")}
        for kind, spec in source.items()
        if isinstance(spec, dict)
    }
    return json.dumps(stripped, sort_keys=True)
