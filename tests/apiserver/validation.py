"""kube-apiserver's validation of the built-in kinds nim-reconciler writes, for the test API server.

Written separately from the product's offline admission (``reconciler/validate/admission.py``), from the same
source — Kubernetes' ``pkg/apis/*/validation`` — so that a scenario test catches what offline admission missed.
Each check appends ``(field, message)`` causes as a 422 Status carries them. Types and unknown fields are checked
first against Kubernetes' strict OpenAPI schemas (server-side apply refuses both).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from reconciler.quantity import try_parse

from .. import k8s_openapi
from . import fields

Causes = list[tuple[str, str]]
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_IANA = re.compile(r"^(?=.*[a-z])[a-z0-9]([a-z0-9]|-(?!-))*[a-z0-9]$|^[a-z]$")
SCHEMA_KINDS = (
    "Deployment",
    "Job",
    "Service",
    "ServiceAccount",
    "PersistentVolumeClaim",
    "HorizontalPodAutoscaler",
    "Ingress",
    "Namespace",
    "Pod",
)


def check(obj: dict[str, Any], gates: frozenset[str] = frozenset()) -> Causes:
    """Every cause kube-apiserver would give for refusing ``obj`` (a create or the result of an update), with
    the feature ``gates`` it was started with (kube-apiserver's defaults: none of the alpha ones)."""
    kind = obj.get("kind")
    if kind in SCHEMA_KINDS:
        schema = [_schema_cause(e) for e in k8s_openapi.errors(_without_server_fields(obj))]
        if schema:
            return schema
    out: Causes = _duplicate_keys(obj, "") if kind in SCHEMA_KINDS else []
    _meta(obj.get("metadata") or {}, "metadata", out)
    spec = obj.get("spec") or {}
    if kind == "Pod":  # ValidatePod: the pod spec as in a template, any restart policy
        _pod({"spec": spec}, "", ("Always", "OnFailure", "Never"), out)
        out[:] = [(field.removeprefix("."), message) for field, message in out]
    elif kind == "Deployment":
        _deployment(spec, out)
    elif kind == "Job":
        _pod(spec.get("template") or {}, "spec.template", ("OnFailure", "Never"), out)
    elif kind == "Service":
        _service(spec, out)
    elif kind == "HorizontalPodAutoscaler":
        _hpa(spec, gates, out)
    elif kind == "Ingress":
        for i, rule in enumerate(spec.get("rules") or []):
            for j, path in enumerate((rule.get("http") or {}).get("paths") or []):
                where = f"spec.rules[{i}].http.paths[{j}]"
                if path.get("pathType") not in ("Exact", "Prefix", "ImplementationSpecific"):
                    out.append((f"{where}.pathType", "Unsupported value"))
                elif path["pathType"] != "ImplementationSpecific" and not str(path.get("path", "")).startswith("/"):
                    out.append((f"{where}.path", "Invalid value: must be an absolute path"))
    elif kind == "PersistentVolumeClaim":
        if not spec.get("accessModes"):
            out.append(("spec.accessModes", "Required value: at least 1 access mode is required"))
        if not ((spec.get("resources") or {}).get("requests") or {}).get("storage"):
            out.append(("spec.resources[storage]", "Required value"))
    return out


MAX_CONFIG_MAP_BYTES = 1 << 20  # core.MaxSecretSize: what ValidateConfigMap allows its values to add up to


def config_map(obj: dict[str, Any]) -> Causes:
    """ValidateConfigMap's rules our records depend on: no key in both ``data`` and ``binaryData``, and the values
    of ``data`` (UTF-8 bytes) and of ``binaryData`` (decoded) at most 1 MiB together, whatever the keys (the cause
    names the whole object, as kube-apiserver's ``[]`` does)."""
    data, binary = obj.get("data") or {}, obj.get("binaryData") or {}
    out: Causes = [(f"binaryData[{k}]", "Invalid value: duplicate of key present in data") for k in binary if k in data]
    total = sum(len(str(v).encode("utf-8", "surrogatepass")) for v in data.values())
    total += sum(len(str(v)) * 3 // 4 for v in binary.values())  # base64 in JSON
    if total > MAX_CONFIG_MAP_BYTES:
        out.append(("[]", f"Too long: must have at most {MAX_CONFIG_MAP_BYTES} bytes"))
    return out


def _duplicate_keys(node: Any, at: str) -> Causes:
    """Two elements of one key in any list-map (env by name, ports by number and protocol, …): structured-merge-
    diff cannot build the object and kube-apiserver refuses the request, whatever the kind's validation says."""
    out: Causes = []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _duplicate_keys(value, f"{at}.{key}" if at else key)
    elif isinstance(node, list):
        keys = fields.list_keys(at.rsplit(".", 1)[-1], node)
        seen: set[str] = set()
        for i, item in enumerate(node):
            if keys is not None:
                values = {k: item.get(k, "TCP" if k == "protocol" else None) for k in keys}
                shown = ",".join(f"{k}={json.dumps(v)}" for k, v in values.items())
                if shown in seen:
                    out.append((f"{at}[{i}]", f"duplicate entries for key [{shown}]"))
                seen.add(shown)
            out += _duplicate_keys(item, f"{at}[{i}]")
    return out


def _hpa(spec: dict[str, Any], gates: frozenset[str], out: Causes) -> None:
    """ValidateHorizontalPodAutoscalerSpec: the lower bound of minReplicas is 1, or 0 with HPAScaleToZero, and
    zero needs an Object or External metric (nothing else can wake a scaled-down target)."""
    lowest = 0 if "HPAScaleToZero" in gates else 1
    low, high = spec.get("minReplicas", 1), spec.get("maxReplicas", 0)
    if low < lowest:
        out.append(("spec.minReplicas", f"Invalid value: {low}: must be greater than or equal to {lowest}"))
    elif low == 0 and not any(m.get("type") in ("Object", "External") for m in spec.get("metrics") or []):
        reason = "must specify at least one Object or External metric to support scaling to zero replicas"
        out.append(("spec.metrics", f"Forbidden: {reason}"))
    if high < max(low, 1):
        out.append(("spec.maxReplicas", f"Invalid value: {high}: must be greater than or equal to `minReplicas`"))


def _schema_cause(error: str) -> tuple[str, str]:
    where, _, message = error.partition(": ")
    if "unexpected" in message:
        return where, f"Forbidden: field not declared in schema: {message}"
    return where, f"Invalid value: {message}"


def _without_server_fields(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "status"}


def _meta(meta: dict[str, Any], at: str, out: Causes) -> None:
    for key, value in (meta.get("labels") or {}).items():
        if not _qualified(key):
            out.append((f"{at}.labels", f'Invalid value: "{key}": name part must be a qualified name'))
        if not isinstance(value, str) or len(value) > 63 or (value and not _NAME.match(value)):
            out.append((f"{at}.labels", f'Invalid value: "{value}": a valid label must be an empty string or ...'))
    size = 0
    for key, value in (meta.get("annotations") or {}).items():
        if not _qualified(key):
            out.append((f"{at}.annotations", f'Invalid value: "{key}": name part must be a qualified name'))
        size += len(key) + len(str(value))
    if size > 262144:
        out.append((f"{at}.annotations", "Too long: must have at most 262144 bytes"))


def _qualified(key: str) -> bool:
    parts = key.split("/")
    if len(parts) > 2 or not parts[-1] or len(parts[-1]) > 63 or not _NAME.match(parts[-1]):
        return False
    return len(parts) == 1 or (len(parts[0]) <= 253 and bool(_SUBDOMAIN.match(parts[0])))


def _deployment(spec: dict[str, Any], out: Causes) -> None:
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if not selector and not (spec.get("selector") or {}).get("matchExpressions"):
        out.append(("spec.selector", "Invalid value: empty selector is invalid for deployment"))
    elif any(labels.get(k) != v for k, v in selector.items()):
        out.append(("spec.template.metadata.labels", "Invalid value: `selector` does not match template `labels`"))
    _pod(template, "spec.template", ("Always",), out)


def _pod(template: dict[str, Any], at: str, policies: tuple[str, ...], out: Causes) -> None:
    _meta(template.get("metadata") or {}, f"{at}.metadata", out)
    pod = template.get("spec") or {}
    at = f"{at}.spec"
    if pod.get("restartPolicy", "Always") not in policies:
        out.append((f"{at}.restartPolicy", f"Unsupported value: {pod.get('restartPolicy')!r}"))
    volumes: set[str] = set()
    for i, volume in enumerate(pod.get("volumes") or []):
        name = volume.get("name", "")
        if not _LABEL.match(name) or name in volumes:
            out.append((f"{at}.volumes[{i}].name", f'Invalid value: "{name}"'))
        volumes.add(name)
        if len(volume) != 2:
            out.append((f"{at}.volumes[{i}]", "Invalid value: exactly one volume type"))
    if not pod.get("containers"):
        out.append((f"{at}.containers", "Required value"))
    names: set[str] = set()
    ports: set[str] = set()
    for key in ("initContainers", "containers"):
        for i, container in enumerate(pod.get(key) or []):
            _container(container, f"{at}.{key}[{i}]", volumes, names, ports, out)


def _container(c: dict[str, Any], at: str, volumes: set[str], names: set[str], ports: set[str], out: Causes) -> None:
    if not _LABEL.match(c.get("name", "")) or c.get("name") in names:
        out.append((f"{at}.name", f'Invalid value: "{c.get("name")}"'))
    names.add(c.get("name", ""))
    if not c.get("image"):
        out.append((f"{at}.image", "Required value"))
    for i, port in enumerate(c.get("ports") or []):
        name = port.get("name")
        if name is not None and (len(name) > 15 or not _IANA.match(name) or name in ports):
            out.append((f"{at}.ports[{i}].name", f'Invalid value: "{name}"'))
        if name is not None:
            ports.add(name)
        if not 0 < port.get("containerPort", 0) < 65536:
            out.append((f"{at}.ports[{i}].containerPort", "Invalid value: must be between 1 and 65535, inclusive"))
    env_names: set[str] = set()
    for i, var in enumerate(c.get("env") or []):
        if not var.get("name") or "=" in var["name"] or not var["name"].isascii() or not var["name"].isprintable():
            out.append((f"{at}.env[{i}].name", f'Invalid value: "{var.get("name")}"'))
        env_names.add(var.get("name", ""))
    paths: set[str] = set()
    for i, mount in enumerate(c.get("volumeMounts") or []):
        if mount.get("name") not in volumes:
            out.append((f"{at}.volumeMounts[{i}].name", f'Not found: "{mount.get("name")}"'))
        if mount.get("mountPath") in paths:
            out.append((f"{at}.volumeMounts[{i}].mountPath", "Invalid value: must be unique"))
        paths.add(mount.get("mountPath", ""))
    _resources(c.get("resources") or {}, f"{at}.resources", out)
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        handlers = [h for h in ("exec", "httpGet", "tcpSocket", "grpc") if h in (c.get(probe) or {})]
        if probe in c and len(handlers) != 1:
            out.append(
                (
                    f"{at}.{probe}",
                    "Forbidden: may not specify more than 1 handler type"
                    if handlers
                    else "Required value: must specify a handler type",
                )
            )


def _resources(resources: dict[str, Any], at: str, out: Causes) -> None:
    limits = {k: try_parse(v) for k, v in (resources.get("limits") or {}).items()}
    for name, raw in (resources.get("requests") or {}).items():
        request, limit = try_parse(raw), limits.get(name)
        standard = name in ("cpu", "memory", "ephemeral-storage")
        if request is None:
            out.append((f"{at}.requests[{name}]", f"Invalid value: {raw!r}"))
        elif standard and limit is not None and request > limit:
            out.append((f"{at}.requests", f"Invalid value: {raw!r}: must be less than or equal to {name} limit"))
        elif not standard and (limit is None or Decimal(request) != limit):
            out.append((f"{at}.requests", f"Invalid value: {raw!r}: must be equal to {name} limit"))


def _service(spec: dict[str, Any], out: Causes) -> None:
    ports = spec.get("ports") or []
    if not ports and spec.get("type") != "ExternalName":
        out.append(("spec.ports", "Required value"))
    seen: set[str] = set()
    for i, port in enumerate(ports):
        name = port.get("name", "")
        if (len(ports) > 1 and not name) or (name and (not _LABEL.match(name) or name in seen)):
            out.append((f"spec.ports[{i}].name", f'Invalid value: "{name}"'))
        seen.add(name)
        if not 0 < port.get("port", 0) < 65536:
            out.append((f"spec.ports[{i}].port", "Invalid value: must be between 1 and 65535, inclusive"))
