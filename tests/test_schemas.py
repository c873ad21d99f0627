"""schemas/: well-formed JSON Schema 2020-12, and the generated Kubernetes definitions in sync."""

from __future__ import annotations

import json
import runpy
import shutil
from pathlib import Path

import jsonschema
import pytest

from .helpers import REPO


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "schemas").glob("*.json")))
def test_schema_is_valid_2020_12(name: str) -> None:
    schema = json.loads((REPO / "schemas" / name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_generated_kubernetes_definitions_are_in_sync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("kubernetes_validate")
    copy = tmp_path / "repo"
    (copy / "scripts").mkdir(parents=True)
    (copy / "schemas").mkdir()
    shutil.copy(REPO / "scripts" / "gen_k8s_schema.py", copy / "scripts")
    monkeypatch.setattr("sys.argv", ["gen_k8s_schema.py"])
    runpy.run_path(str(copy / "scripts" / "gen_k8s_schema.py"), run_name="__main__")
    assert (copy / "schemas" / "k8s.schema.json").read_text() == (REPO / "schemas" / "k8s.schema.json").read_text()
