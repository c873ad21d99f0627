"""A NIM image's model manifest (``model_manifest.yaml``) and the operator's profile selection (pure).

Contract: ``parse(text, name)`` reads a manifest of either schema — v1, a map of profile id → {model, release,
tags, …} with custom YAML tags such as ``!workspace`` (read as plain values), or v2, ``schema_version: 2.x``
with a ``profiles`` list of {id, tags} — in any key order, and raises ``ProfileError`` (one line, the file named)
for anything else. ``select(manifest, selectors, discovered)`` returns the ids the operator's rules pick for a
NIMCache's ``spec.source.ngc.model`` selectors, in manifest order; ``discovered`` is the GPU products of the
cluster's nodes (their ``nvidia.com/gpu.product`` labels), used when the selectors name no GPU.
``unmatched(manifest, selectors)`` names the selectors no profile satisfies on its own, for the Failed message.

The rules follow the operator's two parsers (internal/nimparser v1 and v2): precision, tensor parallelism
(``tp``), QoS profile (``profile``), LoRA (``feat_lora``) and, in v2, ``trtllm_buildable``; the engine as a
substring of ``llm_engine`` (v2 also ``model_type``, ``backend``; ``triton`` counts as TensorRT) with ``_llm``
dropped; GPUs by product (a substring of the ``gpu`` or ``key`` tag) and ids (``gpu_device`` without ``:10de``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from reconciler.errors import ReconcilerError, printable

MAX_MANIFEST_BYTES = 2 * 1024 * 1024  # real manifests hold a few hundred profiles: tens of KiB
NO_PROFILES = "no profiles are selected for caching"  # the operator's words, kept for those who grep for them


class ProfileError(ReconcilerError):
    """A model manifest that cannot be read."""


@dataclass(frozen=True)
class Profile:
    id: str
    tags: Mapping[str, str]
    model: str = ""
    release: str = ""


@dataclass(frozen=True)
class Manifest:
    schema: str  # "v1" or "v2"
    profiles: tuple[Profile, ...]


@dataclass(frozen=True)
class Gpu:
    product: str = ""
    ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Selectors:
    """A NIMCache's ``spec.source.ngc.model`` (without ``profiles``)."""

    precision: str = ""
    tensor_parallelism: str = ""
    qos_profile: str = ""
    engine: str = ""
    lora: bool | None = None
    buildable: bool | None = None
    gpus: tuple[Gpu, ...] = field(default_factory=tuple)

    def describe(self) -> str:
        """``engine=tensorrt_llm, tp=1`` — the selectors given, as a user wrote them."""
        pairs = [
            ("engine", self.engine),
            ("precision", self.precision),
            ("tensorParallelism", self.tensor_parallelism),
            ("qosProfile", self.qos_profile),
            ("lora", "" if self.lora is None else str(self.lora).lower()),
            ("buildable", "" if self.buildable is None else str(self.buildable).lower()),
            ("gpus", ",".join(g.product or "/".join(g.ids) for g in self.gpus)),
        ]
        return ", ".join(f"{k}={v}" for k, v in pairs if v) or "no selectors"


def selectors(model: Mapping[str, Any]) -> Selectors:
    """The selectors of a NIMCache's ``spec.source.ngc.model`` (validated by the schema already)."""
    gpus = tuple(
        Gpu(str(g.get("product") or ""), tuple(str(i) for i in g.get("ids") or []))
        for g in model.get("gpus") or []
        if isinstance(g, Mapping)
    )
    flag = {k: model[k] if isinstance(model.get(k), bool) else None for k in ("lora", "buildable")}
    return Selectors(
        str(model.get("precision") or ""),
        str(model.get("tensorParallelism") or ""),
        str(model.get("qosProfile") or ""),
        str(model.get("engine") or ""),
        flag["lora"],
        flag["buildable"],
        gpus,
    )


@cache
def _loader() -> type[Any]:
    """The safe loader, reading v1's custom tags (``!workspace``, ``!name``) as the plain values they tag (made on
    first use: the cluster seam's state modules import this module's values and must not load PyYAML)."""
    import yaml

    def untagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_scalar(node)  # type: ignore[arg-type]

    class Loader(yaml.CSafeLoader):
        pass

    Loader.add_multi_constructor("!", untagged)
    return Loader


def parse(text: str, name: str) -> Manifest:
    """The manifest in ``text`` (read from ``name``), or ``ProfileError``."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_MANIFEST_BYTES:
        raise ProfileError(f"{printable(name)}: over {MAX_MANIFEST_BYTES // 1024} KiB: not a model manifest")
    import yaml

    try:
        data = yaml.load(text, Loader=_loader())  # a safe loader: only plain values are built
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ProfileError(f"{printable(name)}{line}: not YAML: {printable(str(exc).splitlines()[0])}") from exc
    if not isinstance(data, Mapping):
        raise ProfileError(f"{printable(name)}: not a model manifest (a map of profiles, or schema_version 2)")
    version = str(data.get("schema_version", "")).strip()
    if re.match(r"^2(\.|$)", version):
        return Manifest("v2", tuple(_v2(data.get("profiles"), name)))
    return Manifest("v1", tuple(_v1(data, name)))


def _tags(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in value.items()}


def _v1(data: Mapping[Any, Any], name: str) -> list[Profile]:
    out = []
    for key, value in data.items():
        if not isinstance(value, Mapping):
            raise ProfileError(f"{printable(name)}: profile {printable(str(key))} is not a map")
        out.append(
            Profile(str(key), _tags(value.get("tags")), str(value.get("model") or ""), str(value.get("release") or ""))
        )
    return out


def _v2(profiles: Any, name: str) -> list[Profile]:
    if not isinstance(profiles, list):
        raise ProfileError(f"{printable(name)}: schema_version 2 needs a list of profiles")
    out = []
    for i, item in enumerate(profiles):
        if not isinstance(item, Mapping) or not item.get("id"):
            raise ProfileError(f"{printable(name)}: profiles[{i}] has no id")
        out.append(Profile(str(item["id"]), _tags(item.get("tags"))))
    return out


def select(manifest: Manifest, chosen: Selectors, discovered: Sequence[str] = ()) -> list[str]:
    """The ids of the profiles the operator's rules pick, in manifest order."""
    match = _v2_match if manifest.schema == "v2" else _v1_match
    return [p.id for p in manifest.profiles if match(p, chosen, discovered)]


def unmatched(manifest: Manifest, chosen: Selectors) -> list[str]:
    """The selectors (``tensorParallelism=4``, ``engine=vllm``, …) that no profile satisfies by itself."""
    alone = [
        Selectors(precision=chosen.precision),
        Selectors(tensor_parallelism=chosen.tensor_parallelism),
        Selectors(qos_profile=chosen.qos_profile),
        Selectors(engine=chosen.engine),
        Selectors(lora=chosen.lora),
        Selectors(buildable=chosen.buildable),
        Selectors(gpus=chosen.gpus),
    ]
    return [one.describe() for one in alone if one != Selectors() and not select(manifest, one)]


def _same(tag: str, wanted: str) -> bool:
    return tag.lower() == wanted.lower()


def _v1_match(p: Profile, s: Selectors, discovered: Sequence[str]) -> bool:
    t = p.tags
    if (s.precision and t.get("precision") != s.precision) or (
        s.tensor_parallelism and t.get("tp") != s.tensor_parallelism
    ):
        return False
    if s.qos_profile and t.get("profile") != s.qos_profile:
        return False
    if s.lora is None and t.get("feat_lora") == "true":  # v1: LoRA profiles only when asked for
        return False
    if s.lora is not None and t.get("feat_lora") != str(s.lora).lower():
        return False
    backend = t.get("llm_engine") or t.get("backend") or ""
    if s.engine and s.engine.removesuffix("_llm") not in backend:
        return False
    if _tensorrt(s.engine) or s.gpus:
        if not _tensorrt(backend):
            return False
        if (s.gpus or discovered) and not _v1_gpu(p, s, discovered):
            return False
    return True


def _tensorrt(engine: str) -> bool:
    return "tensorrt" in engine.lower()


def _v1_gpu(p: Profile, s: Selectors, discovered: Sequence[str]) -> bool:
    gpu, key = p.tags.get("gpu", "").lower(), p.tags.get("key", "").lower()
    found = False
    for want in s.gpus:
        if not want.product:
            continue
        found = found or want.product.lower() in gpu or want.product.lower() in key
        if found and want.ids and p.tags.get("gpu_device", "").removesuffix(":10de") not in want.ids:
            return False
    if found:
        return True
    regex = p.tags.get("product_name_regex", "")
    return any(label and (gpu in label.lower() or _search(regex, label)) for label in discovered)


def _search(pattern: str, text: str) -> bool:
    if not pattern:
        return False
    try:
        return re.search(pattern, text) is not None
    except re.error:  # a manifest's bad pattern matches nothing, as the operator's compile error does
        return False


def _v2_match(p: Profile, s: Selectors, discovered: Sequence[str]) -> bool:
    t = p.tags
    pairs = [(s.precision, "precision"), (s.tensor_parallelism, "tp"), (s.qos_profile, "profile")]
    if any(wanted and not _same(t.get(tag, ""), wanted) for wanted, tag in pairs):
        return False
    flags = [(s.lora, "feat_lora"), (s.buildable, "trtllm_buildable")]
    if any(wanted is not None and not _same(t.get(tag, ""), str(wanted).lower()) for wanted, tag in flags):
        return False
    backend = t.get("llm_engine") or t.get("model_type") or t.get("backend") or ""
    backend = "tensorrt" if backend.lower() == "triton" else backend
    if s.engine and s.engine.lower().removesuffix("_llm") not in backend.lower():
        return False
    # a profile TensorRT-LLM can build on any GPU is kept when no GPU matches
    return _v2_gpu(p, s, discovered) or _same(t.get("trtllm_buildable", ""), "true")


def _v2_gpu(p: Profile, s: Selectors, discovered: Sequence[str]) -> bool:
    gpu, key, regex = (p.tags.get(k, "") for k in ("gpu", "key", "product_name_regex"))
    identified = bool(gpu or key or regex)
    if not s.gpus and (not identified or not discovered):
        return True
    ids = [i for g in s.gpus for i in g.ids]
    if ids and p.tags.get("gpu_device", "").removesuffix(":10de") not in ids:
        return False
    products = [g.product.lower() for g in s.gpus if g.product]
    if products and not any((gpu and x in gpu.lower()) or (key and x in key.lower()) for x in products):
        return False
    if not s.gpus:
        return any(
            (gpu and gpu.lower() in label.lower()) or (key and key.lower() in label.lower()) or _search(regex, label)
            for label in discovered
        )
    return True
