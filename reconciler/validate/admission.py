"""Offline admission: what kube-apiserver would refuse in a rendered object, beyond its OpenAPI schema (pure).

Contract: ``admit(body)`` returns every ``Violation`` of one object of a kind we render — object metadata
(name syntax per kind, namespace, label and annotation syntax and sizes), then the kind's own rules, written from
Kubernetes' validation code (``ValidateDeployment``, ``ValidateJob``, ``ValidateService``, ``ValidateIngress``,
``ValidateHorizontalPodAutoscaler``, ``ValidatePersistentVolumeClaim`` and, for pod templates, ``podspec``).
One rule is ours, not the cluster's: a Service we render must select something (an empty selector would route
nowhere). Types and unknown fields are ``openapi``'s job. An empty list means the cluster would take it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from reconciler.validate import names, podspec
from reconciler.validate.violations import (
    Path,
    Violation,
    duplicate,
    good_key,
    invalid,
    labels,
    required,
    unsupported,
)

_ACCESS_MODES = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")
_PATH_TYPES = ("Exact", "Prefix", "ImplementationSpecific")
_SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
_NAME_RULES: dict[str, Callable[[Any], str | None]] = {"Service": names.dns_1035, "Namespace": names.dns_label}


def admit(body: dict[str, Any]) -> list[Violation]:
    """Every violation of one rendered object (pure); ``[]`` when kube-apiserver would accept it."""
    kind = body.get("kind", "")
    out = _metadata(body.get("metadata") or {}, ("metadata",), kind)
    rules = _KINDS.get(kind)
    spec = body.get("spec")
    if rules is not None and isinstance(spec, dict):
        out += rules(spec)
    return out


def _metadata(meta: dict[str, Any], at: Path, kind: str) -> list[Violation]:
    out = []
    if kind:  # a pod template's metadata has no name
        name = meta.get("name") or ""
        detail = _NAME_RULES.get(kind, names.dns_subdomain)(name)
        if detail:
            out.append(invalid((*at, "name"), name, detail))
    namespace = meta.get("namespace")
    if namespace is not None and names.dns_label(namespace):
        out.append(invalid((*at, "namespace"), namespace, names.dns_label(namespace) or ""))
    found = meta.get("labels")
    if found:
        out += labels(found, (*at, "labels"))
    annotations = meta.get("annotations")
    if annotations:
        out += _annotations(annotations, (*at, "annotations"))
    return out


def _annotations(annotations: dict[str, Any], at: Path) -> list[Violation]:
    out = [invalid((*at, key), key, names.qualified_name(key) or "") for key in annotations if not good_key(key)]
    # characters first (C-level sums: most objects are far below the limit); bytes, what the limit counts,
    # only when the text is long enough to matter
    size = sum(map(len, map(str, annotations))) + sum(map(len, map(str, annotations.values())))
    if size * 4 > names.ANNOTATIONS_BYTES:
        size = sum(len(str(k).encode()) + len(str(v).encode()) for k, v in annotations.items())
        if size > names.ANNOTATIONS_BYTES:
            out.append(Violation(at, f"Too long: must have at most {names.ANNOTATIONS_BYTES} bytes"))
    return out


def _template(spec: dict[str, Any], restart: tuple[str, ...]) -> Iterator[Violation]:
    template = spec.get("template")
    if not isinstance(template, dict):
        yield required(("spec", "template"))
        return
    yield from _metadata(template.get("metadata") or {}, ("spec", "template", "metadata"), "")
    yield from podspec.pod_spec(template.get("spec"), ("spec", "template", "spec"), restart)


def _deployment(spec: dict[str, Any]) -> list[Violation]:
    out = list(_template(spec, ("Always",)))
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    expressions = (spec.get("selector") or {}).get("matchExpressions")
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if not selector and not expressions:
        out.append(invalid(("spec", "selector"), {}, "empty selector is invalid for deployment"))
    elif any(template_labels.get(k) != v for k, v in selector.items()):
        out.append(
            invalid(
                ("spec", "template", "metadata", "labels"),
                template_labels,
                "`selector` does not match template `labels`",
            )
        )
        out += labels(selector, ("spec", "selector", "matchLabels"))
    # else every selector pair is a template label, judged already
    out += _non_negative(spec, ("replicas", "minReadySeconds", "revisionHistoryLimit"))
    strategy = (spec.get("strategy") or {}).get("type", "RollingUpdate")
    if strategy not in ("RollingUpdate", "Recreate"):
        out.append(unsupported(("spec", "strategy", "type"), strategy, ("Recreate", "RollingUpdate")))
    return out


def _job(spec: dict[str, Any]) -> list[Violation]:
    out = list(_template(spec, ("OnFailure", "Never")))
    if "selector" in spec and spec.get("manualSelector") is not True:
        out.append(invalid(("spec", "selector"), spec["selector"], "`selector` will be auto-generated"))
    out += _non_negative(spec, ("backoffLimit", "completions", "parallelism", "ttlSecondsAfterFinished"))
    deadline = spec.get("activeDeadlineSeconds")
    if isinstance(deadline, int) and deadline <= 0:
        out.append(invalid(("spec", "activeDeadlineSeconds"), deadline, "must be greater than 0"))
    return out


def _service(spec: dict[str, Any]) -> list[Violation]:
    out: list[Violation] = []
    kind = spec.get("type", "ClusterIP")
    if kind not in _SERVICE_TYPES:
        out.append(unsupported(("spec", "type"), kind, _SERVICE_TYPES))
    ports = spec.get("ports") or []
    if not ports and kind != "ExternalName":
        out.append(required(("spec", "ports")))
    seen: set[str] = set()
    keys: set[tuple[Any, Any]] = set()
    for i, port in enumerate(ports):
        out += _service_port(port, ("spec", "ports", i), seen, len(ports) > 1, kind)
        key = (port.get("port"), port.get("protocol", "TCP"))
        if key in keys:  # ValidateService: no two ports of one number and protocol (and the list-map's key)
            out.append(duplicate(("spec", "ports", i), port.get("port")))
        keys.add(key)
    selector = spec.get("selector")
    if not selector and kind != "ExternalName":  # our rule: a rendered Service must route to its pods
        out.append(required(("spec", "selector"), "a Service nim-reconciler renders must select its pods"))
    out += labels(selector, ("spec", "selector"))
    return out


def _service_port(port: dict[str, Any], at: Path, seen: set[str], named: bool, kind: str) -> Iterator[Violation]:
    name = port.get("name", "")
    if named and not name:
        yield required((*at, "name"))
    elif name and names.dns_label(name):
        yield invalid((*at, "name"), name, names.dns_label(name) or "")
    elif name in seen:
        yield duplicate((*at, "name"), name)
    seen.add(name)
    number = port.get("port")
    if not isinstance(number, int) or not 1 <= number <= 65535:
        yield invalid((*at, "port"), number, "must be between 1 and 65535, inclusive")
    target = port.get("targetPort")
    if isinstance(target, int) and not 1 <= target <= 65535:
        yield invalid((*at, "targetPort"), target, "must be between 1 and 65535, inclusive")
    elif isinstance(target, str) and names.port_name(target):
        yield invalid((*at, "targetPort"), target, names.port_name(target) or "")
    if "nodePort" in port and kind not in ("NodePort", "LoadBalancer"):
        yield Violation((*at, "nodePort"), f"Forbidden: may not be used when `type` is '{kind}'")


def scales_to_zero(metrics: object) -> bool:
    """Whether HPA ``metrics`` can drive a scale from zero (kube-apiserver: an Object or External metric)."""
    return isinstance(metrics, list) and any(
        isinstance(m, dict) and m.get("type") in ("Object", "External") for m in metrics
    )


_SCALE_TO_ZERO = "Forbidden: must specify at least one Object or External metric to support scaling to zero replicas"


def _hpa(spec: dict[str, Any]) -> list[Violation]:
    out: list[Violation] = []
    low, high = spec.get("minReplicas", 1), spec.get("maxReplicas")
    # 0 is taken as a cluster with the HPAScaleToZero gate takes it (validate warns that the gate is needed)
    if isinstance(low, int) and low < 0:
        out.append(invalid(("spec", "minReplicas"), low, "must be greater than or equal to 0"))
    elif low == 0 and not scales_to_zero(spec.get("metrics")):
        out.append(Violation(("spec", "metrics"), _SCALE_TO_ZERO))
    if not isinstance(high, int) or high < 1:
        out.append(invalid(("spec", "maxReplicas"), high, "must be greater than 0"))
    elif isinstance(low, int) and high < low:
        out.append(invalid(("spec", "maxReplicas"), high, "must be greater than or equal to `minReplicas`"))
    target = spec.get("scaleTargetRef") or {}
    for key in ("kind", "name"):
        if not target.get(key):
            out.append(required(("spec", "scaleTargetRef", key)))
    for i, metric in enumerate(spec.get("metrics") or []):
        kind = str(metric.get("type", ""))
        source = kind[:1].lower() + kind[1:]
        if source not in metric:
            out.append(
                required(
                    ("spec", "metrics", i, source or "type"),
                    f"must populate information for the given metric source {kind!r}",
                )
            )
    return out


def _ingress(spec: dict[str, Any]) -> list[Violation]:
    out: list[Violation] = []
    cls = spec.get("ingressClassName")
    if cls and names.dns_subdomain(cls):
        out.append(invalid(("spec", "ingressClassName"), cls, names.dns_subdomain(cls) or ""))
    for i, rule in enumerate(spec.get("rules") or []):
        at: Path = ("spec", "rules", i)
        if rule.get("host") and names.host(rule["host"]):
            out.append(invalid((*at, "host"), rule["host"], names.host(rule["host"]) or ""))
        for j, item in enumerate((rule.get("http") or {}).get("paths") or []):
            out += _ingress_path(item, (*at, "http", "paths", j))
    return out


def _ingress_path(item: dict[str, Any], at: Path) -> Iterator[Violation]:
    kind, path = item.get("pathType"), item.get("path", "")
    if kind is None:
        yield required((*at, "pathType"), "pathType must be specified")
    elif kind not in _PATH_TYPES:
        yield unsupported((*at, "pathType"), kind, _PATH_TYPES)
    elif kind != "ImplementationSpecific" and not str(path).startswith("/"):
        yield invalid((*at, "path"), path, "must be an absolute path")
    service = (item.get("backend") or {}).get("service")
    if not isinstance(service, dict) or not service.get("name"):
        yield required((*at, "backend", "service", "name"))
    elif not (service.get("port") or {}).get("number") and not (service.get("port") or {}).get("name"):
        yield required((*at, "backend", "service", "port"), "port name or number is required")


def _claim(spec: dict[str, Any]) -> list[Violation]:
    out: list[Violation] = []
    modes = spec.get("accessModes") or []
    if not modes:
        out.append(required(("spec", "accessModes"), "at least 1 access mode is required"))
    out += [
        unsupported(("spec", "accessModes", i), m, _ACCESS_MODES) for i, m in enumerate(modes) if m not in _ACCESS_MODES
    ]
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    if storage is None:
        out.append(required(("spec", "resources", "requests", "storage")))
    elif (podspec.amount(storage) or 0) <= 0:
        out.append(invalid(("spec", "resources", "requests", "storage"), storage, "must be greater than zero"))
    cls = spec.get("storageClassName")
    if cls and names.dns_subdomain(cls):
        out.append(invalid(("spec", "storageClassName"), cls, names.dns_subdomain(cls) or ""))
    mode = spec.get("volumeMode", "Filesystem")
    if mode not in ("Filesystem", "Block"):
        out.append(unsupported(("spec", "volumeMode"), mode, ("Block", "Filesystem")))
    return out


def _non_negative(spec: dict[str, Any], keys: tuple[str, ...]) -> list[Violation]:
    return [
        invalid(("spec", k), spec[k], "must be greater than or equal to 0")
        for k in keys
        if isinstance(spec.get(k), int) and spec[k] < 0
    ]


_KINDS: dict[str, Callable[[dict[str, Any]], list[Violation]]] = {
    "Deployment": _deployment,
    "Job": _job,
    "Service": _service,
    "HorizontalPodAutoscaler": _hpa,
    "Ingress": _ingress,
    "PersistentVolumeClaim": _claim,
}
