"""Notifications (I/O: HTTP POST): a JSON event when a run fails, is blocked by a guard, or recovers after one of
those — not on every success — to each ``--notify`` URL, as Flux's notification-controller sends alerts.

Contract: ``event(...)`` decides (pure) whether a run is news and builds the event: cluster, revision, result,
counts, the first errors, a link from ``--notify-link`` (``{cluster}`` and ``{revision}`` filled in), all text
through the one redaction step. ``body(event, fmt)`` is the JSON to send (``slack``: a ``text`` message Slack
compatible webhooks take). ``deliver(urls, data, timeout, warn)`` POSTs with a timeout and one retry, and only
warns when that fails: a notification never changes a run's exit code, and a warning names a URL by its scheme
and host only (a webhook's path often is its token).
"""

from __future__ import annotations

import datetime
import json
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.errors import UsageError
from reconciler.redaction import redact, register

BAD = ("failed", "blocked")
FIRST_ERRORS = 5


@dataclass(frozen=True)
class Notify:
    urls: tuple[str, ...] = ()
    link: str = ""  # a template: {cluster}, {revision}
    fmt: str = "json"  # json, slack
    timeout: float = 5.0


def checked(urls: Sequence[str]) -> tuple[str, ...]:
    """The ``--notify`` URLs, each http(s) with a host (a ``UsageError`` names the first that is not, by its
    scheme and host only); each is registered as a secret, since its path may be a token."""
    for url in urls:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"--notify {shown(url)}: not an http:// or https:// URL")
        register(url)
        register(parts.path if len(parts.path) > 12 else None)
    return tuple(urls)


def shown(url: str) -> str:
    """A URL as a warning may print it: scheme and host (no user, path, query)."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}/…" if parts.hostname else "(not a URL)"


def event(cluster: str, revision: str, result: str, previous: str, counts: Mapping[str, int],
          errors: Sequence[str], link: str) -> dict[str, Any] | None:  # fmt: skip
    """The event of a run, or None when it is no news (a success after a success, a skipped run)."""
    if result in BAD:
        kind = result
    elif result in ("ok", "success", "applied") and previous in BAD:
        kind = "recovered"
    else:
        return None
    filled = link.replace("{cluster}", urllib.parse.quote(cluster)).replace("{revision}", revision) if link else ""
    return {
        "event": kind,
        "cluster": redact(cluster),
        "revision": redact(revision),
        "result": result,
        "previous": previous,
        "counts": {k: v for k, v in counts.items() if v},
        "errors": [redact(e)[:500] for e in errors[:FIRST_ERRORS]],
        "link": filled,  # the operator's own template, sent as written (not a secret of ours)
        "time": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def body(item: Mapping[str, Any], fmt: str) -> bytes:
    """What is POSTed: the event itself, or a Slack ``text`` message."""
    if fmt != "slack":
        return json.dumps(item, sort_keys=True).encode()
    words = {"failed": "failed", "blocked": "was blocked by a safety guard", "recovered": "recovered"}
    head = f"nim-reconciler: cluster {item['cluster']} {words[item['event']]} at {item['revision'][:12] or '-'}"
    lines = [_slack_escape(head), *(f"• {_slack_escape(e)}" for e in item["errors"])]
    if item["link"]:
        lines.append(f"<{item['link']}|details>")
    return json.dumps({"text": "\n".join(lines)}).encode()


def deliver(urls: Sequence[str], data: bytes, timeout: float, warn: Callable[[str], None],
            sleep: Callable[[float], None] = time.sleep) -> int:  # fmt: skip
    """POST ``data`` to every URL (one retry after a second on a failure, a 429 or a 5xx); the number delivered."""
    import urllib.error  # with http.client and ssl, ~30 ms of every start: only a run that notifies pays it
    import urllib.request

    delivered = 0
    for url in urls:
        why = ""
        for attempt in range(2):
            request = urllib.request.Request(url, data=data, method="POST",
                                             headers={"Content-Type": "application/json"})  # fmt: skip
            try:
                with urllib.request.urlopen(request, timeout=timeout) as answer:
                    answer.read(65536)
                delivered += 1
                why = ""
                break
            except urllib.error.HTTPError as exc:
                why = f"HTTP {exc.code}"
                if exc.code != 429 and exc.code < 500:
                    break
            except (urllib.error.URLError, OSError, ValueError) as exc:
                reason = getattr(exc, "reason", exc)
                why = "timed out" if "timed out" in str(reason) else redact(str(reason))[:200]
            if attempt == 0:
                sleep(1.0)
        if why:
            warn(f"warning: notification to {shown(url)} failed: {why}")
    return delivered
