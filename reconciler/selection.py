"""Profile selection in the cluster, as NVIDIA's operator does it: a probe Pod prints the image's model manifest,
the manifest is kept in a ConfigMap, and the selectors pick the profiles the caching Job downloads (pure).

Contract: ``needs_probe(cache)`` says whether a NIMCache's model manifest must be read from its image: an NGC
optimized NIM without ``profiles`` or the ``nvidia.com/selected-profiles`` annotation (to select), and a Hugging
Face / DataStore cache (to learn whether the NIM is model-free); never a native one. ``decide(...)`` turns what the
cluster holds for one such cache — its ``<name>-manifest`` ConfigMap, its ``<name>-pod`` probe Pod and that Pod's
log, the cache's recorded ``status.type``, the GPU products of the nodes — into a ``Selection``: the state
machine moves one step per look, across runs (or polls of ``--wait``), never waiting inside one.

Departure: the operator's probe ends in ``sleep infinity`` and is deleted once read; ours exits after printing
(``restartPolicy: Never``), so a probe between two cron runs holds no CPU or memory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from reconciler.objects import SELECTED_PROFILES, native
from reconciler.profiles import NO_PROFILES, Manifest, Profile, ProfileError, parse, select, selectors, unmatched

MANIFEST_KEY = "model_manifest.yaml"  # the ConfigMap's key, as the operator names it
CONFIG_MAP_BYTES = 1 << 20  # what kube-apiserver lets a ConfigMap's values add up to (ValidateConfigMap)
NOT_FOUND = "model_manifest.yaml not found"  # what the probe prints for a model-free image (the operator's words)
MODEL_FREE = "model-free"
GPU_PRODUCT = "nvidia.com/gpu.product"
PROBE_COMMAND = [
    "sh",
    "-c",
    "if [ -f /opt/nim/etc/default/model_manifest.yaml ]; then cat /opt/nim/etc/default/model_manifest.yaml; "
    "elif [ -f /etc/nim/config/model_manifest.yaml ]; then cat /etc/nim/config/model_manifest.yaml; "
    f'else echo "{NOT_FOUND}"; fi',
]

Obj = Mapping[str, Any]


class Stage(StrEnum):
    """Where one cache's selection stands."""

    PROBING = "probing"  # the probe Pod is to be created, or has not printed yet
    SELECTED = "selected"  # the manifest is known: the Job downloads ``profiles`` (none: as the source says)
    MODEL_FREE = "model-free"  # the image holds no manifest: the Hugging Face model-free download
    NO_MATCH = "no-match"  # no profile satisfies the selectors: Failed, no Job
    UNREADABLE = "unreadable"  # the probe failed or printed something else: Failed, probed again next time


JOB_STAGES = (Stage.SELECTED, Stage.MODEL_FREE)  # the stages at which the caching Job runs


@dataclass(frozen=True)
class Selection:
    """One cache's selection: the stage, the profiles picked, the manifest to keep, and why (for status)."""

    stage: Stage
    profiles: tuple[Profile, ...] = ()
    manifest: str = ""  # the stripped manifest the ConfigMap holds (SELECTED, NO_MATCH)
    detail: str = ""
    probe_done: bool = False  # the probe Pod has served: delete it where it still is


def pod_name(cache: str) -> str:
    """The probe Pod's name (the operator's ``<name>-pod``)."""
    return f"{cache}-pod"


def configmap_name(cache: str) -> str:
    """The manifest ConfigMap's name (the operator's ``<name>-manifest``)."""
    return f"{cache}-manifest"


def _source(cache: Obj) -> Obj:
    return ((cache.get("spec") or {}).get("source")) or {}


def selecting(cache: Obj) -> bool:
    """Whether the selectors choose the profiles: NGC optimized, no ``profiles``, no selected-profiles annotation."""
    ngc = _source(cache).get("ngc")
    if not isinstance(ngc, Mapping) or ngc.get("modelEndpoint") or native(cache):
        return False
    annotated = SELECTED_PROFILES in ((cache.get("metadata") or {}).get("annotations") or {})
    return not (ngc.get("model") or {}).get("profiles") and not annotated


def needs_probe(cache: Obj) -> bool:
    """Whether the cache's model manifest must be read from its image (see the module's contract)."""
    source = _source(cache)
    return selecting(cache) or (("hf" in source or "dataStore" in source) and not native(cache))


def needs_nodes(cache: Obj) -> bool:
    """Whether selection uses the GPU products of the cluster's nodes (the selectors name no GPU)."""
    model = (_source(cache).get("ngc") or {}).get("model") or {}
    return selecting(cache) and not model.get("gpus")


def wants_log(configmap: Obj | None, pod: Obj | None, status_type: str) -> bool:
    """Whether the probe Pod's log is to be read now: it ran, and nothing is known yet."""
    phase = ((pod or {}).get("status") or {}).get("phase")
    return configmap is None and status_type != MODEL_FREE and phase in ("Running", "Succeeded")


def decide(cache: Obj, configmap: Obj | None, pod: Obj | None, log: str | None, status_type: str,
           discovered: Sequence[str] = ()) -> Selection:  # fmt: skip
    """The next step of one probing cache (``log``: the probe's output, when ``wants_log`` said to read it)."""
    if configmap is not None:
        text = str((configmap.get("data") or {}).get(MANIFEST_KEY) or "")
        return _from_manifest(cache, text, discovered, pod is not None, stored=True)
    if status_type == MODEL_FREE:
        return Selection(Stage.MODEL_FREE, probe_done=pod is not None)
    phase = ((pod or {}).get("status") or {}).get("phase")
    if phase == "Failed":
        return Selection(Stage.UNREADABLE, detail=f"the manifest probe Pod {pod_name(_name(cache))} failed",
                         probe_done=True)  # fmt: skip
    if pod is None or not log or not log.strip():
        return Selection(Stage.PROBING, detail="reading the model manifest from the image (probe Pod)")
    if NOT_FOUND in log:
        return Selection(Stage.MODEL_FREE, probe_done=True)
    return _from_manifest(cache, log, discovered, True, stored=False)


def _name(cache: Obj) -> str:
    return str((cache.get("metadata") or {}).get("name") or "")


def _from_manifest(cache: Obj, text: str, discovered: Sequence[str], pod: bool, *, stored: bool) -> Selection:
    where = configmap_name(_name(cache)) if stored else pod_name(_name(cache))
    try:
        manifest = parse(text, f"the model manifest from {where}")
    except ProfileError as exc:
        return Selection(Stage.UNREADABLE, detail=str(exc), probe_done=pod)
    kept = minimal(manifest)
    if len(kept.encode("utf-8")) > CONFIG_MAP_BYTES:  # the ConfigMap could not be written: say so, here, once
        detail = f"{where}: the model manifest's profiles and tags alone are over 1 MiB, more than a ConfigMap holds"
        return Selection(Stage.UNREADABLE, detail=detail, probe_done=pod)
    if not selecting(cache):
        return Selection(Stage.SELECTED, manifest=kept, probe_done=pod)
    chosen = selectors((_source(cache).get("ngc") or {}).get("model") or {})
    ids = set(select(manifest, chosen, () if chosen.gpus else discovered))
    picked = tuple(p for p in manifest.profiles if p.id in ids)
    if not picked:
        missing = ", ".join(unmatched(manifest, chosen)) or chosen.describe()
        detail = f"{NO_PROFILES}: nothing in the model manifest matches {missing}"
        if not chosen.gpus and not discovered:
            detail += " (no node carries an nvidia.com/gpu.product label)"
        return Selection(Stage.NO_MATCH, manifest=kept, detail=detail, probe_done=pod)
    return Selection(Stage.SELECTED, picked, kept, probe_done=pod)


def minimal(manifest: Manifest) -> str:
    """The manifest reduced to what selection and status read (ids, tags, model, release), in the schema it came
    in: full manifests list every file of every profile and can pass the ConfigMap's 1 MiB limit."""
    import yaml  # here, not at the top: the cluster seam's state modules import this module's values

    if manifest.schema == "v2":
        items = [{"id": p.id, "tags": dict(p.tags)} for p in manifest.profiles]
        data: Any = {"schema_version": "2.0", "profiles": items}
    else:
        data = {p.id: {"model": p.model, "release": p.release, "tags": dict(p.tags)} for p in manifest.profiles}
    return yaml.safe_dump(data, sort_keys=False)


def discovered_gpus(nodes: Sequence[Obj]) -> list[str]:
    """The distinct, non-empty ``nvidia.com/gpu.product`` labels of the nodes, sorted."""
    found = {str(((n.get("metadata") or {}).get("labels") or {}).get(GPU_PRODUCT) or "").strip() for n in nodes}
    return sorted(found - {""})
