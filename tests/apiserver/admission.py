"""What kube-apiserver does to an object before storing it: defaulting, quantity canonicalisation, validation.

Only the behaviour nim-reconciler's code depends on is reproduced; each function says which.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from . import validation

_BINARY = [("Ei", 2**60), ("Pi", 2**50), ("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)]
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_QTY = re.compile(r"^([+-]?[0-9.]+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


class Invalid(Exception):
    """A 422: ``causes`` are (field, message) pairs, as in a Status body."""

    def __init__(self, causes: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {m}" for f, m in causes))
        self.causes = causes


def canonical_quantity(value: Any) -> str:
    """resource.Quantity's canonical form: ``4000m`` → ``4``, ``8192Mi`` → ``8Gi``, ``1.5Gi`` → ``1536Mi``."""
    text = str(value)
    match = _QTY.match(text)
    if not match:
        raise ValueError(text)
    number, suffix = Fraction(match.group(1)), match.group(2) or ""
    if suffix.endswith("i"):
        amount = number * dict(_BINARY)[suffix]
        if amount.denominator == 1:
            for name, size in _BINARY:
                if amount % size == 0 and amount != 0:
                    return f"{int(amount // size)}{name}"
            return str(int(amount))
        number, suffix = amount, ""
    if suffix[:1] in ("e", "E"):
        number, suffix = number * Fraction(10) ** int(suffix[1:]), ""
    amount = number * Fraction(10) ** _DECIMAL[suffix]
    for name, exponent in sorted(_DECIMAL.items(), key=lambda kv: -kv[1]):
        scaled = amount / Fraction(10) ** exponent
        if scaled.denominator == 1 and (scaled != 0 or exponent == 0):
            return f"{int(scaled)}{name}"
    nanos = -(-amount * 10**9 // 1)  # rounded up to nano precision, as Kubernetes does
    return f"{int(nanos)}n"


def _canonical_map(resources: Any) -> None:
    if isinstance(resources, dict):
        for key in ("requests", "limits"):
            values = resources.get(key)
            if isinstance(values, dict):
                for name, value in values.items():
                    values[name] = canonical_quantity(value)


def canonicalize(obj: dict[str, Any]) -> None:
    """Quantities in their canonical form, in place (what decoding into Go types does to every request)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if obj.get("kind") == "PersistentVolumeClaim":
        _canonical_map(spec.get("resources"))
    pod = spec.get("template", {}).get("spec") if isinstance(spec.get("template"), dict) else None
    if isinstance(pod, dict):
        for container in [*pod.get("initContainers", []), *pod.get("containers", [])]:
            _canonical_map(container.get("resources"))
        for volume in pod.get("volumes", []):
            empty = volume.get("emptyDir")
            if isinstance(empty, dict) and "sizeLimit" in empty:
                empty["sizeLimit"] = canonical_quantity(empty["sizeLimit"])


def _pod_spec(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
        image = str(container.get("image", ""))
        latest = ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")
        container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        for port in container.get("ports", []):
            port.setdefault("protocol", "TCP")


def default(obj: dict[str, Any], uid: str, cluster_ip: str) -> None:
    """Defaulting visible in responses, per kind (the subset our tests and code look at)."""
    canonicalize(obj)
    kind, spec = obj.get("kind"), obj.get("spec")
    if not isinstance(spec, dict):
        return
    if kind == "Job":
        selector = spec.setdefault("selector", {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}})
        labels = spec.setdefault("template", {}).setdefault("metadata", {}).setdefault("labels", {})
        labels.update(selector.get("matchLabels", {}))
        labels.setdefault("controller-uid", uid)
        labels.setdefault("batch.kubernetes.io/job-name", obj["metadata"]["name"])
        labels.setdefault("job-name", obj["metadata"]["name"])
        spec.setdefault("completions", 1)
        spec.setdefault("parallelism", 1)
        spec.setdefault("backoffLimit", 6)
        _pod_spec(spec["template"].setdefault("spec", {}))
    elif kind == "Deployment":
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        _pod_spec(spec.setdefault("template", {}).setdefault("spec", {}))
    elif kind == "Service":
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        spec.setdefault("clusterIP", cluster_ip)
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        for port in spec.get("ports", []):
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
    elif kind == "PersistentVolumeClaim":
        spec.setdefault("volumeMode", "Filesystem")


def validate_name(obj: dict[str, Any]) -> None:
    name = str(obj.get("metadata", {}).get("name", ""))
    kind = obj.get("kind")
    pattern, what = (
        (DNS_1035, "a DNS-1035 label") if kind == "Service" else (DNS_SUBDOMAIN, "a lowercase RFC 1123 subdomain")
    )
    if kind in ("Namespace",):
        pattern, what = DNS_LABEL, "a lowercase RFC 1123 label"
    if not name or not pattern.match(name) or len(name) > (63 if pattern is not DNS_SUBDOMAIN else 253):
        raise Invalid([("metadata.name", f'Invalid value: "{name}": a valid name must be {what}')])


def validate_object(obj: dict[str, Any], gates: frozenset[str] = frozenset()) -> None:
    """What kube-apiserver checks of a new or changed object: its OpenAPI schema and its kind's validation for
    the built-in kinds we write (``validation.py``), the structural-schema rules for CRDs."""
    if obj.get("kind") in validation.SCHEMA_KINDS:
        causes = validation.check(obj, gates)
        if causes:
            raise Invalid(causes)
    if obj.get("kind") == "ConfigMap":
        causes = validation.config_map(obj)
        if causes:
            raise Invalid(causes)
    if obj.get("kind") == "CustomResourceDefinition":
        causes = []
        for i, version in enumerate((obj.get("spec") or {}).get("versions") or []):
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            where = f"spec.versions[{i}].schema.openAPIV3Schema"
            if schema is None:
                causes.append((where, "Required value: schemas are required"))
            else:
                causes += _structural(schema, where, junctor=False)
        if causes:
            raise Invalid(causes)


# apiextensions-apiserver (pkg/apiserver/schema, validation of CustomResourceDefinitions) as far as our CRDs go
_JUNCTORS = ("allOf", "anyOf", "oneOf")
_FORBIDDEN = ("$ref", "$schema", "definitions", "id", "additionalItems", "patternProperties", "dependencies")


def _structural(node: Any, where: str, junctor: bool) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = [(f"{where}.{k}", "Forbidden: must not be set") for k in _FORBIDDEN if k in node]
    if node.get("uniqueItems") is True:
        out.append((f"{where}.uniqueItems", "Forbidden: uniqueItems cannot be set to true"))
    if junctor:
        out += [
            (f"{where}.{k}", "Forbidden: must be empty to be structural")
            for k in ("type", "additionalProperties", "default", "nullable")
            if k in node
        ]
    else:
        lenient = node.get("x-kubernetes-int-or-string") or node.get("x-kubernetes-preserve-unknown-fields")
        if not node.get("type") and not lenient:
            out.append((f"{where}.type", "Required value: must not be empty for specified object fields"))
        if node.get("type") == "array" and "items" not in node:
            out.append((f"{where}.items", "Required value: must be specified"))
        if "properties" in node and "additionalProperties" in node:
            out.append(
                (f"{where}.additionalProperties", "Forbidden: additionalProperties and properties are mutual exclusive")
            )
    children = [(f"{where}.properties[{k}]", v, junctor) for k, v in (node.get("properties") or {}).items()]
    children += [
        (f"{where}.{k}", node[k], junctor) for k in ("items", "additionalProperties") if isinstance(node.get(k), dict)
    ]
    children += [(f"{where}.{k}[{i}]", b, True) for k in _JUNCTORS for i, b in enumerate(node.get(k) or [])]
    if isinstance(node.get("not"), dict):
        children.append((f"{where}.not", node["not"], True))
    for path, child, inside in children:
        out += _structural(child, path, inside)
    return out


def validate_update(old: dict[str, Any], new: dict[str, Any]) -> None:
    """Immutable fields: a Job's selector and pod template; a PVC's spec, except growing its storage request."""
    kind = new.get("kind")
    if kind == "Job":
        for field in ("template", "selector"):
            if old["spec"].get(field) != new["spec"].get(field):
                raise Invalid([(f"spec.{field}", "Invalid value: field is immutable")])
    if kind == "PersistentVolumeClaim":
        before, after = dict(old["spec"]), dict(new["spec"])
        old_size = before.pop("resources", {}).get("requests", {}).get("storage")
        new_size = after.pop("resources", {}).get("requests", {}).get("storage")
        if before != after:
            message = "Forbidden: spec is immutable after creation except resources.requests for bound claims"
            raise Invalid([("spec", message)])
        if old_size and new_size and _bytes(new_size) < _bytes(old_size):
            raise Invalid([("spec.resources.requests.storage", "Forbidden: field can not be less than previous value")])


def _bytes(value: str) -> Fraction:
    match = _QTY.match(str(value))
    assert match
    suffix = match.group(2) or ""
    if suffix.endswith("i"):
        return Fraction(match.group(1)) * dict(_BINARY)[suffix]
    if suffix[:1] in ("e", "E"):
        return Fraction(match.group(1)) * Fraction(10) ** int(suffix[1:])
    return Fraction(match.group(1)) * Fraction(10) ** _DECIMAL[suffix]
