"""The operator's rules for a NIMCache that JSON Schema expresses poorly, in its wording (pure).

Every check takes a ``Document`` (whose body may not have passed the schema: checks read it defensively) and
yields ``Problem`` values located at the offending field.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from reconciler.documents import Document, get
from reconciler.errors import Problem, warning
from reconciler.objects import MODEL_LAYOUT, SELECTED_PROFILES, native
from reconciler.refs import field_path
from reconciler.validate.common import Check, err, layout_rule, proxy_rules, pvc_rules

# Job names carry "-job-" and an 8-character spec hash and, like every label value, stay within 63 characters.
MAX_NIMCACHE_NAME = 63 - len("-job-") - 8


def check_nimcache(doc: Document) -> list[Problem]:
    """The operator's rules for one NIMCache."""
    return [p for check in _NIMCACHE_CHECKS for p in check(doc)]


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


def _native_selection(doc: Document) -> Iterator[Problem]:
    """A native NIM downloads its one model: profiles and selectors would be ignored (as the operator does)."""
    if not native(doc.body):
        return
    model = get(doc.body, "spec", "source", "ngc", "model")
    given = [k for k in ("profiles", *_SELECTORS) if isinstance(model, dict) and model.get(k) not in (None, "", [])]
    if given or get(doc.body, "metadata", "annotations", SELECTED_PROFILES) is not None:
        path = ("spec", "source", "ngc", "model") if given else ("metadata", "annotations", SELECTED_PROFILES)
        msg = f"ignored: a native ({MODEL_LAYOUT}: native) NIM downloads its one model, with no profile selection"
        yield warning(doc.at(path), field_path(path), msg, "native-ignores-profiles")


def _cache_storage(doc: Document) -> Iterator[Problem]:
    storage = get(doc.body, "spec", "storage")
    if not isinstance(storage, dict):
        return
    if not storage.get("pvc"):
        yield err(doc, ("spec", "storage", "pvc"), "must not be empty: a NIMCache caches into a PVC", "storage-pvc")
    else:
        yield from pvc_rules(doc, ("spec", "storage", "pvc"))


def _cert_config(doc: Document) -> Iterator[Problem]:
    if get(doc.body, "spec", "certConfig") is not None:
        msg = "deprecated field: the operator refuses it; move the CA bundle ConfigMap to spec.proxy.certConfigMap"
        yield err(doc, ("spec", "certConfig"), msg, "cert-config-deprecated")


def _cache_name(doc: Document) -> Iterator[Problem]:
    name = get(doc.body, "metadata", "name")
    if isinstance(name, str) and len(name) > MAX_NIMCACHE_NAME:
        msg = (
            f"must be at most {MAX_NIMCACHE_NAME} characters so that the caching Job name fits in 63 (has {len(name)})"
        )
        yield err(doc, ("metadata", "name"), msg, "name-length")


def _cache_user(doc: Document) -> Iterator[Problem]:
    if get(doc.body, "spec", "userID") == 0 and not isinstance(get(doc.body, "spec", "userID"), bool):
        msg = "0 (root) cannot start: the caching Job's pod runs with runAsNonRoot: true (as the operator's does)"
        yield err(doc, ("spec", "userID"), msg, "user-id-root")


_NIMCACHE_CHECKS: Sequence[Check] = (
    _cache_source,
    _cache_storage,
    _cert_config,
    proxy_rules,
    _cache_name,
    _cache_user,
    layout_rule,
    _native_selection,
)

# --- across documents -------------------------------------------------------------------------------------
