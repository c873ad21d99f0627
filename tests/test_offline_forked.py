"""A large offline run reads and renders on both CPUs, and says exactly what one process says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.generate import generate
from reconciler import documents, offline
from reconciler.errors import Severity
from reconciler.options import Options

PAIRS = 320  # 320 files and 640 resources: past both forking thresholds (150 files, 200 resources a process)


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("large")
    generate(root, PAIRS)
    return root


def _forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pids os.fork returned in this process from now on (the children forked)."""
    made: list[int] = []
    real: Callable[[], int] = os.fork

    def fork() -> int:
        pid = real()
        if pid:
            made.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    return made


def _no_other_thread() -> None:
    # A thread left running keeps a run from forking (forked.py): this test would then compare one path with
    # itself. An earlier test's server thread may still be finishing its last answer: give it a moment.
    for thread in threading.enumerate():
        if thread is not threading.main_thread():
            thread.join(timeout=5)
    assert threading.active_count() == 1, [t.name for t in threading.enumerate()]


def test_documents_read_in_children_equal_those_read_here(large: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_other_thread()
    cluster = large / "clusters" / "bench"
    made = _forks(monkeypatch)
    both = offline._loaded([cluster])
    assert len(made) == 1
    one = documents.load_paths([cluster])
    assert both.files == one.files == PAIRS and both.problems == one.problems
    assert both.documents == one.documents  # bodies and where they start, in file order
    tables = [[(d.lines, d.raw, d.has_float) for d in loaded.documents] for loaded in (both, one)]
    assert tables[0] == tables[1]


def test_an_offline_render_on_two_cpus_equals_the_render_of_one(large: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_other_thread()
    options = Options(repo=large, cluster="bench")
    made = _forks(monkeypatch)
    identities = offline.render(options, bodies=False)
    assert len(made) == 2  # the files, then the resources
    whole = offline.render(options)  # bodies kept: rendered here, in one process
    assert identities.check == whole.check and identities.check.ok
    assert identities.objects == [o.identity() for o in whole.objects]
    assert len(identities.objects) > 2000


def _break_the_last_service(root: Path) -> tuple[str, int]:
    """A label value the cluster refuses, in the last file (rendered by the child): its path and line."""
    last = sorted((root / "clusters" / "bench").rglob("*.yaml"))[-1]
    docs: list[dict[str, Any]] = list(yaml.safe_load_all(last.read_text()))
    next(d for d in docs if d["kind"] == "NIMService")["spec"]["labels"] = {"team": "billing team"}
    last.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    line = next(i for i, t in enumerate(last.read_text().splitlines(), 1) if "billing team" in t)
    return str(last), line


def test_a_refusal_found_in_a_child_is_reported_at_its_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_other_thread()
    generate(tmp_path, PAIRS)
    path, line = _break_the_last_service(tmp_path)
    options = Options(repo=tmp_path, cluster="bench")
    made = _forks(monkeypatch)
    identities = offline.render(options, bodies=False)
    assert len(made) == 2
    whole = offline.render(options)
    assert identities.check == whole.check and not identities.check.ok and identities.objects == []
    refused = [p for p in identities.check.problems if "would refuse" in p.message]
    assert refused and {(p.where.path, p.where.line, p.field) for p in refused} == {(path, line, "spec.labels.team")}


def test_an_invalid_manifest_stops_a_render_begun_before_the_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The render children start while this process validates: with an error anywhere, what they made (here a
    # refusal of the last file's label) is dropped unseen, as if they had never started.
    _no_other_thread()
    generate(tmp_path, PAIRS)
    _break_the_last_service(tmp_path)
    first = sorted((tmp_path / "clusters" / "bench").rglob("*.yaml"))[0]
    first.write_text(first.read_text().replace("kind: NIMCache", "kind: NIMCache\nbogus: 1", 1))
    options = Options(repo=tmp_path, cluster="bench")
    made = _forks(monkeypatch)
    identities = offline.render(options, bodies=False)
    assert len(made) == 2, "the render had begun"
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # and its children are gone
    whole = offline.render(options)  # the verdict first, then no render at all
    assert identities.check == whole.check and identities.objects == whole.objects == []
    errors = [p for p in identities.check.problems if p.severity is Severity.ERROR]
    assert [p.where.path for p in errors] == [str(first)] and identities.check.errors == 1
    assert not [p for p in identities.check.problems if "would refuse" in p.message]


def _dry_run(root: Path, cpus: set[int]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "reconciler", "--dry-run", "--offline", "--repo", str(root), "-o", "json"]
    return subprocess.run(command, capture_output=True, text=True, preexec_fn=lambda: os.sched_setaffinity(0, cpus))


def test_the_whole_dry_run_says_the_same_on_one_cpu_and_on_two(large: Path) -> None:
    if len(os.sched_getaffinity(0)) < 2:
        pytest.fail("this test needs a machine with two CPUs (CI has two)")
    one, two = _dry_run(large, {0}), _dry_run(large, {0, 1})
    assert one.returncode == two.returncode == 1, one.stderr + two.stderr  # 1: changes pending, like kubectl diff
    assert one.stdout == two.stdout and one.stderr == two.stderr
    report = json.loads(two.stdout)
    assert report["valid"] and report["summary"]["created"] == len(report["changes"]) > 2000
