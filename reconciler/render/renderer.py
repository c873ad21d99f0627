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
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import CodeType
from typing import Any

import jinja2
from jinja2.bccache import Bucket, BytecodeCache
from jinja2.sandbox import SandboxedEnvironment

from reconciler import selection
from reconciler.datafiles import data_dir
from reconciler.documents import NimResource
from reconciler.errors import Problem, UsageError, error
from reconciler.jail import walk
from reconciler.objects import DesiredObject
from reconciler.refs import ObjRef
from reconciler.render import admit, nimcache, nimservice, shapes
from reconciler.render.assemble import Rendered, RenderError, checked, joined, parse, parsed
from reconciler.render.common import Site, namespace_context, relative, resource_context
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
# Offline admission judges this many objects at a time when bodies are dropped: a batch big enough to keep its
# checks hot (admit.py), small enough that the bodies waiting for it are a small part of the run's memory.
_JUDGED_EVERY = 512
TEMPLATES = ("namespace.yaml.j2", *NIMCACHE_TEMPLATES, *NIMSERVICE_TEMPLATES)


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


_DICT_NAMES = frozenset(dir(dict))


class _Sandbox(SandboxedEnvironment):
    """The sandbox, with ``mapping.key`` found without raising first: for a plain dict, Jinja's getattr fails
    (an exception, the costly part of a lookup) for every name that is not a dict method, then looks the key
    up. Skipping straight to the key for exactly those names gives the same answer every time."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        """``obj.attribute`` in a template, as the sandbox answers it."""
        if type(obj) is dict and attribute not in _DICT_NAMES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


class _CompiledOnce(BytecodeCache):
    """Compiled template code for the life of the process, shared by every Renderer: compiling the sixteen
    templates is a third of a small repo's no-op run, and every ``serve`` cycle and ``--loop`` pass builds a
    Renderer. Jinja keys a bucket by template name and file and checks it against a hash of the source, so an
    override edited between runs compiles afresh. Only this module's sandbox, always built with the same options,
    uses it: a code object never meets a different code generator."""

    _LIMIT = 256  # sixteen shipped templates, their overrides, and room for many edited versions

    def __init__(self) -> None:
        self._code: OrderedDict[str, tuple[str, CodeType | None]] = OrderedDict()
        self._lock = threading.Lock()  # serve renders on its worker thread while a test or CLI may build another

    def load_bytecode(self, bucket: Bucket) -> None:
        """Give ``bucket`` its code if the same name, file and source were compiled before."""
        with self._lock:
            held = self._code.get(bucket.key)
        if held is not None and held[0] == bucket.checksum:
            bucket.code = held[1]

    def dump_bytecode(self, bucket: Bucket) -> None:
        """Keep ``bucket``'s fresh code, dropping the oldest entry past the limit."""
        with self._lock:
            self._code[bucket.key] = (bucket.checksum, bucket.code)
            self._code.move_to_end(bucket.key)
            while len(self._code) > self._LIMIT:
                self._code.popitem(last=False)


_COMPILED = _CompiledOnce()


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
        env = _Sandbox(
            loader=jinja2.FileSystemLoader(roots),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            autoescape=False,
            bytecode_cache=_COMPILED,
        )
        self.tokens = shapes.Tokens()
        self.shapes = shapes.Shapes(self.tokens, parse)
        env.filters["j"] = _Quote(self.tokens)
        try:
            self.templates = {name: env.get_template(name) for name in TEMPLATES}
            for template in self.templates.values():
                # Jinja keeps a template's globals as a ChainMap, which every render copies key by key in Python
                # (~7% of a render's instructions, callgrind): a plain dict of the same names copies in C.
                template.globals = dict(template.globals)
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
        return joined([self.part(resources, resources, cluster, repo_root, selections)])

    def part(
        self,
        chosen: Sequence[NimResource],
        resources: Sequence[NimResource],
        cluster: str,
        repo_root: Path,
        selections: Mapping[ObjRef, Selection] | None = None,
        *,
        bodies: bool = True,
        shared: bool | None = None,
    ) -> Rendered:
        """The objects of the ``chosen`` few of ``resources`` (the cluster's all: a NIMService's NIMCache may be
        any of them), unsorted, with their problems; ``joined`` puts parts together as ``render`` does (pure).

        ``bodies=False``: each object keeps only its identity (apiVersion, kind, name, namespace), what an
        offline plan needs, its whole body dropped once offline admission has judged it: a large repo's rendered
        objects would otherwise be most of the run's memory. ``shared`` (default: ``not bodies``): the bodies
        hold the manifests' own values, not copies, for a caller that only reads them (``Shapes.objects``)."""
        caches = {(r.namespace, r.name): r for r in resources if r.kind == "NIMCache"}
        self.selections = selections or {}
        self.tokens.raw = not bodies if shared is None else shared
        repo_root = repo_root.resolve()
        objects: list[DesiredObject] = []
        problems: list[Problem] = []
        refused: list[Problem] = []
        judged = 0  # objects[:judged] are judged, and only identities when bodies are dropped
        for res in chosen:
            site = Site(cluster, relative(res.doc.where.path, repo_root))
            self.tokens.forget()
            try:
                if res.kind == "Namespace":
                    objects.append(self._maker(res)("namespace.yaml.j2", namespace_context(res, site), res.name, None))
                elif res.kind == "NIMCache":
                    objects += self._cache(res, site, problems)
                else:
                    objects += self._service(res, site, caches)
            except (RenderError, jinja2.TemplateError, ValueError, TypeError, KeyError) as exc:
                where = res.doc.where
                problems.append(error(where, "", f"{res.ref}: cannot render: {exc}", "render"))
            if not bodies and self.admission.waiting() >= _JUDGED_EVERY:
                refused += self.admission.refusals()
                objects[judged:] = [o.identity() for o in objects[judged:]]
                judged = len(objects)
        refused += self.admission.refusals()
        if not bodies:
            objects[judged:] = [o.identity() for o in objects[judged:]]
        return Rendered(objects, problems + refused)

    def _cache(self, res: NimResource, site: Site, problems: list[Problem]) -> list[DesiredObject]:
        chosen = self.selections.get(res.ref)
        ctx = nimcache.build(res, site, chosen)
        problems.extend(ctx.problems)
        make = self._maker(res)
        out = [make("nimcache/nimcache.yaml.j2", resource_context(res, site), res.name, None)]
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
        job.body["metadata"] = {**job.body["metadata"], "name": f"{res.name}-job-{digest}"}  # a copy: never shared
        out.append(job)
        return out

    def _service(self, res: NimResource, site: Site, caches: nimservice.Caches) -> list[DesiredObject]:
        ctx = nimservice.build(res, site, caches, self.selections)
        make = self._maker(res)
        out = [make("nimservice/nimservice.yaml.j2", resource_context(res, site), res.name, None)]
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
            body = (self.fast and self._fast(template, ctx)) or parsed(self._text(template, ctx), template, self.fast)
            checked(body, template, name, res.namespace)
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
        docs = (self.shapes.objects if self.tokens.raw else self.shapes.documents)(text, values)
        if docs is None or len(docs) != 1 or not isinstance(docs[0], dict):
            return None
        body: dict[str, Any] = docs[0]
        return body


_MAX_OVERRIDE_ENTRIES = 1_000


def _check_overrides(overrides: Path) -> None:
    if not overrides.is_dir():
        raise UsageError(f"--templates {overrides}: not a directory")
    # nothing outside the folder: a link out of it (to a secret, to /) would be rendered into the objects
    # an overrides folder holds sixteen templates at most: a walk that finds far more was given the wrong folder
    files, refused = walk(overrides, overrides, limit=_MAX_OVERRIDE_ENTRIES)
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
