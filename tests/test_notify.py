"""Notifications: `--notify URL` posts a JSON event when a run fails, is blocked, or recovers (not on every
success), to a local receiver; delivery has a timeout and a retry, never changes the exit code, and never carries
a secret or the receiver's token-bearing URL into output."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from reconciler.cli import notify

from .apiserver import ApiServer, Fault
from .helpers import converge, install, run

TOKEN_PATH = "/services/T0001/B0002/hunter2secretpath"


class Receiver(http.server.BaseHTTPRequestHandler):
    got: ClassVar[list[dict[str, Any]]] = []
    delay: ClassVar[float] = 0.0
    fail_first: ClassVar[int] = 0

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        data = self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(type(self).delay)
        if type(self).fail_first > 0:
            type(self).fail_first -= 1
            self.send_response(503)
            self.end_headers()
            return
        type(self).got.append({"path": self.path, "body": json.loads(data)})
        try:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        except OSError:  # the sender gave up waiting (the slow receiver): its timeout is what is tested
            pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[Receiver]]]:
    Receiver.got, Receiver.delay, Receiver.fail_first = [], 0.0, 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.daemon_threads = False  # server_close then waits for a slow request's thread: none outlives its test
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}{TOKEN_PATH}", Receiver
    server.shutdown()
    server.server_close()


def events(got: list[dict[str, Any]]) -> list[str]:
    return [g["body"]["event"] for g in got]


def test_failure_then_recovery_are_news_and_a_second_success_is_not(
    api: ApiServer, repo: Path, receiver: tuple[str, type[Receiver]]
) -> None:
    url, got = receiver
    link = ("--notify-link", "https://grafana.example/d/nim?var-cluster={cluster}&rev={revision}")
    converge(api, repo)
    api.faults.add(Fault(method="PATCH", path="/deployments/", status=422, message="denied: {authorization}",
                         times=100))  # fmt: skip
    manifest = repo / "clusters" / "demo" / "nemoguard" / "content-safety.yaml"
    manifest.write_text(manifest.read_text().replace("replicas: 1", "replicas: 2"))
    code, out = run(api, repo, "--notify", url, *link)
    assert code == 2, out
    [failed] = got.got
    assert failed["path"] == TOKEN_PATH
    event = failed["body"]
    assert (event["event"], event["cluster"], event["result"]) == ("failed", "demo", "failed")
    assert event["errors"] and "Deployment/nemoguard/content-safety" in event["errors"][0]
    assert "test-token" not in json.dumps(event), "the bearer token the API server echoed is redacted"
    assert event["link"] == "https://grafana.example/d/nim?var-cluster=demo&rev="
    assert "hunter2secretpath" not in out

    api.faults.pending.clear()
    code, out = run(api, repo, "--notify", url, *link)
    assert code == 0, out
    assert events(got.got) == ["failed", "recovered"]
    assert got.got[1]["body"]["previous"] == "failed"
    code, out = run(api, repo, "--notify", url, *link)
    assert code == 0 and events(got.got) == ["failed", "recovered"], "a success after a success is no news"


def test_a_blocked_run_is_news_in_slack_format(
    api: ApiServer, repo: Path, receiver: tuple[str, type[Receiver]]
) -> None:
    url, got = receiver
    converge(api, repo)
    for path in (repo / "clusters" / "demo" / "nemoguard").glob("*.yaml"):
        path.unlink()
    code, out = run(api, repo, "--notify", url, "--notify-format", "slack", "--max-prune", "1",
                    "--max-prune-per-namespace", "1")  # fmt: skip
    assert code == 3, out
    [message] = got.got
    text = message["body"]["text"]
    assert set(message["body"]) == {"text"}
    assert text.startswith("nim-reconciler: cluster demo was blocked by a safety guard at -")
    assert "\n• " in text


def test_a_receiver_that_is_down_or_slow_changes_nothing_but_a_warning(
    api: ApiServer, repo: Path, receiver: tuple[str, type[Receiver]]
) -> None:
    url, got = receiver
    install(api)
    (repo / "clusters" / "demo" / "broken.yaml").write_text("apiVersion: apps.nvidia.com/v1alpha1\nkind: NIMCache\n")
    down = "http://127.0.0.1:9" + TOKEN_PATH  # nothing listens on the discard port
    code, out = run(api, repo, "--notify", down)
    assert code == 2, out
    assert "warning: notification to http://127.0.0.1/… failed:" in out and "hunter2secretpath" not in out

    got.delay = 3.0  # longer than --notify-timeout: only the timeout can fail this notification
    code, out = run(api, repo, "--notify", url, "--notify-timeout", "0.5s")
    assert code == 2, out
    assert "warning: notification to http://127.0.0.1/… failed: timed out" in out

    got.delay, got.fail_first = 0.0, 1
    code, out = run(api, repo, "--notify", url)
    assert code == 2 and events(got.got)[-1] == "failed" and "warning" not in out, "retried once after a 503"


@pytest.mark.parametrize("url", ["ftp://hooks.example/x", "hooks.example/x", "http:///x"])
def test_a_bad_notify_url_is_a_usage_error(api: ApiServer, repo: Path, url: str) -> None:
    code, out = run(api, repo, "--notify", url)
    assert code == 2 and "--notify" in out and "not an http:// or https:// URL" in out
    assert "/x" not in out.replace("://…", "")


def test_the_event_carries_what_a_receiver_needs_and_nothing_on_success() -> None:
    assert notify.event("demo", "abc", "ok", "ok", {}, [], "") is None
    assert notify.event("demo", "abc", "ok", "", {}, [], "") is None
    item = notify.event("demo", "abc", "blocked", "ok", {"blocked": 2, "created": 0}, ["x"] * 9, "")
    assert item is not None and item["counts"] == {"blocked": 2} and len(item["errors"]) == 5
