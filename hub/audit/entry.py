"""What one audit entry records, and the canonical text its hash is computed over.

The canonical form is JSON with sorted keys, no whitespace, non-ASCII kept as UTF-8 and
every datetime as ISO 8601 in UTC with microseconds. The log stores exactly that text and
hashes the stored text, so a verifier never has to re-serialise anything.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import to_jsonable_python

Outcome = Literal["allowed", "denied", "error"]

MAX_TEXT = 256
"""Characters of one caller-supplied string an entry keeps (a path, a scope, a purpose, a
filter value): a 16 KB ``scope`` must not become 16 KB of audit log."""
MAX_ITEMS = 1000
"""Items of one list or mapping an entry keeps, beyond which it notes how many it left out."""
Treatment = Literal["clear", "masked", "hashed", "year_only", "withheld"]


class AuditEvent(BaseModel):
    """One decision of the hub, as the caller that made it reports it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: str = Field(min_length=1)
    """e.g. token.issued, token.refused, records.query, records.read, records.push,
    policy.changed"""
    outcome: Outcome
    client_id: str | None = None
    subject: str | None = None
    purpose: str | None = None
    kind: str | None = None
    filters: dict[str, Any] = Field(default_factory=dict)
    record_ids: list[str] = Field(default_factory=list)
    fields: dict[Treatment, list[str]] = Field(default_factory=dict)
    """Field names returned per treatment: clear, masked, hashed, withheld."""
    policy_id: str | None = None
    policy_version: int | None = None
    request_id: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)

    @field_validator("client_id", "subject", "purpose", "kind", "request_id", mode="before")
    @classmethod
    def _short(cls, value: Any) -> Any:
        return bounded(value)

    @field_validator("filters", "detail", mode="before")
    @classmethod
    def _bounded(cls, value: Any) -> Any:
        return bounded(value)

    def canonical(self) -> str:
        return canonical_json(self.model_dump(mode="python"))


def bounded(value: Any) -> Any:
    """``value`` with every string cut to ``MAX_TEXT`` characters and every list or mapping
    to ``MAX_ITEMS`` items, saying what was cut."""
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else f"{value[:MAX_TEXT]}…(+{len(value) - MAX_TEXT})"
    if isinstance(value, Mapping):
        items = list(value.items())
        kept = {str(bounded(k)): bounded(v) for k, v in items[:MAX_ITEMS]}
        if len(items) > MAX_ITEMS:
            kept["…"] = f"{len(items) - MAX_ITEMS} more"
        return kept
    if isinstance(value, list | tuple):
        kept_list = [bounded(v) for v in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            kept_list.append(f"…{len(value) - MAX_ITEMS} more")
        return kept_list
    return value


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """An event as the log holds it: its position, time and hash."""

    seq: int
    at: dt.datetime
    event: AuditEvent
    hash: str

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": iso_utc(self.at),
            **self.event.model_dump(mode="json"),
            "hash": self.hash,
        }


def iso_utc(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetime refused: audit times are aware UTC")
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def canonical_json(value: Any) -> str:
    return json.dumps(
        _plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any) -> Any:
    # Exact types first (no subclass is an enum or a datetime): the common case, cheaply.
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict:
        return {str(k): _plain(v) for k, v in value.items()}
    if kind is list:
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime):
        return iso_utc(value)
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((_plain(v) for v in value), key=canonical_json)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return _plain(to_jsonable_python(value))
