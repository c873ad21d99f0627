"""Rendering: the Kubernetes objects of every validated NIMCache / NIMService, from Jinja templates (pure).

Contract: ``Renderer(overrides).render(resources, cluster, repo_root)`` returns ``Rendered``: the objects in apply
order (kind order, then namespace and name) and the problems found. Safety, in order:
- a ``SandboxedEnvironment`` with ``StrictUndefined``, templates compiled once;
- every interpolated value goes through the ``j`` filter (JSON, which is YAML), so no manifest value can change
  the structure of a rendered object;
- the rendered text is parsed back and must be exactly one object of the kind, name and namespace meant.
Output is deterministic: the same input gives the same objects, keys in the same order.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml
from jinja2.sandbox import SandboxedEnvironment

from reconciler import selection
from reconciler.datafiles import data_dir
from reconciler.documents import NimResource, get, walk
from reconciler.errors import Problem, UsageError, error
from reconciler.kinds import BY_KIND
from reconciler.objects import SOURCE_ANNOTATION, DesiredObject, labels
from reconciler.refs import ObjRef
from reconciler.render import admit, nimcache, nimservice, shapes, yaml_subset
from reconciler.render.common import Site, with_defaults
from reconciler.selection import Selection
from reconciler.validate import openapi

NIMCACHE_TEMPLATES = tuple(
    f"nimcache/{n}.yaml.j2" for n in ("nimcache", "persistentvolumeclaim", "configmap", "pod", "job")
)
NIMSERVICE_TEMPLATES = tuple(
    f"nimservice/{n}.yaml.j2"
    for n in (
        "nimservice",
        "persistentvolumeclaim",
        "serviceaccount",
        "service",
        "deployment",
        "horizontalpodautoscaler",
        "ingress",
        "httproute",
        "grpcroute",
        "servicemonitor",
    )
)
TEMPLATES = ("namespace.yaml.j2", *NIMCACHE_TEMPLATES, *NIMSERVICE_TEMPLATES)


@dataclass(frozen=True)
class Rendered:
    """The objects rendered, in apply order, and the problems found while rendering."""

    objects: list[DesiredObject]
    problems: list[Problem]


class RenderError(Exception):
    """A template produced something other than the object it was meant to."""


class _Quote:
    """The ``j`` filter: a value as JSON, or as a token while rendering a skeleton (see shapes.py)."""

    def __init__(self, tokens: shapes.Tokens) -> None:
        self.tokens = tokens

    def __call__(self, value: Any) -> str:
        if isinstance(value, jinja2.Undefined):
            value._fail_with_undefined_error()  # StrictUndefined: raises "'x' is undefined"
        if self.tokens.values is not None:
            return self.tokens.token(value)
        return shapes.quote(value)


class Renderer:
    """Compiles the templates once (shipped ones, or ``overrides/<same relative path>``) and renders."""

    def __init__(self, overrides: Path | None = None, *, fast: bool = True) -> None:
        """``fast=False`` is the reference path: JSON values, every object parsed by PyYAML (tests compare)."""
        self.fast = fast
        self.overrides = overrides
        self.admission = admit.Admission()
        self.selections: Mapping[ObjRef, Selection] = {}
        self.overridden: dict[str, tuple[Path, str] | None] = {}
        roots = [str(data_dir("templates"))]
        if overrides is not None:
            _check_overrides(overrides)
            roots.insert(0, str(overrides))
        env = SandboxedEnvironment(
            loader=jinja2.FileSystemLoader(roots),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            autoescape=False,
        )
        self.tokens = shapes.Tokens()
        self.shapes = shapes.Shapes(self.tokens, parse)
        env.filters["j"] = _Quote(self.tokens)
        try:
            self.templates = {name: env.get_template(name) for name in TEMPLATES}
        except jinja2.TemplateSyntaxError as exc:  # name the file and line: an override is the user's own code
            where = f"{exc.filename or exc.name}:{exc.lineno}" if exc.lineno else str(exc.filename or exc.name)
            raise UsageError(f"{where}: template syntax error: {exc.message}") from exc
        except jinja2.TemplateError as exc:
            raise UsageError(f"template error: {exc}") from exc

    def render(
        self,
        resources: Sequence[NimResource],
        cluster: str,
        repo_root: Path,
        selections: Mapping[ObjRef, Selection] | None = None,
    ) -> Rendered:
        """The objects of every resource (one cluster), in apply order, and the problems found (pure).
        ``selections``: each probing NIMCache's profile selection as the cluster shows it (None: offline)."""
        caches = {(r.namespace, r.name): r for r in resources if r.kind == "NIMCache"}
        self.selections = selections or {}
        repo_root = repo_root.resolve()
        objects: list[DesiredObject] = []
        problems: list[Problem] = []
        for res in resources:
            site = Site(cluster, _relative(res.doc.where.path, repo_root))
            self.tokens.forget()
            try:
                if res.kind == "Namespace":
                    objects.append(self._maker(res)("namespace.yaml.j2", _namespace(res, site), res.name, None))
                elif res.kind == "NIMCache":
                    objects += self._cache(res, site, problems)
                else:
                    objects += self._service(res, site, caches)
            except (RenderError, jinja2.TemplateError, ValueError, TypeError, KeyError) as exc:
                where = res.doc.where
                problems.append(error(where, "", f"{res.ref}: cannot render: {exc}", "render"))
        problems += self.admission.refusals()
        objects.sort(key=DesiredObject.sort_key)
        return Rendered(objects, problems + _collisions(objects))

    def _cache(self, res: NimResource, site: Site, problems: list[Problem]) -> list[DesiredObject]:
        chosen = self.selections.get(res.ref)
        ctx = nimcache.build(res, site, chosen)
        problems.extend(ctx.problems)
        make = self._maker(res)
        out = [make("nimcache/nimcache.yaml.j2", _custom_resource(res, site), res.name, None)]
        if ctx.pvc is not None:
            out.append(make("nimcache/persistentvolumeclaim.yaml.j2", {"pvc": ctx.pvc}, ctx.pvc["name"], res.ref))
        if chosen is not None and chosen.manifest:
            name = selection.configmap_name(res.name)
            kept = {**ctx.keep, "configmap_name": name, "manifest": chosen.manifest}
            out.append(make("nimcache/configmap.yaml.j2", kept, name, res.ref))
        if ctx.probe is not None:
            name = selection.pod_name(res.name)
            out.append(make("nimcache/pod.yaml.j2", {"probe": ctx.probe, "pod_name": name}, name, res.ref))
        if chosen is not None and chosen.stage not in selection.JOB_STAGES:
            return out  # no caching Job until the profiles are known
        job = make("nimcache/job.yaml.j2", {"job": ctx.job, "job_name": f"{res.name}-job"}, f"{res.name}-job", res.ref)
        # The pod template of a Job is immutable: the name carries a hash of the spec, so a change makes a new Job.
        digest = hashlib.sha256(json.dumps(job.body["spec"], sort_keys=True).encode()).hexdigest()[:8]
        job.body["metadata"]["name"] = f"{res.name}-job-{digest}"
        out.append(job)
        return out

    def _service(self, res: NimResource, site: Site, caches: nimservice.Caches) -> list[DesiredObject]:
        ctx = nimservice.build(res, site, caches, self.selections)
        make = self._maker(res)
        out = [make("nimservice/nimservice.yaml.j2", _custom_resource(res, site), res.name, None)]
        wanted = [
            ("persistentvolumeclaim", ctx["pvc"] is not None, ctx["pvc"]["name"] if ctx["pvc"] else ""),
            ("serviceaccount", True, res.name),
            ("service", True, res.name),
            ("deployment", True, res.name),
            ("horizontalpodautoscaler", ctx["hpa"] is not None, res.name),
            ("ingress", ctx["ingress"] is not None, res.name),
            ("httproute", "http" in ctx["routes"], res.name),
            ("grpcroute", "grpc" in ctx["routes"], res.name),
            ("servicemonitor", ctx["monitor"] is not None, res.name),
        ]
        out += [make(f"nimservice/{t}.yaml.j2", ctx, name, res.ref) for t, on, name in wanted if on]
        return out

    def _maker(self, res: NimResource) -> Callable[[str, dict[str, Any], str, ObjRef | None], DesiredObject]:
        known = res.doc.has_float  # the loader knows; a document built otherwise is walked
        in_manifest = openapi.has_float(res.body) if known is None else known

        def make(template: str, ctx: dict[str, Any], name: str, owner: ObjRef | None) -> DesiredObject:
            body = (self.fast and self._fast(template, ctx)) or _parse(self._text(template, ctx), template, self.fast)
            _check(body, template, name, res.namespace)
            # offline admission: what kube-apiserver would refuse, refused here first (judged after the render)
            self.admission.add(res, body, self._override(template), in_manifest)
            return DesiredObject(body, owner, res.doc.where)

        return make

    def _override(self, template: str) -> tuple[Path, str] | None:
        """The override file that replaces ``template``, and the shipped template's text, if overridden (once)."""
        if template not in self.overridden:
            path = self.overrides / template if self.overrides is not None else None
            if path is not None and path.is_file():
                self.overridden[template] = (path, (data_dir("templates") / template).read_text(encoding="utf-8"))
            else:
                self.overridden[template] = None
        return self.overridden[template]

    def _text(self, template: str, ctx: dict[str, Any]) -> str:
        try:
            return self.templates[template].render(ctx)
        except (jinja2.TemplateError, TypeError, ValueError) as exc:
            raise RenderError(f"{template}: {exc}") from exc

    def _fast(self, template: str, ctx: dict[str, Any]) -> dict[str, Any] | None:
        """The object from the parsed skeleton of this template path, or None to take the slow path."""
        self.tokens.start()
        try:
            text = self.templates[template].render(ctx)
            values = self.tokens.values or []
        except Exception:  # the slow path raises the same error with a proper message
            return None
        finally:
            self.tokens.values = None
        docs = self.shapes.documents(text, values)
        if docs is None or len(docs) != 1 or not isinstance(docs[0], dict):
            return None
        body: dict[str, Any] = docs[0]
        return body


def _namespace(res: NimResource, site: Site) -> dict[str, Any]:
    meta = res.body["metadata"]
    return {
        "name": res.name,
        "labels": with_defaults(labels(site.cluster), meta.get("labels")),
        "annotations": {**(meta.get("annotations") or {}), SOURCE_ANNOTATION: site.source},
    }


def _custom_resource(res: NimResource, site: Site) -> dict[str, Any]:
    meta = res.body["metadata"]
    return {
        "name": res.name,
        "namespace": res.namespace,
        "labels": with_defaults(labels(site.cluster), meta.get("labels")),
        "annotations": {**(meta.get("annotations") or {}), SOURCE_ANNOTATION: site.source},
        "spec": res.spec,
    }


def parse(text: str) -> list[Any]:
    """The documents of rendered text: the fast reader for our templates' subset, else PyYAML (C loader)."""
    try:
        return yaml_subset.documents(text)
    except yaml_subset.Unsupported:
        return [d for d in yaml.load_all(text, Loader=yaml.CSafeLoader) if d is not None]


def _parse(text: str, template: str, fast: bool) -> dict[str, Any]:
    try:
        docs = parse(text) if fast else [d for d in yaml.load_all(text, Loader=yaml.CSafeLoader) if d is not None]
    except yaml.YAMLError as exc:
        raise RenderError(f"{template} produced invalid YAML: {exc}") from exc
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise RenderError(f"{template} must produce exactly one object, produced {len(docs)}")
    body: dict[str, Any] = docs[0]
    return body


def _check(body: dict[str, Any], template: str, name: str, namespace: str) -> None:
    """The rendered object must be the one the template is for: kind, apiVersion, name and namespace."""
    kind = template.rsplit("/", 1)[-1].split(".")[0]
    expected = next(k for k in BY_KIND.values() if k.kind.lower() == kind)
    meta = body.get("metadata")
    found = (body.get("apiVersion"), body.get("kind"), get(meta, "name"), get(meta, "namespace"))
    wanted = (expected.api_version, expected.kind, name, namespace if expected.namespaced else None)
    if found != wanted:
        raise RenderError(f"{template} rendered {found}, expected {wanted}")


def _collisions(objects: Sequence[DesiredObject]) -> list[Problem]:
    """Two manifests that render one object (a NIMCache's ``x-pvc`` and a NIMService whose own PVC is named
    ``x-pvc``): the second apply would take over the first's object. An error at each of the manifests."""
    first: dict[ObjRef, DesiredObject] = {}
    found: list[Problem] = []
    for obj in objects:
        ref = obj.ref
        other = first.setdefault(ref, obj)
        if other is obj or other.source == obj.source:
            continue
        for here, there in ((obj, other), (other, obj)):
            message = (
                f"{ref} is rendered from this manifest and from {there.source}: object names must be unique "
                "per kind and namespace across the cluster"
            )
            found.append(error(here.source, "", message, "name-collision"))
    return found


def _relative(path: str, root: Path) -> str:
    absolute = os.path.abspath(path)
    prefix = str(root) + os.sep
    if absolute.startswith(prefix):  # the common case, without relpath's cost
        return Path(absolute[len(prefix) :]).as_posix()
    try:
        return Path(os.path.relpath(absolute, root)).as_posix()
    except ValueError:
        return Path(path).as_posix()


def _check_overrides(overrides: Path) -> None:
    if not overrides.is_dir():
        raise UsageError(f"--templates {overrides}: not a directory")
    # nothing outside the folder: a link out of it (to a secret, to /) would be rendered into the objects
    files, refused = walk(overrides, overrides)
    if refused:
        raise UsageError(f"--templates {overrides}: {refused[0].where.path} {refused[0].message}")
    # every file counts: an override without .j2 (or misspelt) would otherwise be silently ignored
    found = [p.relative_to(overrides).as_posix() for p in files]
    unknown = [f for f in found if f not in TEMPLATES]
    if unknown:
        raise UsageError(
            f"--templates {overrides}: unknown template(s) {', '.join(unknown)}; "
            f"overrides use the shipped paths: {', '.join(TEMPLATES)}"
        )
