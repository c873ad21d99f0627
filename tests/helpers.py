"""Helpers shared by the test modules: the repository's data, manifests loaded as the CLI loads them, kubeconfigs,
and the steps of a run against the API test server (each what a user or a controller does)."""

from __future__ import annotations

import http.client
import http.server
import os
import re
import subprocess
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import yaml
from click.testing import CliRunner

from reconciler.cli.main import main
from reconciler.documents import Document, load_text
from reconciler.selection import GPU_PRODUCT

from .apiserver import ApiServer

REPO = Path(__file__).resolve().parents[1]


def _shared() -> Path:
    """The team's shared reference (NVIDIA's samples): beside the repository, or beside the one this checkout was
    cloned from (CI runs in a fresh clone elsewhere); NIM_RECONCILER_SHARED names it explicitly."""
    if os.environ.get("NIM_RECONCILER_SHARED"):
        return Path(os.environ["NIM_RECONCILER_SHARED"])
    beside = REPO.parent / "shared"
    if beside.is_dir():
        return beside
    origin = subprocess.run(["git", "-C", str(REPO), "remote", "get-url", "origin"], capture_output=True, text=True)
    return Path(origin.stdout.strip()).parent / "shared" if origin.returncode == 0 else beside


SHARED = _shared()
SAMPLES = SHARED / "reference" / "nvidia-samples"
OUR_COMMAND = re.compile(r"^::(error|warning) (file=|title=)")  # the only workflow commands we write
DEMO_NAMESPACES = ("nim-service", "nemoguard", "nim-init-demo")  # what the example repo's manifests use


def load_one(text: str, name: str = "m.yaml") -> Document:
    docs, problems = load_text(text, name)
    assert not problems, problems
    assert len(docs) == 1
    return docs[0]


def write_kubeconfig(path: Path, server: str, context: str = "x") -> Path:
    """A kubeconfig with one cluster, user and context (all named ``context``)."""
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": context,
                "clusters": [{"name": context, "cluster": {"server": server}}],
                "users": [{"name": context, "user": {"token": "t"}}],
                "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
            }
        )
    )
    return path


def run(api: ApiServer, repo: Path, *args: str) -> tuple[int, str]:
    """`reconcile --repo REPO` against the test server: (exit code, output)."""
    result = CliRunner().invoke(main, ["--repo", str(repo), "--kubeconfig", str(api.kubeconfig), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def install(api: ApiServer) -> None:
    """`reconcile install-crds`, as a cluster admin does once."""
    result = CliRunner().invoke(main, ["install-crds", "--kubeconfig", str(api.kubeconfig)])
    assert result.exit_code == 0, result.output


def complete_jobs(api: ApiServer) -> None:
    """What the job controller does when every caching Job has finished."""
    jobs = api.store.resource("batch", "v1", "jobs")
    assert jobs is not None
    for (_, namespace, name), job in list(api.store.objects.items()):
        if job["kind"] == "Job":
            body = {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {"name": name, "namespace": namespace},
                "status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]},
            }
            api.store.apply(jobs, namespace, name, body, "job-controller", True, False, "status")


# What a NIM image's manifest probe prints (schema v1, two profiles): the kubelet player's default log.
PROBE_LOG = """\
tensorrt_llm-h100-fp16-tp1-throughput:
  model: meta/llama-3.2-1b-instruct
  release: '1.12.0'
  tags: {llm_engine: tensorrt_llm, precision: fp16, tp: '1', profile: throughput, gpu: H100, gpu_device: 2331:10de}
vllm-fp16-tp1:
  model: meta/llama-3.2-1b-instruct
  release: '1.12.0'
  tags: {llm_engine: vllm, precision: fp16, tp: '1'}
"""


def kubelet(api: ApiServer, log: str = PROBE_LOG, phase: str = "Running") -> list[str]:
    """What the kubelet does for every model manifest probe Pod: run it (``phase``) and keep what it printed
    (``log``, served by ``pods/log``). Returns the probe Pods' names."""
    pods = api.store.resource("", "v1", "pods")
    assert pods is not None
    names = []
    for (_, namespace, name), pod in list(api.store.objects.items()):
        if pod["kind"] == "Pod" and "nimcache" in (pod["metadata"].get("labels") or {}):
            body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace}}
            api.store.apply(pods, namespace, name, {**body, "status": {"phase": phase}}, "kubelet", True, False,
                            "status")  # fmt: skip
            api.set_log(namespace, name, "nim-cache-ctr", log)
            names.append(name)
    return names


def gpu_node(api: ApiServer, name: str = "gpu-0", product: str = "NVIDIA-H100-80GB-HBM3") -> None:
    """A node whose GPU feature discovery labelled its GPU product."""
    nodes = api.store.resource("", "v1", "nodes")
    assert nodes is not None
    body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {GPU_PRODUCT: product}}}
    api.store.apply(nodes, "", name, body, "kubelet", True, False)


def converge(api: ApiServer, repo: Path, *args: str) -> tuple[int, str]:
    """CRDs installed, a first run (probe Pods made), the probes run, a second run (the caching Jobs made), the
    caches Ready, a third run: everything is deployed."""
    install(api)
    run(api, repo, *args)
    kubelet(api)
    run(api, repo, *args)
    complete_jobs(api)
    return run(api, repo, *args)


def live(api: ApiServer, kind: str, namespace: str | None = None) -> dict[str, dict[str, Any]]:
    """Objects of a kind by name (in one namespace when given)."""
    return {k[2]: v for k, v in api.store.objects.items() if v["kind"] == kind and namespace in (None, k[1])}


def edit(repo: Path, name: str, change: Any) -> None:
    """Change the YAML documents of the manifest file ``name`` in ``repo`` (``change`` edits the list)."""
    path = next(repo.rglob(name))
    docs = list(yaml.safe_load_all(path.read_text()))
    change(docs)
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))


def injected(output: str) -> list[str]:
    """Output lines a GitHub runner would run as a command we did not write, or raw control characters."""
    bad = [line for line in output.splitlines() if line.lstrip().startswith("::") and not OUR_COMMAND.match(line)]
    return bad + [line for line in output.splitlines() if re.search("[\x00-\x08\x0b-\x1f\x7f\u202e]", line)]


class _Proxy(http.server.BaseHTTPRequestHandler):
    """What the test proxies share: a whole answer with its length, and no log lines."""

    def _reply(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        if kind:
            self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _serving(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[int]:
    """``handler`` served on a free port of 127.0.0.1 from a background thread, for the duration: its port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()


class HostileProxy(_Proxy):
    """An API server behind a broken proxy: every request gets ``answer`` (status, content type or "" for none,
    body, in which ``{TOKEN}`` becomes the request's Authorization header, as a careless proxy echoes it)."""

    answer: ClassVar[tuple[int, str, bytes]] = (502, "text/html", b"<html><h1>502 Bad Gateway</h1></html>")

    def _answer(self) -> None:
        status, kind, body = HostileProxy.answer
        self._reply(status, kind, body.replace(b"{TOKEN}", self.headers.get("Authorization", "").encode()))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer


@contextmanager
def hostile_proxy() -> Iterator[int]:
    """A ``HostileProxy`` on a free port of 127.0.0.1, for the duration: its port."""
    with _serving(HostileProxy) as port:
        yield port


class ForwardProxy(_Proxy):
    """An HTTP forward proxy, as ``HTTP_PROXY`` names one: it passes each request on to the absolute URL it was
    asked for and records ``(method, url)`` in ``seen``."""

    seen: ClassVar[list[tuple[str, str]]] = []
    protocol_version = "HTTP/1.1"  # keep-alive, as a client's pool expects

    def _forward(self) -> None:
        ForwardProxy.seen.append((self.command, self.path))
        target = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        upstream = http.client.HTTPConnection(target.hostname or "", target.port, timeout=10)
        try:
            passed = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection", "connection")}
            upstream.request(self.command, urllib.parse.urlunsplit(("", "", *target[2:])), body, passed)
            answer = upstream.getresponse()
            data = answer.read()
        finally:
            upstream.close()
        self._reply(answer.status, answer.getheader("Content-Type") or "application/json", data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward


@contextmanager
def forward_proxy() -> Iterator[tuple[int, list[tuple[str, str]]]]:
    """A ``ForwardProxy`` on a free port of 127.0.0.1, for the duration: its port and what it forwarded."""
    ForwardProxy.seen = []
    with _serving(ForwardProxy) as port:
        yield port, ForwardProxy.seen
