"""The outcome of validation, a value apart from the checks: what imports it does not load them (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.documents import NimResource
from reconciler.errors import Problem, Severity


@dataclass(frozen=True)
class Validated:
    """The outcome of validation: resources without errors, and every problem (errors and warnings)."""

    resources: list[NimResource]
    problems: list[Problem]

    @property
    def errors(self) -> list[Problem]:
        """The problems that are errors."""
        return [p for p in self.problems if p.severity is Severity.ERROR]
