"""``reconcile profiles``: a NIM image's model manifest, and which profiles a NIMCache's selectors pick (offline).

What the operator's probe Pod reads in the cluster, for a pull request or a laptop: the user gives the image's
``model_manifest.yaml`` and sees the profile ids to pin in git.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from reconciler import profiles
from reconciler.cli.flags import EXIT_CHANGES, EXIT_OK, fail, say
from reconciler.documents import get, load_file
from reconciler.errors import printable

_SHOWN_TAGS = (
    "llm_engine",
    "backend",
    "model_type",
    "precision",
    "tp",
    "pp",
    "profile",
    "gpu",
    "gpu_device",
    "feat_lora",
    "trtllm_buildable",
)


@click.command("profiles")
@click.argument("manifest", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--nimcache",
    "cache_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A manifest file holding the NIMCache whose spec.source.ngc.model selectors pick the profiles.",
)
@click.option("--name", help="Which NIMCache of --nimcache (when the file holds several).")
@click.option(
    "--gpu",
    "gpus",
    multiple=True,
    metavar="PRODUCT",
    help="A GPU product of the cluster's nodes (their nvidia.com/gpu.product label), as the operator "
    "discovers them when the selectors name no GPU. Repeatable.",
)
def profiles_command(manifest: Path, cache_file: Path | None, name: str | None, gpus: tuple[str, ...]) -> None:
    """List the profiles of a model_manifest.yaml and mark those a NIMCache's selectors pick.

    Exit 0; 1 when --nimcache is given and no profile matches (the operator's "no profiles are selected for
    caching"); 2 for a file that cannot be read.
    """
    parsed = profiles.parse(_read(manifest), str(manifest))
    say(f"Model manifest: {printable(str(manifest))} (schema {parsed.schema}, {len(parsed.profiles)} profiles)")
    if cache_file is None:
        for profile in parsed.profiles:
            say(f"  {printable(profile.id)}  {_tags(profile)}")
        raise SystemExit(EXIT_OK)
    cache, model = _selectors_of(cache_file, name)
    chosen = profiles.selectors(model)
    pinned = [str(p) for p in model.get("profiles") or []]
    picked = pinned or profiles.select(parsed, chosen, gpus)
    say(f"Selectors of {printable(cache)}: " + ("profiles given explicitly" if pinned else chosen.describe()))
    for profile in parsed.profiles:
        mark = "selected" if profile.id in picked else "        "
        say(f"  {mark}  {printable(profile.id)}  {_tags(profile)}")
    if not picked:
        missing = profiles.unmatched(parsed, chosen)
        why = f" (no profile has {', '.join(missing)})" if missing else " (no profile matches them together)"
        say(f"{profiles.NO_PROFILES}{why}")
        raise SystemExit(EXIT_CHANGES)
    say(f"{len(picked)} of {len(parsed.profiles)} profiles selected; to pin them in git:")
    say(f"  spec.source.ngc.model.profiles: {json.dumps(picked)}")
    raise SystemExit(EXIT_OK)


def _read(path: Path) -> str:
    try:
        if path.stat().st_size > profiles.MAX_MANIFEST_BYTES:
            fail(f"{printable(str(path))}: over {profiles.MAX_MANIFEST_BYTES // 1024} KiB: not a model manifest")
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{printable(str(path))}: cannot be read ({printable(str(getattr(exc, 'strerror', None) or exc))})")


def _selectors_of(path: Path, name: str | None) -> tuple[str, dict[str, Any]]:
    """(``NIMCache/ns/name``, its ``spec.source.ngc.model``) from a manifest file."""
    docs, problems = load_file(path)
    if problems:
        fail(str(problems[0]))
    all_caches = [d for d in docs if get(d.body, "kind") == "NIMCache"]
    caches = [d for d in all_caches if name is None or get(d.body, "metadata", "name") == name]
    if len(caches) != 1:
        found = ", ".join(str(get(d.body, "metadata", "name")) for d in all_caches) or "none"
        what = ("no NIMCache" + (f" named {name}" if name else "")) if not caches else "several NIMCaches"
        fail(f"{printable(str(path))}: {printable(what)} (it has: {printable(found)}; pick one with --name)")
    body = caches[0].body
    ngc = get(body, "spec", "source", "ngc")
    if not isinstance(ngc, dict):
        fail(f"{caches[0].where}: spec.source.ngc: only an NGC NIMCache selects profiles from a model manifest")
    model: dict[str, Any] = ngc["model"] if isinstance(ngc.get("model"), dict) else {}
    meta = body.get("metadata") or {}
    return f"NIMCache/{meta.get('namespace', '')}/{meta.get('name', '')}", model


def _tags(profile: profiles.Profile) -> str:
    shown = [f"{k}={profile.tags[k]}" for k in _SHOWN_TAGS if profile.tags.get(k)]
    return printable(" ".join(shown))
