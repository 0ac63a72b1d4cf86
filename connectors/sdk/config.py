"""What every connector's config shares: validation that never echoes values, retries, and
the fields of a stream."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from connectors.sdk.errors import ConfigurationError
from connectors.sdk.mapping import RecordMapping
from connectors.sdk.source import Stream
from contracts import CONTRACTS, VERIFIED_KINDS

M = TypeVar("M", bound=BaseModel)


class RetryConfig(BaseModel):
    """The ``retry`` block of a source's config, for ``retrying(**retry.model_dump())``."""

    model_config = ConfigDict(extra="forbid")

    attempts: int = Field(default=6, ge=1)
    initial: float = Field(default=0.2, ge=0)
    maximum: float = Field(default=5.0, ge=0)
    deadline: float = Field(default=60.0, gt=0)


class StreamConfig(BaseModel):
    """One entry of a source's ``streams``: the fields every connector shares.

    A connector's stream config extends it with where its rows come from (a table, an API
    resource, a file pattern) and may narrow a field (a default cursor, a mapping with
    other defaults); ``to_stream()`` gives the SDK's ``Stream``.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    kind: str
    primary_key: str = Field(min_length=1)
    cursor_field: str | None = None
    mapping: RecordMapping = Field(default_factory=RecordMapping)
    self_declared: bool = False
    """See ``Stream.self_declared``: only of a kind that is verified door to door."""
    full_refresh: bool = False
    """See ``Stream.full_refresh``: read whole every sync, keys it no longer lists go inactive."""
    deleted: dict[str, list[str | int | bool]] = Field(default_factory=dict)
    """See ``Stream.deleted``, e.g. ``{status: [注销, 迁出], is_deleted: [1, true]}``."""

    @model_validator(mode="after")
    def _known_kind_and_fields(self) -> Self:
        if self.kind not in CONTRACTS:
            raise ValueError(f"unknown kind {self.kind!r}")
        if problems := self.mapping.check(CONTRACTS[self.kind]):
            raise ValueError("; ".join(problems))
        if self.self_declared and self.kind not in VERIFIED_KINDS:
            raise ValueError(f"self_declared: {self.kind} records are not verified door to door")
        if any(not values for values in self.deleted.values()):
            raise ValueError("deleted: give each column at least one value meaning deleted")
        return self

    def to_stream(self) -> Stream:
        return Stream(
            self.name,
            self.kind,
            self.primary_key,
            self.cursor_field,
            self.mapping,
            self_declared=self.self_declared,
            full_refresh=self.full_refresh,
            deleted={column: tuple(values) for column, values in self.deleted.items()},
        )


def parse_config(model: type[M], config: Mapping[str, Any], source_id: str) -> M:
    """``config`` validated by ``model``; a ConfigurationError lists each problem by field,
    without the values given, which may hold a password, a key or a secret."""
    try:
        return model.model_validate(config)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(config)'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigurationError(problems, source=source_id) from None
