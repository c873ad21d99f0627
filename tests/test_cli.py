"""cli.py: the validate command as a user runs it (exit codes, formats, no tracebacks)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from reconciler.cli import main

from .conftest import REPO
from .manifests import NIMCACHE, NIMSERVICE, dump, variant


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_example_repo_validates_clean() -> None:
    code, out = run("validate", str(REPO / "clusters"))
    assert code == 0, out
    assert "Errors: 0, Warnings: 0" in out


def test_invalid_manifest_exits_2_with_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(dump(variant(NIMCACHE, {"spec.storage.pvc.sizee": "1Gi"})))
    code, out = run("validate", str(bad))
    assert code == 2
    assert f"{bad}:" in out and 'spec.storage.pvc.sizee: unknown field "sizee" (did you mean "size"?)' in out


def test_json_output(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(dump(NIMCACHE, NIMSERVICE))
    code, out = run("validate", str(tmp_path), "-o", "json")
    assert code == 0
    body = json.loads(out)
    assert body["valid"] is True and body["summary"]["resources"] == 2


def test_strict_fails_on_warnings(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text(dump(NIMCACHE, variant(NIMSERVICE, {"spec.storage": {"hostPath": "/m"}})))
    assert run("validate", str(tmp_path))[0] == 0
    assert run("validate", "--strict", str(tmp_path))[0] == 2


def test_garbage_input_never_gives_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "binary.yaml").write_bytes(bytes(range(256)))
    (tmp_path / "tabs.yaml").write_text("a:\n\t- b\n")
    (tmp_path / "list.yaml").write_text("- 1\n")
    code, out = run("validate", str(tmp_path))
    assert code == 2
    assert "Traceback" not in out
    assert out.count(str(tmp_path)) == 3


def test_missing_path_exits_2(tmp_path: Path) -> None:
    code, out = run("validate", str(tmp_path / "missing"))
    assert code == 2 and "no such file or directory" in out
