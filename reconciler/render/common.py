"""What every render context shares: labels, env merging, proxy env, pull secrets (pure).

The contexts hand templates plain data with every default applied, so the templates stay declarative.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.documents import NimResource, get
from reconciler.objects import SOURCE_ANNOTATION, labels

DEFAULT_UID, DEFAULT_GID = 1000, 2000
MODEL_STORE = "/model-store"

Env = list[dict[str, Any]]


@dataclass(frozen=True)
class Site:
    """Where the objects go and come from: the cluster name and the source file relative to the repo."""

    cluster: str
    source: str


def merge_env(base: Sequence[Mapping[str, Any]], winner: Sequence[Mapping[str, Any]]) -> Env:
    """The operator's MergeEnvVars: every entry of ``winner`` in order, then ``base`` entries it does not name."""
    names = {e.get("name") for e in winner}
    return [dict(e) for e in winner] + [dict(e) for e in base if e.get("name") not in names]


def env_list(value: Any) -> Env:
    """A manifest's ``env`` as a list of fresh dicts ([] when it is not a list)."""
    return [dict(e) for e in value] if isinstance(value, list) else []


def proxy_env(proxy: Any) -> Env:
    """The proxy variables the operator prepends (and lets win) when ``spec.proxy`` is set."""
    if not isinstance(proxy, dict):
        return []
    https, http, no = proxy.get("httpsProxy", ""), proxy.get("httpProxy", ""), proxy.get("noProxy", "")
    pairs = [
        ("NIM_SDK_USE_NATIVE_TLS", "1"),
        ("HTTPS_PROXY", https),
        ("HTTP_PROXY", http),
        ("NO_PROXY", no),
        ("https_proxy", https),
        ("http_proxy", http),
        ("no_proxy", no),
    ]
    return [{"name": k, "value": v} for k, v in pairs]


def cert_config_map(res: NimResource) -> str | None:
    """The ConfigMap of custom CAs (``spec.proxy.certConfigMap``), or None."""
    value = get(res.spec, "proxy", "certConfigMap")
    return value if isinstance(value, str) and value else None


# The script of the operator's CA init container: copy the custom CAs in, rebuild the bundle, hand it over.
UPDATE_CA_SCRIPT = (
    "set -e; "
    'for f in /custom/*.crt; do [ -e "$f" ] && cp "$f" /usr/local/share/ca-certificates/; done; '
    'for f in /custom/*.pem; do [ -e "$f" ] && cp "$f" '
    '"/usr/local/share/ca-certificates/$(basename "$f" .pem)-pem.crt"; done; '
    "update-ca-certificates; cp -r /etc/ssl/* /ca-certs/"
)


CA_MOUNT = {"name": "ca-cert-volume", "mountPath": "/etc/ssl"}  # where the main containers read the bundle
CA_INIT_MOUNTS = [
    {"name": "ca-cert-volume", "mountPath": "/ca-certs"},
    {"name": "custom-ca", "mountPath": "/custom"},
]


def ca_volumes(config_map: str) -> list[dict[str, Any]]:
    """The volumes of the CA bundle: an emptyDir the init container fills, and the user's ConfigMap of CAs."""
    return [{"name": "ca-cert-volume", "emptyDir": {}}, {"name": "custom-ca", "configMap": {"name": config_map}}]


def ca_init(image: str, pull_policy: str | None, mounts: list[dict[str, Any]]) -> dict[str, Any]:
    """The operator's ``update-ca-certificates`` init container (runs as root to rebuild the bundle)."""
    container: dict[str, Any] = {"name": "update-ca-certificates", "image": image}
    if pull_policy:
        container["imagePullPolicy"] = pull_policy
    container["command"] = ["/bin/sh", "-c", UPDATE_CA_SCRIPT]
    container["securityContext"] = {"runAsUser": 0, "runAsNonRoot": False}
    container["volumeMounts"] = mounts
    return container


def pvc_context(
    name: str, namespace: str, pvc: Mapping[str, Any], labels: dict[str, str], source: str
) -> dict[str, Any]:
    """The context of a PVC we create (``storage.pvc`` with ``create: true``), for a NIMCache or a NIMService."""
    return {
        "name": name,
        "namespace": namespace,
        "labels": labels,
        "annotations": {**(pvc.get("annotations") or {}), SOURCE_ANNOTATION: source},
        "access_mode": pvc.get("volumeAccessMode"),
        "size": pvc.get("size"),
        "storage_class": pvc.get("storageClass") or None,
    }


def pull_secrets(names: Iterable[Any]) -> list[dict[str, str]]:
    """``imagePullSecrets`` entries for the names given, leaving out empty ones."""
    return [{"name": n} for n in names if isinstance(n, str) and n]


def init_container(spec: Mapping[str, Any], default_pull_policy: str | None) -> dict[str, Any]:
    """A user init or sidecar container (``NIMContainerSpec``) as a Kubernetes container, without mounts/env."""
    image = spec.get("image") or {}
    out: dict[str, Any] = {"name": spec["name"], "image": f"{image.get('repository')}:{image.get('tag')}"}
    policy = image.get("pullPolicy") or default_pull_policy
    if policy:
        out["imagePullPolicy"] = policy
    for key in ("command", "args", "workingDir"):
        if spec.get(key):
            out[key] = spec[key]
    return out


def with_defaults(labels: Mapping[str, str], extra: Any) -> dict[str, str]:
    """``extra`` labels or annotations under ``labels``: on a clash the standard ones win (the operator's rule)."""
    merged = dict(extra) if isinstance(extra, dict) else {}
    merged.update(labels)
    return merged


def namespace_context(res: NimResource, site: Site) -> dict[str, Any]:
    """What namespace.yaml.j2 renders a Namespace manifest from."""
    meta = res.body["metadata"]
    return {
        "name": res.name,
        "labels": with_defaults(labels(site.cluster), meta.get("labels")),
        "annotations": {**(meta.get("annotations") or {}), SOURCE_ANNOTATION: site.source},
    }


def resource_context(res: NimResource, site: Site) -> dict[str, Any]:
    """What a custom resource's own template renders it from: the manifest, with our labels and source."""
    meta = res.body["metadata"]
    return {
        "name": res.name,
        "namespace": res.namespace,
        "labels": with_defaults(labels(site.cluster), meta.get("labels")),
        "annotations": {**(meta.get("annotations") or {}), SOURCE_ANNOTATION: site.source},
        "spec": res.spec,
    }


def relative(path: str, root: Path) -> str:
    """``path`` relative to the repo ``root``, with forward slashes (as the source annotation shows it)."""
    absolute = os.path.abspath(path)
    prefix = str(root) + os.sep
    if absolute.startswith(prefix):  # the common case, without relpath's cost
        return absolute[len(prefix) :].replace(os.sep, "/")
    try:
        return Path(os.path.relpath(absolute, root)).as_posix()
    except ValueError:
        return Path(path).as_posix()
