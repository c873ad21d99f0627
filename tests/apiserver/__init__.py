"""A local Kubernetes API server for tests and benchmarks: real HTTP on 127.0.0.1, reached by the real client.

    with ApiServer() as api:
        api.kubeconfig  # a kubeconfig file pointing at it
        api.requests    # the request log
        api.faults.add(Fault(method="PATCH", status=503, times=2))

See ``store.py`` (verbs), ``fields.py`` (server-side apply) and ``admission.py`` (defaulting, validation).
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from . import admission, watch
from .store import ApiError, Resource, Store

__all__ = ["SEEN", "ApiServer", "Fault", "Request"]

SEEN: list[Request] = []  # every request any test server saw in this process (the RBAC check reads it)


@dataclass
class Fault:
    """Make matching requests fail: a status code (with Retry-After for 429), a delay, a dropped connection, or a
    lost answer (``lost``: the request is carried out, then the connection drops before the answer is sent)."""

    method: str = ""
    path: str = ""  # a regular expression searched in the path
    status: int = 0
    retry_after: int | None = None
    delay: float = 0.0
    drop: bool = False
    lost: bool = False
    times: int = 1
    message: str = "injected fault"  # "{authorization}" is replaced by the request's header, as a careless proxy does

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and method.startswith(self.method) and re.search(self.path, path) is not None


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    content_type: str
    status: int
    agent: str = ""  # the User-Agent: which program (and which of our commands) sent it

    @property
    def write(self) -> bool:
        return self.method in ("POST", "PUT", "PATCH", "DELETE")


@dataclass
class Faults:
    pending: list[Fault] = field(default_factory=list)

    def add(self, fault: Fault) -> None:
        self.pending.append(fault)

    def take(self, method: str, path: str) -> Fault | None:
        for fault in self.pending:
            if fault.matches(method, path):
                fault.times -= 1
                return fault
        return None


def parse_selector(text: str) -> Callable[[dict[str, str]], bool]:
    """A label selector: ``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x)``, ``a``, ``!a``."""
    tests: list[Callable[[dict[str, str]], bool]] = []
    for part in re.findall(r"[^,(]+(?:\([^)]*\))?", text or ""):
        part = part.strip()
        if not part:
            continue
        if m := re.fullmatch(r"(\S+)\s+(in|notin)\s+\(([^)]*)\)", part):
            key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
            tests.append(
                lambda lb, k=key, o=op, v=values: (lb.get(k) in v) == (o == "in") and (o == "notin" or k in lb)
            )
        elif m := re.fullmatch(r"(\S+?)\s*(==|!=|=)\s*(\S*)", part):
            key, op, value = m.groups()
            tests.append(lambda lb, k=key, o=op, v=value: (lb.get(k) == v) == (o != "!="))
        elif part.startswith("!"):
            tests.append(lambda lb, k=part[1:]: k not in lb)
        else:
            tests.append(lambda lb, k=part: k in lb)
    return lambda labels: all(t(labels) for t in tests)


class ApiServer:
    """Serves the Kubernetes API on a free port of 127.0.0.1 in a background thread."""

    def __init__(
        self, directory: Path | None = None, namespaces: tuple[str, ...] = (), feature_gates: tuple[str, ...] = ()
    ) -> None:
        self.store = Store(("default", "kube-system", *namespaces))
        self.store.feature_gates = frozenset(feature_gates)
        self.faults = Faults()
        self.requests: list[Request] = []
        self.logs: dict[tuple[str, str, str], str] = {}  # (namespace, pod, container) → what it printed
        self.httpd = _Server(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.directory = directory
        self.closing = False
        self.kubeconfig = self._write_kubeconfig(directory)
        # A short poll: shutdown() waits up to one poll interval, paid at the end of every test that starts a server.
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self) -> ApiServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.closing = True  # open watches end
        self.httpd.shutdown()
        self.httpd.server_close()
        self.httpd.drop_connections()

    def record(self, request: Request) -> None:
        self.requests.append(request)
        SEEN.append(request)

    def set_status(
        self,
        api_version: str,
        plural: str,
        namespace: str,
        name: str,
        status: dict[str, Any],
        manager: str = "controller",
    ) -> None:
        """Write a status as the controller of that kind would (job controller, deployment controller, kubelet)."""
        group, _, version = api_version.rpartition("/")
        res = self.store.resource(group, version, plural)
        assert res is not None, plural
        body = {
            "apiVersion": api_version,
            "kind": res.kind,
            "metadata": {"name": name, "namespace": namespace},
            "status": status,
        }
        self.store.apply(res, namespace, name, body, manager, True, False, "status")

    def writes(self, leases: bool = False) -> list[Request]:
        """Write requests; without the run lock's Lease writes unless asked (a run's own bookkeeping)."""
        return [r for r in self.requests if r.write and (leases or "/leases/" not in r.path)]

    def _write_kubeconfig(self, directory: Path | None) -> Path:
        import tempfile

        folder = directory or Path(tempfile.mkdtemp(prefix="apiserver-"))
        path = folder / "kubeconfig"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "test",
            "clusters": [{"name": "test", "cluster": {"server": self.url}}],
            "users": [{"name": "test", "user": {"token": "test-token"}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
        }
        path.write_text(yaml.safe_dump(config))
        return path

    # --- dispatch ----------------------------------------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, headers: Any, body: bytes
    ) -> tuple[int, dict[str, Any] | str, dict[str, str]]:
        split = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        try:
            code, payload = self._route(method, split.path, query, headers.get("Content-Type", ""), body)
            return code, payload, {}
        except ApiError as exc:
            extra = {}
            if exc.code == 429:
                extra["Retry-After"] = "1"
            return exc.code, exc.status(), extra
        except admission.Invalid as exc:
            causes = [{"type": "FieldValueInvalid", "message": m, "field": f} for f, m in exc.causes]
            error = ApiError(422, "Invalid", f"is invalid: {exc}", causes)
            return 422, error.status(), {}

    def _route(
        self, method: str, path: str, query: dict[str, str], content_type: str, body: bytes
    ) -> tuple[int, dict[str, Any] | str]:
        if path == "/debug/requests":  # for benchmarks in another process: what this server has seen
            writes = sum(1 for r in self.requests if r.write)
            return 200, {"total": len(self.requests), "writes": writes}
        if path == "/version":
            return 200, {"major": "1", "minor": "33", "gitVersion": "v1.33.0-nim-reconciler-test"}
        if path in ("/api", "/apis") or re.fullmatch(r"/api/v1|/apis/[^/]+/[^/]+", path):
            return 200, self._discovery(path)
        res, ns, name, sub = self._parse(path)
        if sub == "log":
            if res.plural != "pods" or method != "GET":
                raise ApiError(405 if res.plural == "pods" else 404, "MethodNotAllowed", "the log is read with GET")
            return 200, self._log(ns, name, query.get("container", ""))
        dry = query.get("dryRun") == "All"
        manager = query.get("fieldManager", "")
        if method == "GET":
            if name:
                return 200, self.store.get(res, ns, name)
            return 200, self.store.list(res, ns, parse_selector(query.get("labelSelector", "")))
        data = _decode(body) if body else {}
        if method == "POST":
            return 201, self.store.create(res, ns, data, manager or "unknown", dry)
        if method == "PUT":
            return 200, self.store.update(res, ns, name, data, manager or "unknown", dry, sub)
        if method == "PATCH":
            if content_type.startswith("application/apply-patch"):
                if not manager:
                    raise ApiError(
                        400,
                        "BadRequest",
                        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: '
                        "Required value: is required for apply patch",
                    )
                return self.store.apply(res, ns, name, data, manager, query.get("force") == "true", dry, sub)
            if content_type.startswith(("application/merge-patch", "application/strategic-merge-patch")):
                return 200, self.store.merge_patch(res, ns, name, data, manager or "unknown", dry, sub)
            raise ApiError(
                415, "UnsupportedMediaType", f"the body of the request was in an unknown format: {content_type}"
            )
        if method == "DELETE":
            policy = query.get("propagationPolicy") or data.get("propagationPolicy") or "Background"
            if policy not in ("Orphan", "Background", "Foreground"):  # DeleteOptions validation
                raise ApiError(422, "Invalid", f'propagationPolicy: Unsupported value: "{policy}"')
            # kube-apiserver answers a deletion with the object as it was deleted (handlers/delete.go: a Status
            # only when the storage returns none)
            return 200, self.store.delete(res, ns, name, policy, dry)
        raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed")

    def _parse(self, path: str) -> tuple[Resource, str, str, str]:
        m = re.fullmatch(
            r"/(?:api/(?P<cv>v1)|apis/(?P<g>[^/]+)/(?P<v>[^/]+))"
            r"(?:/namespaces/(?P<ns>[^/]+))?/(?P<plural>[^/]+)(?:/(?P<name>[^/]+))?(?:/(?P<sub>status|log))?",
            path,
        )
        if not m:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        group, version = (m["g"], m["v"]) if m["g"] else ("", m["cv"])
        res = self.store.resource(group, version, m["plural"])
        if res is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return res, m["ns"] or "", m["name"] or "", m["sub"] or ""

    def set_log(self, namespace: str, pod: str, container: str, text: str) -> None:
        """What a container printed, as the kubelet would serve it through the ``log`` subresource."""
        self.logs[(namespace, pod, container)] = text

    def _log(self, ns: str, name: str, container: str) -> str:
        """kube-apiserver's pods/log: the pod must exist, the container be named when there are several, and
        have started (a Pending pod's container is "waiting to start")."""
        pods = self.store.resource("", "v1", "pods")
        assert pods is not None
        pod = self.store.get(pods, ns, name)  # 404 as the API server says it
        names = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
        if not container:
            if len(names) != 1:
                message = f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
                raise ApiError(400, "BadRequest", message)
            container = names[0]
        if container not in names:
            raise ApiError(400, "BadRequest", f"container {container} is not valid for pod {name}")
        if (pod.get("status") or {}).get("phase", "Pending") == "Pending":
            message = f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating'
            raise ApiError(400, "BadRequest", message)
        return self.logs.get((ns, name, container), "")

    def _discovery(self, path: str) -> dict[str, Any]:
        resources = self.store.resources()
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"]}
        if path == "/apis":
            groups: dict[str, list[str]] = {}
            for r in resources:
                if r.group and r.version not in groups.setdefault(r.group, []):
                    groups[r.group].append(r.version)
            return {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": g,
                        "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                        "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]},
                    }
                    for g, vs in groups.items()
                ],
            }
        group_version = path.removeprefix("/api/").removeprefix("/apis/")
        listed = []
        for r in resources:
            if r.api_version != group_version:
                continue
            listed.append(
                {
                    "name": r.plural,
                    "singularName": r.kind.lower(),
                    "namespaced": r.namespaced,
                    "kind": r.kind,
                    "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                }
            )
            if self.store.has_status(r):
                listed.append(
                    {
                        "name": f"{r.plural}/status",
                        "singularName": "",
                        "namespaced": r.namespaced,
                        "kind": r.kind,
                        "verbs": ["get", "patch", "update"],
                    }
                )
        if not listed:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": listed}


class _Server(ThreadingHTTPServer):
    """Keeps its open connections, so that a stopped server drops them all, as a process that exits does (else
    a kept-alive connection would go on being served after the server stopped)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.open: set[Any] = set()

    def process_request(self, request: Any, client_address: Any) -> None:
        self.open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        self.open.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        for sock in list(self.open):
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a timeout, a dropped connection in a fault test) is no server error to print."""


def _decode(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        data = yaml.safe_load(body)
    if not isinstance(data, dict):
        raise ApiError(400, "BadRequest", "the request body must be an object")
    return data


def _handler(api: ApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else headers and body go out as two segments: ~40 ms per request

        def log_message(self, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            split = urlsplit(self.path)
            fault = api.faults.take(self.command, split.path)
            if fault is not None and fault.delay:
                time.sleep(fault.delay)
            if fault is not None and fault.drop:
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if fault is not None and fault.status:
                message = fault.message.replace("{authorization}", self.headers.get("Authorization", ""))
                error = ApiError(fault.status, "InternalError" if fault.status >= 500 else "TooManyRequests", message)
                code, payload, extra = fault.status, error.status(), {}
                if fault.retry_after is not None:
                    extra["Retry-After"] = str(fault.retry_after)
            elif self.command == "GET" and parse_qs(split.query).get("watch", [""])[-1] in ("1", "true"):
                self._watch(split)
                return
            else:
                code, payload, extra = api.handle(self.command, self.path, self.headers, body)
                if fault is not None and fault.lost:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
            query = {k: v[-1] for k, v in parse_qs(split.query).items()}
            if split.path != "/debug/requests":
                api.record(
                    Request(
                        self.command,
                        split.path,
                        query,
                        self.headers.get("Content-Type", ""),
                        code,
                        self.headers.get("User-Agent", ""),
                    )
                )
            text = isinstance(payload, str)  # a pod's log is plain text, as kube-apiserver serves it
            data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain" if text else "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _watch(self, split: Any) -> None:
            query = {k: v[-1] for k, v in parse_qs(split.query).items()}
            try:
                res, ns, name, sub = api._parse(split.path)
                if name or sub:
                    raise ApiError(405, "MethodNotAllowed", "watch is a verb of collections")
            except ApiError as exc:
                data = json.dumps(exc.status()).encode()
                self.send_response(exc.code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            agent = self.headers.get("User-Agent", "")
            api.record(Request("GET", split.path, query, "", 200, agent))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            selector = parse_selector(query.get("labelSelector", ""))
            try:
                watch.serve(api.store, res, ns, selector, query, self.wfile, lambda: api.closing)
                self.wfile.write(b"0\r\n\r\n")
            except OSError:  # the watcher hung up
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    return Handler
