"""Render contexts for a NIMCache's PVC and caching Job, as NVIDIA's operator builds them (pure).

Departures from the operator, each on purpose:
- the native layout (Retriever 2.x) is taken when the NIMCache carries ``nim-reconciler/model-layout: native``:
  the operator reads the image's OCI label from the registry with the pull secret, which we never read;
- profiles chosen by selectors are known only in the cluster (``selection.py``: a probe Pod reads the model
  manifest); offline, selectors alone give no profile arguments and a warning that says so;
- no ``nim-cache-sa`` ServiceAccount / SCC Role (OpenShift only): the Job runs as the namespace's default account;
- ``tolerationSeconds`` is kept; ``resources`` are rendered only when given (the operator writes ``0``);
- no ``imagePullSecrets`` entry with an empty name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from reconciler.documents import NimResource, get
from reconciler.errors import Problem, error, warning
from reconciler.objects import MANAGED_BY, MANAGER, SELECTED_PROFILES, SOURCE_ANNOTATION, labels, native
from reconciler.objects import pvc_name as cache_pvc_name
from reconciler.profiles import Selectors, selectors
from reconciler.refs import field_path
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
)
from reconciler.selection import PROBE_COMMAND, Selection, Stage

NATIVE_MODEL, NATIVE_KERNELS = "/model", "/opt/cache"
DEFAULT_NODE_SELECTOR = {"feature.node.kubernetes.io/pci-10de.present": "true"}
CACHE_VOLUME = "nim-cache-volume"


@dataclass(frozen=True)
class CacheContext:
    """Everything the NIMCache templates need; ``problems`` are render-time findings."""

    pvc: dict[str, Any] | None
    job: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)
    probe: dict[str, Any] | None = None  # the manifest probe Pod's context, while probing

    @property
    def keep(self) -> dict[str, Any]:
        """The metadata of the manifest ConfigMap: the Job's namespace, labels and source."""
        return {k: self.job[k] for k in ("namespace", "annotations")} | {"labels": _marked(self.job)}


def source_kind(cache: NimResource) -> str:
    """``ngc`` (optimized), ``ngc-universal``, ``hf`` or ``dataStore``."""
    source = get(cache.spec, "source") or {}
    if "ngc" in source:
        return "ngc-universal" if get(source, "ngc", "modelEndpoint") else "ngc"
    return "hf" if "hf" in source else "dataStore"


def standard_labels(cache: NimResource, site: Site) -> dict[str, str]:
    """The operator's labels of a NIMCache's children, and ours."""
    return {
        "app": "k8s-nim-operator",
        "app.kubernetes.io/name": cache.name,
        "app.kubernetes.io/instance": cache.name,
        "app.kubernetes.io/part-of": "nim-cache",
        **labels(site.cluster),
    }


def pvc_name(cache: NimResource) -> str:
    """``storage.pvc.name``, default ``{name}-pvc`` (the operator's GetPVCName)."""
    return cache_pvc_name(cache.body)


def build(cache: NimResource, site: Site, chosen: Selection | None = None) -> CacheContext:
    """The contexts of the PVC (None unless ``create: true``) and the caching Job, and render-time problems;
    ``chosen``: the cache's selection as the cluster showed it (None offline)."""
    problems: list[Problem] = []
    own = standard_labels(cache, site)
    pvc = get(cache.spec, "storage", "pvc") or {}
    pvc_ctx = None
    if pvc.get("create") is True:
        pvc_ctx = pvc_context(pvc_name(cache), cache.namespace, pvc, own, site.source)
    job = _job(cache, site, own, problems, chosen)
    probe = _probe(job) if chosen is not None and chosen.stage is Stage.PROBING else None
    return CacheContext(pvc_ctx, job, problems, probe)


def _probe(job: dict[str, Any]) -> dict[str, Any]:
    """The probe Pod: the caching Job's image, pull secret, security context, scheduling and runtime class, and
    a command that prints the model manifest (the operator's constructPodSpec)."""
    keep = ("namespace", "labels", "annotations", "uid", "gid", "node_selector", "tolerations", "runtime_class")
    return {k: job[k] for k in (*keep, "pull_secrets", "image", "resources")} | {
        "command": PROBE_COMMAND,
        "labels": _marked(job),
    }


def _marked(job: dict[str, Any]) -> dict[str, str]:
    """Our labels and the ``nimcache`` marker that tells the probe's objects from others we label (the record)."""
    return {**job["labels"], "nimcache": job["pod_labels"]["nimcache"]}


def _job(
    cache: NimResource, site: Site, own: dict[str, str], problems: list[Problem], chosen: Selection | None
) -> dict[str, Any]:
    spec = cache.spec
    kind = source_kind(cache)
    source = get(spec, "source", "ngc" if kind.startswith("ngc") else kind) or {}
    uid, gid = spec.get("userID", DEFAULT_UID), spec.get("groupID", DEFAULT_GID)
    scratch = {"name": "scratch", "mountPath": "/scratch"}
    command: list[str]
    args: list[str]
    if native(cache.body):
        # the NIM image itself downloads its one model and exits: no command; the operator's env wins over the
        # user's (it is tied to the mounts), the model under /model/<name> so NIMs can share one PVC
        command, args, operator_env = [], [], native_env(cache.name)
        mounts = [*native_mounts(CACHE_VOLUME, _sub_path(cache)), scratch]
        env = merge_env(merge_env(operator_env, env_list(spec.get("env"))), operator_env)
    else:
        command, args, operator_env = _command(cache, kind, source, problems, chosen)
        mounts = [{"name": CACHE_VOLUME, "mountPath": MODEL_STORE, **_sub_path(cache)}, scratch]
        env = merge_env(operator_env, env_list(spec.get("env")))
    inits = [_user_init(ic, env, mounts) for ic in spec.get("initContainers") or []]
    volumes: list[dict[str, Any]] = [
        {"name": CACHE_VOLUME, "persistentVolumeClaim": {"claimName": pvc_name(cache)}},
        {"name": "scratch", "emptyDir": {}},
    ]
    if spec.get("proxy"):
        env = merge_env(env, proxy_env(spec["proxy"]))
    ca = cert_config_map(cache)
    if ca:
        inits.insert(0, ca_init(source["modelPuller"], None, [*CA_INIT_MOUNTS, *mounts]))
        volumes += ca_volumes(ca)
        mounts = [*mounts, CA_MOUNT]
    resources = {k: spec["resources"][k] for k in ("cpu", "memory") if k in (spec.get("resources") or {})}
    return {
        "namespace": cache.namespace,
        "labels": own,
        "pod_labels": {
            "app": "k8s-nim-operator",
            "app.kubernetes.io/name": cache.name,
            MANAGED_BY: MANAGER,
            "nimcache": cache.name,
        },
        "annotations": {SOURCE_ANNOTATION: site.source},
        "uid": uid,
        "gid": gid,
        # the operator's default only when the field is absent: `nodeSelector: {}` means any node
        "node_selector": spec["nodeSelector"] if isinstance(spec.get("nodeSelector"), dict) else DEFAULT_NODE_SELECTOR,
        "tolerations": spec.get("tolerations") or [],
        "runtime_class": spec.get("runtimeClassName"),
        "pull_secrets": pull_secrets([source.get("pullSecret")]),
        "image": source["modelPuller"],
        "auth_secret": source.get("authSecret"),
        # the NGC key is optional since operator v3.1.3 (a model may need none); HF and DataStore tokens are not
        "auth_optional": kind.startswith("ngc"),
        "command": command,
        "args": args,
        "env": env,
        "resources": resources,
        "termination_message": kind.startswith("ngc"),
        "volume_mounts": mounts,
        "volumes": volumes,
        "init_containers": inits,
    }


def native_env(cache: str) -> Env:
    """The native caching Job's download-only switch and the model's place (the operator's NativeModelPath)."""
    return [
        {"name": "NIM_ENGINE_MODEL_DOWNLOAD_ONLY", "value": "1"},
        {"name": "NIM_ENGINE_MODEL_PATH", "value": f"{NATIVE_MODEL}/{cache}"},
    ]


def native_mounts(volume: str, sub_path: dict[str, str]) -> list[dict[str, Any]]:
    """A native NIM's model store: the weights at /model and the compiled kernels at /opt/cache, one volume."""
    return [
        {"name": volume, "mountPath": NATIVE_MODEL, **sub_path},
        {"name": volume, "mountPath": NATIVE_KERNELS, **sub_path},
    ]


def _sub_path(cache: NimResource) -> dict[str, str]:
    sub = get(cache.spec, "storage", "pvc", "subPath")
    return {"subPath": sub} if isinstance(sub, str) and sub else {}


def _command(
    cache: NimResource, kind: str, source: dict[str, Any], problems: list[Problem], chosen: Selection | None
) -> tuple[list[str], list[str], Env]:
    cache_path = [{"name": "NIM_CACHE_PATH", "value": MODEL_STORE}]
    if kind == "ngc-universal":
        args = ["--model-repo", source["modelEndpoint"], "--model-store", MODEL_STORE]
        return ["create-model-store"], args, cache_path
    if kind == "ngc":
        if chosen is not None and chosen.profiles:  # picked in the cluster from the image's manifest
            return ["download-to-cache"], ["--profiles", *(p.id for p in chosen.profiles)], cache_path
        return ["download-to-cache"], _profile_args(cache, source, problems), cache_path
    namespace = source.get("namespace", "default")
    target = source.get("modelName") or source.get("datasetName")
    repo_type = "model" if source.get("modelName") else "dataset"
    command = ["huggingface-cli", "download", f"{namespace}/{target}", "--local-dir", MODEL_STORE]
    command += ["--repo-type", repo_type]
    if source.get("revision"):
        command += ["--revision", source["revision"]]
    if chosen is not None and chosen.stage is Stage.MODEL_FREE:  # the operator's model-free download
        command = ["download-to-cache", "--model-uri", f"hf://{namespace}/{target}"]
        command += ["--manifest-file", f"{MODEL_STORE}/model_manifest.json"]
    env = [
        {"name": "HF_ENDPOINT", "value": source["endpoint"]},
        {"name": "HF_HUB_OFFLINE", "value": "0"},
        *cache_path,
        {"name": "HF_HOME", "value": f"{MODEL_STORE}/huggingface/hub"},
    ]
    return command, [], env


def _profile_args(cache: NimResource, source: dict[str, Any], problems: list[Problem]) -> list[str]:
    profiles = get(source, "model", "profiles") or _annotated_profiles(cache, problems)
    if profiles:
        return ["--all"] if "all" in profiles else ["--profiles", *profiles]
    path = ("spec", "source", "ngc", "model")
    chosen = selectors(get(source, "model") or {})
    given = "no selectors: every profile for the nodes' GPUs" if chosen == Selectors() else chosen.describe()
    message = (
        f"no profiles pinned: profiles are selected in the cluster from {given} (a probe Pod reads the image's "
        "model manifest first); `reconcile profiles <the image's model_manifest.yaml> --nimcache <this file>` "
        f"shows which they pick: pin them with spec.source.ngc.model.profiles or the {SELECTED_PROFILES} "
        "annotation (a JSON list of IDs) to review the choice in git"
    )
    problems.append(warning(cache.doc.at(path), field_path(path), message, "no-profiles-pinned"))
    return []


def _annotated_profiles(cache: NimResource, problems: list[Problem]) -> list[str]:
    raw = get(cache.body, "metadata", "annotations", SELECTED_PROFILES)
    if raw is None:
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return value
    path = ("metadata", "annotations", SELECTED_PROFILES)
    message = 'must be a JSON list of profile IDs, such as ["tensorrt_llm-h100-fp16-tp1-throughput"]'
    problems.append(error(cache.doc.at(path), field_path(path), message, "selected-profiles"))
    return []


def _user_init(spec: dict[str, Any], main_env: Env, main_mounts: list[dict[str, Any]]) -> dict[str, Any]:
    container = init_container(spec, None)
    container["env"] = merge_env(env_list(spec.get("env")), main_env)  # the main env wins here (operator)
    container["volumeMounts"] = list(main_mounts)
    return container
