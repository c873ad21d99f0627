"""The operator's rules for a NIMService that JSON Schema expresses poorly, in its wording (pure).

Checks read the document defensively: it may not have passed the schema.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from reconciler import quantity
from reconciler.documents import Document, get
from reconciler.errors import Problem
from reconciler.objects import MODEL_LAYOUT, storage_sources
from reconciler.validate.admission import scales_to_zero
from reconciler.validate.common import Check, err, layout_rule, proxy_rules, pvc_rules

# The main container is "<name>-ctr" (a DNS-1123 label of at most 63 characters).
MAX_NIMSERVICE_NAME = 63 - len("-ctr")


def check_nimservice(doc: Document) -> list[Problem]:
    """The operator's rules for one NIMService."""
    return [p for check in _CHECKS for p in check(doc)]


def _service_storage(doc: Document) -> Iterator[Problem]:
    storage = get(doc.body, "spec", "storage")
    base = ("spec", "storage")
    present = storage_sources(storage)  # as the operator counts: `pvc: {}` sets nothing
    if len(present) != 1:
        msg = "exactly one of storage.nimCache, storage.pvc, storage.emptyDir or storage.hostPath must be set"
        if present:
            msg += f" (found {', '.join(present)})"
        yield err(doc, base, msg, "storage-exactly-one")
    if get(storage, "nimCache", "profile") and not get(storage, "nimCache", "name"):
        yield err(doc, (*base, "nimCache", "name"), "required when nimCache.profile is set", "nimcache-profile")
    if "pvc" in present:
        yield from pvc_rules(doc, (*base, "pvc"))
    if get(storage, "nimCache", "name") and get(doc.body, "metadata", "annotations", MODEL_LAYOUT) is not None:
        # as the operator: with a NIMCache, the cache's layout decides (its status.type)
        msg = "set it on the NIMCache: a NIMService that uses a NIMCache takes the cache's model layout"
        yield err(doc, ("metadata", "annotations", MODEL_LAYOUT), msg, "model-layout")
    shm = get(storage, "sharedMemorySizeLimit")
    value = quantity.try_parse(shm)
    if shm is not None and value is not None and value <= 0:
        yield err(doc, (*base, "sharedMemorySizeLimit"), "must be greater than 0", "shared-memory")


def _service_scale(doc: Document) -> Iterator[Problem]:
    spec = get(doc.body, "spec")
    if get(spec, "scale", "enabled") is not True:
        return
    if get(spec, "replicas") is not None:
        msg = "spec.replicas cannot be set when spec.scale.enabled is true (the HPA owns the replica count)"
        yield err(doc, ("spec", "replicas"), msg, "replicas-with-scale")
    high, low = get(spec, "scale", "hpa", "maxReplicas"), get(spec, "scale", "hpa", "minReplicas")
    if high is None:
        yield err(doc, ("spec", "scale", "hpa", "maxReplicas"), "required when scale.enabled is true", "scale-hpa")
    elif isinstance(high, int) and isinstance(low, int) and low > high:
        msg = f"minReplicas ({low}) must not be greater than maxReplicas ({high})"
        yield err(doc, ("spec", "scale", "hpa", "minReplicas"), msg, "scale-hpa")
    if low == 0 and not isinstance(low, bool) and not scales_to_zero(get(spec, "scale", "hpa", "metrics")):
        msg = (
            "minReplicas 0 needs at least one Object or External metric in scale.hpa.metrics: with no pod "
            "running, nothing else can say when to scale up again"
        )
        yield err(doc, ("spec", "scale", "hpa", "minReplicas"), msg, "scale-to-zero")


def _service_expose(doc: Document) -> Iterator[Problem]:
    expose = get(doc.body, "spec", "expose")
    router = get(expose, "router")
    base = ("spec", "expose", "router")
    if get(expose, "ingress", "enabled") is True and get(router, "ingress") is not None:
        msg = "not both expose.ingress.enabled and expose.router.ingress: choose one Ingress"
        yield err(doc, (*base, "ingress"), msg, "ingress-exclusive")
    if get(router, "ingress") is not None and get(router, "gateway") is not None:
        yield err(doc, (*base, "gateway"), "not both router.ingress and router.gateway", "router-exclusive")
    if (get(router, "ingress") is not None or get(router, "gateway") is not None) and not get(router, "hostDomainName"):
        msg = "required when router.ingress or router.gateway is set"
        yield err(doc, (*base, "hostDomainName"), msg, "router-host")
    backend = get(router, "gateway", "backendRef")
    service_ref = get(backend, "group") in (None, "") and get(backend, "kind") in (None, "Service")
    if isinstance(backend, dict) and service_ref and get(backend, "port") is None:
        yield err(doc, (*base, "gateway", "backendRef"), "Must have port for Service reference", "backend-port")
    if get(router, "gateway", "grpcRoutesEnabled") is True and get(expose, "service", "grpcPort") is None:
        msg = "grpcRoutesEnabled needs spec.expose.service.grpcPort"
        yield err(doc, (*base, "gateway", "grpcRoutesEnabled"), msg, "grpc-port")


def _service_ports(doc: Document) -> Iterator[Problem]:
    """port, grpcPort and metricsPort become one container's ports (a list-map keyed by port and protocol):
    two of them on one number would be two entries of one key, which server-side apply refuses."""
    service = get(doc.body, "spec", "expose", "service")
    taken: dict[object, str] = {get(service, "port") or 8000: "port"}  # render's DEFAULT_PORT, the operator's
    for key in ("grpcPort", "metricsPort"):
        number = get(service, key)
        if number is None or isinstance(number, bool):
            continue
        if number in taken:
            msg = f"Duplicate value: {number} is already spec.expose.service.{taken[number]} (one container port each)"
            yield err(doc, ("spec", "expose", "service", key), msg, "distinct-ports")
        taken.setdefault(number, key)


def _service_metrics(doc: Document) -> Iterator[Problem]:
    metrics = get(doc.body, "spec", "metrics")
    if get(metrics, "enabled") is True and not get(metrics, "serviceMonitor"):
        msg = "must not be empty when metrics.enabled is true"
        yield err(doc, ("spec", "metrics", "serviceMonitor"), msg, "metrics-service-monitor")


def _service_claims(doc: Document) -> Iterator[Problem]:
    if get(doc.body, "spec", "resources", "claims"):
        msg = "must be empty: the operator's webhook refuses dynamic resource claims here"
        yield err(doc, ("spec", "resources", "claims"), msg, "resources-claims")


def _service_name(doc: Document) -> Iterator[Problem]:
    name = get(doc.body, "metadata", "name")
    if not isinstance(name, str) or not name:
        return
    if len(name) > MAX_NIMSERVICE_NAME:
        msg = (
            f"must be at most {MAX_NIMSERVICE_NAME} characters so that the container name fits in 63 (has {len(name)})"
        )
        yield err(doc, ("metadata", "name"), msg, "name-length")
    if not name[0].isalpha():
        msg = "must start with a letter: it names a Service (DNS-1035 label)"
        yield err(doc, ("metadata", "name"), msg, "name-dns1035")


_CHECKS: Sequence[Check] = (
    _service_storage,
    _service_scale,
    _service_expose,
    _service_ports,
    _service_metrics,
    proxy_rules,
    _service_name,
    _service_claims,
    layout_rule,
)
