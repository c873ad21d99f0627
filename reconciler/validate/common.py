"""The operator's rules that JSON Schema expresses poorly, with the operator's wording (pure).

Every check takes a ``Document`` (whose body may not have passed the schema: checks read it defensively)
and returns ``Problem`` values located at the offending field.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator, Sequence

from reconciler.documents import Document, NimResource, get
from reconciler.errors import Problem, error
from reconciler.kinds import API_VERSION, CUSTOM_KINDS, MANIFEST_KINDS
from reconciler.objects import MODEL_LAYOUT, NATIVE, cache_name
from reconciler.refs import ObjRef, SourceLocation, field_path

Path = tuple[str | int, ...]


def check_header(doc: Document) -> list[Problem]:
    """apiVersion and kind; a document failing these is not checked any further."""
    body = doc.body
    kind, version = body.get("kind"), body.get("apiVersion")
    if kind is None:
        return [error(doc.where, "kind", "required field is missing (NIMCache, NIMService or Namespace)", "kind")]
    if kind not in MANIFEST_KINDS:
        shown = kind if isinstance(kind, str) else repr(kind)
        msg = f"kind {shown} is not supported by nim-reconciler (supported kinds: NIMCache, NIMService, Namespace)"
        return [error(doc.at(("kind",)), "kind", msg, "kind-not-supported")]
    wanted = API_VERSION if kind in CUSTOM_KINDS else "v1"
    if version != wanted:
        msg = f"apiVersion must be {wanted} for {kind}, not {version!r}" if version else "required field is missing"
        return [error(doc.at(("apiVersion",)), "apiVersion", msg, "api-version")]
    return []


def check_unsupported(doc: Document) -> list[Problem]:
    """Features of the operator that nim-reconciler does not reconcile, named precisely."""
    spec = get(doc.body, "spec")
    features: list[tuple[Path, str]] = []
    if get(spec, "inferencePlatform") == "kserve":
        features.append((("spec", "inferencePlatform"), "inferencePlatform: kserve (KServe InferenceService)"))
    multi = get(spec, "multiNode")
    if multi is not None:
        ray = get(multi, "ray") is not None or get(multi, "backendType") == "ray"
        kind = "LeaderWorkerSet + Ray" if ray else "LeaderWorkerSet"
        features.append((("spec", "multiNode"), f"multiNode ({kind} multi-node serving)"))
    if get(spec, "draResources") is not None:
        features.append((("spec", "draResources"), "draResources (dynamic resource allocation)"))
    if get(spec, "expose", "router", "eppConfig") is not None:
        features.append((("spec", "expose", "router", "eppConfig"), "expose.router.eppConfig (endpoint picker)"))
    return [
        error(doc.at(path), field_path(path), f"{what} is not supported by nim-reconciler", "not-supported")
        for path, what in features
    ]


Check = Callable[[Document], Iterator[Problem]]


def layout_rule(doc: Document) -> Iterator[Problem]:
    """The ``nim-reconciler/model-layout`` annotation, when given, says ``native``."""
    path: Path = ("metadata", "annotations", MODEL_LAYOUT)
    value = get(doc.body, *path)
    if value is not None and value != NATIVE:
        msg = f"must be {NATIVE!r} (a Retriever 2.x NIM: model at /model and /opt/cache) or left out, not {value!r}"
        yield err(doc, path, msg, "model-layout")


def err(doc: Document, path: Path, message: str, rule: str) -> Problem:
    """An error at the field ``path`` of ``doc``, with the line of that field."""
    return error(doc.at(path), field_path(path), message, rule)


# --- NIMCache ---------------------------------------------------------------------------------------------


def pvc_rules(doc: Document, path: Path) -> Iterator[Problem]:
    """The operator's rules for a ``storage.pvc`` block at ``path``: size and access mode to create one, else a name."""
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


_HOST = re.compile(r"^\.?[a-zA-Z0-9.-]+$")


def proxy_rules(doc: Document) -> Iterator[Problem]:
    """``spec.proxy``: http(s) URLs, and a ``noProxy`` of host names, domain suffixes, IPs and CIDRs."""
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
        wanted = cache_name(res.body)
        if res.kind == "NIMService" and wanted is not None and (res.namespace, wanted) not in caches:
            msg = f'NIMCache "{wanted}" is not defined in namespace {res.namespace} of this cluster'
            found.append((res, err(res.doc, ("spec", "storage", "nimCache", "name"), msg, "nimcache-reference")))
    return found


def location(res: NimResource, *path: str | int) -> SourceLocation:
    """The ``path:line`` of the field at ``path`` in ``res``'s manifest."""
    return res.doc.at(path)
