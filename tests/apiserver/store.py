"""The test API server's object store and verbs, with kube-apiserver's semantics (no HTTP here).

Every verb returns ``(status code, body)``; bodies of errors are ``Status`` objects with reason and code.
"""

from __future__ import annotations

import collections
import copy
import datetime
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from . import admission, fields

STATUS_KINDS = {"Deployment", "Job", "PersistentVolumeClaim", "Service", "HorizontalPodAutoscaler", "Pod"}
SYSTEM_META = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "deletionTimestamp")


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


BUILTIN = [
    Resource("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims"),
    Resource("", "v1", "Service", "services"),
    Resource("", "v1", "ServiceAccount", "serviceaccounts"),
    Resource("", "v1", "ConfigMap", "configmaps"),
    Resource("", "v1", "Secret", "secrets"),
    Resource("", "v1", "Event", "events"),
    Resource("", "v1", "Pod", "pods"),
    Resource("", "v1", "Node", "nodes", namespaced=False),
    Resource("", "v1", "Namespace", "namespaces", namespaced=False),
    Resource("batch", "v1", "Job", "jobs"),
    Resource("apps", "v1", "Deployment", "deployments"),
    Resource("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
    Resource("networking.k8s.io", "v1", "Ingress", "ingresses"),
    Resource("coordination.k8s.io", "v1", "Lease", "leases"),
    Resource("storage.k8s.io", "v1", "StorageClass", "storageclasses", namespaced=False),
    Resource("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", namespaced=False),
]


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, causes: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.causes = code, reason, message, causes or []

    def status(self, kind: str = "", name: str = "") -> dict[str, Any]:
        details: dict[str, Any] = {"name": name, "kind": kind}
        if self.causes:
            details["causes"] = self.causes
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": details,
            "code": self.code,
        }


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Change:
    """One entry of the watch cache: the resourceVersion it made, ADDED / MODIFIED / DELETED, the object after
    (for a deletion: its last state) and before."""

    version: int
    type: str
    key: tuple[str, str, str]
    obj: dict[str, Any]
    old: dict[str, Any] | None


class Store:
    """Objects by (plural-key, namespace, name), a resourceVersion counter, and per-object field ownership."""

    def __init__(self, namespaces: tuple[str, ...] = ("default", "kube-system")) -> None:
        self.lock = threading.RLock()
        self.feature_gates: frozenset[str] = frozenset()  # kube-apiserver's --feature-gates (alpha ones off)
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.owners: dict[tuple[str, str, str], dict[str, set[fields.Path]]] = {}
        self.version = 1000
        self.ips = 10
        # The watch cache: every change since ``oldest``, as kube-apiserver's watch cache keeps a window of them
        # (``--watch-cache-sizes``); a watch from a resourceVersion before the window gets 410 Gone.
        self.changes: collections.deque[Change] = collections.deque(maxlen=5000)
        self.oldest = self.version
        self.changed = threading.Condition(self.lock)
        self._served: list[Resource] | None = None  # discovery, recomputed when a CRD changes
        for name in namespaces:
            self.add_namespace(name)

    def add_namespace(self, name: str) -> None:
        namespace = next(r for r in BUILTIN if r.plural == "namespaces")
        self.create(namespace, "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, "test", False)

    # --- resources ---------------------------------------------------------------------------------------------

    def resources(self) -> list[Resource]:
        """Built-in kinds, plus each custom resource while its CRD exists (like the real discovery)."""
        served = self._served
        if served is not None:
            return served
        with self.lock:  # built and kept under the lock: a CRD written meanwhile cannot leave a stale list behind
            self._served = self._discovered()
            return self._served

    def _discovered(self) -> list[Resource]:
        out = list(BUILTIN)
        for (plural, _, _), crd in list(self.objects.items()):
            if plural != "customresourcedefinitions":
                continue
            spec = crd["spec"]
            for version in spec.get("versions", []):
                if version.get("served", True):
                    out.append(
                        Resource(
                            spec["group"],
                            version["name"],
                            spec["names"]["kind"],
                            spec["names"]["plural"],
                            spec.get("scope", "Namespaced") == "Namespaced",
                        )
                    )
        return out

    def resource(self, group: str, version: str, plural: str) -> Resource | None:
        return next((r for r in self.resources() if (r.group, r.version, r.plural) == (group, version, plural)), None)

    def has_status(self, res: Resource) -> bool:
        if res.kind in STATUS_KINDS:
            return True
        crd = self.objects.get(("customresourcedefinitions", "", f"{res.plural}.{res.group}"))
        versions = crd["spec"].get("versions", []) if crd else []
        return any("status" in (v.get("subresources") or {}) for v in versions)

    # --- verbs -------------------------------------------------------------------------------------------------

    def get(self, res: Resource, ns: str, name: str) -> dict[str, Any]:
        with self.lock:
            obj = self.objects.get((res.plural, ns, name))
            if obj is None:
                raise ApiError(
                    404, "NotFound", f'{res.plural}.{res.group or "core"} "{name}" not found'.replace(".core", "")
                )
            return copy.deepcopy(obj)

    def list(self, res: Resource, ns: str, selector: Any) -> dict[str, Any]:
        with self.lock:
            items = [
                copy.deepcopy(o)
                for (p, n, _), o in sorted(self.objects.items())
                if p == res.plural and (not ns or n == ns) and selector(o["metadata"].get("labels") or {})
            ]
            return {
                "kind": f"{res.kind}List",
                "apiVersion": res.api_version,
                "metadata": {"resourceVersion": str(self.version)},
                "items": items,
            }

    def create(self, res: Resource, ns: str, body: dict[str, Any], manager: str, dry: bool) -> dict[str, Any]:
        with self.lock:
            obj = self._prepare_new(res, ns, body)
            key = (res.plural, ns, obj["metadata"]["name"])
            if key in self.objects:
                raise ApiError(409, "AlreadyExists", f'{res.plural} "{key[2]}" already exists')
            owners = {manager: fields.field_set(_tracked(body))}  # what was sent, not what defaulting added
            return self._store(key, obj, owners, "Update", manager, dry)

    def update(
        self, res: Resource, ns: str, name: str, body: dict[str, Any], manager: str, dry: bool, subresource: str = ""
    ) -> dict[str, Any]:
        with self.lock:
            key = (res.plural, ns, name)
            old = self.get(res, ns, name)
            wanted = body.get("metadata", {}).get("resourceVersion")
            if wanted and wanted != old["metadata"]["resourceVersion"]:
                raise ApiError(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {res.plural} "{name}": the object '
                    "has been modified; please apply your changes to the latest version and try again",
                )
            new = self._split_status(res, old, copy.deepcopy(body), subresource)
            admission.canonicalize(new)
            given = new.get("metadata", {}).get("managedFields")
            if given and given != old["metadata"].get("managedFields"):
                # kube-apiserver: managedFields sent in a write replace the object's field ownership as given
                owners = {
                    e["manager"] + (f"/{e['subresource']}" if e.get("subresource") else ""): fields.from_fields_v1(
                        e.get("fieldsV1") or {}
                    )
                    for e in given
                    if isinstance(e, dict) and e.get("manager")
                }
                return self._replace(res, key, old, new, {m: p for m, p in owners.items() if p}, manager, dry)
            return self._replace(
                res,
                key,
                old,
                new,
                fields.update(_tracked(old), _tracked(new), manager, self.owners.get(key, {})),
                manager,
                dry,
            )

    def merge_patch(
        self, res: Resource, ns: str, name: str, patch: dict[str, Any], manager: str, dry: bool, subresource: str = ""
    ) -> dict[str, Any]:
        with self.lock:
            old = self.get(res, ns, name)
            return self.update(
                res,
                ns,
                name,
                _merge_patch(old, patch)
                | {"metadata": _merge_patch(old["metadata"], patch.get("metadata", {})) | {"resourceVersion": ""}},
                manager,
                dry,
                subresource,
            )

    def apply(
        self,
        res: Resource,
        ns: str,
        name: str,
        body: dict[str, Any],
        manager: str,
        force: bool,
        dry: bool,
        subresource: str = "",
    ) -> tuple[int, dict[str, Any]]:
        with self.lock:
            key = (res.plural, ns, name)
            if body.get("metadata", {}).get("name") != name:
                raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
            if key not in self.objects:
                obj = self._prepare_new(res, ns, body)
                owners = {manager: fields.field_set(_tracked(body))}
                return 201, self._store(key, obj, owners, "Apply", manager, dry)
            old = self.get(res, ns, name)
            config = copy.deepcopy(body)
            status_write = subresource == "status" and self.has_status(res)
            if status_write:  # the status subresource takes only status
                config = {"metadata": config.get("metadata", {}), "status": config.get("status", {})}
            elif self.has_status(res):
                config.pop("status", None)
            owner = f"{manager}/status" if status_write else manager  # ownership is tracked per subresource
            admission.canonicalize(config)  # conflicts are decided on decoded (canonical) values
            try:
                merged, owners = fields.apply(_tracked(old), _tracked(config), owner, self.owners.get(key, {}), force)
            except fields.Conflict as exc:
                causes = [
                    {"type": "FieldManagerConflict", "message": f'conflict with "{m}"', "field": fields.dotted(p)}
                    for m, p in exc.conflicts
                ]
                names = ", ".join(sorted({f'"{m}"' for m, _ in exc.conflicts}))
                raise ApiError(
                    409,
                    "Conflict",
                    f"Apply failed with {len(causes)} conflict(s): conflict with {names}: "
                    + ", ".join(c["field"] for c in causes),
                    causes,
                ) from exc
            if "status" in old and not status_write:
                merged["status"] = old["status"]
            return 200, self._replace(res, key, old, merged, owners, owner, dry, operation="Apply")

    def delete(self, res: Resource, ns: str, name: str, policy: str, dry: bool) -> dict[str, Any]:
        with self.lock:
            obj = self.get(res, ns, name)
            if not dry:
                self._remove((res.plural, ns, name), obj["metadata"]["uid"], policy)
            return obj

    # --- internals ---------------------------------------------------------------------------------------------

    def _prepare_new(self, res: Resource, ns: str, body: dict[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(body)
        obj["apiVersion"], obj["kind"] = res.api_version, res.kind
        meta = obj.setdefault("metadata", {})
        if res.namespaced:
            if meta.get("namespace", ns) != ns:
                raise ApiError(400, "BadRequest", "the namespace of the object does not match the namespace on the URL")
            if ("namespaces", "", ns) not in self.objects:  # the NamespaceLifecycle admission plugin
                raise ApiError(404, "NotFound", f'namespaces "{ns}" not found')
            meta["namespace"] = ns
        admission.validate_name(obj)
        admission.validate_object(obj, self.feature_gates)
        meta["uid"] = str(uuid.uuid4())
        meta["generation"] = 1
        meta["creationTimestamp"] = _now()
        admission.default(obj, meta["uid"], self._cluster_ip())
        return obj

    def _cluster_ip(self) -> str:
        self.ips += 1
        return f"10.96.{self.ips // 250}.{self.ips % 250 + 1}"

    def _split_status(
        self, res: Resource, old: dict[str, Any], new: dict[str, Any], subresource: str
    ) -> dict[str, Any]:
        """The status subresource: spec writes ignore status, status writes ignore everything else."""
        if not self.has_status(res):
            return new
        if subresource == "status":
            kept = copy.deepcopy(old)
            kept["status"] = new.get("status", {})
            return kept
        if "status" in old:
            new["status"] = old["status"]
        else:
            new.pop("status", None)
        return new

    def _replace(
        self,
        res: Resource,
        key: tuple[str, str, str],
        old: dict[str, Any],
        new: dict[str, Any],
        owners: dict[str, set[fields.Path]],
        manager: str,
        dry: bool,
        operation: str = "Update",
    ) -> dict[str, Any]:
        new["apiVersion"], new["kind"] = res.api_version, res.kind
        meta = new.setdefault("metadata", {})
        for k in SYSTEM_META:
            if k in old["metadata"]:
                meta[k] = old["metadata"][k]
        meta["name"], meta["namespace"] = old["metadata"]["name"], old["metadata"].get("namespace")
        if not res.namespaced:
            meta.pop("namespace", None)
        admission.default(new, meta["uid"], old.get("spec", {}).get("clusterIP", ""))
        admission.validate_update(old, new)
        admission.validate_object(new, self.feature_gates)
        if _spec_of(old) != _spec_of(new):
            meta["generation"] = old["metadata"].get("generation", 1) + 1
        if _without_meta_noise(old) == _without_meta_noise(new) and owners == self.owners.get(key, {}):
            return old  # a no-op write does not bump resourceVersion
        return self._store(key, new, owners, operation, manager, dry)

    def _store(
        self,
        key: tuple[str, str, str],
        obj: dict[str, Any],
        owners: dict[str, set[fields.Path]],
        operation: str,
        manager: str,
        dry: bool,
    ) -> dict[str, Any]:
        if dry:
            obj["metadata"]["resourceVersion"] = obj["metadata"].get("resourceVersion", "0")
            return obj
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)
        obj["metadata"]["managedFields"] = [
            _entry(m, p, obj, operation if m == manager else "Update") for m, p in sorted(owners.items())
        ]
        self._changed("MODIFIED" if key in self.objects else "ADDED", key, obj, self.objects.get(key))
        self.objects[key] = obj
        self.owners[key] = owners
        if key[0] == "customresourcedefinitions":
            self._served = None
        return copy.deepcopy(obj)

    def _changed(self, kind: str, key: tuple[str, str, str], obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if len(self.changes) == self.changes.maxlen:
            self.oldest = self.changes[0].version
        self.changes.append(Change(self.version, kind, key, copy.deepcopy(obj), old))
        self.changed.notify_all()

    def compact(self) -> None:
        """Forget every change so far, as etcd's compaction does: older watches must list again (410 Gone)."""
        with self.lock:
            self.changes.clear()
            self.oldest = self.version

    def _remove(self, key: tuple[str, str, str], uid: str, policy: str) -> None:
        gone = self.objects.pop(key, None)
        if gone is not None:  # a deletion is a change too, at a new resourceVersion
            self.version += 1
            final = copy.deepcopy(gone)
            final["metadata"]["resourceVersion"] = str(self.version)
            self._changed("DELETED", key, final, gone)
        if key[0] == "customresourcedefinitions":
            self._served = None
        self.owners.pop(key, None)
        for other_key, other in list(self.objects.items()):
            refs = other["metadata"].get("ownerReferences") or []
            if not any(r.get("uid") == uid for r in refs):
                continue
            if policy == "Orphan":
                other["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != uid]
            elif not [r for r in refs if r.get("uid") != uid]:  # garbage collection of dependents
                self._remove(other_key, other["metadata"]["uid"], policy)


def _entry(owner: str, paths: set[fields.Path], obj: dict[str, Any], operation: str) -> dict[str, Any]:
    manager, _, subresource = owner.partition("/")
    entry = {
        "manager": manager,
        "operation": operation,
        "apiVersion": obj["apiVersion"],
        "time": _now(),
        "fieldsType": "FieldsV1",
        "fieldsV1": fields.to_fields_v1(paths),
    }
    if subresource:
        entry["subresource"] = subresource
    return entry


def _tracked(obj: dict[str, Any]) -> dict[str, Any]:
    """The part of an object whose fields are owned: no system metadata, no apiVersion/kind."""
    out = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    out["metadata"] = {k: v for k, v in obj.get("metadata", {}).items() if k not in (*SYSTEM_META, "name", "namespace")}
    if not out["metadata"]:
        out.pop("metadata")
    return out


def _spec_of(obj: dict[str, Any]) -> Any:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _without_meta_noise(obj: dict[str, Any]) -> Any:
    meta = {k: v for k, v in obj["metadata"].items() if k not in ("managedFields", "resourceVersion")}
    return {**obj, "metadata": meta}


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge_patch(out.get(key), value)
    return out
