"""A non-editable install ships schemas/ inside the package: `reconcile validate` works from anywhere."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from .helpers import REPO


@pytest.mark.long
def test_non_editable_install_validates_from_another_directory(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source)
    for name in ("reconciler", "schemas", "templates"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    # Build the wheel with this environment's setuptools (a test extra), without network.
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
            "-w",
            str(dist),
            str(source),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    shutil.rmtree(source)  # the install must not depend on the source tree
    [wheel] = dist.glob("*.whl")
    # Install it as pip installs a pure wheel (unpacked into site-packages) in a venv of its own; a venv without
    # pip is ~20x faster to make. Dependencies come from the environment running the tests (no network needed).
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    (site / "outer.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = tmp_path / "elsewhere"
    work.mkdir()
    # The console script `reconcile`, as its entry point names it.
    script = (
        "import sys; from importlib.metadata import entry_points; "
        "main = entry_points(group='console_scripts')['reconcile'].load(); "
        "import reconciler; print(reconciler.__file__, file=sys.stderr); "
        f"sys.argv = ['reconcile', 'validate', {str(REPO / 'clusters')!r}]; main()"
    )
    result = subprocess.run([str(python), "-c", script], cwd=work, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Errors: 0" in result.stdout
    located = result.stderr.strip().splitlines()[-1]
    assert located.startswith(str(site)), located  # the installed copy, not the source tree
    # Every shipped template is in the package: rendering the example repo needs all of them compiled.
    render = script.replace(f"'validate', {str(REPO / 'clusters')!r}", f"'render', {str(REPO)!r}")
    rendered = subprocess.run([str(python), "-c", render], cwd=work, capture_output=True, text=True)
    assert rendered.returncode == 0, rendered.stderr
    assert rendered.stdout.count("\nkind: Deployment\n") == 2
