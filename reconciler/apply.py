"""Apply: execute a Plan against the cluster in kind order, then prune in reverse (I/O through ``kube``).

Contract: ``execute(plan, cluster)`` applies only what the plan marks created or configured, stage by stage
(custom resources first, so their children can carry an ownerReference with the new uid), with bounded
concurrency inside a stage; it goes on past a failed object and reports it. Nothing is pruned when any apply
failed. Custom resources are deleted with ``propagationPolicy=Orphan``: their children are pruned one by one, so
the guards (a PVC's own rule, ``nim-reconciler/prune: disabled``) hold even against the garbage collector.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Protocol

from reconciler.errors import ClusterError
from reconciler.kinds import BY_KIND, CRD, FOREIGN_CRDS, NAMESPACE, ORDER, OUR_CRDS, Kind
from reconciler.plan import Action, Change, Plan
from reconciler.refs import ObjRef

CUSTOM = ("NIMCache", "NIMService")


class ClusterApi(Protocol):
    """What apply needs of ``kube.Cluster`` (kept abstract so this module does not import the client)."""

    def list(self, kind: Kind, selector: str, namespace: str = "") -> list[dict[str, Any]]: ...
    def served(self, api_version: str) -> set[str]: ...
    def get(self, kind: Kind, namespace: str, name: str) -> dict[str, Any] | None: ...
    def apply(
        self, kind: Kind, body: dict[str, Any], *, dry_run: bool = False, status: bool = False
    ) -> dict[str, Any]: ...
    def delete(
        self, kind: Kind, namespace: str, name: str, *, dry_run: bool = False, propagation: str = "Background"
    ) -> None: ...
    def create(self, kind: Kind, body: dict[str, Any]) -> dict[str, Any]: ...
    def replace(self, kind: Kind, body: dict[str, Any]) -> dict[str, Any]: ...
    def patch(self, kind: Kind, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Outcome:
    change: Change
    error: str = ""
    result: dict[str, Any] | None = None  # the object as the API server returned it


@dataclass(frozen=True)
class ChangeSet:
    outcomes: list[Outcome]

    @property
    def failed(self) -> bool:
        return any(o.error for o in self.outcomes)


def selector(cluster: str) -> str:
    return f"app.kubernetes.io/managed-by=nim-reconciler,nim-reconciler/cluster={cluster}"


def preflight(api: ClusterApi, kinds: set[str], namespaces: set[str], confined: tuple[str, ...] = ()) -> list[str]:
    """Problems that stop a run before anything is written: missing CRDs or namespaces, CRDs that are not ours.

    ``confined`` (``--namespace``): a team's run with a namespaced Role, which may read neither CRDs nor
    Namespaces; it asks API discovery (open to every user) instead, and keeps to its namespaces.
    """
    if confined:
        return _confined_preflight(api, kinds, namespaces, confined)
    problems = []
    for kind, name in OUR_CRDS.items():
        crd = api.get(CRD, "", name)
        if crd is None:
            problems.append(
                f"CustomResourceDefinition {name} is not installed: run `reconcile install-crds` "
                "(or kubectl apply -f deploy/crds/)"
            )
        elif (crd["metadata"].get("labels") or {}).get("app.kubernetes.io/managed-by") != "nim-reconciler":
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
        f"namespace {ns} does not exist: create it first (nim-reconciler does not manage namespaces)"
        for ns in sorted(namespaces - existing)
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
    for kind, namespace in ((k, n) for k in ORDER for n in namespaces or ("",)):
        for obj in api.list(kind, selector(cluster), namespace):
            meta = obj["metadata"]
            live[ObjRef(kind.kind, meta.get("namespace", ""), meta["name"])] = obj
    return live


def execute(plan: Plan, api: ClusterApi, *, dry_run: bool = False, concurrency: int = 4) -> ChangeSet:
    uids = {ref: body["metadata"].get("uid", "") for ref, body in plan.bodies.items() if ref.kind in CUSTOM}
    outcomes: list[Outcome] = []
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for kind in ORDER:
            stage = [
                c
                for c in plan.changes
                if c.ref.kind == kind.kind and c.action in (Action.CREATED, Action.CONFIGURED, Action.REPLACED)
            ]
            for change in stage:  # a replaced object goes first: Kubernetes does not let us patch it
                if change.action is Action.REPLACED:
                    api.delete(kind, change.ref.namespace, change.ref.name, dry_run=dry_run)
            bodies = [_with_owner_uid(plan.bodies[c.ref], uids) for c in stage]
            results = list(
                pool.map(lambda cb, k=kind: _apply_one(api, k, cb[0], cb[1], dry_run), zip(stage, bodies, strict=True))
            )
            for change, (outcome, uid) in zip(stage, results, strict=True):
                outcomes.append(outcome)
                if uid:
                    uids[change.ref] = uid
    prunes = plan.of(Action.PRUNED)
    if any(o.error for o in outcomes):
        reason = "prune guard: an apply failed: nothing is pruned on a failed run"
        return ChangeSet(outcomes + [Outcome(replace(c, action=Action.BLOCKED, reason=reason)) for c in prunes])
    for change in sorted(prunes, key=lambda c: -[k.kind for k in ORDER].index(c.ref.kind)):
        outcomes.append(_delete_one(api, change, dry_run))
    return ChangeSet(outcomes)


def _with_owner_uid(body: dict[str, Any], uids: dict[ObjRef, str]) -> dict[str, Any]:
    refs = body["metadata"].get("ownerReferences")
    if not refs or refs[0].get("uid"):
        return body
    owner = ObjRef(refs[0]["kind"], body["metadata"]["namespace"], refs[0]["name"])
    filled = [{**refs[0], "uid": uids.get(owner, "")}]
    return {**body, "metadata": {**body["metadata"], "ownerReferences": filled}}


def _apply_one(api: ClusterApi, kind: Kind, change: Change, body: dict[str, Any], dry_run: bool) -> tuple[Outcome, str]:
    refs = body["metadata"].get("ownerReferences") or []
    if refs and not refs[0].get("uid"):
        return Outcome(change, f"{change.ref}: its {refs[0]['kind']} {refs[0]['name']} could not be applied"), ""
    try:
        result = api.apply(kind, body, dry_run=dry_run)
    except ClusterError as exc:
        return Outcome(change, str(exc)), ""
    return Outcome(change, result=result), str(result.get("metadata", {}).get("uid", ""))


def _delete_one(api: ClusterApi, change: Change, dry_run: bool) -> Outcome:
    kind = BY_KIND[change.ref.kind]
    policy = "Orphan" if change.ref.kind in CUSTOM else "Background"
    try:
        api.delete(kind, change.ref.namespace, change.ref.name, dry_run=dry_run, propagation=policy)
    except ClusterError as exc:
        return Outcome(change, str(exc))
    return Outcome(change)


def install_crds(api: ClusterApi, crds: Sequence[dict[str, Any]], *, dry_run: bool = False) -> list[Outcome]:
    outcomes = []
    for crd in crds:
        ref = ObjRef("CustomResourceDefinition", "", crd["metadata"]["name"])
        existing = api.get(CRD, "", ref.name)
        action = Action.CREATED if existing is None else Action.CONFIGURED
        try:
            api.apply(CRD, crd, dry_run=dry_run)
            outcomes.append(Outcome(Change(action, ref)))
        except ClusterError as exc:
            outcomes.append(Outcome(Change(action, ref), str(exc)))
    return outcomes
