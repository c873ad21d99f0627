"""reconciler/profiles.py and `reconcile profiles`: a model manifest of either schema, and the profiles the
operator's rules pick for a NIMCache's selectors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from reconciler import profiles
from reconciler.cli.main import main
from reconciler.profiles import Gpu, ProfileError, Selectors

from .manifests import NIMCACHE, dump, variant

# A v1 manifest (the map form, with the custom tags real images carry) of four profiles.
V1 = """\
trt-h100-tp1:
  model: meta/llama-3.2-1b-instruct
  release: '1.8.3'
  tags: {llm_engine: tensorrt_llm, precision: fp8, tp: '1', profile: latency, gpu: H100, gpu_device: 2330:10de}
  workspace: !workspace
    components:
      - dst: trtllm_engine
        src: {files: [!name 'config.json', !name 'rank0.engine']}
trt-a100-tp2:
  model: meta/llama-3.2-1b-instruct
  release: '1.8.3'
  tags: {llm_engine: tensorrt_llm, precision: bf16, tp: '2', profile: throughput, gpu: A100, gpu_device: 20b2:10de}
vllm-tp1:
  model: meta/llama-3.2-1b-instruct
  release: '1.8.3'
  tags: {llm_engine: vllm, precision: bf16, tp: '1'}
vllm-lora:
  model: meta/llama-3.2-1b-instruct
  release: '1.8.3'
  tags: {llm_engine: vllm, precision: bf16, tp: '1', feat_lora: 'true'}
"""

# A v2 manifest whose schema_version comes last (key order must not matter).
V2 = """\
profiles:
  - id: trt-l40s-tp8
    tags: {llm_engine: tensorrt_llm, precision: fp16, profile: throughput, tp: '8', gpu: L40S, gpu_device: 26b5:10de}
  - id: vllm-tp4
    tags: {llm_engine: vllm, precision: fp16, profile: latency, tp: '4'}
  - id: buildable-tp1
    tags: {llm_engine: tensorrt_llm, precision: bf16, tp: '1', trtllm_buildable: 'true', gpu: B200}
  - id: triton-tp1
    tags: {backend: triton, precision: fp16, tp: '1'}
profile_selection_criteria: default
schema_version: 2.0.0
"""


def _sel(**given: Any) -> Selectors:
    return profiles.selectors(given)


@pytest.mark.parametrize(
    ("manifest", "chosen", "discovered", "picked"),
    [
        (V1, _sel(), (), ["trt-h100-tp1", "trt-a100-tp2", "vllm-tp1"]),  # LoRA profiles only when asked for
        (V1, _sel(engine="tensorrt_llm", tensorParallelism="1"), (), ["trt-h100-tp1"]),
        (V1, _sel(engine="tensorrt_llm"), ("NVIDIA-A100-SXM4-80GB",), ["trt-a100-tp2"]),  # nodes' GPUs
        (V1, _sel(precision="fp8", gpus=[{"product": "h100"}]), (), ["trt-h100-tp1"]),
        (V1, _sel(gpus=[{"product": "h100", "ids": ["9999"]}]), (), []),
        (V1, _sel(gpus=[{"product": "h100", "ids": ["2330"]}]), (), ["trt-h100-tp1"]),
        (V1, _sel(engine="vllm"), (), ["vllm-tp1"]),
        (V1, _sel(engine="vllm", lora=True), (), ["vllm-lora"]),
        (V1, _sel(qosProfile="throughput"), (), ["trt-a100-tp2"]),
        (V1, _sel(tensorParallelism="4"), (), []),
        (V2, _sel(), (), ["trt-l40s-tp8", "vllm-tp4", "buildable-tp1", "triton-tp1"]),
        (V2, _sel(engine="vllm", tensorParallelism="4"), (), ["vllm-tp4"]),
        (V2, _sel(precision="FP16", engine="tensorrt"), (), ["trt-l40s-tp8", "triton-tp1"]),  # triton is TensorRT
        (V2, _sel(gpus=[{"product": "l40s"}]), (), ["trt-l40s-tp8", "buildable-tp1"]),  # buildable kept
        # the nodes' GPUs filter only profiles that name a GPU; a buildable one is kept anywhere
        (V2, _sel(engine="tensorrt_llm"), ("NVIDIA-H100-80GB-HBM3",), ["buildable-tp1", "triton-tp1"]),
        (V2, _sel(engine="tensorrt_llm"), ("NVIDIA-L40S",), ["trt-l40s-tp8", "buildable-tp1", "triton-tp1"]),
        (V2, _sel(buildable=True), (), ["buildable-tp1"]),
        (V2, _sel(buildable=False), (), []),  # only profiles tagged trtllm_buildable: false, as the operator reads it
        (V2, _sel(gpus=[{"ids": ["26b5"]}]), (), ["trt-l40s-tp8", "buildable-tp1"]),
    ],
)
def test_the_operators_rules_pick_these_profiles(
    manifest: str, chosen: Selectors, discovered: tuple[str, ...], picked: list[str]
) -> None:
    assert profiles.select(profiles.parse(manifest, "m.yaml"), chosen, discovered) == picked


def test_both_schemas_in_any_order_with_their_tags_and_metadata() -> None:
    v1 = profiles.parse(V1, "m.yaml")
    assert v1.schema == "v1" and [p.id for p in v1.profiles][:2] == ["trt-h100-tp1", "trt-a100-tp2"]
    assert v1.profiles[0].model == "meta/llama-3.2-1b-instruct" and v1.profiles[0].release == "1.8.3"
    v2 = profiles.parse(V2, "m.yaml")
    assert v2.schema == "v2" and v2.profiles[0].tags["gpu"] == "L40S"
    reordered = "schema_version: '2.1'\n" + V2.replace("schema_version: 2.0.0\n", "")
    assert profiles.parse(reordered, "m.yaml") == profiles.Manifest("v2", v2.profiles)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("a: [\n", "m.yaml:2: not YAML"),
        ("- just\n- a list\n", "not a model manifest"),
        ("schema_version: 2.0.0\nprofiles: {}\n", "needs a list of profiles"),
        ("schema_version: 2.0.0\nprofiles: [{tags: {}}]\n", "profiles[0] has no id"),
        ("p1: not-a-map\n", "profile p1 is not a map"),
        ("x" * (3 * 1024 * 1024), "over 2048 KiB"),
    ],
)
def test_what_is_no_manifest_is_one_clear_error(text: str, says: str) -> None:
    with pytest.raises(ProfileError, match=None) as caught:
        profiles.parse(text, "m.yaml")
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_selectors_nothing_matches_are_named() -> None:
    v1 = profiles.parse(V1, "m.yaml")
    chosen = Selectors(engine="tensorrt_llm", tensor_parallelism="4", gpus=(Gpu("h100"),))
    assert profiles.select(v1, chosen) == []
    assert profiles.unmatched(v1, chosen) == ["tensorParallelism=4"]
    assert chosen.describe() == "engine=tensorrt_llm, tensorParallelism=4, gpus=h100"


def _files(tmp_path: Path, model: dict[str, Any]) -> tuple[Path, Path]:
    manifest = tmp_path / "model_manifest.yaml"
    manifest.write_text(V1)
    cache = tmp_path / "cache.yaml"
    cache.write_text(dump(variant(NIMCACHE, {"spec.source.ngc.model": model})))
    return manifest, cache


def test_the_profiles_command_lists_marks_and_prints_what_to_pin(tmp_path: Path) -> None:
    manifest, cache = _files(tmp_path, {"engine": "tensorrt_llm", "tensorParallelism": "1"})
    listed = CliRunner().invoke(main, ["profiles", str(manifest)])
    assert listed.exit_code == 0 and "schema v1, 4 profiles" in listed.output
    assert "trt-h100-tp1  llm_engine=tensorrt_llm precision=fp8 tp=1 profile=latency gpu=H100" in listed.output
    result = CliRunner().invoke(main, ["profiles", str(manifest), "--nimcache", str(cache)])
    assert result.exit_code == 0, result.output
    assert "Selectors of NIMCache/nim/llama-3-2-1b: engine=tensorrt_llm, tensorParallelism=1" in result.output
    assert "  selected  trt-h100-tp1" in result.output and "  selected  vllm-tp1" not in result.output
    assert 'spec.source.ngc.model.profiles: ["trt-h100-tp1"]' in result.output


def test_no_match_is_the_operators_message_and_exit_1(tmp_path: Path) -> None:
    manifest, cache = _files(tmp_path, {"engine": "vllm", "tensorParallelism": "8"})
    result = CliRunner().invoke(main, ["profiles", str(manifest), "--nimcache", str(cache)])
    assert result.exit_code == 1
    assert "no profiles are selected for caching (no profile has tensorParallelism=8)" in result.output


def test_nodes_gpus_can_be_given_as_the_operator_discovers_them(tmp_path: Path) -> None:
    manifest, cache = _files(tmp_path, {"engine": "tensorrt_llm"})
    result = CliRunner().invoke(
        main, ["profiles", str(manifest), "--nimcache", str(cache), "--gpu", "NVIDIA-A100-SXM4-80GB"]
    )
    assert result.exit_code == 0 and 'profiles: ["trt-a100-tp2"]' in result.output, result.output


@pytest.mark.parametrize(
    ("setup", "says"),
    [
        ("missing", "cannot be read"),
        ("no-cache", "no NIMCache"),
        ("hf-cache", "only an NGC NIMCache selects profiles"),
        ("binary", "cannot be read"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, setup: str, says: str) -> None:
    manifest, cache = _files(tmp_path, {"engine": "vllm"})
    args = ["profiles", str(manifest), "--nimcache", str(cache)]
    if setup == "missing":
        args[1] = str(tmp_path / "nothing.yaml")
    elif setup == "no-cache":
        cache.write_text(yaml.safe_dump({"kind": "ConfigMap", "metadata": {"name": "x"}}))
    elif setup == "hf-cache":
        cache.write_text(dump(variant(NIMCACHE, {"spec.source": {"hf": {"endpoint": "https://huggingface.co"}}})))
    else:
        manifest.write_bytes(b"\xff\xfe\x00garbage")
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and says in errors[0], result.output
