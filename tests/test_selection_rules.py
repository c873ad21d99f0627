"""reconciler/selection.py as a table: which caches are probed, and the step one look takes for a probing cache
from what the cluster shows (its manifest ConfigMap, its probe Pod and log, its recorded status.type, the nodes'
GPU products). Pure: no API server; the scenario tests in test_selection.py drive the same rules over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler import selection
from reconciler.selection import Stage

from .helpers import PROBE_LOG
from .manifests import DELETE, HF_SOURCE, NIMCACHE, variant

SELECTING = NIMCACHE  # engine tensorrt_llm, tensorParallelism 1, no profiles
PINNED = variant(NIMCACHE, {"spec.source.ngc.model.profiles": ["vllm-fp16-tp1"]})
ANNOTATED = variant(NIMCACHE, {"metadata.annotations": {"nvidia.com/selected-profiles": '["vllm-fp16-tp1"]'}})
HF = variant(NIMCACHE, {"spec.source": {"hf": HF_SOURCE}})
UNIVERSAL = variant(NIMCACHE, {"spec.source.ngc.modelEndpoint": "ngc://nvidia/nemo/llama:1.0"})
NATIVE = variant(NIMCACHE, {"metadata.annotations": {"nim-reconciler/model-layout": "native"}})
NO_GPUS_NAMED = variant(NIMCACHE, {"spec.source.ngc.model": {"engine": "tensorrt_llm"}})
H100 = variant(NIMCACHE, {"spec.source.ngc.model": {"engine": "tensorrt_llm", "gpus": [{"product": "h100"}]}})


@pytest.mark.parametrize(
    ("cache", "probe", "nodes"),
    [
        (SELECTING, True, True),  # selectors only: probe to select, and the nodes say which GPUs
        (H100, True, False),  # the selectors name the GPU: no node LIST
        (PINNED, False, False),  # pinned in git: nothing to select
        (ANNOTATED, False, False),  # selected-profiles annotation: the operator's "selection done"
        (HF, True, False),  # probed only to learn whether the NIM is model-free
        (UNIVERSAL, False, False),  # a model endpoint: create-model-store, no manifest
        (NATIVE, False, False),  # native NIMs have no profiles
    ],
)
def test_which_caches_are_probed(cache: dict[str, Any], probe: bool, nodes: bool) -> None:
    assert (selection.needs_probe(cache), selection.needs_nodes(cache)) == (probe, nodes)


def pod(phase: str | None) -> dict[str, Any] | None:
    return None if phase is None else {"metadata": {"name": "llama-3-2-1b-pod"}, "status": {"phase": phase}}


def kept(text: str) -> dict[str, Any]:
    return {"metadata": {"name": "llama-3-2-1b-manifest"}, "data": {"model_manifest.yaml": text}}


@pytest.mark.parametrize(
    ("configmap", "phase", "status_type", "wants"),
    [
        (None, "Running", "", True),
        (None, "Succeeded", "", True),
        (None, "Pending", "", False),  # not started: no log yet
        (None, None, "", False),  # no probe Pod (yet)
        (kept(PROBE_LOG), "Running", "", False),  # the kept manifest decides
        (None, "Running", "model-free", False),  # already known to be model-free
    ],
)
def test_when_the_probe_log_is_read(configmap: Any, phase: str | None, status_type: str, wants: bool) -> None:
    assert selection.wants_log(configmap, pod(phase), status_type) is wants


HUGE_TAGS = f"p1:\n  model: m\n  release: '1'\n  tags: {{llm_engine: vllm, note: {'x' * ((1 << 20) + 16)}}}\n"
TP1 = ("tensorrt_llm-h100-fp16-tp1-throughput",)
BOTH = ("tensorrt_llm-h100-fp16-tp1-throughput", "vllm-fp16-tp1")


@pytest.mark.parametrize(
    ("cache", "configmap", "phase", "log", "status_type", "discovered", "stage", "ids", "done", "says"),
    [
        # nothing yet: the probe is to be made, or has printed nothing
        (SELECTING, None, None, None, "", (), Stage.PROBING, (), False, "reading the model manifest"),
        (SELECTING, None, "Running", "", "", (), Stage.PROBING, (), False, "probe Pod"),
        (SELECTING, None, "Running", "  \n", "", (), Stage.PROBING, (), False, "probe Pod"),
        # the probe printed a manifest: select, and the Pod has served
        (SELECTING, None, "Running", PROBE_LOG, "", (), Stage.SELECTED, TP1, True, ""),
        # the kept ConfigMap decides on later looks, with or without the Pod still there
        (SELECTING, kept(PROBE_LOG), None, None, "", (), Stage.SELECTED, TP1, False, ""),
        (SELECTING, kept(PROBE_LOG), "Running", None, "", (), Stage.SELECTED, TP1, True, ""),
        # no GPU named and none discovered: the operator's rules keep every GPU-less match
        (NO_GPUS_NAMED, kept(PROBE_LOG), None, None, "", (), Stage.SELECTED, TP1, False, ""),
        # the image has no manifest: model-free, now and on every later look
        (HF, None, "Succeeded", "model_manifest.yaml not found\n", "", (), Stage.MODEL_FREE, (), True, ""),
        (HF, None, None, None, "model-free", (), Stage.MODEL_FREE, (), False, ""),
        (HF, None, "Running", None, "model-free", (), Stage.MODEL_FREE, (), True, ""),
        # a Hugging Face cache with a manifest: kept, nothing selected (the source says what to download)
        (HF, None, "Running", PROBE_LOG, "", (), Stage.SELECTED, (), True, ""),
        # a failed probe, or one that printed something else: unreadable, probed again
        (SELECTING, None, "Failed", None, "", (), Stage.UNREADABLE, (), True, "llama-3-2-1b-pod failed"),
        (
            SELECTING,
            None,
            "Running",
            "sh: cat: Permission denied",
            "",
            (),
            Stage.UNREADABLE,
            (),
            True,
            "llama-3-2-1b-pod:1: not YAML",
        ),
        (SELECTING, None, "Running", "Permission denied", "", (), Stage.UNREADABLE, (), True, "not a model manifest"),
        (SELECTING, None, "Running", "a: [b", "", (), Stage.UNREADABLE, (), True, "pod:2: not YAML"),
        (SELECTING, kept("a: [b"), None, None, "", (), Stage.UNREADABLE, (), False, "llama-3-2-1b-manifest"),
        # a manifest whose profiles' tags alone would not fit the ConfigMap that keeps them (1 MiB of values)
        (SELECTING, None, "Running", HUGE_TAGS, "", (), Stage.UNREADABLE, (), True, "more than a ConfigMap holds"),
    ],
)
def test_one_look_at_a_probing_cache(
    cache: dict[str, Any],
    configmap: Any,
    phase: str | None,
    log: str | None,
    status_type: str,
    discovered: tuple[str, ...],
    stage: Stage,
    ids: tuple[str, ...],
    done: bool,
    says: str,
) -> None:
    got = selection.decide(cache, configmap, pod(phase), log, status_type, discovered)
    assert (got.stage, tuple(p.id for p in got.profiles), got.probe_done) == (stage, ids, done)
    assert says in got.detail
    if stage is Stage.SELECTED:
        assert "tensorrt_llm-h100-fp16-tp1-throughput" in got.manifest  # what the ConfigMap keeps


@pytest.mark.parametrize(
    ("model", "discovered", "names", "nodes_hint"),
    [
        ({"engine": "vllm", "tensorParallelism": "8"}, (), "tensorParallelism=8", True),
        ({"engine": "tensorrt_llm", "gpus": [{"product": "a100"}]}, (), "a100", False),
        ({"engine": "tensorrt_llm"}, ("NVIDIA-L40S",), "", False),  # the nodes' GPUs match no profile
    ],
)
def test_no_match_is_failed_with_the_operators_words_and_what_matched_nothing(
    model: dict[str, Any], discovered: tuple[str, ...], names: str, nodes_hint: bool
) -> None:
    cache = variant(NIMCACHE, {"spec.source.ngc.model": model})
    got = selection.decide(cache, kept(PROBE_LOG), None, None, "", discovered)
    assert got.stage is Stage.NO_MATCH and got.profiles == ()
    assert got.detail.startswith("no profiles are selected for caching: nothing in the model manifest matches")
    assert names in got.detail
    assert ("no node carries an nvidia.com/gpu.product label" in got.detail) is nodes_hint
    assert got.manifest, "the manifest is still kept: the next look need not probe again"


def test_the_kept_manifest_is_stripped_to_what_selection_and_status_read() -> None:
    full = PROBE_LOG.replace("  release: '1.12.0'\n", "  release: '1.12.0'\n  workspace: {files: {a.bin: {}}}\n")
    got = selection.decide(SELECTING, None, pod("Running"), full, "")
    assert "workspace" not in got.manifest and "a.bin" not in got.manifest
    assert selection.decide(SELECTING, kept(got.manifest), None, None, "").profiles == got.profiles


def test_node_gpu_products_are_distinct_non_empty_and_sorted() -> None:
    label = selection.GPU_PRODUCT
    nodes: list[dict[str, Any]] = [
        {"metadata": {"labels": {label: "NVIDIA-H100-80GB-HBM3"}}},
        {"metadata": {"labels": {label: " "}}},
        {"metadata": {"labels": {}}},
        {"metadata": {}},
        {"metadata": {"labels": {label: "NVIDIA-A100-SXM4-80GB"}}},
        {"metadata": {"labels": {label: "NVIDIA-H100-80GB-HBM3"}}},
    ]
    assert selection.discovered_gpus(nodes) == ["NVIDIA-A100-SXM4-80GB", "NVIDIA-H100-80GB-HBM3"]


def test_a_cache_without_model_selectors_is_still_selecting() -> None:
    bare = variant(NIMCACHE, {"spec.source.ngc.model": DELETE})
    assert selection.selecting(bare) and selection.needs_nodes(bare)
