"""What every render context shares: labels, env merging, proxy env, pull secrets (pure).

The contexts hand templates plain data with every default applied, so the templates stay declarative.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.rules import NimResource, get

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "nim-reconciler"
CLUSTER_LABEL = "nim-reconciler/cluster"
SOURCE_ANNOTATION = "nim-reconciler/source"
DEFAULT_UID, DEFAULT_GID = 1000, 2000
MODEL_STORE = "/model-store"

Env = list[dict[str, Any]]


@dataclass(frozen=True)
class Site:
    """Where the objects go and come from: the cluster name and the source file relative to the repo."""

    cluster: str
    source: str


def ours(site: Site) -> dict[str, str]:
    """The labels that mark an object as ours for this cluster (what prune selects on)."""
    return {MANAGED_BY: MANAGER, CLUSTER_LABEL: site.cluster}


def merge_env(base: Sequence[Mapping[str, Any]], winner: Sequence[Mapping[str, Any]]) -> Env:
    """The operator's MergeEnvVars: every entry of ``winner`` in order, then ``base`` entries it does not name."""
    names = {e.get("name") for e in winner}
    return [dict(e) for e in winner] + [dict(e) for e in base if e.get("name") not in names]


def env_list(value: Any) -> Env:
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


def pull_secrets(names: Iterable[Any]) -> list[dict[str, str]]:
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
