"""The operator's rules that JSON Schema expresses poorly, with the operator's wording (pure).

Every check takes a ``Document`` (whose body may not have passed the schema: checks read it defensively)
and returns ``Problem`` values located at the offending field.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler import API_VERSION
from reconciler.documents import Document
from reconciler.errors import Problem, error
from reconciler.refs import ObjRef, SourceLocation, field_path

KINDS = ("NIMCache", "NIMService")
# Job names carry "-job-" and an 8-character spec hash and, like every label value, stay within 63 characters.
MAX_NIMCACHE_NAME = 63 - len("-job-") - 8

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class NimResource:
    """A NIMCache or NIMService document with a usable kind, namespace and name."""

    kind: str
    namespace: str
    name: str
    doc: Document

    @property
    def body(self) -> dict[str, Any]:
        return self.doc.body

    @property
    def spec(self) -> dict[str, Any]:
        spec = self.doc.body.get("spec")
        return spec if isinstance(spec, dict) else {}

    @property
    def ref(self) -> ObjRef:
        return ObjRef(self.kind, self.namespace, self.name)


def get(node: Any, *keys: str | int) -> Any:
    """``node[k1][k2]…`` or None when any step is missing or of the wrong type."""
    for key in keys:
        if isinstance(key, int):
            node = node[key] if isinstance(node, list) and -len(node) <= key < len(node) else None
        else:
            node = node.get(key) if isinstance(node, dict) else None
    return node


def identify(doc: Document) -> NimResource | None:
    kind, name, namespace = (
        doc.body.get("kind"),
        get(doc.body, "metadata", "name"),
        get(doc.body, "metadata", "namespace"),
    )
    if kind in KINDS and isinstance(name, str) and isinstance(namespace, str):
        return NimResource(kind, namespace, name, doc)
    return None


def check_header(doc: Document) -> list[Problem]:
    """apiVersion and kind; a document failing these is not checked any further."""
    body = doc.body
    kind, version = body.get("kind"), body.get("apiVersion")
    if kind is None:
        return [error(doc.where, "kind", "required field is missing (NIMCache or NIMService)", "kind")]
    if kind not in KINDS:
        shown = kind if isinstance(kind, str) else repr(kind)
        msg = f"kind {shown} is not supported by nim-reconciler (supported kinds: NIMCache, NIMService)"
        return [error(doc.at(("kind",)), "kind", msg, "kind-not-supported")]
    if version != API_VERSION:
        msg = (
            f"apiVersion must be {API_VERSION} for {kind}, not {version!r}" if version else "required field is missing"
        )
        return [error(doc.at(("apiVersion",)), "apiVersion", msg, "api-version")]
    return []


def check_unsupported(doc: Document) -> list[Problem]:
    """Features of the operator that nim-reconciler does not reconcile, named precisely."""
    spec = get(doc.body, "spec")
    features: list[tuple[Path, str]] = []
    if get(spec, "inferencePlatform") == "kserve":
        features.append((("spec", "inferencePlatform"), "inferencePlatform: kserve (KServe InferenceService)"))
    if get(spec, "multiNode") is not None:
        features.append((("spec", "multiNode"), "multiNode (LeaderWorkerSet multi-node serving)"))
    if get(spec, "draResources") is not None:
        features.append((("spec", "draResources"), "draResources (dynamic resource allocation)"))
    if get(spec, "expose", "router", "eppConfig") is not None:
        features.append((("spec", "expose", "router", "eppConfig"), "expose.router.eppConfig (endpoint picker)"))
    return [
        error(doc.at(path), field_path(path), f"{what} is not supported by nim-reconciler", "not-supported")
        for path, what in features
    ]


def check_nimcache(doc: Document) -> list[Problem]:
    """The operator's rules for one NIMCache."""
    return [p for check in _NIMCACHE_CHECKS for p in check(doc)]


Check = Callable[[Document], Iterator[Problem]]


def err(doc: Document, path: Path, message: str, rule: str) -> Problem:
    return error(doc.at(path), field_path(path), message, rule)


# --- NIMCache ---------------------------------------------------------------------------------------------


def _cache_source(doc: Document) -> Iterator[Problem]:
    source = get(doc.body, "spec", "source")
    if not isinstance(source, dict):
        return
    present = [k for k in ("ngc", "dataStore", "hf") if source.get(k) is not None]
    if len(present) != 1:
        yield err(doc, ("spec", "source"), "Exactly one of ngc, dataStore, or hf must be defined", "source-exactly-one")
    for key in ("dataStore", "hf"):
        hf = source.get(key)
        if isinstance(hf, dict) and (hf.get("modelName") is None) == (hf.get("datasetName") is None):
            msg = "Exactly one of modelName or datasetName must be defined"
            yield err(doc, ("spec", "source", key), msg, "model-or-dataset")
    ngc = source.get("ngc")
    if isinstance(ngc, dict):
        if ngc.get("model") is not None and ngc.get("modelEndpoint") is not None:
            msg = "Only one of 'model' or 'modelEndpoint' can be specified"
            yield err(doc, ("spec", "source", "ngc", "modelEndpoint"), msg, "model-or-endpoint")
        yield from _profiles(doc, ngc.get("model"))


_SELECTORS = ("precision", "engine", "tensorParallelism", "qosProfile", "gpus", "lora", "buildable")


def _profiles(doc: Document, model: Any) -> Iterator[Problem]:
    profiles = get(model, "profiles")
    if not isinstance(profiles, list) or not profiles:
        return
    base = ("spec", "source", "ngc", "model")
    for key in _SELECTORS:
        if model.get(key) not in (None, "", []):
            msg = "must be empty if spec.source.ngc.model.profiles is provided"
            yield err(doc, (*base, key), msg, "profiles-exclusive")
    if "all" in profiles and len(profiles) > 1:
        msg = '"all" caches every profile and must be the only entry'
        yield err(doc, (*base, "profiles"), msg, "profiles-all-alone")


def _cache_storage(doc: Document) -> Iterator[Problem]:
    storage = get(doc.body, "spec", "storage")
    if not isinstance(storage, dict):
        return
    if not storage.get("pvc"):
        yield err(doc, ("spec", "storage", "pvc"), "must not be empty: a NIMCache caches into a PVC", "storage-pvc")
    else:
        yield from pvc_rules(doc, ("spec", "storage", "pvc"))


def pvc_rules(doc: Document, path: Path) -> Iterator[Problem]:
    pvc = get(doc.body, *path)
    if not isinstance(pvc, dict):
        return
    if pvc.get("create") is True:
        for key, what in (("size", "the PVC size, such as 50Gi"), ("volumeAccessMode", "such as ReadWriteOnce")):
            if not pvc.get(key):
                yield err(doc, (*path, key), f"required when create is true ({what})", f"pvc-{key}")
    elif not pvc.get("name"):
        msg = "required when create is not true: name the existing PVC, or set create: true"
        yield err(doc, (*path, "name"), msg, "pvc-name")


def _cert_config(doc: Document) -> Iterator[Problem]:
    if get(doc.body, "spec", "certConfig") is not None:
        msg = "deprecated field: the operator refuses it; move the CA bundle ConfigMap to spec.proxy.certConfigMap"
        yield err(doc, ("spec", "certConfig"), msg, "cert-config-deprecated")


_HOST = re.compile(r"^\.?[a-zA-Z0-9.-]+$")


def proxy_rules(doc: Document) -> Iterator[Problem]:
    proxy = get(doc.body, "spec", "proxy")
    if not isinstance(proxy, dict):
        return
    for key in ("httpProxy", "httpsProxy"):
        url = proxy.get(key)
        if isinstance(url, str) and url and not url.startswith(("http://", "https://")):
            yield err(doc, ("spec", "proxy", key), f'"{url}" must start with http:// or https://', "proxy-scheme")
    no_proxy = proxy.get("noProxy")
    if isinstance(no_proxy, str) and no_proxy.strip():
        for token in no_proxy.split(","):
            if not _no_proxy_token_ok(token.strip()):
                msg = f'"{token.strip()}" is not a host name, .domain suffix, IP address (with port) or CIDR'
                yield err(doc, ("spec", "proxy", "noProxy"), msg, "proxy-no-proxy")


def _no_proxy_token_ok(token: str) -> bool:
    if not token:
        return False
    if token.startswith("["):  # [IPv6], [IPv6]:port, [IPv6]/n
        host, _, rest = token[1:].partition("]")
        return _is_ip(host, 6) and (rest == "" or re.fullmatch(r":\d{1,5}|/\d{1,3}", rest) is not None)
    if "/" in token:
        try:
            ipaddress.IPv4Network(token, strict=False)
            return True
        except ValueError:
            return False
    host, _, port = token.partition(":")
    if port and not port.isdigit():
        return False
    return _is_ip(host, 4) or (not port and _HOST.match(host) is not None)


def _is_ip(text: str, version: int) -> bool:
    try:
        return ipaddress.ip_address(text).version == version
    except ValueError:
        return False


def _cache_name(doc: Document) -> Iterator[Problem]:
    name = get(doc.body, "metadata", "name")
    if isinstance(name, str) and len(name) > MAX_NIMCACHE_NAME:
        msg = (
            f"must be at most {MAX_NIMCACHE_NAME} characters so that the caching Job name fits in 63 (has {len(name)})"
        )
        yield err(doc, ("metadata", "name"), msg, "name-length")


_NIMCACHE_CHECKS: Sequence[Check] = (_cache_source, _cache_storage, _cert_config, proxy_rules, _cache_name)

# --- across documents -------------------------------------------------------------------------------------


def check_set(resources: Sequence[NimResource]) -> list[tuple[NimResource, Problem]]:
    """Duplicates (same kind/namespace/name) and NIMService → NIMCache references."""
    found: list[tuple[NimResource, Problem]] = []
    first: dict[ObjRef, NimResource] = {}
    for res in resources:
        other = first.setdefault(res.ref, res)
        if other is not res:
            msg = f"{res.ref} is defined twice: here and at {other.doc.at(('metadata', 'name'))}"
            found.append((res, err(res.doc, ("metadata", "name"), msg, "duplicate")))
    caches = {(r.namespace, r.name) for r in resources if r.kind == "NIMCache"}
    for res in resources:
        wanted = get(res.spec, "storage", "nimCache", "name")
        if res.kind == "NIMService" and isinstance(wanted, str) and (res.namespace, wanted) not in caches:
            msg = f'NIMCache "{wanted}" is not defined in namespace {res.namespace} in this repository'
            found.append((res, err(res.doc, ("spec", "storage", "nimCache", "name"), msg, "nimcache-reference")))
    return found


def location(res: NimResource, *path: str | int) -> SourceLocation:
    return res.doc.at(path)
