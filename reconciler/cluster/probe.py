"""What the cluster says about each probing NIMCache's model manifest (I/O through ``ClusterApi``).

Contract: ``selections(api, caches, live)`` returns the ``Selection`` of every rendered NIMCache that needs a
probe (``selection.needs_probe``), from the live objects one look found (its ``<name>-manifest`` ConfigMap and
``<name>-pod`` Pod) and, only where needed, the probe's log (one GET of ``pods/log``, once the Pod ran and
nothing is known yet) and the nodes' GPU products (one LIST of nodes per look, only when a manifest is at hand
and the selectors name no GPU). Nothing is written here: the probe Pod and the ConfigMap are rendered objects,
applied and pruned as the others are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from reconciler.cluster.api import ClusterApi
from reconciler.kinds import Kind
from reconciler.profiles import MAX_MANIFEST_BYTES
from reconciler.refs import ObjRef
from reconciler.selection import (
    Selection,
    Stage,
    configmap_name,
    decide,
    discovered_gpus,
    needs_nodes,
    needs_probe,
    pod_name,
    wants_log,
)

NODES = Kind("Node", "v1", "nodes", namespaced=False)
CONFINED = "; a run confined by --namespace cannot list the nodes' GPUs: name them in spec.source.ngc.model.gpus"
CONTAINER = "nim-cache-ctr"


def selections(
    api: ClusterApi, caches: Sequence[Mapping[str, Any]], live: Mapping[ObjRef, dict[str, Any]], confined: bool
) -> dict[ObjRef, Selection]:
    """The selection of every probing NIMCache among ``caches`` (their rendered bodies), by its reference.
    ``confined``: a run held to ``--namespace``s, whose Role cannot list nodes (cluster-scoped): the selectors
    must then name the GPU, and a selection that needed the nodes says so."""
    out: dict[ObjRef, Selection] = {}
    nodes: list[str] | None = None
    for cache in (c for c in caches if needs_probe(c)):
        namespace, name = cache["metadata"]["namespace"], cache["metadata"]["name"]
        configmap = live.get(ObjRef("ConfigMap", namespace, configmap_name(name)))
        pod = live.get(ObjRef("Pod", namespace, pod_name(name)))
        current = live.get(ObjRef("NIMCache", namespace, name)) or {}
        recorded = str((current.get("status") or {}).get("type") or "")
        log = None
        if wants_log(configmap, pod, recorded):
            log = api.log(namespace, pod_name(name), CONTAINER, MAX_MANIFEST_BYTES + 1)
        by_nodes = needs_nodes(cache)
        if nodes is None and by_nodes and (configmap is not None or log) and not confined:
            nodes = discovered_gpus(api.list(NODES, ""))
        chosen = decide(cache, configmap, pod, log, recorded, nodes or [])
        if confined and chosen.stage is Stage.NO_MATCH and by_nodes:
            chosen = replace(chosen, detail=chosen.detail + CONFINED)
        out[ObjRef("NIMCache", namespace, name)] = chosen
    return out
