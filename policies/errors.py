"""Errors of the policies package.

PolicyError
 ├── PolicyInvalid     a policy document that cannot be loaded or breaks the contracts;
 │                     carries every `Problem`
 └── AccessDenied      a request the policy does not grant: which kind, field, purpose
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    where: str
    """``kinds.person.fields.id_number`` and the like."""
    message: str


class PolicyError(Exception):
    pass


class PolicyInvalid(PolicyError):
    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        listed = "; ".join(f"{p.where}: {p.message}" for p in problems)
        super().__init__(f"policy {source} is invalid: {listed}")


class AccessDenied(PolicyError):
    """Refused by default deny. ``reason`` is a stable word for the audit log and the API."""

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        kind: str | None = None,
        fields: tuple[str, ...] = (),
        purpose: str | None = None,
    ) -> None:
        self.reason = reason
        self.kind = kind
        self.fields = fields
        self.purpose = purpose
        super().__init__(message)
