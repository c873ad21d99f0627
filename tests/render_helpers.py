"""Render helpers for tests: the whole pipeline from a directory or from YAML text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reconciler import pipeline
from reconciler.documents import load_text
from reconciler.render.renderer import Renderer
from reconciler.validate.check import validate

_RENDERER = Renderer()


def render_dir(repo: Path, cluster: str | None = None, templates: Path | None = None) -> pipeline.Render:
    return pipeline.render(pipeline.Options(repo=repo, cluster=cluster, templates=templates))


def render_text(text: str) -> list[dict[str, Any]]:
    docs, problems = load_text(text, "clusters/t/m.yaml")
    assert not problems, problems
    validated = validate(docs)
    assert not validated.errors, validated.errors
    rendered = _RENDERER.render(validated.resources, "t", Path("."))
    assert not [p for p in rendered.problems if p.severity == "error"], rendered.problems
    return [o.body for o in rendered.objects]


def by_kind(bodies: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [b for b in bodies if b["kind"] == kind and (name is None or b["metadata"]["name"] == name)]
    assert len(found) == 1, [(b["kind"], b["metadata"]["name"]) for b in bodies]
    return found[0]


def container(body: dict[str, Any]) -> dict[str, Any]:
    first: dict[str, Any] = body["spec"]["template"]["spec"]["containers"][0]
    return first


def env_of(body: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(body)["env"]}
