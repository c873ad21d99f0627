"""Problems found in the input, and the errors this program raises (pure).

A ``Problem`` is a value: every stage collects all of them instead of stopping at the first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as _field
from enum import StrEnum

from reconciler.refs import SourceLocation

# What must never reach a terminal or a CI log raw: C0/C1 controls (a newline starts a GitHub workflow command,
# ESC drives terminals), line and paragraph separators, and the bidirectional overrides of "trojan source".
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
MAX_MESSAGE = 500  # characters of one message: a 5 MiB value is quoted by its start only


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def printable(text: str, limit: int = 0) -> str:
    """``text`` on one line: control and bidi characters as ``\\n``, ``\\x1b``, ``\\u202e``; cut to ``limit``
    characters with an ellipsis when ``limit`` is set. Every string that came from outside passes here before
    it is printed."""
    if limit and len(text) > limit:
        text = text[:limit] + "…"
    return UNSAFE.sub(_escaped, text) if UNSAFE.search(text) else text


class Severity(StrEnum):
    """How much a problem matters: an error fails the check, a warning only under ``--strict``."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One finding about the input: ``path:line: field: message`` plus the rule that found it."""

    severity: Severity
    where: SourceLocation
    field: str
    message: str
    rule: str
    # the start of the manifest document it is about, when ``where`` is elsewhere (a template override's line)
    origin: SourceLocation | None = _field(default=None, compare=False)

    def __str__(self) -> str:
        field = f" {printable(self.field)}:" if self.field else ""
        severity = " warning:" if self.severity is Severity.WARNING else ""
        return f"{printable(str(self.where))}:{field}{severity} {printable(self.message, MAX_MESSAGE)}"

    def sort_key(self) -> tuple[str, int, str, str]:
        """The order problems are reported in: by file, line, field, message."""
        return (self.where.path, self.where.line, self.field, self.message)


def error(where: SourceLocation, field: str, message: str, rule: str, origin: SourceLocation | None = None) -> Problem:
    """An error found in the input at ``where`` (about the document starting at ``origin``, if elsewhere)."""
    return Problem(Severity.ERROR, where, field, message, rule, origin)


def warning(where: SourceLocation, field: str, message: str, rule: str) -> Problem:
    """A warning about the input at ``where``."""
    return Problem(Severity.WARNING, where, field, message, rule)


class ReconcilerError(Exception):
    """Base of every error this program raises on purpose; the CLI prints it without a traceback."""


class UsageError(ReconcilerError):
    """Bad command-line input (a path that does not exist, an unknown cluster …)."""


class ClusterError(ReconcilerError):
    """An error from the Kubernetes API about one object: prints as ``Kind/namespace/name: message``."""

    reason = "Error"

    def __init__(self, ref: object, message: str, code: int = 0) -> None:
        super().__init__(f"{ref}: {message}" if ref else message)
        self.ref, self.message, self.code = ref, message, code


class NotFound(ClusterError):
    """404: the object (or its kind) does not exist."""

    reason = "NotFound"


class Conflict(ClusterError):
    """409: the object exists, or changed since it was read."""

    reason = "Conflict"


class Invalid(ClusterError):
    """422: the API server refused the object as invalid."""

    reason = "Invalid"


class Forbidden(ClusterError):
    """403: RBAC does not allow the request."""

    reason = "Forbidden"


class Unauthorized(ClusterError):
    """401: the credentials were refused."""

    reason = "Unauthorized"


class Gone(ClusterError):
    """410: a watch's resourceVersion is too old (compacted away): list again, then watch from the list."""

    reason = "Expired"


class Unavailable(ClusterError):
    """The API server could not be reached or kept failing (5xx, 429, timeouts) after the retries."""

    reason = "Unavailable"
