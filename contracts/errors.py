"""Errors raised by contracts.

    ContractError
     ├── UnknownKind        a kind (or kind version) no contract defines
     └── RecordInvalid      a row broke one or more rules; carries every `Failure`

A `Failure` is one broken rule: the kind, the field (None for the whole row), the rule's
name (stable, for reports and code), the offending value and a human message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Failure:
    kind: str
    field: str | None
    rule: str
    value: Any
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "field": self.field,
            "rule": self.rule,
            "value": self.value,
            "message": self.message,
        }


class ContractError(Exception):
    """Base of every error the contracts package raises."""


class UnknownKind(ContractError):
    def __init__(self, kind: str, version: int | None = None) -> None:
        self.kind = kind
        self.version = version
        what = kind if version is None else f"{kind} v{version}"
        super().__init__(f"no contract for record kind {what!r}")


class RecordInvalid(ContractError):
    def __init__(self, kind: str, failures: tuple[Failure, ...]) -> None:
        self.kind = kind
        self.failures = failures
        summary = "; ".join(f"{f.field or '(row)'}: {f.rule}" for f in failures)
        super().__init__(f"invalid {kind} record: {summary}")
