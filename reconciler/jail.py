"""Walking a folder without leaving it: the files under a path, symbolic links followed only inside the folder
the walk is held to (reads directory entries and links, never a file's content).

Contract: ``walk(top, jail)`` returns the files under ``top`` and the problems of the walk, never raising for what
it finds (a link out, a loop, a link to nothing, an entry it cannot look at); ``confined`` and ``escapes`` judge
one path. Problems name the path only, never where a link points.
"""

from __future__ import annotations

import os
from pathlib import Path

from reconciler.errors import Problem, error
from reconciler.refs import SourceLocation


def walk(
    top: Path, jail: Path, suffixes: tuple[str, ...] = (), limit: int | None = None
) -> tuple[list[Path], list[Problem]]:
    """Every file under ``top`` (sorted; hidden entries skipped; only ``suffixes`` when given) and the problems
    of the walk. A symbolic link is followed only when what it points at is inside ``jail``: one that leaves
    it, one that dangles, and a directory reached a second time (a loop, or two names for one folder) are
    problems naming the link, and nothing behind them is opened or listed. An entry that cannot be looked at
    (gone meanwhile, unreadable, a link the kernel will not read) is a problem naming it, and skipped. ``limit``:
    past this many entries the walk stops, with a problem saying so."""
    files: list[Path] = []
    problems: list[Problem] = []
    prison = jail.resolve()
    outside = escapes(top, prison)
    if outside is not None:
        return [], [outside]
    seen = {top.resolve()}
    pending = [top]
    entries = 0
    while pending:
        folder = pending.pop()
        try:
            children = sorted(c for c in folder.iterdir() if not c.name.startswith("."))
        except OSError as exc:
            problems.append(_unreadable(folder, exc))
            continue
        entries += len(children)
        if limit is not None and entries > limit:
            message = f"holds more than {limit} entries: refused"
            return sorted(files), [error(SourceLocation(str(top)), "", message, "path-too-many"), *problems]
        for child in children:
            try:
                _visit(child, prison, seen, suffixes, pending, files, problems)
            except OSError as exc:
                problems.append(_unreadable(child, exc))
    return sorted(files), problems


def _visit(
    child: Path, prison: Path, seen: set[Path], suffixes: tuple[str, ...], pending: list[Path], files: list[Path],
    problems: list[Problem],
) -> None:  # fmt: skip
    """One entry of a folder: a problem, a folder to walk, a file found, or nothing."""
    refused = confined(child, prison)
    if refused is not None:
        problems.append(refused)
    elif child.is_dir():
        real = child.resolve()
        if real in seen:
            message = "is a second path to a folder already read (a symbolic-link loop or alias): skipped"
            problems.append(_link_problem(child, message, "path-loop"))
            return
        seen.add(real)
        pending.append(child)
    elif child.is_file() and (not suffixes or child.suffix in suffixes):
        files.append(child)


def _unreadable(path: Path, exc: OSError) -> Problem:
    # the reason only (strerror), not the exception's text: that may name where a link points
    return _link_problem(path, f"cannot be read ({exc.strerror or type(exc).__name__}): skipped", "path-unreadable")


def confined(path: Path, jail: Path) -> Problem | None:
    """None when ``path`` (a symbolic link or not) stays inside ``jail`` (resolved); else the problem, naming
    ``path`` only — never where a link points or what is there."""
    if not path.is_symlink():
        return None
    target = Path(os.path.realpath(path))
    if not target.exists():
        return _link_problem(path, "is a symbolic link to nothing", "path-dangling")
    if target != jail and jail not in target.parents:
        message = f"is a symbolic link out of {jail.name}/: refused (nothing outside is read)"
        return _link_problem(path, message, "path-outside")
    return None


def escapes(path: Path, jail: Path) -> Problem | None:
    """None when ``path`` resolves (every symbolic link along it followed) to ``jail`` or inside it; else the
    problem, naming ``path`` only. For a path the user named, whose folders may be links themselves."""
    if path.is_symlink():
        return confined(path, jail)
    target = Path(os.path.realpath(path))
    if target != jail and jail not in target.parents:
        return _link_problem(path, f"leaves {jail.name}/ through a symbolic link: refused", "path-outside")
    return None


def _link_problem(path: Path, message: str, rule: str) -> Problem:
    return error(SourceLocation(str(path)), "", message, rule)
