"""source.py over real https: git's smart HTTP (git http-backend) behind a TLS server with basic auth, and a
redirect to another origin. The token goes to the repo's origin only; the user's git config is kept; a wrong
token says so."""

from __future__ import annotations

import base64
import http.server
import os
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from reconciler import source
from reconciler.source import Credentials, RemoteSpec, SourceError

from .gitrepos import GitRepo

TOKEN = "ghs-valid-token-1234"
BACKEND = Path(subprocess.run(["git", "--exec-path"], capture_output=True, text=True).stdout.strip())


class _Elsewhere(http.server.BaseHTTPRequestHandler):
    """Another origin (plain http, another port): asks for credentials and records what it was sent."""

    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Elsewhere.seen.append(self.headers.get("Authorization", ""))
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="elsewhere"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class _GitOverHttps(http.server.BaseHTTPRequestHandler):
    """/repo.git/…: git http-backend, for basic auth with the right token only; /moved.git/…: a redirect."""

    root: ClassVar[Path]
    elsewhere: ClassVar[int]

    def _serve(self) -> None:
        if self.path.startswith("/moved.git/"):
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{self.elsewhere}{self.path}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        wanted = "Basic " + base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
        if self.headers.get("Authorization") != wanted:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        env = {
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": "x-access-token",
            "PATH": os.environ["PATH"],
        }
        out = subprocess.run([str(BACKEND / "git-http-backend")], input=body, env=env, capture_output=True).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        headers = [line.split(":", 1) for line in head.decode().split("\r\n") if ":" in line]
        status = next((int(v.split()[0]) for k, v in headers if k.lower() == "status"), 200)
        self.send_response(status)
        for key, value in headers:
            if key.lower() != "status":
                self.send_header(key, value.strip())
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _serve

    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Servers:
    url: str
    moved: str
    ca: Path


def _serve(server: http.server.HTTPServer) -> None:
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()


@pytest.fixture
def https(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Servers]:
    remote = GitRepo(tmp_path / "git")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [*("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert)),
         *("-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1")],
        check=True,
        capture_output=True,
    )
    elsewhere = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Elsewhere)
    _Elsewhere.seen = []
    _GitOverHttps.root, _GitOverHttps.elsewhere = remote.bare.parent, elsewhere.server_port
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _GitOverHttps)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    _serve(elsewhere)
    _serve(server)
    # the user's own git configuration, in the environment: our entries must come after it, not replace it.
    # GIT_SSL_CAINFO (set on some machines) would win over any config, so it goes: the config must do the work.
    monkeypatch.delenv("GIT_SSL_CAINFO", raising=False)
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "http.sslCAInfo")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", str(cert))
    base = f"https://127.0.0.1:{server.server_port}"
    yield Servers(f"{base}/{remote.bare.name}", f"{base}/moved.git", cert)
    server.shutdown()
    elsewhere.shutdown()


def test_the_token_reaches_the_repo_and_the_users_ca_bundle_is_kept(https: Servers, tmp_path: Path) -> None:
    checkout = source.remote(RemoteSpec(https.url, "main", 30), tmp_path / "cache", Credentials(token=TOKEN))
    assert checkout.revision and (checkout.root / "clusters" / "demo").is_dir()


def test_a_wrong_token_says_authentication_failed(https: Servers, tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        source.remote(RemoteSpec(https.url, "main", 30), tmp_path / "cache", Credentials(token="wrong-token-99"))
    message = str(caught.value)
    assert "authentication failed" in message and "wrong-token-99" not in message


def test_no_token_means_authentication_failed_too(https: Servers, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="authentication failed"):
        source.remote(RemoteSpec(https.url, "main", 30), tmp_path / "cache", Credentials())


def test_a_redirect_to_another_origin_over_http_gets_no_token(https: Servers, tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        source.remote(RemoteSpec(https.moved, "main", 30), tmp_path / "cache", Credentials(token=TOKEN))
    assert _Elsewhere.seen, "git did not follow the redirect: the test proves nothing"
    leaked = [h for h in _Elsewhere.seen if h and TOKEN in base64.b64decode(h.split()[-1] + "==").decode()]
    assert leaked == [] and TOKEN not in str(caught.value)


def test_without_the_users_ca_bundle_the_server_is_not_trusted(
    https: Servers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the bundle above is what made git trust the server: our own entries did not replace it
    monkeypatch.delenv("GIT_CONFIG_COUNT")
    with pytest.raises(SourceError, match="TLS certificate is not trusted"):
        source.remote(RemoteSpec(https.url, "main", 30), tmp_path / "cache", Credentials(token=TOKEN))
