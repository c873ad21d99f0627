"""Git push webhooks (pure): GitHub's ``X-Hub-Signature-256`` (HMAC-SHA256 of the body) and GitLab's
``X-Gitlab-Token``, checked against the secret before anything in the body is read.

Contract: ``verify(headers, body, secret, tracked)`` returns a ``Verdict``: 401 for a missing or wrong signature
(nothing else is looked at), 202 with ``run`` for a push to the tracked branch, 200 without ``run`` for any other
event (a ping, a push to another branch, a tag), 400 for a signed body that is not a push event's JSON. ``tracked``
is the branch the run applies; None means the repository's default branch, as the event names it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_BODY = 1 << 20  # bytes: GitHub caps payloads at 25 MB, but a push event of a GitOps repo is a few KiB


@dataclass(frozen=True)
class Verdict:
    status: int
    message: str
    run: bool = False


def signed(headers: Mapping[str, str], body: bytes, secret: bytes) -> str | None:
    """Which forge signed the request ("github", "gitlab"), or None when no signature matches the secret."""
    github = headers.get("x-hub-signature-256", "")
    if github.startswith("sha256="):
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        if hmac.compare_digest(github.encode(), expected.encode()):
            return "github"
    gitlab = headers.get("x-gitlab-token")
    if gitlab is not None and hmac.compare_digest(gitlab.encode(), secret):
        return "gitlab"
    return None


def verify(headers: Mapping[str, str], body: bytes, secret: bytes, tracked: str | None) -> Verdict:
    """What to answer and whether to run (see the module's contract). ``headers``: lower-cased names."""
    forge = signed(headers, body, secret)
    if forge is None:
        return Verdict(401, "signature missing or wrong (X-Hub-Signature-256 or X-Gitlab-Token)")
    event = headers.get("x-github-event" if forge == "github" else "x-gitlab-event", "")
    if event not in ("push", "Push Hook"):
        return Verdict(200, f"ignored: a {event or 'unnamed'} event is not a push")
    try:
        payload: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        payload = None
    if not isinstance(payload, dict) or not isinstance(payload.get("ref"), str):
        return Verdict(400, "a push event's body is JSON with a ref")
    branch = tracked or _default_branch(payload)
    if branch is None:
        return Verdict(400, "the push event names no default branch, and serve follows the remote HEAD")
    if payload["ref"] != f"refs/heads/{branch}":
        return Verdict(200, f"ignored: a push to {payload['ref'][:200]}, not to {branch}")
    return Verdict(202, f"push to {branch}: fetching and reconciling", run=True)


def _default_branch(payload: Mapping[str, Any]) -> str | None:
    for holder in ("repository", "project"):  # GitHub, GitLab
        value = (payload.get(holder) or {}).get("default_branch") if isinstance(payload.get(holder), dict) else None
        if isinstance(value, str) and value:
            return value
    return None
