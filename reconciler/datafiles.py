"""Where the shipped data lives: ``schemas/`` and ``templates/`` (reads nothing itself).

Installed, they sit inside the package (``reconciler/schemas``); in a source checkout or an editable install,
at the top of the repository beside ``reconciler/``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The directory of shipped data called ``name`` (``schemas`` or ``templates``)."""
    inside = _PACKAGE / name
    if inside.is_dir():
        return inside
    return _PACKAGE.parent / name
