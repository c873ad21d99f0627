"""What git's and ssh's failures mean, for messages: their stderr redacted, bounded, led by the cause (pure)."""

from __future__ import annotations

import re

from reconciler.redaction import redact

_CAUSES = [  # git's and ssh's words → what they mean for the user (the first that matches names the cause)
    (r"REMOTE HOST IDENTIFICATION HAS CHANGED", "the ssh host key changed: it is not the one in GIT_KNOWN_HOSTS"),
    (r"No \S+ host key is known|Host key verification failed", "unknown ssh host: its key is not in GIT_KNOWN_HOSTS"),
    (r"UNPROTECTED PRIVATE KEY FILE", "the ssh key file can be read by others: chmod 600 it"),
    (r"Identity file .* not accessible|no such identity", "the ssh key file (GIT_SSH_KEY_FILE) is missing"),
    (r"Permission denied \(publickey", "the ssh key was refused"),
    (
        r"Authentication failed|Access denied|returned error: 40[13]|could not read Username|terminal prompts disabled",
        "authentication failed: the token (GIT_TOKEN) is missing, wrong, or may not read this repo",
    ),
    (r"Could not resolve host", "the host name does not resolve"),
    (r"SSL certificate problem|server certificate verification failed", "the server's TLS certificate is not trusted"),
]
_MAX_STDERR = 2000


def scrub(text: str, secrets: list[str]) -> str:
    """git's message, whole but bounded, without secrets, led by its cause when it is a known one."""
    text = redact(text or "")
    for secret in secrets:
        text = text.replace(secret, "***")
    lines = [line.strip() for line in text.strip().splitlines() if line.strip() and set(line.strip()) != {"@"}]
    detail = "; ".join(lines) or "no message"
    detail = detail if len(detail) <= _MAX_STDERR else detail[:_MAX_STDERR] + "…"
    cause = next((meaning for pattern, meaning in _CAUSES if re.search(pattern, text)), None)
    return f"{cause} ({detail})" if cause else detail
