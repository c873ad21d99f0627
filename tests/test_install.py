"""A non-editable install ships schemas/ inside the package: `reconcile validate` works from anywhere."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

from .helpers import REPO


def test_non_editable_install_validates_from_another_directory(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source)
    for name in ("reconciler", "schemas", "templates"):
        if (REPO / name).exists():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    # Dependencies come from the environment running the tests (no network needed); the project itself does not.
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "outer.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # Build the wheel with this environment's setuptools (a test extra), install it without network.
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(dist),
            str(source),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    [wheel] = dist.glob("*.whl")
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
        text=True,
    )
    shutil.rmtree(source)  # the install must not depend on the source tree
    work = tmp_path / "elsewhere"
    work.mkdir()
    result = subprocess.run(
        [str(env_dir / "bin" / "reconcile"), "validate", str(REPO / "clusters")],
        cwd=work,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Errors: 0" in result.stdout
    located = subprocess.run(
        [str(python), "-c", "import reconciler, sys; print(reconciler.__file__)"],
        cwd=work,
        capture_output=True,
        text=True,
    ).stdout
    assert str(env_dir) in located and sys.prefix not in located.replace(str(env_dir), "")
