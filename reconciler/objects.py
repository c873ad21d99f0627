"""What every stage knows of the objects nim-reconciler manages (pure values and lookups).

One place for each domain fact: the labels that mark an object as ours, the selector that finds them, the
controller ownerReference to a custom resource and how to read it back, and which NIMCache a NIMService uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.kinds import API_VERSION, CUSTOM_KINDS, RANK
from reconciler.refs import ObjRef, SourceLocation

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "nim-reconciler"
CLUSTER_LABEL = "nim-reconciler/cluster"
SOURCE_ANNOTATION = "nim-reconciler/source"  # the manifest (path relative to the repo) an object came from
MANAGED = f"{MANAGED_BY}={MANAGER}"  # the selector of everything nim-reconciler manages, in any cluster


@dataclass(frozen=True)
class DesiredObject:
    """One object we want in the cluster, with the custom resource that owns it and where it came from."""

    body: dict[str, Any]
    owner: ObjRef | None
    source: SourceLocation

    @property
    def ref(self) -> ObjRef:
        """``Kind/namespace/name`` of the object."""
        meta = self.body["metadata"]
        return ObjRef(self.body["kind"], meta.get("namespace", ""), meta["name"])

    def identity(self) -> DesiredObject:
        """The object with only apiVersion, kind, name and namespace left of its body (what an offline plan
        and a name-collision check read)."""
        meta = self.body["metadata"]
        kept = {k: meta[k] for k in ("name", "namespace") if k in meta}
        body = {"apiVersion": self.body["apiVersion"], "kind": self.body["kind"], "metadata": kept}
        return DesiredObject(body, self.owner, self.source)

    def sort_key(self) -> tuple[int, str, str]:
        """Apply order: kind order, then namespace and name."""
        ref = self.ref
        return (RANK[ref.kind], ref.namespace, ref.name)


def labels(cluster: str) -> dict[str, str]:
    """The labels that mark an object as ours for ``cluster`` (what observe and prune select on)."""
    return {MANAGED_BY: MANAGER, CLUSTER_LABEL: cluster}


def selector(cluster: str | None = None) -> str:
    """The label selector of our objects: of one cluster, or (``None``) of every cluster."""
    return f"{MANAGED},{CLUSTER_LABEL}={cluster}" if cluster else MANAGED


def is_ours(obj: Mapping[str, Any]) -> bool:
    """The object carries our managed-by label (whatever its cluster)."""
    return ((obj.get("metadata") or {}).get("labels") or {}).get(MANAGED_BY) == MANAGER


def manager_of(obj: Mapping[str, Any]) -> str:
    """Who manages an object that is not ours, for messages: its managed-by label, else the field managers that
    wrote it (managedFields), else "an unknown manager"."""
    meta = obj.get("metadata") or {}
    label = (meta.get("labels") or {}).get(MANAGED_BY)
    if isinstance(label, str) and label and label != MANAGER:
        return label
    managers = sorted({str(f.get("manager")) for f in meta.get("managedFields") or [] if isinstance(f, Mapping)})
    managers = [m for m in managers if m and m not in ("None", MANAGER)]
    return ", ".join(managers) if managers else "an unknown manager"


def taken_over(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The managedFields of an object we adopt, with every field other managers own (outside subresources)
    moved to one server-side-apply entry of ours: our next apply then owns the whole object, and what we do not
    render (a port another tool added) is removed instead of left behind beside ours (pure)."""
    managed = [f for f in (obj.get("metadata") or {}).get("managedFields") or [] if isinstance(f, Mapping)]
    union: dict[str, Any] = {}
    kept = []
    for entry in managed:
        if entry.get("subresource"):  # status is the status writer's
            kept.append(dict(entry))
        else:
            union = _union(union, entry.get("fieldsV1") or {})
    ours = {
        "manager": MANAGER,
        "operation": "Apply",
        "apiVersion": str(obj.get("apiVersion", "")),
        "fieldsType": "FieldsV1",
        "fieldsV1": union,
    }
    return [ours, *kept]


def _union(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for key, value in b.items():
        both = isinstance(out.get(key), Mapping) and isinstance(value, Mapping)
        out[key] = _union(out[key], value) if both else value
    return out


def controller_reference(owner: ObjRef, uid: str) -> dict[str, Any]:
    """The controller ownerReference of a child to its custom resource (``uid`` may be '' until it exists)."""
    return {
        "apiVersion": API_VERSION,
        "kind": owner.kind,
        "name": owner.name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def owner_of(ref: ObjRef, body: Mapping[str, Any] | None) -> ObjRef | None:
    """The custom resource that owns ``ref``: itself for a custom resource, else its first ownerReference."""
    if ref.kind in CUSTOM_KINDS:
        return ref
    found = owners(ref.namespace, body)
    return found[0] if found else None


def jobs_by_owner(objects: Mapping[ObjRef, Mapping[str, Any]]) -> dict[ObjRef, list[ObjRef]]:
    """The Jobs among ``objects`` by the custom resource that owns them, in the mapping's order: one pass over a
    large run's objects, instead of one per cache."""
    found: dict[ObjRef, list[ObjRef]] = {}
    for ref, body in objects.items():
        owner = owner_of(ref, body) if ref.kind == "Job" else None
        if owner is not None:
            found.setdefault(owner, []).append(ref)
    return found


def owners(namespace: str, body: Mapping[str, Any] | None) -> list[ObjRef]:
    """Every owner named in ``body``'s ownerReferences (owners live in the object's namespace)."""
    refs = ((body or {}).get("metadata") or {}).get("ownerReferences") or []
    return [ObjRef(r["kind"], namespace, r["name"]) for r in refs if isinstance(r, dict) and "name" in r]


def cache_name(service_body: Mapping[str, Any]) -> str | None:
    """The NIMCache a NIMService uses (``spec.storage.nimCache.name``), or None (also for a malformed body)."""
    node: Any = service_body
    for key in ("spec", "storage", "nimCache", "name"):
        node = node.get(key) if isinstance(node, Mapping) else None
    return node if isinstance(node, str) and node else None


def cache_of(service: ObjRef, service_body: Mapping[str, Any]) -> ObjRef | None:
    """The NIMCache a NIMService uses, as a reference in the service's namespace, or None."""
    name = cache_name(service_body)
    return ObjRef("NIMCache", service.namespace, name) if name else None


def pvc_name(cache_body: Mapping[str, Any]) -> str:
    """The PVC a NIMCache caches into: ``storage.pvc.name``, default ``<name>-pvc`` (the operator's GetPVCName)."""
    pvc = ((cache_body.get("spec") or {}).get("storage") or {}).get("pvc") or {}
    return str(pvc.get("name") or f"{cache_body['metadata']['name']}-pvc")


SUSPEND = "nim-reconciler/reconcile"  # "disabled" on a NIMCache / NIMService manifest: leave it and its children be


def suspended(body: Mapping[str, Any]) -> bool:
    """Whether a custom resource's manifest suspends its reconciliation (``nim-reconciler/reconcile: disabled``)."""
    return ((body.get("metadata") or {}).get("annotations") or {}).get(SUSPEND) == "disabled"


SELECTED_PROFILES = "nvidia.com/selected-profiles"
# The operator reads an image's OCI label (com.nvidia.nim.model_download_protocol: native-v1) from the registry with
# the pull secret; we read no Secret and no registry, so the manifest says it (README: departures).
MODEL_LAYOUT = "nim-reconciler/model-layout"
NATIVE = "native"


def native(body: Mapping[str, Any]) -> bool:
    """Whether a NIMCache (or a NIMService without one) is annotated as a native (Retriever 2.x) NIM."""
    return ((body.get("metadata") or {}).get("annotations") or {}).get(MODEL_LAYOUT) == NATIVE


CREDENTIALS = ("pullSecret", "authSecret")  # how a source is reached, not what it holds


def content(cache_body: Mapping[str, Any]) -> dict[str, Any]:
    """What decides the bytes a NIMCache holds, by field path: its source (``modelPuller``, model selection and
    profiles, endpoint, model or dataset name, revision; not the credentials), the storage sub-path, and pinned
    profiles. Everything else of its spec (resources, scheduling, env, proxy, IDs, init containers) is how the
    caching Job runs: changing it needs no new download."""
    spec = cache_body.get("spec") or {}
    found: dict[str, Any] = {}
    for kind, block in ((spec.get("source") or {}) if isinstance(spec.get("source"), Mapping) else {}).items():
        if isinstance(block, Mapping):
            found |= {f"spec.source.{kind}.{k}": v for k, v in block.items() if k not in CREDENTIALS}
        else:
            found[f"spec.source.{kind}"] = block
    found["spec.storage.pvc.subPath"] = (((spec.get("storage") or {}).get("pvc")) or {}).get("subPath")
    annotations = (cache_body.get("metadata") or {}).get("annotations") or {}
    # pinned profiles, and the native layout (it downloads into another place of the PVC)
    for key in (SELECTED_PROFILES, MODEL_LAYOUT):
        found[f"metadata.annotations.{key}"] = annotations.get(key)
    return {k: v for k, v in found.items() if v is not None}


def content_change(new: Mapping[str, Any], old: Mapping[str, Any]) -> str:
    """The first field whose change alters a cache's content ('' when none does), in field order."""
    before, after = content(old), content(new)
    return next((k for k in sorted({*before, *after}) if before.get(k) != after.get(k)), "")


NGC_KEY_UNSET = "NGCAPIKeyUnset"  # the operator's Event reason, kept so alerts written for it match
NGC_KEY_MESSAGE = "no authSecret: NGC_API_KEY is not set, and a model that needs an NGC API key to download will fail"


def ngc_key_unset(body: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The field path of the missing NGC key, when ``body`` (a NIMCache from NGC, or a NIMService) names none;
    None otherwise. Since operator v3.1.3 the key is optional: a warning, not an error."""
    spec = body.get("spec") or {}
    if body.get("kind") == "NIMCache":
        ngc = (spec.get("source") or {}).get("ngc") if isinstance(spec.get("source"), dict) else None
        return ("spec", "source", "ngc") if isinstance(ngc, dict) and not ngc.get("authSecret") else None
    if body.get("kind") == "NIMService":
        return None if spec.get("authSecret") else ("spec",)
    return None


_PVC_FIELDS = ("name", "storageClass", "size", "volumeAccessMode", "subPath")


def storage_sources(storage: object) -> list[str]:
    """The storage sources a NIMService's ``spec.storage`` sets, counted as the operator's webhook counts them:
    ``nimCache`` with a name or profile, ``pvc`` with ``create`` or any non-empty field, ``emptyDir`` when
    present (even ``{}``), ``hostPath`` when a non-empty string. ``pvc: {}`` and ``nimCache: {}`` set nothing."""
    if not isinstance(storage, Mapping):
        return []
    cache, pvc = storage.get("nimCache"), storage.get("pvc")
    found = []
    if isinstance(cache, Mapping) and (cache.get("name") or cache.get("profile")):
        found.append("nimCache")
    if isinstance(pvc, Mapping) and (
        pvc.get("create") is not None or any(pvc.get(k) for k in _PVC_FIELDS) or pvc.get("annotations")
    ):
        found.append("pvc")
    if storage.get("emptyDir") is not None:
        found.append("emptyDir")
    if isinstance(storage.get("hostPath"), str) and storage["hostPath"]:
        found.append("hostPath")
    return found
