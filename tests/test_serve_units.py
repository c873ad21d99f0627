"""serve's pure parts as tables: webhook verification, the coalescing queue, watch-stream parsing, own writes."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from typing import Any

import pytest

from reconciler.cli import webhook
from reconciler.cli.queue import Trigger
from reconciler.cli.server import DRAIN_SECONDS, address_of, listen
from reconciler.cluster import streams
from reconciler.errors import ClusterError, Conflict, Gone, Unavailable, UsageError
from reconciler.refs import ObjRef

SECRET = b"hook-secret"
PUSH = json.dumps({"ref": "refs/heads/main", "repository": {"default_branch": "main"}}).encode()


def github(body: bytes, secret: bytes = SECRET, event: str = "push") -> dict[str, str]:
    digest = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return {"x-hub-signature-256": f"sha256={digest}", "x-github-event": event}


@pytest.mark.parametrize(
    ("headers", "body", "tracked", "status", "run"),
    [
        (github(PUSH), PUSH, None, 202, True),  # the default branch, as the event names it
        (github(PUSH), PUSH, "main", 202, True),
        (github(PUSH), PUSH, "release", 200, False),  # another branch than the one applied
        (github(PUSH, b"other"), PUSH, None, 401, False),  # signed with another secret
        (github(PUSH), PUSH + b" ", None, 401, False),  # the body changed after signing
        ({"x-hub-signature-256": "sha1=abc", "x-github-event": "push"}, PUSH, None, 401, False),
        ({"x-github-event": "push"}, PUSH, None, 401, False),  # unsigned
        (github(PUSH, event="ping"), PUSH, None, 200, False),
        (github(b"[1]"), b"[1]", None, 400, False),  # signed, but no push event
        ({"x-gitlab-token": "hook-secret", "x-gitlab-event": "Push Hook"}, PUSH, None, 202, True),
        ({"x-gitlab-token": "hook-secre", "x-gitlab-event": "Push Hook"}, PUSH, None, 401, False),
        ({"x-gitlab-token": "", "x-gitlab-event": "Push Hook"}, PUSH, None, 401, False),
    ],
)
def test_a_webhook_runs_only_for_a_verified_push_to_the_tracked_branch(
    headers: dict[str, str], body: bytes, tracked: str | None, status: int, run: bool
) -> None:
    verdict = webhook.verify(headers, body, SECRET, tracked)
    assert (verdict.status, verdict.run) == (status, run), verdict.message


def test_a_push_without_a_default_branch_needs_a_tracked_one() -> None:
    body = json.dumps({"ref": "refs/heads/main"}).encode()
    assert webhook.verify(github(body), body, SECRET, None).status == 400
    assert webhook.verify(github(body), body, SECRET, "main").run


def test_a_storm_of_events_is_one_batch_and_a_quiet_queue_is_none() -> None:
    trigger = Trigger(quiet=0.2, longest=2.0)
    cache, service = ObjRef("NIMCache", "nim", "c"), ObjRef("NIMService", "nim", "s")
    for _ in range(50):
        trigger.add("watch: Job modified", cache)
    trigger.add("watch: Deployment modified", service)
    assert trigger.depth == 2
    batch = trigger.take(5)
    assert batch is not None and batch.resources == {cache, service} and not batch.fetch
    assert batch.reasons == ("watch: Job modified", "watch: Deployment modified")
    assert trigger.take(0.3) is None and trigger.depth == 0


def test_a_steady_trickle_still_runs_every_longest_seconds() -> None:
    trigger = Trigger(quiet=0.5, longest=0.6)
    stop = threading.Event()

    def trickle() -> None:
        while not stop.wait(0.1):
            trigger.add("watch: Pod modified")

    threading.Thread(target=trickle, daemon=True).start()
    try:
        # the trickle never goes quiet for 0.5 s, so only the 0.6 s cap can hand out a batch before take gives up
        batch = trigger.take(3)
    finally:
        stop.set()
    assert batch is not None and batch.reasons == ("watch: Pod modified",)


def test_our_own_echoes_are_dropped_when_the_batch_is_due_and_make_no_run() -> None:
    trigger = Trigger(quiet=0.05)
    ours = {"now": False}
    trigger.add("watch: Deployment added", own=lambda: ours["now"])
    ours["now"] = True  # our write's answer arrived after its event
    assert trigger.take(0.3) is None and trigger.dropped == 1
    trigger.add("a push", fetch=True)
    trigger.add("watch: Job modified", own=lambda: True)
    batch = trigger.take(1)
    assert batch is not None and batch.reasons == ("a push",) and batch.fetch


def _error(ref: ObjRef, code: int, body: Any) -> ClusterError:
    return {410: Gone, 409: Conflict}.get(code, Unavailable)(ref, str((body or {}).get("message")), code)


REF = ObjRef("Job", "", "*")
EVENT = {"type": "MODIFIED", "object": {"metadata": {"name": "j", "resourceVersion": "7"}}}


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        ([json.dumps(EVENT).encode() + b"\n"], [EVENT]),
        ([json.dumps(EVENT).encode()[:10], json.dumps(EVENT).encode()[10:] + b"\n\n"], [EVENT]),  # split
        ([json.dumps(EVENT).encode()], [EVENT]),  # the last line without its newline
        ([b"\n \n"], []),
    ],
)
def test_watch_events_are_read_across_chunks(chunks: list[bytes], expected: list[Any]) -> None:
    assert list(streams.events(REF, chunks, _error)) == expected


@pytest.mark.parametrize(
    ("line", "error", "says"),
    [
        (b"<html>login</html>\n", Unavailable, "not a watch event"),
        (b'{"type": "SOMETHING", "object": {}}\n', Unavailable, "not a watch event"),
        (b'{"type": "ADDED", "object": []}\n', Unavailable, "not a watch event"),
        (b'{"type": "ADDED", "object": {"metadata": "x"}}\n', Unavailable, "no metadata"),
        (b'{"type": "ERROR", "object": {"code": 410, "message": "too old resource version"}}\n', Gone, "too old"),
        (b'{"type": "ERROR", "object": {"code": "x"}}\n', Unavailable, ""),
        (b"[" * 100_000 + b"\n", Unavailable, "not a watch event"),  # nesting a parser must not recurse into
    ],
)
def test_anything_but_a_watch_event_ends_the_stream_as_an_error(line: bytes, error: type, says: str) -> None:
    with pytest.raises(error) as raised:
        list(streams.events(REF, [line], _error))
    assert says in str(raised.value)


def test_a_huge_event_is_refused_without_being_held() -> None:
    chunks = (b"x" * (1 << 20) for _ in range(20))
    with pytest.raises(Unavailable, match="over 16 MiB"):
        list(streams.events(REF, chunks, _error))


def test_own_writes_are_known_by_version_and_deletions_for_a_minute() -> None:
    own = streams.OwnWrites()
    ref = ObjRef("Deployment", "nim", "d")
    own.wrote(ref, {"metadata": {"resourceVersion": "10"}})
    own.wrote(ref, {"metadata": {"resourceVersion": "11"}})  # then its status, before the watch shows "10"
    assert own.ours(ref, "MODIFIED", "10") and own.ours(ref, "MODIFIED", "11")
    assert not own.ours(ref, "MODIFIED", "12"), "someone else's change"
    assert not own.ours(ObjRef("Deployment", "nim", "other"), "MODIFIED", "10")
    assert not own.ours(ref, "DELETED", "13")
    own.wrote(ref, None, deleted=True)
    assert own.ours(ref, "DELETED", "13")


@pytest.mark.parametrize(
    ("text", "address"),
    [(":8080", ("0.0.0.0", 8080)), ("127.0.0.1:0", ("127.0.0.1", 0)), ("[::1]:9000", ("::1", 9000))],
)
def test_listen_addresses(text: str, address: tuple[str, int]) -> None:
    assert address_of(text) == address


@pytest.mark.parametrize("text", ["8080", "host:", "host:http", ":70000"])
def test_bad_listen_addresses_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="--listen"):
        address_of(text)


class _Quiet:
    """Endpoints that are never reached: the request is refused before any of them."""

    def ready(self) -> tuple[bool, str]:
        return True, ""

    def metrics(self) -> str:
        return ""

    def page(self) -> str:
        return ""

    def hook(self, headers: dict[str, str], body: bytes) -> webhook.Verdict:
        raise AssertionError("a refused body reached the webhook")


def _refused(claimed: int, sent: int) -> bytes:
    """POST a body claiming ``claimed`` bytes to a real server, send ``sent`` bytes of it once the server has
    had time to answer, then read until it closes: what came back."""
    server = listen("127.0.0.1:0", _Quiet(), lambda _: None)
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
            client.sendall(f"POST /hooks/git HTTP/1.1\r\nHost: x\r\nContent-Length: {claimed}\r\n\r\n".encode())
            time.sleep(0.3)  # the 413 is written meanwhile; the body is still on its way, as from a slow sender
            client.sendall(b"x" * sent)
            answer = b""
            while chunk := client.recv(65536):
                answer += chunk
            return answer
    finally:
        server.close()


def test_a_client_still_sending_a_refused_body_reads_413_not_a_reset() -> None:
    answer = _refused((1 << 20) + 1, (1 << 20) + 1)
    assert answer.startswith(b"HTTP/1.0 413 ") and b"Connection: close" in answer, answer[:200]


def test_a_client_claiming_gigabytes_is_closed_on_within_the_drain_bounds() -> None:
    # 64 KiB of 10 GiB sent, then silence: the server stops draining after DRAIN_SECONDS and closes, so the read
    # ends (the client's own 10 s timeout would raise if the server held the connection open)
    answer = _refused(10 << 30, 1 << 16)
    assert answer.startswith(b"HTTP/1.0 413 ") and DRAIN_SECONDS < 10
