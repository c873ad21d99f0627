"""`reconcile doctor`: the seed's troubleshooting section as checks against the cluster.

``needs(objects)`` lists what to read (pure); ``gather`` reads it through the cluster seam (I/O);
``diagnose(objects, cluster)`` turns what was read into findings (pure). Secrets are checked by key name only:
their values are dropped as soon as they are read, and never reach a finding, the output or a log.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.cluster.api import ClusterApi
from reconciler.kinds import BY_KIND, CUSTOM_KINDS, Kind
from reconciler.objects import DesiredObject, cache_name

SECRET = Kind("Secret", "v1", "secrets")
STORAGE_CLASS = Kind("StorageClass", "storage.k8s.io/v1", "storageclasses", namespaced=False)
NODE = Kind("Node", "v1", "nodes", namespaced=False)
DOCKER_CONFIG = "kubernetes.io/dockerconfigjson"
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"


@dataclass(frozen=True)
class Finding:
    ok: bool
    subject: str
    message: str

    def __str__(self) -> str:
        return f"{'ok' if self.ok else 'error'}: {self.subject}: {self.message}"


@dataclass(frozen=True)
class Cluster:
    """What doctor read: secret key names (never values), pull-secret types, classes, nodes, PVCs, caches."""

    secrets: Mapping[tuple[str, str], tuple[str, set[str]] | None] = field(default_factory=dict)
    storage_classes: Sequence[dict[str, Any]] = ()
    nodes: Sequence[dict[str, Any]] = ()
    pvcs: Mapping[tuple[str, str], bool] = field(default_factory=dict)
    caches: Sequence[dict[str, Any]] = ()


@dataclass(frozen=True)
class Needs:
    secrets: set[tuple[str, str]]
    pvcs: set[tuple[str, str]]


def _source(cache: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    source = (cache.get("spec") or {}).get("source") or {}
    kind = next(iter(source), "ngc")
    return kind, source.get(kind) or {}


def _secrets(objects: Sequence[DesiredObject]) -> list[tuple[str, str, str, str, str]]:
    """(subject, namespace, secret, expected key or '' for a pull secret, what for)."""
    out = []
    caches = {(o.ref.namespace, o.ref.name): o.body for o in objects if o.ref.kind == "NIMCache"}
    for obj in objects:
        spec, ns, subject = obj.body.get("spec") or {}, obj.ref.namespace, str(obj.ref)
        if obj.ref.kind == "NIMCache":
            kind, source = _source(obj.body)
            if source.get("authSecret"):  # an NGC cache may name none (a warning at validate, not a doctor error)
                out.append((subject, ns, source["authSecret"], "NGC_API_KEY" if kind == "ngc" else "HF_TOKEN", "auth"))
            if source.get("pullSecret"):
                out.append((subject, ns, source["pullSecret"], "", "pull"))
        elif obj.ref.kind == "NIMService":
            if spec.get("authSecret"):
                out.append((subject, ns, spec["authSecret"], "NGC_API_KEY", "auth"))
                cache = caches.get((ns, cache_name(obj.body) or ""))
                if cache is not None and _source(cache)[0] in ("hf", "dataStore"):
                    out.append((subject, ns, spec["authSecret"], "HF_TOKEN", "auth"))
            out += [(subject, ns, name, "", "pull") for name in (spec.get("image") or {}).get("pullSecrets") or []]
    return out


def needs(objects: Sequence[DesiredObject]) -> Needs:
    secrets = {(ns, name) for _, ns, name, _, _ in _secrets(objects)}
    pvcs = set()
    for obj in objects:
        pvc = (((obj.body.get("spec") or {}).get("storage") or {}).get("pvc")) or {}
        if obj.ref.kind in CUSTOM_KINDS and pvc and pvc.get("create") is not True and pvc.get("name"):
            pvcs.add((obj.ref.namespace, pvc["name"]))
    return Needs(secrets, pvcs)


def gather(api: ClusterApi, objects: Sequence[DesiredObject], selector: str) -> Cluster:
    """Read what the checks need: one GET per referenced Secret and existing PVC, one LIST of classes, nodes, caches."""
    wanted = needs(objects)
    secrets: dict[tuple[str, str], tuple[str, set[str]] | None] = {}
    for namespace, name in sorted(wanted.secrets):
        secret = api.get(SECRET, namespace, name)
        # keep the type and the key names; the values are dropped here
        secrets[(namespace, name)] = (
            None
            if secret is None
            else (
                str(secret.get("type", "Opaque")),
                set(secret.get("data") or {}) | set(secret.get("stringData") or {}),
            )
        )
    pvcs = {key: api.get(BY_KIND["PersistentVolumeClaim"], *key) is not None for key in sorted(wanted.pvcs)}
    return Cluster(
        secrets, api.list(STORAGE_CLASS, ""), api.list(NODE, ""), pvcs, api.list(BY_KIND["NIMCache"], selector)
    )


def diagnose(objects: Sequence[DesiredObject], cluster: Cluster) -> list[Finding]:
    findings = [_secret(s, cluster) for s in _secrets(objects)]
    findings += _storage(objects, cluster) + _nodes(objects, cluster) + _existing_pvcs(objects, cluster)
    for cache in cluster.caches:
        if (cache.get("status") or {}).get("state") == "Failed":
            meta = cache["metadata"]
            command = f"kubectl logs -n {meta['namespace']} -l nimcache={meta['name']}"
            findings.append(
                Finding(
                    False,
                    f"NIMCache/{meta['namespace']}/{meta['name']}",
                    f"caching failed; read its logs with: {command}",
                )
            )
    return findings


def _secret(entry: tuple[str, str, str, str, str], cluster: Cluster) -> Finding:
    subject, ns, name, key, purpose = entry
    found = cluster.secrets.get((ns, name))
    if found is None:
        return Finding(False, subject, f"Secret {ns}/{name} does not exist ({purpose} secret)")
    kind, keys = found
    if purpose == "pull":
        ok = kind == DOCKER_CONFIG
        return Finding(ok, subject, f"pull secret {name} is of type {kind}" + ("" if ok else f", not {DOCKER_CONFIG}"))
    if key not in keys:
        return Finding(False, subject, f"Secret {name} has no key {key} (it has: {', '.join(sorted(keys)) or 'none'})")
    return Finding(True, subject, f"Secret {name} holds {key}")


def _storage(objects: Sequence[DesiredObject], cluster: Cluster) -> list[Finding]:
    names = {c["metadata"]["name"] for c in cluster.storage_classes}
    default = any(
        (c["metadata"].get("annotations") or {}).get(DEFAULT_CLASS) == "true" for c in cluster.storage_classes
    )
    out = []
    for obj in objects:
        if obj.ref.kind != "PersistentVolumeClaim":
            continue
        wanted = (obj.body.get("spec") or {}).get("storageClassName")
        if wanted:
            out.append(
                Finding(
                    wanted in names,
                    str(obj.ref),
                    f"StorageClass {wanted} "
                    + ("exists" if wanted in names else "does not exist (kubectl get storageclass)"),
                )
            )
        else:
            out.append(
                Finding(
                    default,
                    str(obj.ref),
                    "the default StorageClass is used"
                    if default
                    else "no StorageClass named and the cluster has no default one",
                )
            )
    return out


def _nodes(objects: Sequence[DesiredObject], cluster: Cluster) -> list[Finding]:
    out = []
    for obj in objects:
        if obj.ref.kind != "Job":
            continue
        selector = ((obj.body["spec"]["template"].get("spec") or {}).get("nodeSelector")) or {}
        matching = [
            n
            for n in cluster.nodes
            if all((n["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
        ]
        labels = ", ".join(f"{k}={v}" for k, v in selector.items())
        out.append(
            Finding(
                bool(matching),
                str(obj.ref),
                f"{len(matching)} node(s) match its node selector ({labels})"
                if matching
                else f"no node matches its node selector ({labels}): no GPU node?",
            )
        )
    return out


def _existing_pvcs(objects: Sequence[DesiredObject], cluster: Cluster) -> list[Finding]:
    out = []
    for ns, name in sorted(needs(objects).pvcs):
        exists = cluster.pvcs.get((ns, name), False)
        out.append(
            Finding(
                exists,
                f"PersistentVolumeClaim/{ns}/{name}",
                "exists" if exists else "does not exist, and create is not true: create it first",
            )
        )
    return out
