"""plan/prune.py: every prune guard as a row of one table (pure; the HTTP scenarios are in test_apply.py)."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.objects import DesiredObject
from reconciler.options import PruneOptions
from reconciler.plan.changes import Action
from reconciler.plan.prune import PRUNE, prune_changes
from reconciler.refs import ObjRef, SourceLocation

CACHE = ObjRef("NIMCache", "ns", "c")
PVC = ObjRef("PersistentVolumeClaim", "ns", "c-pvc")
JOB = ObjRef("Job", "ns", "c-job-1")
SERVICE = ObjRef("Service", "ns", "s")
KEPT = DesiredObject({"kind": "Service", "metadata": {"name": "other", "namespace": "ns"}}, None, SourceLocation("x"))


def _obj(ref: ObjRef, owner: ObjRef | None = None, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": ref.name, "namespace": ref.namespace}
    if owner is not None:
        meta["ownerReferences"] = [{"kind": owner.kind, "name": owner.name, "uid": "u"}]
    meta |= extra.pop("meta", {})
    return {"kind": ref.kind, "metadata": meta, **extra}


def _decide(
    leftover: list[ObjRef],
    live: dict[ObjRef, dict[str, Any]],
    options: PruneOptions,
    failed: bool,
    desired: tuple[DesiredObject, ...],
) -> dict[ObjRef, tuple[Action, str]]:
    return {c.ref: (c.action, c.reason) for c in prune_changes(leftover, live, desired, options, failed)}


PROTECTED = _obj(SERVICE, meta={"annotations": {PRUNE: "disabled"}})
CROWDED = [ObjRef("Service", "team-a", f"s{i}") for i in range(3)]
ELSEWHERE = ObjRef("Service", "team-b", "s")
SHARED_PVC = _obj(PVC, CACHE)
SHARED_PVC["metadata"]["ownerReferences"].append({"kind": "NIMCache", "name": "another", "uid": "v"})


@pytest.mark.parametrize(
    ("rule", "leftover", "live", "options", "failed", "desired", "expected"),
    [
        ("plain prune", [SERVICE], {SERVICE: _obj(SERVICE)}, PruneOptions(), False, (KEPT,), {SERVICE: Action.PRUNED}),
        (
            "--no-prune",
            [SERVICE],
            {SERVICE: _obj(SERVICE)},
            PruneOptions(enabled=False),
            False,
            (KEPT,),
            {SERVICE: (Action.SKIPPED, "prune is off (--no-prune)")},
        ),
        (
            "annotation prune: disabled",
            [SERVICE],
            {SERVICE: PROTECTED},
            PruneOptions(),
            False,
            (KEPT,),
            {SERVICE: (Action.SKIPPED, f"annotated {PRUNE}: disabled")},
        ),
        (
            "a failed run prunes nothing",
            [SERVICE],
            {SERVICE: _obj(SERVICE)},
            PruneOptions(),
            True,
            (KEPT,),
            {SERVICE: (Action.BLOCKED, "prune guard: an earlier stage failed")},
        ),
        (
            "an empty render needs --allow-empty",
            [SERVICE],
            {SERVICE: _obj(SERVICE)},
            PruneOptions(),
            False,
            (),
            {
                SERVICE: (
                    Action.BLOCKED,
                    "prune guard: the repo renders nothing: pruning everything needs --allow-empty",
                )
            },
        ),
        (
            "--allow-empty lets an empty render prune",
            [SERVICE],
            {SERVICE: _obj(SERVICE)},
            PruneOptions(allow_empty=True),
            False,
            (),
            {SERVICE: Action.PRUNED},
        ),
        (
            "--max-prune",
            [SERVICE, JOB],
            {SERVICE: _obj(SERVICE), JOB: _obj(JOB)},
            PruneOptions(max_prune=1),
            False,
            (KEPT,),
            {
                SERVICE: (Action.BLOCKED, "prune guard: 2 objects would be pruned, more than --max-prune 1"),
                JOB: (Action.BLOCKED, "prune guard: 2 objects would be pruned, more than --max-prune 1"),
            },
        ),
        (
            "annotated objects do not count against --max-prune",
            [SERVICE, JOB],
            {SERVICE: PROTECTED, JOB: _obj(JOB)},
            PruneOptions(max_prune=1),
            False,
            (KEPT,),
            {SERVICE: Action.SKIPPED, JOB: Action.PRUNED},
        ),
        (
            "a PVC whose NIMCache is still in git is kept, with a warning, not blocked",
            [PVC],
            {PVC: _obj(PVC, CACHE)},
            PruneOptions(),
            False,
            (KEPT,),
            {
                PVC: (
                    Action.SKIPPED,
                    "kept: model cache no longer referenced; delete it with: kubectl delete pvc -n ns c-pvc",
                )
            },
        ),
        (
            "a PVC without an owner is kept",
            [PVC],
            {PVC: _obj(PVC)},
            PruneOptions(),
            False,
            (KEPT,),
            {PVC: (Action.SKIPPED, "kept: model cache no longer referenced")},
        ),
        (
            "a PVC goes with its NIMCache",
            [PVC, CACHE],
            {PVC: _obj(PVC, CACHE), CACHE: _obj(CACHE)},
            PruneOptions(),
            False,
            (KEPT,),
            {PVC: Action.PRUNED, CACHE: Action.PRUNED},
        ),
        (
            "one crowded namespace is held back alone",
            [*CROWDED, ELSEWHERE],
            {r: _obj(r) for r in [*CROWDED, ELSEWHERE]},
            PruneOptions(max_prune_per_namespace=2),
            False,
            (KEPT,),
            {
                **{r: (Action.BLOCKED, "prune guard: 3 objects of namespace team-a would be pruned") for r in CROWDED},
                ELSEWHERE: Action.PRUNED,
            },
        ),
        (
            "the total counts the namespaces within their limit",
            [*CROWDED, ELSEWHERE],
            {r: _obj(r) for r in [*CROWDED, ELSEWHERE]},
            PruneOptions(max_prune=3),
            False,
            (KEPT,),
            {r: (Action.BLOCKED, "prune guard: 4 objects would be pruned, more than") for r in [*CROWDED, ELSEWHERE]},
        ),
        (
            "a PVC with a second owner stays when its NIMCache goes",
            [PVC, CACHE],
            {PVC: SHARED_PVC, CACHE: _obj(CACHE)},
            PruneOptions(),
            False,
            (KEPT,),
            {PVC: (Action.SKIPPED, "still owned by NIMCache/ns/another: kept"), CACHE: Action.PRUNED},
        ),
        (
            "a running Job is pruned once it has finished",
            [JOB],
            {JOB: _obj(JOB, CACHE, status={"active": 1})},
            PruneOptions(),
            False,
            (KEPT,),
            {JOB: (Action.SKIPPED, "still running: pruned once it has finished")},
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_prune_guard(
    rule: str,
    leftover: list[ObjRef],
    live: dict[ObjRef, dict[str, Any]],
    options: PruneOptions,
    failed: bool,
    desired: tuple[DesiredObject, ...],
    expected: dict[ObjRef, Action | tuple[Action, str]],
) -> None:
    decided = _decide(leftover, live, options, failed, desired)
    assert set(decided) == set(expected), rule
    for ref, want in expected.items():
        action, reason = decided[ref]
        if isinstance(want, tuple):
            assert action is want[0] and reason.startswith(want[1]), (rule, reason)
        else:
            assert action is want, (rule, reason)


def test_nothing_left_over_means_nothing_to_decide() -> None:
    assert prune_changes([], {}, (), PruneOptions(), failed=True) == []


def test_a_job_that_only_names_a_desired_cache_is_not_superseded_but_left_alone() -> None:
    from reconciler.plan.ownership import Inventory

    cache = DesiredObject({"kind": "NIMCache", "metadata": {"name": "c", "namespace": "ns"}}, None, SourceLocation("x"))
    labels = {"app.kubernetes.io/managed-by": "nim-reconciler", "nim-reconciler/cluster": "demo"}
    controller = [{"kind": "NIMCache", "name": "c", "uid": "u", "controller": True}]
    theirs = _obj(JOB, meta={"labels": labels, "uid": "not-in-the-inventory", "ownerReferences": controller})
    ours = _obj(ObjRef("Job", "ns", "c-job-0"), meta={"labels": labels, "uid": "ours", "ownerReferences": controller})
    live = {JOB: theirs, ObjRef("Job", "ns", "c-job-0"): ours, CACHE: {"metadata": {"uid": "u", "labels": labels}}}
    inventory = Inventory({ObjRef("Job", "ns", "c-job-0"): "ours", CACHE: "u"})
    decided = {
        c.ref: c
        for c in prune_changes([JOB, ObjRef("Job", "ns", "c-job-0")], live, (cache,), PruneOptions(), False, inventory)
    }
    assert decided[JOB].action is Action.SKIPPED and decided[JOB].reason.startswith("not ours, left alone")
    assert decided[ObjRef("Job", "ns", "c-job-0")].action is Action.PRUNED  # ours: superseded, deleted
