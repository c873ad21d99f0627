"""``serve``'s HTTP seam: ``/healthz``, ``/readyz``, ``/metrics``, ``/hooks/git`` and the status page ``/``.

Contract: ``listen(address, endpoints, log)`` serves on ``address`` (``:8080``, ``127.0.0.1:0`` …) from a
background thread and returns the server (``port`` is the one bound). Every answer is whole and short: a body
over ``webhook.MAX_BODY`` gets 413 and is dropped unread (what the client still sends is drained, within bounds,
so that it sees the 413, not a reset), a request without a length 411, a slow client is cut off after
``TIMEOUT`` seconds, and an error inside a handler is a one-line 500, never a traceback.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from reconciler.cli.webhook import MAX_BODY, Verdict
from reconciler.errors import UsageError, printable

TIMEOUT = 10.0  # seconds a client may take to send its request
DRAIN, DRAIN_SECONDS = 4 * MAX_BODY, 2.0  # what a refused body may still send before we close on it
PAGE_HEADERS = {
    # nothing but our own inline style may load or run: the page holds text from git and the cluster
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


class Endpoints(Protocol):
    def ready(self) -> tuple[bool, str]: ...
    def metrics(self) -> str: ...
    def page(self) -> str: ...
    def hook(self, headers: dict[str, str], body: bytes) -> Verdict: ...


class Server(ThreadingHTTPServer):
    daemon_threads = True

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def close(self) -> None:
        """Stop serving and free the port."""
        self.shutdown()
        self.server_close()


def address_of(text: str) -> tuple[str, int]:
    """``host:port`` (``:8080`` listens on every interface)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"--listen {text}: expected HOST:PORT or :PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


def listen(address: str, endpoints: Endpoints, log: Callable[[str], None]) -> Server:
    """Bind and serve in the background (exits 2 through ``UsageError`` when the address cannot be bound)."""
    try:
        server = Server(address_of(address), _handler(endpoints, log))
    except OSError as exc:
        raise UsageError(f"--listen {address}: {exc.strerror or exc}") from exc
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    return server


def _handler(endpoints: Endpoints, log: Callable[[str], None]) -> type[BaseHTTPRequestHandler]:
    routes: dict[str, Callable[[], tuple[int, str, str]]] = {
        "/healthz": lambda: (200, "text/plain; charset=utf-8", "ok\n"),
        "/readyz": lambda: _ready(endpoints),
        "/metrics": lambda: (200, "text/plain; version=0.0.4; charset=utf-8", endpoints.metrics()),
        "/": lambda: (200, "text/html; charset=utf-8", endpoints.page()),
    }

    class Handler(BaseHTTPRequestHandler):
        timeout = TIMEOUT
        server_version = "nim-reconciler"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the probes would flood the log

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/hooks/git":
                return self._answer(405, "text/plain; charset=utf-8", "use POST\n", {"Allow": "POST"})
            route = routes.get(path)
            if route is None:
                return self._answer(404, "text/plain; charset=utf-8", "not found\n")
            self._guarded(route)

        def do_POST(self) -> None:
            if self.path.split("?", 1)[0] != "/hooks/git":
                return self._answer(404, "text/plain; charset=utf-8", "not found\n")
            length = self.headers.get("Content-Length")
            if length is None or not length.isdigit():
                return self._answer(411, "text/plain; charset=utf-8", "a Content-Length is required\n")
            if int(length) > MAX_BODY:
                self.close_connection = True  # the body is never used
                self._answer(413, "text/plain; charset=utf-8", f"over {MAX_BODY >> 20} MiB\n", {"Connection": "close"})
                return self._discard(int(length))
            body = self.rfile.read(int(length))
            headers = {k.lower(): v for k, v in self.headers.items()}
            self._guarded(lambda: _verdict(endpoints.hook(headers, body)))

        def _discard(self, length: int) -> None:
            """Read and drop what a refused request still sends, up to ``DRAIN`` bytes for ``DRAIN_SECONDS``: closing
            on a client that is still sending resets the connection, and it would see that instead of our answer.
            Bounded, so a client claiming gigabytes costs a few MiB and seconds, no more."""
            self.wfile.flush()
            left, deadline = min(length, DRAIN), time.monotonic() + DRAIN_SECONDS
            with contextlib.suppress(OSError):  # the client gave up or went away: nothing left to protect
                while left > 0 and (wait := deadline - time.monotonic()) > 0:
                    self.connection.settimeout(wait)
                    chunk = self.rfile.read1(min(left, 1 << 16))
                    if not chunk:
                        break
                    left -= len(chunk)

        def _guarded(self, route: Callable[[], tuple[int, str, str]]) -> None:
            try:
                status, kind, text = route()
            except Exception as exc:  # a handler's bug must not print a traceback to a client or kill the server
                log(f"error: {self.command} {printable(self.path, 200)}: {type(exc).__name__}: {printable(str(exc))}")
                status, kind, text = 500, "text/plain; charset=utf-8", "internal error\n"
            extra = PAGE_HEADERS if kind.startswith("text/html") else {}
            self._answer(status, kind, text, extra)

        def _answer(self, status: int, kind: str, text: str, extra: dict[str, str] | None = None) -> None:
            data = text.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

    return Handler


def _ready(endpoints: Endpoints) -> tuple[int, str, str]:
    ok, reason = endpoints.ready()
    return (200 if ok else 503), "text/plain; charset=utf-8", (reason or ("ok" if ok else "not ready")) + "\n"


def _verdict(verdict: Verdict) -> tuple[int, str, str]:
    return verdict.status, "text/plain; charset=utf-8", verdict.message + "\n"
