"""Native (Retriever 2.x) NIMs: the layout the operator renders when the image says native, taken here from the
``nim-reconciler/model-layout: native`` annotation (we read no registry and no Secret)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler import pipeline
from reconciler.errors import Severity

from .apiserver import ApiServer
from .helpers import SHARED, converge, edit, live, run
from .render_helpers import by_kind, container, render_dir

EMBED = SHARED / "reference" / "nvidia-samples-919" / "serving" / "standalone" / "retriever" / "embed.yaml"
LAYOUT = "nim-reconciler/model-layout"
NAME = "llama-nemotron-embed-vl-1b-v2"


def sample_repo(root: Path, cache_annotations: dict[str, str] | None, edit: Any = None) -> Path:
    """The embed sample (NVIDIA's, unchanged but for what a test adds) in a one-cluster repo."""
    docs = list(yaml.safe_load_all(EMBED.read_text()))
    if cache_annotations is not None:
        docs[0]["metadata"]["annotations"] = cache_annotations
    if edit is not None:
        edit(docs)
    target = root / "clusters" / "demo" / "embed.yaml"
    target.parent.mkdir(parents=True)
    target.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return root


def rendered(root: Path) -> list[dict[str, Any]]:
    result = render_dir(root, "demo")
    assert result.check.ok, result.check.problems
    return [o.body for o in result.objects]


def mounts(body: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(m["name"], m["mountPath"], m.get("subPath", "")) for m in container(body)["volumeMounts"]]


def env(body: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(body)["env"]}


def test_a_native_cache_runs_the_nim_itself_in_download_only_mode(tmp_path: Path) -> None:
    job = by_kind(rendered(sample_repo(tmp_path, {LAYOUT: "native"})), "Job")
    main = container(job)
    assert "command" not in main and "args" not in main  # the image's entrypoint: there is no download-to-cache
    assert env(job) == {"NIM_ENGINE_MODEL_DOWNLOAD_ONLY": "1", "NIM_ENGINE_MODEL_PATH": f"/model/{NAME}"}
    assert mounts(job) == [
        ("nim-cache-volume", "/model", ""),
        ("nim-cache-volume", "/opt/cache", ""),
        ("scratch", "/scratch", ""),
    ]
    assert main["envFrom"] == [{"secretRef": {"name": "hf-api-secret", "optional": True}}]


def test_the_operator_env_of_a_native_cache_wins_over_the_users(tmp_path: Path) -> None:
    def user_env(docs: list[dict[str, Any]]) -> None:
        docs[0]["spec"]["env"] = [
            {"name": "NIM_ENGINE_MODEL_PATH", "value": "/elsewhere"},
            {"name": "NIM_MODEL_DOWNLOAD_PROVIDER", "value": "ngc"},
        ]
        docs[0]["spec"]["storage"]["pvc"]["subPath"] = "embed"

    job = by_kind(rendered(sample_repo(tmp_path, {LAYOUT: "native"}, user_env)), "Job")
    assert env(job)["NIM_ENGINE_MODEL_PATH"] == f"/model/{NAME}"
    assert env(job)["NIM_MODEL_DOWNLOAD_PROVIDER"] == "ngc"
    assert [m[2] for m in mounts(job)[:2]] == ["embed", "embed"]  # both model mounts keep the sub-path


def test_a_service_on_a_native_cache_reads_the_model_from_slash_model_with_either_credential(tmp_path: Path) -> None:
    deployment = by_kind(rendered(sample_repo(tmp_path, {LAYOUT: "native"})), "Deployment")
    found = env(deployment)
    assert found["NIM_ENGINE_MODEL_PATH"] == f"/model/{NAME}"
    for key in ("NGC_API_KEY", "HF_TOKEN"):  # the sample's Secret holds only HF_TOKEN: neither key may be required
        assert found[key] == {"secretKeyRef": {"name": "hf-api-secret", "key": key, "optional": True}}
    assert mounts(deployment) == [
        ("model-store", "/model", ""),
        ("model-store", "/opt/cache", ""),
        ("dshm", "/dev/shm", ""),
    ]


def test_without_the_annotation_the_sample_renders_the_standard_layout(tmp_path: Path) -> None:
    bodies = rendered(sample_repo(tmp_path, None))
    assert container(by_kind(bodies, "Job"))["command"] == ["download-to-cache"]
    assert ("model-store", "/model-store", "") in mounts(by_kind(bodies, "Deployment"))


def test_a_service_without_a_cache_takes_its_own_annotation(tmp_path: Path) -> None:
    def own_storage(docs: list[dict[str, Any]]) -> None:
        del docs[0]
        docs[0]["metadata"]["annotations"] = {LAYOUT: "native"}
        docs[0]["spec"]["storage"] = {"emptyDir": {"sizeLimit": "50Gi"}}

    deployment = by_kind(rendered(sample_repo(tmp_path, None, own_storage)), "Deployment")
    assert env(deployment)["NIM_ENGINE_MODEL_PATH"] == "/model"
    assert mounts(deployment)[:2] == [("model-store", "/model", ""), ("model-store", "/opt/cache", "")]


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        (0, "nativ", "must be 'native'"),
        (1, "native", "set it on the NIMCache"),
    ],
)
def test_a_wrong_layout_annotation_is_refused_at_its_line(tmp_path: Path, where: int, value: str, message: str) -> None:
    def annotate(docs: list[dict[str, Any]]) -> None:
        docs[where]["metadata"]["annotations"] = {LAYOUT: value}

    root = sample_repo(tmp_path, None, annotate)
    check, _ = pipeline.check_paths([root / "clusters" / "demo"])
    [problem] = [p for p in check.problems if p.severity is Severity.ERROR]
    assert problem.field == f"metadata.annotations.{LAYOUT}" and message in problem.message
    line = next(i for i, t in enumerate((root / "clusters/demo/embed.yaml").read_text().splitlines(), 1) if LAYOUT in t)
    assert problem.where.line == line


def test_turning_a_cache_native_is_new_content_a_new_job(tmp_path: Path) -> None:
    plain = by_kind(rendered(sample_repo(tmp_path / "a", None)), "Job")
    native = by_kind(rendered(sample_repo(tmp_path / "b", {LAYOUT: "native"})), "Job")
    assert plain["metadata"]["name"] != native["metadata"]["name"]


def test_a_native_cache_reconciles_and_says_native_in_its_status(tmp_path: Path) -> None:
    root = sample_repo(tmp_path / "repo", {LAYOUT: "native"})
    with ApiServer(tmp_path, namespaces=("nim-service",)) as api:
        code, output = converge(api, root)
        assert code == 0, output
        cache = live(api, "NIMCache", "nim-service")[NAME]
        assert cache["status"]["state"] == "Ready" and cache["status"]["type"] == "native"
        [deployment] = live(api, "Deployment", "nim-service").values()
        assert env(deployment)["NIM_ENGINE_MODEL_PATH"] == f"/model/{NAME}"


def test_declaring_a_ready_cache_native_is_refused_as_a_content_change(tmp_path: Path) -> None:
    root = sample_repo(tmp_path / "repo", None)
    with ApiServer(tmp_path, namespaces=("nim-service",)) as api:
        converge(api, root)
        edit(root, "embed.yaml", lambda docs: docs[0]["metadata"].update(annotations={LAYOUT: "native"}))
        code, output = run(api, root)
        assert code == 3, output
        assert f"NIMCache/nim-service/{NAME} blocked (metadata.annotations.{LAYOUT}: the content of a Ready" in output


def test_profiles_or_selectors_on_a_native_cache_are_warned_as_ignored(tmp_path: Path) -> None:
    def selectors(docs: list[dict[str, Any]]) -> None:
        docs[0]["spec"]["source"]["ngc"]["model"] = {"engine": "tensorrt_llm", "tensorParallelism": "1"}

    for root, expected in (
        (sample_repo(tmp_path / "plain", {LAYOUT: "native"}), []),
        (sample_repo(tmp_path / "selectors", {LAYOUT: "native"}, selectors), ["native-ignores-profiles"]),
    ):
        check, _ = pipeline.check_paths([root / "clusters" / "demo"], rendered=True)
        warned = [(p.rule, p.field) for p in check.problems if p.severity is Severity.WARNING]
        # no "no profiles pinned" either: a native NIM has no profiles to pin
        assert [r for r, _ in warned] == expected, warned
        assert all(f == "spec.source.ngc.model" for _, f in warned)
