"""One redaction step for every text that leaves the process: output, logs, Events, status messages, metrics
labels (pure, apart from the registry of this process's secrets).

Contract: ``redact(text)`` removes what must never be shown, whatever it came from (git, an API error body, an
exception, a URL a user typed): user-info in URLs (``https://user:token@host`` → ``https://***@host``; an ssh
user name alone is kept), the values of a URL's query string (``?token=…`` → ``?token=***``),
``Authorization``-style credentials (``Bearer …``, ``Basic …``, ``token=…``), and every secret ``register``-ed
(GIT_TOKEN, a kubeconfig's bearer token), wherever it appears. Idempotent; a text without any of these is
returned as it is.
"""

from __future__ import annotations

import re

_SECRETS: set[str] = set()
_MIN_SECRET = 6  # shorter "secrets" would mask ordinary words in every message
_USERINFO = re.compile(r"(\b([a-z][a-z0-9+.-]*)://)([^/@\s]+)@", re.IGNORECASE)
_QUERY = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s?#]*\?)([^\s#\"'<>]+)", re.IGNORECASE)
_PAIR = re.compile(r"([^&=;]+)=([^&;]*)")
# "Bearer <x>" / "Basic <x>" as HTTP writes them; "token=<x>", "password: <x>" as configs and messages do; a
# credential has a digit or a symbol somewhere ("Bearer authentication required" is a sentence, not a token)
_CREDENTIAL = re.compile(
    r"\b(bearer\s+|basic\s+)(?!\*\*\*)(?=[A-Za-z]*[0-9._~+/=-])[A-Za-z0-9._~+/=-]{6,}"
    r"|\b((?:token|password|passwd|secret)\s*[=:]\s*)(?!\*\*\*)(?=[A-Za-z]*[^A-Za-z\s])[^\s,;&\"']{6,}",
    re.IGNORECASE,
)


def _userinfo(match: re.Match[str]) -> str:
    # an ssh user name (git@) is an account, not a secret, and users need it to see which one was tried;
    # anything with a password, and every https user-info (a token is often given as the user), is masked
    scheme, info = match.group(2).lower(), match.group(3)
    keep = scheme in ("ssh", "git+ssh", "ssh+git") and ":" not in info
    return f"{match.group(1)}{info if keep else '***'}@"


def register(secret: str | None) -> None:
    """Remember a secret of this process (a token, a password): from now on every ``redact`` masks it."""
    if secret and len(secret) >= _MIN_SECRET:
        _SECRETS.add(secret)


def redact(text: str) -> str:
    """``text`` without credentials (see the module contract)."""
    if not text:
        return text
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "***")
    if "://" in text:
        text = _USERINFO.sub(_userinfo, text)
        text = _QUERY.sub(lambda m: m.group(1) + _PAIR.sub(r"\1=***", m.group(2)), text)
    if not _may_hold_credential(text):
        return text
    return _CREDENTIAL.sub(lambda m: (m.group(1) or m.group(2)) + "***", text)


_CREDENTIAL_WORDS = ("bearer", "basic", "token", "passw", "secret")
# The letters beyond ASCII that IGNORECASE takes for ASCII ones (two for i, the long s, the Kelvin sign): with
# none of them in a text, a lowercase look finds every place the pattern could match (tests/test_hostile.py
# checks this list against every code point).
ASCII_TWINS = "\u0130\u0131\u017f\u212a"


def _may_hold_credential(text: str) -> bool:
    # The credential pattern scans ~25 ms per 600 KB (a large dry run's output), and its words are rare.
    if any(twin in text for twin in ASCII_TWINS):
        return True
    low = text.lower()
    return any(word in low for word in _CREDENTIAL_WORDS)
