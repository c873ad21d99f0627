"""Render contexts for how a NIMService is reached and watched: HPA, Ingress, Gateway routes, ServiceMonitor (pure).

Each function returns None (or no routes) when the object is not wanted, as the operator decides it (reference §5.4).
"""

from __future__ import annotations

from typing import Any

from reconciler.documents import NimResource, get


def host(service: NimResource) -> str:
    """``<name>.<namespace>.<hostDomainName>``: the router's host name."""
    return f"{service.name}.{service.namespace}.{get(service.spec, 'expose', 'router', 'hostDomainName')}"


def hpa(service: NimResource, notes: dict[str, str]) -> dict[str, Any] | None:
    """The HorizontalPodAutoscaler context, or None unless ``scale.enabled``."""
    scale = get(service.spec, "scale") or {}
    if scale.get("enabled") is not True:
        return None
    hpa = scale.get("hpa") or {}
    metrics = sorted(hpa.get("metrics") or [], key=lambda m: str(m.get("type")))
    return {
        "annotations": {**notes, **(scale.get("annotations") or {})},
        "min": hpa.get("minReplicas", 1),
        "max": hpa["maxReplicas"],
        "metrics": metrics or None,
        "behavior": hpa.get("behavior"),
    }


def ingress(service: NimResource, notes: dict[str, str]) -> dict[str, Any] | None:
    """The Ingress context (``expose.ingress`` or ``expose.router.ingress``), or None."""
    expose = get(service.spec, "expose") or {}
    legacy = expose.get("ingress") or {}
    if legacy.get("enabled") is True:
        return {"annotations": {**notes, **(legacy.get("annotations") or {})}, "spec": legacy.get("spec") or {}}
    router = expose.get("router") or {}
    if not get(router, "ingress", "ingressClass"):
        return None
    rule = {
        "host": host(service),
        "http": {
            "paths": [
                {
                    "path": "/",
                    "pathType": "Prefix",
                    "backend": {"service": {"name": service.name, "port": {"name": "api"}}},
                }
            ]
        },
    }
    spec: dict[str, Any] = {"ingressClassName": router["ingress"]["ingressClass"], "rules": [rule]}
    if router["ingress"].get("tlsSecretName"):
        spec["tls"] = [{"hosts": [host(service)], "secretName": router["ingress"]["tlsSecretName"]}]
    return {"annotations": {**notes, **(router.get("annotations") or {})}, "spec": spec}


def routes(service: NimResource, ports: dict[str, int], notes: dict[str, str]) -> dict[str, Any]:
    """The Gateway API routes wanted (``http``, ``grpc``) by ``expose.router.gateway``."""
    router = get(service.spec, "expose", "router") or {}
    gateway = router.get("gateway")
    if not isinstance(gateway, dict):
        return {}
    parent = {"name": gateway["name"], **({"namespace": gateway["namespace"]} if gateway.get("namespace") else {})}
    shared = {"annotations": {**notes, **(router.get("annotations") or {})}, "parent": parent, "host": host(service)}
    routes: dict[str, Any] = {}
    if gateway.get("httpRoutesEnabled", True):
        given = gateway.get("backendRef")
        if given:  # with the CRD's defaults, as the API server writes them into the NIMService the operator reads
            backend = {"group": "", "kind": "Service", "weight": 1, **given}
        else:
            backend = {"name": service.name, "port": ports["api"]}
        routes["http"] = {**shared, "backend": backend}
    if gateway.get("grpcRoutesEnabled", False) and "grpc" in ports:
        routes["grpc"] = {**shared, "backend": {"name": service.name, "port": ports["grpc"]}}
    return routes


def monitor(
    service: NimResource, labels: dict[str, str], ports: dict[str, int], notes: dict[str, str]
) -> dict[str, Any] | None:
    """The ServiceMonitor context, or None unless ``metrics.enabled``."""
    metrics = get(service.spec, "metrics") or {}
    if metrics.get("enabled") is not True:
        return None
    monitor = metrics.get("serviceMonitor") or {}
    endpoint: dict[str, Any] = {"path": "/v1/metrics", "port": "api"}
    for key in ("interval", "scrapeTimeout"):
        if monitor.get(key):
            endpoint[key] = monitor[key]
    endpoints = [endpoint] + ([{"path": "/metrics", "port": "metrics"}] if "metrics" in ports else [])
    return {
        "labels": {**labels, **(monitor.get("additionalLabels") or {})},
        "annotations": {**notes, **(monitor.get("annotations") or {})},
        "selector": labels,
        "endpoints": endpoints,
    }
