"""The house rules ARCHITECTURE.md states, checked: small modules, contracts in docstrings, light seams, tests
that stand alone. (The import contracts themselves are import-linter's, run by CI.)"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import REPO

PACKAGE = REPO / "reconciler"
# The pure core: every stage and value module that does no I/O of its own.
PURE = ["documents.py", "layout.py", "yaml_nodes.py", "refs.py", "errors.py", "kinds.py", "objects.py"]
PURE += ["options.py", "quantity.py", "status.py", "datafiles.py", "validate", "render", "plan", "report"]


def _modules(names: list[str]) -> list[Path]:
    found: list[Path] = []
    for name in names:
        path = PACKAGE / name
        found += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return found


def _undocumented(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    missing = []
    for node in tree.body:
        members = [node] + (list(node.body) if isinstance(node, ast.ClassDef) else [])
        for item in members:
            public = isinstance(item, ast.FunctionDef | ast.ClassDef) and not item.name.startswith("_")
            if public and ast.get_docstring(item) is None:
                missing.append(f"{path.relative_to(REPO)}:{item.lineno} {item.name}")
    return missing


def test_every_public_function_of_the_pure_core_states_its_contract() -> None:
    assert [m for path in _modules(PURE) for m in _undocumented(path)] == []


def test_every_module_has_a_docstring() -> None:
    assert [
        str(p.relative_to(REPO))
        for p in PACKAGE.rglob("*.py")
        if p.name != "__main__.py" and ast.get_docstring(ast.parse(p.read_text())) is None
    ] == []


def test_no_module_is_over_350_lines() -> None:
    long = {str(p.relative_to(REPO)): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 350}
    assert long == {}


@pytest.mark.parametrize(
    "module", ["reconciler.cluster.lock", "reconciler.cluster.events", "reconciler.cluster.record"]
)
def test_the_cluster_state_modules_load_neither_jinja2_nor_yaml_nor_the_client(module: str) -> None:
    code = f"import sys, {module}; print(sorted(m for m in ('jinja2', 'yaml', 'kubernetes') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_no_test_module_imports_another() -> None:
    offenders = []
    for path in (REPO / "tests").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[-1].startswith("test_"):
                offenders.append(f"{path.name} imports {node.module}")
            if isinstance(node, ast.ImportFrom) and node.module in ("conftest", "tests.conftest"):
                offenders.append(f"{path.name} imports conftest")
    assert offenders == []
