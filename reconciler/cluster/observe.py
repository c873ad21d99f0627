"""Observe the cluster: the checks before a run writes anything, and every object of ours (I/O through the API).

Contract: ``preflight`` returns the problems that stop a run before any write (missing or foreign CRDs, missing
namespaces, namespaces outside ``--namespace``); ``observe`` returns every object of ours by reference, one LIST
per kind (and namespace), never one GET per object.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reconciler.cluster.api import ClusterApi
from reconciler.kinds import BY_KIND, CRD, FOREIGN_CRDS, NAMESPACE, ORDER, OUR_CRDS, Kind
from reconciler.objects import MANAGED, DesiredObject, is_ours, selector
from reconciler.refs import ObjRef


def preflight(api: ClusterApi, objects: Sequence[DesiredObject], confined: tuple[str, ...] = ()) -> list[str]:
    """Problems that stop a run before anything is written: missing CRDs or namespaces, CRDs that are not ours.

    A namespace the repo declares (a Namespace manifest) counts as there: it is applied first. A missing one is
    named with the first manifest that uses it. ``confined`` (``--namespace``): a team's run with a namespaced
    Role, which may read neither CRDs nor Namespaces; it asks API discovery (open to every user) instead, and
    keeps to its namespaces.
    """
    kinds = {o.ref.kind for o in objects}
    used: dict[str, str] = {}
    for item in objects:
        if item.ref.namespace:
            used.setdefault(item.ref.namespace, str(item.source))
    declared = {o.ref.name for o in objects if o.ref.kind == "Namespace"}
    if confined:
        refused = [f"Namespace/{n}: a run confined with --namespace cannot apply Namespaces" for n in sorted(declared)]
        return refused + _confined_preflight(api, kinds, set(used), confined)
    problems = []
    for kind, name in OUR_CRDS.items():
        crd = api.get(CRD, "", name)
        if crd is None:
            problems.append(
                f"CustomResourceDefinition {name} is not installed: run `reconcile install-crds` "
                "(or kubectl apply -f deploy/crds/)"
            )
        elif not is_ours(crd):
            problems.append(
                f"CustomResourceDefinition {name} was not installed by nim-reconciler (NVIDIA's NIM "
                f"Operator?): the operator and nim-reconciler would fight over every {kind}; "
                "uninstall the operator first"
            )
    for kind in sorted(kinds & FOREIGN_CRDS.keys()):
        if api.get(CRD, "", FOREIGN_CRDS[kind]) is None:
            problems.append(
                f"{kind} objects need the CustomResourceDefinition {FOREIGN_CRDS[kind]}, which is not installed"
            )
    existing = {n["metadata"]["name"] for n in api.list(NAMESPACE, "")}
    problems += [
        f"{used[ns]}: namespace {ns} does not exist: create it first, or declare it in a Namespace manifest "
        "beside the manifests that use it"
        for ns in sorted(set(used) - existing - declared)
    ]
    return problems


def _confined_preflight(api: ClusterApi, kinds: set[str], namespaces: set[str], confined: tuple[str, ...]) -> list[str]:
    problems = [
        f"namespace {ns} is outside --namespace {','.join(confined)}: this run may not write there"
        for ns in sorted(namespaces - set(confined))
    ]
    for kind in sorted({*OUR_CRDS, *(kinds & FOREIGN_CRDS.keys())}):
        group_version = BY_KIND[kind].api_version
        if BY_KIND[kind].plural not in api.served(group_version):
            name = OUR_CRDS.get(kind) or FOREIGN_CRDS[kind]
            problems.append(f"{kind} is not served ({group_version}): a cluster admin must install the CRD {name}")
    return problems


def observe(api: ClusterApi, cluster: str, namespaces: tuple[str, ...] = ()) -> dict[ObjRef, dict[str, Any]]:
    """Every object of ours in the cluster (or in ``namespaces``): one LIST per kind (and namespace), by label."""
    live: dict[ObjRef, dict[str, Any]] = {}
    # A confined run may not read Namespaces (and applies none)
    kinds = [k for k in ORDER if k.namespaced or not namespaces]
    for kind, namespace in ((k, n) for k in kinds for n in namespaces or ("",)):
        for obj in api.list(kind, selector(cluster) + (f",{kind.marker}" if kind.marker else ""), namespace):
            meta = obj["metadata"]
            live[ObjRef(kind.kind, meta.get("namespace", ""), meta["name"])] = obj
    return live


def existing(
    api: ClusterApi, wanted: set[ObjRef], live: dict[ObjRef, dict[str, Any]], namespaces: tuple[str, ...] = ()
) -> dict[ObjRef, dict[str, Any]]:
    """The objects of the names in ``wanted`` (what the plan would create) that exist but are not in ``live``.

    One LIST per kind that has such names, without a label selector (per namespace in a confined run), so that
    a first apply of N objects costs a dozen reads, not N: an object of someone else's is found before we
    would write over it. Nothing is read when nothing is to be created.
    """
    found: dict[ObjRef, dict[str, Any]] = {}
    missing = {ref for ref in wanted if ref not in live}
    for kind in (k for k in ORDER if any(r.kind == k.kind for r in missing)):
        for namespace in sorted({r.namespace for r in missing if r.kind == kind.kind}) if namespaces else ("",):
            for obj in api.list(kind, "", namespace):
                meta = obj["metadata"]
                ref = ObjRef(kind.kind, meta.get("namespace", ""), meta["name"])
                if ref in missing:
                    found[ref] = obj
    return found


PODS = Kind("Pod", "v1", "pods")


def caching_pods(api: ClusterApi, live: dict[ObjRef, dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The pods of our running caching Jobs by (namespace, nimcache); nothing is read when no Job is running."""
    namespaces = sorted(
        {ref.namespace for ref, obj in live.items() if ref.kind == "Job" and (obj.get("status") or {}).get("active")}
    )
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    # One LIST per namespace with a running Job, not one across the cluster: fewer pods to read, and a team's
    # namespaced Role allows it.
    for pod in (p for ns in namespaces for p in api.list(PODS, f"{MANAGED},nimcache", ns)):
        meta = pod["metadata"]
        out.setdefault((meta.get("namespace", ""), meta["labels"]["nimcache"]), []).append(pod)
    return out


def pods_in(api: ClusterApi, namespaces: Sequence[str]) -> list[dict[str, Any]]:
    """Every Pod of these namespaces, anyone's (a PVC of ours may be mounted by a Pod that is not): one LIST each."""
    return [pod for namespace in namespaces for pod in api.list(PODS, "", namespace)]
