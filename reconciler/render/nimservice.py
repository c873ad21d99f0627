"""Render contexts for a NIMService's objects, as NVIDIA's operator builds them (standalone platform; pure).

Departures from the operator, each on purpose:
- no OpenShift SCC Role / RoleBinding and no ``openshift.io/required-scc`` annotation;
- no ``nvidia.com/parent-spec-hash`` (a Go-specific hash) and no ``operator-version`` label;
- ``tolerationSeconds`` and quoted nodeSelector values are kept;
- the GPU request from ``storage.nimCache.profile`` is derived only where the profile's tags are known, that is
  where the cache's selectors picked it in the cluster (the operator also probes caches with pinned profiles).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler import quantity
from reconciler.documents import NimResource, get
from reconciler.objects import SOURCE_ANNOTATION, cache_name, labels, native, storage_sources
from reconciler.refs import ObjRef
from reconciler.render import expose
from reconciler.render.common import (
    CA_INIT_MOUNTS,
    CA_MOUNT,
    DEFAULT_GID,
    DEFAULT_UID,
    MODEL_STORE,
    Env,
    Site,
    ca_init,
    ca_volumes,
    cert_config_map,
    env_list,
    init_container,
    merge_env,
    proxy_env,
    pull_secrets,
    pvc_context,
    with_defaults,
)
from reconciler.render.nimcache import NATIVE_MODEL, native_mounts, pvc_name, source_kind
from reconciler.selection import Selection

DEFAULT_PORT = 8000
PROBES = {
    "livenessProbe": ("/v1/health/live", 15, 3),
    "readinessProbe": ("/v1/health/ready", 15, 3),
    "startupProbe": ("/v1/health/ready", 30, 120),
}
GPU = "nvidia.com/gpu"
Caches = Mapping[tuple[str, str], NimResource]
Selections = Mapping[ObjRef, Selection]


def standard_labels(service: NimResource, site: Site) -> dict[str, str]:
    """The operator's labels of a NIMService's objects, ours, and the manifest's ``spec.labels``."""
    standard = {
        "app.kubernetes.io/name": service.name,
        "app.kubernetes.io/instance": service.name,
        "app.kubernetes.io/part-of": "nim-service",
        **labels(site.cluster),
    }
    return with_defaults(standard, get(service.spec, "labels"))


def object_annotations(service: NimResource, site: Site) -> dict[str, str]:
    """Our source annotation under the manifest's ``spec.annotations``."""
    return with_defaults({SOURCE_ANNOTATION: site.source}, get(service.spec, "annotations"))


def build(service: NimResource, site: Site, caches: Caches, selections: Selections | None = None) -> dict[str, Any]:
    """The context shared by every NIMService template. ``selections``: the caches' profile selections as the
    cluster shows them (None offline), for the GPU request of a service that names its cache's profile."""
    spec = service.spec
    service_spec = get(spec, "expose", "service") or {}
    ports = {"api": service_spec.get("port", DEFAULT_PORT)}
    for name, key in (("grpc", "grpcPort"), ("metrics", "metricsPort")):
        if service_spec.get(key) is not None:
            ports[name] = service_spec[key]
    cache = caches.get((service.namespace, cache_name(service.body) or ""))
    own = standard_labels(service, site)
    notes = object_annotations(service, site)
    return {
        "name": service.name,
        "namespace": service.namespace,
        "labels": own,
        "annotations": notes,
        "ports": ports,
        "service": {
            "type": service_spec.get("type", "ClusterIP"),
            "labels": with_defaults(own, service_spec.get("labels")),
            "annotations": {**notes, **(service_spec.get("annotations") or {})},
        },
        "deployment": {
            **_deployment(service, ports, cache),
            "resources": gpu_resources(service, cache, (selections or {}).get(cache.ref) if cache else None),
            # the selector's label last: spec.labels cannot take a pod out of its own Deployment and Service
            "pod_labels": {"app": service.name, **{k: v for k, v in own.items() if k != "app"}},
            # not our source annotation: moving a file must not restart GPU pods
            "pod_annotations": with_defaults({}, get(spec, "annotations")),
        },
        "pvc": _own_pvc(service, own, notes),
        "hpa": expose.hpa(service, notes),
        "ingress": expose.ingress(service, notes),
        "routes": expose.routes(service, ports, notes),
        "monitor": expose.monitor(service, own, ports, notes),
    }


def _deployment(service: NimResource, ports: dict[str, int], cache: NimResource | None) -> dict[str, Any]:
    spec = service.spec
    image = spec["image"]
    # the operator takes the cache's layout (its status.type); without a cache, the service's own
    layout_native = native(cache.body) if cache is not None else native(service.body)
    env = _env(service, ports, cache, layout_native)
    volumes, mounts = _volumes(service, cache, layout_native)
    pull_policy = image.get("pullPolicy")
    # Init containers see the model store as the NIM does (with the cache's sub-path), and /scratch when it exists.
    init_mounts = [m for m in mounts if m["name"] in ("model-store", "scratch")]
    inits = [_extra(c, pull_policy, env, init_mounts) for c in spec.get("initContainers") or []]
    if cert_config_map(service):
        inits = [ca_init(f"{image['repository']}:{image['tag']}", pull_policy, []), *inits]
        for container in inits:
            container["volumeMounts"] = [*init_mounts, *CA_INIT_MOUNTS]
    sidecars = [_extra(c, pull_policy, env, mounts) for c in spec.get("sidecarContainers") or []]
    return {
        "replicas": _replicas(service),
        "image": f"{image['repository']}:{image['tag']}",
        "pull_policy": pull_policy,
        "command": spec.get("command"),
        "args": spec.get("args"),
        "env": env,
        "probes": {name: _probe(spec.get(name), *default) for name, default in PROBES.items()},
        "volume_mounts": mounts,
        "volumes": volumes,
        "init_containers": inits,
        "sidecars": sidecars,
        "pod": {
            "schedulerName": spec.get("schedulerName"),
            "priorityClassName": spec.get("priorityClassName"),
            "runtimeClassName": spec.get("runtimeClassName"),
            "affinity": spec.get("affinity"),
            "nodeSelector": spec.get("nodeSelector"),
            "tolerations": spec.get("tolerations"),
            "imagePullSecrets": pull_secrets(image.get("pullSecrets") or []) or None,
        },
        "uid": spec.get("userID", DEFAULT_UID),
        "gid": spec.get("groupID", DEFAULT_GID),
    }


def gpu_resources(service: NimResource, cache: NimResource | None, chosen: Selection | None) -> Any:
    """``spec.resources``, with ``nvidia.com/gpu`` requested and limited as the operator assigns it: a service
    naming ``storage.nimCache.profile`` of an NGC optimized cache, the profile among those the cache downloads,
    and no GPU in its own requests or limits, gets the profile's ``tp`` (or ``tensorParallelism``) tag, else 1."""
    resources = service.spec.get("resources")
    profile = get(service.spec, "storage", "nimCache", "profile")
    ngc = get(cache.spec, "source", "ngc") if cache is not None else None
    if not profile or not isinstance(ngc, Mapping) or ngc.get("modelEndpoint") or chosen is None:
        return resources
    found = next((p for p in chosen.profiles if p.id == profile), None)
    own = resources if isinstance(resources, Mapping) else {}
    if found is None or any(GPU in (own.get(k) or {}) for k in ("requests", "limits")):
        return resources  # not a profile the cache holds (the operator finds none), or the user's choice stands
    count = next((found.tags[k] for k in ("tensorParallelism", "tp") if k in found.tags), "1")
    if quantity.try_parse(count) is None:  # the operator's reconcile fails here too
        raise ValueError(f"profile {profile}'s tensor parallelism {count!r} is not a GPU count")
    # a Quantity as the operator writes it: "2" stays a string, which the API server keeps as given
    return {**own, **{k: {**(own.get(k) or {}), GPU: count} for k in ("requests", "limits")}}


def _replicas(service: NimResource) -> int | None:
    if get(service.spec, "scale", "enabled") is True:
        low = get(service.spec, "scale", "hpa", "minReplicas")
        return low if isinstance(low, int) else 1
    replicas = get(service.spec, "replicas")
    return replicas if isinstance(replicas, int) else None


def _env(service: NimResource, ports: dict[str, int], cache: NimResource | None, layout_native: bool) -> Env:
    spec = service.spec
    auth = spec.get("authSecret")
    env: Env = [
        {"name": "NIM_CACHE_PATH", "value": MODEL_STORE},
        {"name": "OUTLINES_CACHE_DIR", "value": "/tmp/outlines"},
        {"name": "NIM_SERVER_PORT", "value": str(ports["api"])},
        {"name": "NIM_HTTP_API_PORT", "value": str(ports["api"])},
        {"name": "NIM_JSONL_LOGGING", "value": "1"},
        {"name": "NIM_LOG_LEVEL", "value": "INFO"},
    ]
    if auth:  # optional since operator v3.1.3: a Secret without the key must not stop the pod
        env.append(_secret_env("NGC_API_KEY", auth, optional=True))
    if "grpc" in ports:
        env += [{"name": n, "value": str(ports["grpc"])} for n in ("NIM_GRPC_API_PORT", "NIM_TRITON_GRPC_PORT")]
    if "metrics" in ports:
        env.append({"name": "NIM_TRITON_METRICS_PORT", "value": str(ports["metrics"])})
    env = merge_env(env, env_list(spec.get("env")))
    if spec.get("proxy"):
        env = merge_env(env, proxy_env(spec["proxy"]))
    kind = source_kind(cache) if cache is not None else None
    if kind in ("hf", "ngc-universal") and cache is not None and not layout_native:
        env += [e for e in _universal_env(cache, kind) if e["name"] not in {x["name"] for x in env}]
    if layout_native:
        env = _native_env(env, auth, f"{NATIVE_MODEL}/{cache.name}" if cache is not None else NATIVE_MODEL)
    model_name = next((e.get("value") for e in env if e["name"] == "NIM_MODEL_NAME"), None)
    if auth and (kind in ("hf", "dataStore") or str(model_name or "").startswith("hf://")):
        env = _credentials(env, auth, hf_optional=False)
    profile = get(spec, "storage", "nimCache", "profile")
    if profile and not any(e["name"] == "NIM_MODEL_PROFILE" for e in env):
        env.append({"name": "NIM_MODEL_PROFILE", "value": profile})
    return env


def _native_env(env: Env, auth: str | None, model: str) -> Env:
    """A native NIM reads its model from ``model`` (operator-owned: it wins) and takes either credential: both
    keys optional, since a Secret holding only an HF token must not stop the pod; none without a Secret."""
    env = merge_env(env, [{"name": "NIM_ENGINE_MODEL_PATH", "value": model}])
    env = [e for e in env if e["name"] != "NGC_API_KEY"]
    return _credentials(env, auth, hf_optional=True) if auth else env


def _credentials(env: Env, auth: str, hf_optional: bool) -> Env:
    """``NGC_API_KEY`` (optional) and ``HF_TOKEN`` from ``auth`` first, in place of any entries of those names."""
    keys = [_secret_env("NGC_API_KEY", auth, optional=True), _secret_env("HF_TOKEN", auth, optional=hf_optional)]
    return merge_env(env, keys)


def _secret_env(name: str, secret: str, optional: bool = False) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": secret, "key": name}
    if optional:
        ref["optional"] = True
    return {"name": name, "valueFrom": {"secretKeyRef": ref}}


def _universal_env(cache: NimResource, kind: str) -> Env:
    hf = get(cache.spec, "source", "hf") or {}
    path = f"hf://{hf.get('namespace')}/{hf.get('modelName') or hf.get('datasetName')}" if kind == "hf" else ""
    return [
        {"name": "NIM_MODEL_NAME", "value": MODEL_STORE},
        {"name": "HF_HOME", "value": f"{MODEL_STORE}/huggingface/hub"},
        {"name": "NIM_MODEL_PATH", "value": path},
    ]


def _volumes(
    service: NimResource, cache: NimResource | None, layout_native: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    storage = get(service.spec, "storage") or {}
    shm: dict[str, Any] = {"medium": "Memory"}
    if storage.get("sharedMemorySizeLimit") is not None:
        shm["sizeLimit"] = storage["sharedMemorySizeLimit"]
    model, sub = _model_store(service, cache)
    volumes = [{"name": "dshm", "emptyDir": shm}, {"name": "model-store", **model}]
    sub_path = {"subPath": sub} if sub else {}
    dshm = {"name": "dshm", "mountPath": "/dev/shm"}
    mounts: list[dict[str, Any]] = [dshm, {"name": "model-store", "mountPath": MODEL_STORE, **sub_path}]
    if layout_native:  # weights at /model, compiled kernels at /opt/cache (kept across restarts); the operator's order
        mounts = [*native_mounts("model-store", sub_path), dshm]
    if get(service.spec, "initContainers") or get(service.spec, "sidecarContainers"):
        volumes.append({"name": "scratch", "emptyDir": {}})
        mounts.append({"name": "scratch", "mountPath": "/scratch"})
    ca = cert_config_map(service)
    if ca:
        volumes += ca_volumes(ca)
        mounts.append(CA_MOUNT)
    return volumes, mounts


def _model_store(service: NimResource, cache: NimResource | None) -> tuple[dict[str, Any], str | None]:
    storage = get(service.spec, "storage") or {}
    read_only = {"readOnly": True} if storage.get("readOnly") is True else {}
    if cache is not None:
        claim = {"claimName": pvc_name(cache), **read_only}
        return {"persistentVolumeClaim": claim}, get(cache.spec, "storage", "pvc", "subPath")
    sources = storage_sources(storage)  # validated: exactly one (an empty `pvc: {}` beside it sets nothing)
    if "pvc" in sources:
        name = storage["pvc"].get("name") or f"{service.name}-pvc"
        return {"persistentVolumeClaim": {"claimName": name, **read_only}}, storage["pvc"].get("subPath")
    if "emptyDir" in sources:
        size = storage["emptyDir"].get("sizeLimit")
        return {"emptyDir": {"sizeLimit": size} if size is not None else {}}, None
    return {"hostPath": {"path": storage.get("hostPath"), "type": "DirectoryOrCreate"}}, None


def _extra(spec: dict[str, Any], policy: str | None, env: Env, mounts: list[dict[str, Any]]) -> dict[str, Any]:
    container = init_container(spec, policy)
    container["env"] = merge_env(env, env_list(spec.get("env")))  # their own entries win (operator)
    container["volumeMounts"] = list(mounts)
    return container


def _probe(value: Any, path: str, delay: int, failures: int) -> dict[str, Any] | None:
    if get(value, "enabled") is False:
        return None
    if get(value, "probe") is not None:
        probe: dict[str, Any] = value["probe"]
        return probe
    return {
        "httpGet": {"path": path, "port": "api"},
        "initialDelaySeconds": delay,
        "periodSeconds": 10,
        "timeoutSeconds": 1,
        "successThreshold": 1,
        "failureThreshold": failures,
    }


def _own_pvc(service: NimResource, own: dict[str, str], notes: dict[str, str]) -> dict[str, Any] | None:
    pvc = get(service.spec, "storage", "pvc") or {}
    if pvc.get("create") is not True:
        return None
    name = pvc.get("name") or f"{service.name}-pvc"
    return pvc_context(name, service.namespace, pvc, own, notes[SOURCE_ANNOTATION])
