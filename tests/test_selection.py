"""Profile selection in the cluster (reconciler/selection.py, cluster/probe.py): a probe Pod prints the image's
model manifest, a ConfigMap keeps it, the selectors pick the caching Job's profiles — against the API test server,
with the test playing the kubelet (the probe runs and prints) and the job controller."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .apiserver import ApiServer
from .helpers import PROBE_LOG, complete_jobs, gpu_node, install, kubelet, live, run
from .manifests import DELETE, HF_SOURCE, NIMCACHE, NIMSERVICE, dump, variant

NAME = NIMCACHE["metadata"]["name"]


def one_cache(root: Path, cache: dict[str, Any]) -> Path:
    target = root / "clusters" / "demo" / "nim" / "cache.yaml"
    target.parent.mkdir(parents=True)
    target.write_text(dump(cache))
    return root


def job_of(api: ApiServer) -> dict[str, Any]:
    [job] = live(api, "Job", "nim").values()
    return job


def args_of(job: dict[str, Any]) -> list[str]:
    container = job["spec"]["template"]["spec"]["containers"][0]
    return [*container.get("command", []), *container.get("args", [])]


def condition(cache: dict[str, Any], kind: str = "NIM_CACHE_PROFILES_SELECTED") -> dict[str, Any]:
    return next(c for c in cache["status"]["conditions"] if c["type"] == kind)


def test_selectors_pick_the_jobs_profiles_from_the_probed_manifest(tmp_path: Path) -> None:
    root = one_cache(tmp_path / "repo", NIMCACHE)  # engine tensorrt_llm, tensorParallelism 1, no profiles
    with ApiServer(tmp_path, namespaces=("nim",)) as api:
        install(api)
        gpu_node(api)
        code, output = run(api, root)
        assert code == 0, output
        assert list(live(api, "Pod", "nim")) == [f"{NAME}-pod"] and not live(api, "Job", "nim")
        probing = condition(live(api, "NIMCache", "nim")[NAME])
        assert (probing["status"], probing["reason"]) == ("False", "ProbingModelManifest")

        run(api, root)  # the probe has not run yet: nothing moves
        assert not live(api, "Job", "nim") and not live(api, "ConfigMap", "nim")

        assert kubelet(api) == [f"{NAME}-pod"]
        code, output = run(api, root)
        assert code == 0, output
        assert args_of(job_of(api)) == ["download-to-cache", "--profiles", "tensorrt_llm-h100-fp16-tp1-throughput"]
        kept = live(api, "ConfigMap", "nim")[f"{NAME}-manifest"]
        assert "vllm-fp16-tp1" in kept["data"]["model_manifest.yaml"]
        assert kept["metadata"]["ownerReferences"][0]["name"] == NAME
        assert not live(api, "Pod", "nim"), "the probe Pod is deleted once read"

        complete_jobs(api)
        code, output = run(api, root)
        assert code == 0, output
        status = live(api, "NIMCache", "nim")[NAME]["status"]
        assert status["state"] == "Ready"
        assert status["profiles"] == [
            {
                "name": "tensorrt_llm-h100-fp16-tp1-throughput",
                "model": "meta/llama-3.2-1b-instruct",
                "release": "1.12.0",
                "config": {
                    "llm_engine": "tensorrt_llm",
                    "precision": "fp16",
                    "tp": "1",
                    "profile": "throughput",
                    "gpu": "H100",
                    "gpu_device": "2331:10de",
                },
            }
        ]
        code, output = run(api, root)  # settled: the kept manifest decides, nothing is probed again
        assert code == 0 and not live(api, "Pod", "nim"), output
        assert "to create" not in output or "0 to create" in output, output


def test_a_manifest_that_matches_nothing_fails_the_cache_with_the_operators_message(tmp_path: Path) -> None:
    cache = variant(NIMCACHE, {"spec.source.ngc.model": {"engine": "vllm", "tensorParallelism": "8"}})
    root = one_cache(tmp_path / "repo", cache)
    with ApiServer(tmp_path, namespaces=("nim",)) as api:
        install(api)
        run(api, root)
        kubelet(api, PROBE_LOG)
        code, output = run(api, root)
        assert code == 0, output
        status = live(api, "NIMCache", "nim")[NAME]["status"]
        assert status["state"] == "Failed" and not live(api, "Job", "nim")
        message = condition(live(api, "NIMCache", "nim")[NAME])["message"]
        assert message.startswith("no profiles are selected for caching") and "tensorParallelism=8" in message


def test_an_image_without_a_manifest_is_model_free_and_stays_so(tmp_path: Path) -> None:
    cache = variant(NIMCACHE, {"spec.source": {"hf": HF_SOURCE}})
    root = one_cache(tmp_path / "repo", cache)
    with ApiServer(tmp_path, namespaces=("nim",)) as api:
        install(api)
        run(api, root)
        kubelet(api, "model_manifest.yaml not found\n")
        code, output = run(api, root)
        assert code == 0, output
        assert args_of(job_of(api)) == [
            "download-to-cache",
            "--model-uri",
            "hf://meta-llama/Llama-3.2-1B-Instruct",
            "--manifest-file",
            "/model-store/model_manifest.json",
        ]
        assert live(api, "NIMCache", "nim")[NAME]["status"]["type"] == "model-free"
        assert not live(api, "Pod", "nim") and not live(api, "ConfigMap", "nim")
        code, output = run(api, root)  # the recorded type decides: no new probe
        assert code == 0 and not live(api, "Pod", "nim"), output
        assert len(live(api, "Job", "nim")) == 1


TWO_TP = """\
trt-h100-tp1:
  model: meta/llama-3.1-8b-instruct
  release: '1.12.0'
  tags: {llm_engine: tensorrt_llm, precision: fp8, tp: '1', gpu: H100}
trt-h100-tp2:
  model: meta/llama-3.1-8b-instruct
  release: '1.12.0'
  tags: {llm_engine: tensorrt_llm, precision: fp8, tp: '2', gpu: H100}
vllm-tp4:
  model: meta/llama-3.1-8b-instruct
  release: '1.12.0'
  tags: {llm_engine: vllm, tp: '4'}
"""


def gpus_of(api: ApiServer) -> dict[str, Any]:
    deployments = live(api, "Deployment", "nim")
    return {name: d["spec"]["template"]["spec"]["containers"][0].get("resources") for name, d in deployments.items()}


def test_a_service_naming_a_cached_profile_requests_that_profiles_gpus(tmp_path: Path) -> None:
    cache = variant(NIMCACHE, {"spec.source.ngc.model": {"engine": "tensorrt_llm", "gpus": [{"product": "h100"}]}})
    root = one_cache(tmp_path / "repo", cache)
    services = [
        variant(
            NIMSERVICE,
            {"metadata.name": "auto", "spec.storage.nimCache.profile": "trt-h100-tp2", "spec.resources": DELETE},
        ),
        variant(NIMSERVICE, {"metadata.name": "pinned", "spec.storage.nimCache.profile": "trt-h100-tp2"}),
        variant(
            NIMSERVICE,
            {
                "metadata.name": "uncached",
                "spec.storage.nimCache.profile": "vllm-tp4",
                "spec.resources": {"requests": {"cpu": "2"}},
            },
        ),
    ]
    (root / "clusters" / "demo" / "nim" / "services.yaml").write_text("---\n".join(dump(s) for s in services))
    with ApiServer(tmp_path, namespaces=("nim",)) as api:
        install(api)
        run(api, root)
        kubelet(api, TWO_TP)
        run(api, root)
        assert args_of(job_of(api)) == ["download-to-cache", "--profiles", "trt-h100-tp1", "trt-h100-tp2"]
        complete_jobs(api)
        code, output = run(api, root)
        assert code == 0, output
        assert gpus_of(api) == {
            # the profile's tp, requested and limited, as the operator assigns it
            "auto": {"requests": {"nvidia.com/gpu": "2"}, "limits": {"nvidia.com/gpu": "2"}},
            # the user's own GPU count stands
            "pinned": {"limits": {"nvidia.com/gpu": "1"}},
            # a profile the cache does not hold: the operator finds no profile and assigns nothing
            "uncached": {"requests": {"cpu": "2"}},
        }
