"""What kube-apiserver's ValidatePodSpec refuses in a pod template, for the fields our templates render (pure).

Written from Kubernetes' ``pkg/apis/core/validation``: volume names and sources, container names, images,
ports, env, mounts, resources, probes, restart policy, node selector and tolerations. Messages take
kube-apiserver's form (``Invalid value``, ``Required value``, ``Duplicate value`` …) so they read like the
error the cluster would have given.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Any

from reconciler import quantity
from reconciler.validate import names
from reconciler.validate.violations import Path, Violation, duplicate, invalid, labels, required, unsupported

_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
_PROTOCOLS = ("TCP", "UDP", "SCTP")
_STANDARD = ("cpu", "memory", "ephemeral-storage")
_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def pod_spec(spec: Any, at: Path, restart: tuple[str, ...]) -> list[Violation]:
    """Every violation in a pod template's spec at ``at``; ``restart`` is the restart policies the kind allows."""
    out: list[Violation] = []
    if not isinstance(spec, dict):
        out.append(required(at))
        return out
    volumes = {v.get("name", "") for v in spec.get("volumes") or [] if isinstance(v, dict)}
    out += _volumes(spec.get("volumes") or [], (*at, "volumes"))
    containers = spec.get("containers") or []
    if not containers:
        out.append(required((*at, "containers")))
    seen: set[str] = set()
    ports: set[str] = set()
    for key in ("initContainers", "containers"):
        for i, container in enumerate(spec.get(key) or []):
            out += _container(container, (*at, key, i), volumes, seen, ports, init=key == "initContainers")
    pulls: set[str] = set()
    for i, secret in enumerate(spec.get("imagePullSecrets") or []):
        name = secret.get("name", "") if isinstance(secret, dict) else ""
        if name in pulls:  # a list-map keyed by name, like env: server-side apply refuses a second entry
            out.append(duplicate((*at, "imagePullSecrets", i, "name"), name))
        pulls.add(name)
    policy = spec.get("restartPolicy", "Always")
    if policy not in restart:
        out.append(unsupported((*at, "restartPolicy"), policy, restart))
    out += labels(spec.get("nodeSelector"), (*at, "nodeSelector"))
    for i, toleration in enumerate(spec.get("tolerations") or []):
        out += _toleration(toleration, (*at, "tolerations", i))
    account = spec.get("serviceAccountName")
    if account and names.dns_subdomain(account):
        out.append(invalid((*at, "serviceAccountName"), account, names.dns_subdomain(account) or ""))
    user = (spec.get("securityContext") or {}).get("runAsUser")
    if isinstance(user, int) and user < 0:
        out.append(invalid((*at, "securityContext", "runAsUser"), user, "must be between 0 and 2147483647, inclusive"))
    return out


def _volumes(volumes: list[Any], at: Path) -> list[Violation]:
    """Each volume: a unique DNS-label name and exactly one source."""
    out: list[Violation] = []
    found: set[str] = set()
    for i, volume in enumerate(volumes):
        where = (*at, i)
        out += _unique_name(volume.get("name", "") if isinstance(volume, dict) else "", (*where, "name"), found)
        sources = [k for k in volume if k != "name"] if isinstance(volume, dict) else []
        if not sources:
            out.append(required(where, "must specify a volume type"))
        elif len(sources) > 1:
            out.append(Violation((*where, sources[1]), "Forbidden: may not specify more than 1 volume type"))
        elif sources[0] == "persistentVolumeClaim" and not (volume[sources[0]] or {}).get("claimName"):
            out.append(required((*where, "persistentVolumeClaim", "claimName")))
    return out


def _unique_name(name: str, at: Path, seen: set[str]) -> list[Violation]:
    """A volume's or a container's name: present, a DNS label, not taken in the pod (``seen`` grows)."""
    taken = name in seen
    seen.add(name)
    if not name:
        return [required(at)]
    detail = names.dns_label(name)
    if detail:
        return [invalid(at, name, detail)]
    return [duplicate(at, name)] if taken else []


def _container(c: Any, at: Path, volumes: set[str], seen: set[str], ports: set[str], *, init: bool) -> list[Violation]:
    out: list[Violation] = []
    if not isinstance(c, dict):
        out.append(required(at))
        return out
    out += _unique_name(c.get("name", ""), (*at, "name"), seen)
    if not str(c.get("image") or "").strip():
        out.append(required((*at, "image")))
    out += _ports(c.get("ports") or [], (*at, "ports"), ports)
    out += _env(c.get("env") or [], (*at, "env"))
    out += _mounts(c.get("volumeMounts") or [], (*at, "volumeMounts"), volumes)
    out += _resources(c.get("resources") or {}, (*at, "resources"))
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if probe in c:
            if init and c.get("restartPolicy") != "Always":  # only sidecar init containers may have probes
                out.append(
                    Violation((*at, probe), "Forbidden: may not be set for init containers without restartPolicy")
                )
            out += _probe(c[probe], (*at, probe), probe != "readinessProbe")
    return out


def _ports(items: list[Any], at: Path, seen: set[str]) -> list[Violation]:
    out: list[Violation] = []
    keys: set[tuple[Any, Any]] = set()
    for i, port in enumerate(items):
        where = (*at, i)
        number = port.get("containerPort")
        if not isinstance(number, int) or not 1 <= number <= 65535:
            out.append(invalid((*where, "containerPort"), number, "must be between 1 and 65535, inclusive"))
        key = (number, port.get("protocol", "TCP"))
        if key in keys:  # a list-map keyed by containerPort and protocol: server-side apply refuses a second entry
            out.append(duplicate((*where, "containerPort"), number))
        keys.add(key)
        name = port.get("name")
        if name is not None:
            detail = names.port_name(name)
            if detail:
                out.append(invalid((*where, "name"), name, detail))
            elif name in seen:  # unique within the pod, across containers
                out.append(duplicate((*where, "name"), name))
            seen.add(name)
        protocol = port.get("protocol", "TCP")
        if protocol not in _PROTOCOLS:
            out.append(unsupported((*where, "protocol"), protocol, _PROTOCOLS))
    return out


def _env(items: list[Any], at: Path) -> list[Violation]:
    out: list[Violation] = []
    seen: set[str] = set()
    for i, var in enumerate(items):
        where = (*at, i)
        name = var.get("name", "")
        if not name:
            out.append(required((*where, "name")))
        elif names.env_name(name):
            out.append(invalid((*where, "name"), name, names.env_name(name) or ""))
        elif name in seen:  # env is a list-map keyed by name: server-side apply refuses two entries of one key
            out.append(duplicate((*where, "name"), name))
        seen.add(name)
        source = var.get("valueFrom")
        if source is not None:
            if var.get("value"):
                out.append(invalid((*where, "valueFrom"), "", "may not be specified when `value` is not empty"))
            if not isinstance(source, dict) or len(source) != 1:
                detail = (
                    "may not have more than one field specified at a time"
                    if isinstance(source, dict) and source
                    else "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"
                )
                out.append(invalid((*where, "valueFrom"), "", detail))
    return out


def _mounts(items: list[Any], at: Path, volumes: set[str]) -> list[Violation]:
    out: list[Violation] = []
    paths: set[str] = set()
    for i, mount in enumerate(items):
        where = (*at, i)
        name, path = mount.get("name", ""), str(mount.get("mountPath") or "")
        if not name:
            out.append(required((*where, "name")))
        elif name not in volumes:
            out.append(Violation((*where, "name"), f'Not found: "{name}"'))
        if not path:
            out.append(required((*where, "mountPath")))
        elif path in paths:
            out.append(invalid((*where, "mountPath"), path, "must be unique"))
        paths.add(path)
        sub = str(mount.get("subPath") or "")
        if sub.startswith("/"):
            out.append(invalid((*where, "subPath"), sub, "must be a relative path"))
        elif ".." in sub.split("/"):
            out.append(invalid((*where, "subPath"), sub, "must not contain '..'"))
    return out


def _resources(resources: dict[str, Any], at: Path) -> list[Violation]:
    out: list[Violation] = []
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    parsed: dict[str, dict[str, Any]] = {"requests": {}, "limits": {}}
    for key, values in (("limits", limits), ("requests", requests)):
        for name, value in values.items():
            where = (*at, key, name)
            if "/" not in name and name not in _STANDARD and not name.startswith("hugepages-"):
                out.append(invalid(where, name, "must be a standard resource type or fully qualified"))
            number = amount(value)
            if number is None:
                out.append(invalid(where, value, "must match the regular expression of a quantity"))
            elif number < 0:
                out.append(invalid(where, value, "must be greater than or equal to 0"))
            else:
                parsed[key][name] = number
    for name, number in parsed["requests"].items():
        where, limit = (*at, "requests", name), parsed["limits"].get(name)
        if _overcommitable(name):
            if limit is not None and number > limit:
                out.append(
                    invalid(where, requests[name], f"must be less than or equal to {name} limit of {limits[name]}")
                )
        elif limit is None:
            message = f"Required value: Limit must be set for non overcommitable resource {name}"
            out.append(Violation((*at, "limits"), message))
        elif number != limit:
            out.append(invalid(where, requests[name], f"must be equal to {name} limit of {limits[name]}"))
    return out


@lru_cache(maxsize=4096)  # the same few quantities on every pod
def _cached_amount(value: str | int | float) -> Decimal | None:
    return quantity.try_parse(value)


def amount(value: Any) -> Decimal | None:
    """A quantity's value (memoised: the same few on every pod), or None when it is not one."""
    return _cached_amount(value) if isinstance(value, str | int | float) else None


def _overcommitable(name: str) -> bool:
    """Standard resources may be overcommitted; extended ones (``nvidia.com/gpu``) and hugepages may not."""
    return name in _STANDARD or name.startswith("kubernetes.io/")


def _probe(probe: Any, at: Path, single_success: bool) -> list[Violation]:
    out: list[Violation] = []
    if not isinstance(probe, dict):
        return out
    handlers = [h for h in _HANDLERS if h in probe]
    if not handlers:
        out.append(required(at, "must specify a handler type"))
    for extra in handlers[1:]:
        out.append(Violation((*at, extra), "Forbidden: may not specify more than 1 handler type"))
    for key in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        value = probe.get(key)
        if isinstance(value, int) and value < 0:
            out.append(invalid((*at, key), value, "must be greater than or equal to 0"))
    if single_success and probe.get("successThreshold", 1) != 1:
        out.append(invalid((*at, "successThreshold"), probe["successThreshold"], "must be 1"))
    http = probe.get("httpGet")
    if isinstance(http, dict):
        out += _probe_port(http.get("port"), (*at, "httpGet", "port"))
    tcp = probe.get("tcpSocket")
    if isinstance(tcp, dict):
        out += _probe_port(tcp.get("port"), (*at, "tcpSocket", "port"))
    return out


def _probe_port(port: Any, at: Path) -> list[Violation]:
    out: list[Violation] = []
    if isinstance(port, int):
        if not 1 <= port <= 65535:
            out.append(invalid(at, port, "must be between 1 and 65535, inclusive"))
    elif port is None:
        out.append(required(at))
    elif names.port_name(port):
        out.append(invalid(at, port, names.port_name(port) or ""))
    return out


def _toleration(toleration: Any, at: Path) -> list[Violation]:
    out: list[Violation] = []
    if not isinstance(toleration, dict):
        return out
    key, operator = toleration.get("key", ""), toleration.get("operator", "Equal")
    if key and names.qualified_name(key):
        out.append(invalid((*at, "key"), key, names.qualified_name(key) or ""))
    if operator not in ("Equal", "Exists"):
        out.append(unsupported((*at, "operator"), operator, ("Equal", "Exists")))
    if not key and operator != "Exists":
        out.append(invalid((*at, "operator"), operator, "operator must be Exists when `key` is empty"))
    if operator == "Exists" and toleration.get("value"):
        out.append(invalid((*at, "operator"), toleration["value"], "value must be empty when `operator` is 'Exists'"))
    effect = toleration.get("effect", "")
    if effect and effect not in _EFFECTS:
        out.append(unsupported((*at, "effect"), effect, _EFFECTS))
    if "tolerationSeconds" in toleration and effect != "NoExecute":
        out.append(invalid((*at, "effect"), effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
    return out
