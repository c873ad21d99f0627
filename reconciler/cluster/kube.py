"""The Kubernetes API seam: the only module that imports ``kubernetes`` (I/O).

Contract:
- ``Cluster(config)`` loads credentials from the given kubeconfig files (merged, like ``KUBECONFIG``) and
  context, or from the pod's service account; one pooled connection set per Cluster;
- reads are one LIST per kind with a label selector; writes are server-side apply with ``fieldManager`` and
  ``force``, and deletes;
- every request is retried on 429 (honouring Retry-After), 5xx, timeouts and dropped connections, with
  exponential backoff and jitter, bounded in attempts and in total time;
- errors come out as our own (``NotFound``, ``Conflict``, ``Invalid``, ``Forbidden``, ``Unavailable`` …) raised
  ``from`` the client's, each carrying ``Kind/namespace/name``.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import urllib3
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from reconciler import __version__, redaction
from reconciler.cluster import limits, streams
from reconciler.errors import (
    ClusterError,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
    Unauthorized,
    Unavailable,
    UsageError,
)
from reconciler.kinds import Kind
from reconciler.objects import MANAGER
from reconciler.options import ClusterConfig
from reconciler.refs import ObjRef

FIELD_MANAGER = MANAGER  # our server-side apply manager (and the one plan reads managedFields for)


_ERRORS: dict[int, type[ClusterError]] = {
    401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict, 410: Gone, 422: Invalid,
}  # fmt: skip


class Cluster:
    """One API server, reached through the official client's configuration, TLS and auth handling."""

    def __init__(self, config: ClusterConfig) -> None:
        self.config = config
        configuration = k8s.Configuration()
        try:
            if config.in_cluster:
                k8s_config.load_incluster_config(client_configuration=configuration)
            else:
                files = ":".join(config.kubeconfig) if config.kubeconfig else None
                k8s_config.load_kube_config(
                    config_file=files, context=config.context, client_configuration=configuration, persist_config=False
                )
        except (ConfigException, OSError, TypeError, ValueError, AttributeError, yaml.YAMLError) as exc:
            # a kubeconfig that is not YAML, or not a mapping: the client's own message, on one line
            detail = " ".join(str(exc).split()) or type(exc).__name__
            raise UsageError(f"cannot load the cluster configuration: {detail}") from exc
        # the bearer token may come back in an error body (some proxies echo the header): never print it
        redaction.register(str(configuration.api_key.get("authorization", "")).removeprefix("Bearer "))
        configuration.retries = 0  # retries are ours: bounded, with backoff, and they see the status codes
        # Pin the proxy as loading resolved it (the kubeconfig's proxy-url, else *_PROXY for this host). Left as
        # "from the environment", the token hook that runs before every request sets the host again, and with it
        # rescans os.environ for proxies (~0.1 ms a request); the pool built below would never see a change anyway.
        configuration.proxy = configuration.proxy
        self.api = k8s.ApiClient(configuration)
        self.api.user_agent = f"nim-reconciler/{__version__} ({config.agent})"
        self.requests = 0
        self._lock = threading.Lock()
        self.bucket = limits.Bucket(config.qps, config.burst)

    def close(self) -> None:
        self.api.close()

    # --- verbs -------------------------------------------------------------------------------------------------

    def list(self, kind: Kind, selector: str, namespace: str = "") -> builtins.list[dict[str, Any]]:
        """Every object of ``kind`` in all namespaces (or one) whose labels match ``selector`` (absent kind: none)."""
        return self.list_at(kind, selector, namespace)[0]

    def list_at(self, kind: Kind, selector: str, namespace: str = "") -> tuple[builtins.list[dict[str, Any]], str]:
        """``list``, and the resourceVersion of the list (where a watch starts; "" when the kind is not served)."""
        ref = ObjRef(kind.kind, namespace, "*")
        try:
            body = self._call("GET", kind.path(namespace), ref, query=[("labelSelector", selector)])
        except NotFound:
            return [], ""  # the kind is not served (its CRD is not installed): nothing of it can exist
        version = (body.get("metadata") or {}).get("resourceVersion")
        items: builtins.list[dict[str, Any]] = body.get("items") or []
        if not isinstance(items, builtins.list) or not all(isinstance(i, dict) for i in items):
            raise Unavailable(ref, "the API server's LIST answer holds no list of objects")
        for item in items:  # a LIST leaves kind and apiVersion out of its items
            item.setdefault("kind", kind.kind)
            item.setdefault("apiVersion", kind.api_version)
        return items, version if isinstance(version, str) else ""

    def served(self, api_version: str) -> set[str]:
        """The resources API discovery lists for ``group/version`` (open to every user, unlike CRDs)."""
        root = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
        try:
            body = self._call("GET", root, ObjRef("APIResourceList", "", api_version))
        except NotFound:
            return set()
        resources = body.get("resources")
        return (
            {r["name"] for r in resources if isinstance(r, dict) and isinstance(r.get("name"), str)}
            if isinstance(resources, builtins.list)
            else set()
        )

    def get(self, kind: Kind, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self._call("GET", kind.path(namespace, name), ObjRef(kind.kind, namespace, name))
        except NotFound:
            return None

    def apply(self, kind: Kind, body: dict[str, Any], *, dry_run: bool = False, status: bool = False) -> dict[str, Any]:
        """Server-side apply of ``body`` (``fieldManager=nim-reconciler``, ``force=true``)."""
        meta = body["metadata"]
        path = kind.path(meta.get("namespace", ""), meta["name"]) + ("/status" if status else "")
        query = [("fieldManager", FIELD_MANAGER), ("force", "true")] + ([("dryRun", "All")] if dry_run else [])
        ref = ObjRef(kind.kind, meta.get("namespace", ""), meta["name"])
        # The bytes the client would send (json.dumps of the body), made once for every attempt: given a dict,
        # param_serialize first copies it recursively in Python (~50 µs a rendered object, measured).
        data = json.dumps(body).encode()
        return self._call("PATCH", path, ref, query=query, body=data, content_type="application/apply-patch+yaml")

    def create(self, kind: Kind, body: dict[str, Any]) -> dict[str, Any]:
        """POST: fails with ``Conflict`` when the object exists (what a lock needs)."""
        meta = body["metadata"]
        ref = ObjRef(kind.kind, meta.get("namespace", ""), meta["name"])
        return self._call(
            "POST", kind.path(meta.get("namespace", "")), ref, body=body, query=[("fieldManager", FIELD_MANAGER)]
        )

    def replace(self, kind: Kind, body: dict[str, Any]) -> dict[str, Any]:
        """PUT with the body's resourceVersion: fails with ``Conflict`` when someone else changed it first."""
        meta = body["metadata"]
        ref = ObjRef(kind.kind, meta.get("namespace", ""), meta["name"])
        return self._call(
            "PUT",
            kind.path(meta.get("namespace", ""), meta["name"]),
            ref,
            body=body,
            query=[("fieldManager", FIELD_MANAGER)],
        )

    def patch(self, kind: Kind, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        """JSON merge patch."""
        return self._call(
            "PATCH",
            kind.path(namespace, name),
            ObjRef(kind.kind, namespace, name),
            body=patch,
            content_type="application/merge-patch+json",
            query=[("fieldManager", FIELD_MANAGER)],
        )

    def watch(self, kind: Kind, selector: str, version: str, seconds: int) -> Iterator[dict[str, Any]]:
        """The events (``{"type", "object"}``) of ``kind`` in all namespaces whose labels match ``selector``, after
        resourceVersion ``version``, until the server ends the watch (``seconds`` at most). One request, never
        retried here: the caller lists again. ``Gone`` when ``version`` is too old; ``Unavailable`` when the
        stream breaks or holds something that is not a watch event."""
        ref = ObjRef(kind.kind, "", "*")
        self.bucket.take()
        query = [("watch", "true"), ("labelSelector", selector), ("resourceVersion", version),
                 ("timeoutSeconds", str(seconds)), ("allowWatchBookmarks", "true")]  # fmt: skip
        with self._lock:
            self.requests += 1
        try:
            _, url, headers, _, _ = self.api.param_serialize(
                "GET", kind.path(""), query_params=query, header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"],
            )  # fmt: skip
            response = self.api.call_api("GET", url, header_params=headers,
                                         _request_timeout=(self.config.timeout, seconds + 30))  # fmt: skip
        except (urllib3.exceptions.HTTPError, ApiException, OSError) as exc:
            raise Unavailable(ref, f"cannot watch: {_short(exc)}") from exc
        if response.status >= 400:
            raise _error(ref, response.status, _object(response.read()))
        try:
            yield from streams.events(ref, response.response.stream(65536), _error)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise Unavailable(ref, f"the watch broke off: {_short(exc)}") from exc
        finally:  # a watch's connection is not reused: it may be cut mid-stream, and the next watch opens its own
            response.response.close()
            response.response.release_conn()

    def log(self, namespace: str, pod: str, container: str, limit: int) -> str:
        """What a container of a Pod printed (``pods/log``), at most ``limit`` bytes, as text."""
        path = Kind("Pod", "v1", "pods").path(namespace, pod) + "/log"
        query = [("container", container), ("limitBytes", str(limit))]
        answer = self._call("GET", path, ObjRef("Pod", namespace, pod), query=query, text=True)
        return str(answer.get("text", ""))

    def delete(
        self, kind: Kind, namespace: str, name: str, *, dry_run: bool = False, propagation: str = "Background"
    ) -> None:
        query = [("propagationPolicy", propagation)] + ([("dryRun", "All")] if dry_run else [])
        with contextlib.suppress(NotFound):  # already gone: what we wanted
            self._call("DELETE", kind.path(namespace, name), ObjRef(kind.kind, namespace, name), query=query)

    # --- transport ---------------------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        ref: ObjRef,
        *,
        query: builtins.list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        text: bool = False,
    ) -> dict[str, Any]:
        """One request with retries; the JSON object answered (``text``: ``{"text": the body}``, a log)."""
        deadline = time.monotonic() + self.config.max_wait
        last: ClusterError | None = None
        for attempt in range(self.config.attempts):
            self.bucket.take()
            with self._lock:
                self.requests += 1
            try:
                status, data, retry_after = self._send(method, path, query or [], body, content_type, text)
            except (urllib3.exceptions.HTTPError, ApiException, OSError) as exc:
                last = Unavailable(ref, f"cannot reach the API server: {_short(exc)}")
                last.__cause__ = exc
                retry_after = None
            else:
                if status < 400 and data is not None:
                    if method != "GET" and not any(k == "dryRun" for k, _ in query or []):
                        streams.WRITTEN.wrote(ref, data, deleted=method == "DELETE")
                    return data
                if status < 400:  # a proxy's login page, a truncated body: not an answer; maybe the next one is
                    last = Unavailable(ref, f"the API server's answer ({status}) is not a Kubernetes JSON object")
                    wait = self.config.backoff * 2**attempt
                    if attempt + 1 == self.config.attempts or time.monotonic() + wait > deadline:
                        break
                    time.sleep(wait)
                    continue
                error = _error(ref, status, data)
                if status != 429 and status < 500:
                    raise error
                last = error
            wait = retry_after if retry_after is not None else self.config.backoff * 2**attempt
            wait *= random.uniform(0.8, 1.2)  # jitter: many clients must not retry in step
            if attempt + 1 == self.config.attempts or time.monotonic() + wait > deadline:
                break
            time.sleep(wait)
        assert last is not None
        raise Unavailable(ref, f"gave up after {self.config.attempts} attempts: {last.message}", last.code)

    def _send(
        self, method: str, path: str, query: builtins.list[tuple[str, str]], body: Any, content_type: str, text: bool
    ) -> tuple[int, dict[str, Any] | None, float | None]:
        headers = {"Accept": "*/*" if text else "application/json", "Content-Type": content_type}
        _, url, headers, body, _ = self.api.param_serialize(
            method, path, query_params=query, header_params=headers, body=body, auth_settings=["BearerToken"]
        )
        response = self.api.call_api(
            method, url, header_params=headers, body=body, _request_timeout=self.config.timeout
        )
        raw = response.read()
        ok_text = text and response.status < 400  # a log is plain text; an error is still a Status object
        data = {"text": raw.decode("utf-8", "replace")} if ok_text else _object(raw)
        retry = response.getheader("Retry-After")
        return response.status, data, float(retry) if retry and retry.isdigit() else None


def _object(raw: bytes) -> dict[str, Any] | None:
    """The answer as a JSON object ({} for an empty body); None for anything else (HTML, a list, cut short)."""
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _error(ref: ObjRef, status: int, data: Any) -> ClusterError:
    message = data.get("message") if isinstance(data, dict) else None
    cls = _ERRORS.get(status, Unavailable if status == 429 or status >= 500 else ClusterError)
    return cls(ref, f"{message or 'HTTP ' + str(status)} ({status})", status)


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
