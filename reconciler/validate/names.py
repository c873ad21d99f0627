"""The name, label and annotation syntax kube-apiserver enforces (apimachinery's validation helpers; pure).

Each check returns ``None`` when the value is valid, else the detail of a ``field: Invalid value: …`` message.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS_LABEL = re.compile(rf"{_LABEL}\Z")
DNS_SUBDOMAIN = re.compile(rf"{_LABEL}(\.{_LABEL})*\Z")
DNS_1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?\Z")
_NAME_PART = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]\Z")
_IANA = re.compile(r"[-a-z0-9]+\Z")
_ENV = re.compile(r"[ -<>-~]+\Z")  # printable ASCII (32-126) but '=' (61)
_WILDCARD = re.compile(rf"\*\.{_LABEL}(\.{_LABEL})*\Z")
ANNOTATIONS_BYTES = 256 * 1024  # the total of every annotation key and value (TotalAnnotationSizeLimitB)


def dns_label(value: Any) -> str | None:
    """An RFC 1123 label: lowercase alphanumerics and '-', starting and ending alphanumeric, ≤ 63 characters."""
    return _dns_label(str(value))


@lru_cache(maxsize=8192)
def _dns_label(text: str) -> str | None:
    if len(text) > 63:
        return "must be no more than 63 characters"
    if not DNS_LABEL.match(text):
        return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"  # noqa: E501
    return None


def dns_subdomain(value: Any) -> str | None:
    """An RFC 1123 subdomain: dot-separated labels, ≤ 253 characters."""
    return _dns_subdomain(str(value))


@lru_cache(maxsize=8192)
def _dns_subdomain(text: str) -> str | None:
    if len(text) > 253:
        return "must be no more than 253 characters"
    if not DNS_SUBDOMAIN.match(text):
        return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"  # noqa: E501
    return None


def dns_1035(value: Any) -> str | None:
    """An RFC 1035 label (a Service's name): starts with a letter, ≤ 63 characters."""
    return _dns_1035(str(value))


@lru_cache(maxsize=8192)
def _dns_1035(text: str) -> str | None:
    if len(text) > 63:
        return "must be no more than 63 characters"
    if not DNS_1035.match(text):
        return "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character"  # noqa: E501
    return None


def qualified_name(value: Any) -> str | None:
    """A label or annotation key: an optional DNS-subdomain prefix and '/', then a name part of ≤ 63 characters."""
    return _qualified(str(value))


@lru_cache(maxsize=8192)  # the same few keys on every object: checked once per run
def _qualified(text: str) -> str | None:
    prefix, slash, name = text.rpartition("/")
    if slash and (not prefix or dns_subdomain(prefix)):
        return "prefix part must be a lowercase RFC 1123 subdomain"
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return "name part must be no more than 63 characters"
    if not _NAME_PART.match(name):
        return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"  # noqa: E501
    return None


def label_value(value: Any) -> str | None:
    """A label value: empty, or ≤ 63 alphanumerics, '-', '_' and '.', starting and ending alphanumeric."""
    if not isinstance(value, str):
        return "must be a string"
    return _label_value(value)


@lru_cache(maxsize=8192)
def _label_value(value: str) -> str | None:
    if len(value) > 63:
        return "must be no more than 63 characters"
    if value and not _NAME_PART.match(value):
        return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"  # noqa: E501
    return None


def port_name(value: Any) -> str | None:
    """An IANA service name (a container port's name): ≤ 15 characters, a letter, no '--', no '-' at either end."""
    return _port_name(str(value))


@lru_cache(maxsize=8192)
def _port_name(text: str) -> str | None:
    if len(text) > 15:
        return "must be no more than 15 characters"
    if not _IANA.match(text):
        return "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"
    if "--" in text:
        return "must not contain consecutive hyphens"
    if not any(c.isalpha() for c in text):
        return "must contain at least one letter (a-z)"
    if text.startswith("-") or text.endswith("-"):
        return "must not begin or end with a hyphen"
    return None


def env_name(value: Any) -> str | None:
    """An environment variable name as Kubernetes 1.32+ accepts it: printable ASCII other than '='."""
    return _env_name(str(value))


@lru_cache(maxsize=8192)
def _env_name(text: str) -> str | None:
    if not _ENV.match(text):
        return "a valid environment variable name must consist only of printable ASCII characters other than '='"
    return None


def host(value: Any) -> str | None:
    """An Ingress rule's host: a DNS subdomain, optionally with a leading ``*.`` wildcard label."""
    text = str(value)
    if text.startswith("*"):
        return None if _WILDCARD.match(text) else "a wildcard DNS-1123 subdomain must start with '*.'"
    return dns_subdomain(text)
