"""A source system and its streams: what a connector author writes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, ClassVar

from connectors.sdk.errors import ConfigurationError
from connectors.sdk.mapping import RecordMapping
from contracts import Record, contract

ENTRY_POINT_GROUP = "hub.connectors"

State = dict[str, Any]
"""A stream's checkpoint: JSON-serialisable, opaque to the hub, saved after every batch."""


@dataclass(frozen=True)
class Stream:
    """One stream of a source: rows of one contract kind.

    ``primary_key`` is the source column whose value identifies a row in the source (the
    hub upserts on source + that key); ``cursor_field`` is the column an incremental read
    resumes after, or None for a stream read whole every time.
    """

    name: str
    kind: str
    primary_key: str
    cursor_field: str | None = None
    mapping: RecordMapping = field(default_factory=RecordMapping)
    self_declared: bool = False
    """Rows are residents' own declarations (自主申报, e.g. 秦淮e家): the hub opens a task to
    verify each record stored from them at the door."""
    full_refresh: bool = False
    """Every sync reads the stream whole: once a read ends complete, the hub marks inactive
    the records this stream holds that it did not list, and starts the next read afresh."""
    deleted: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    """Source column -> values that mean the row is gone (注销, 迁出, a deleted flag): such a
    row is not judged as a record, it makes the hub's record of its key inactive."""

    def deletion_mark(self, row: Mapping[str, Any]) -> str | None:
        """``column=value`` if ``row`` says its record was deleted or moved away at the
        source, else None."""
        for column, values in self.deleted.items():
            value = row.get(column)
            if value is not None and not isinstance(value, dict | list) and value in values:
                return f"{column}={value}"
        return None

    @property
    def model(self) -> type[Record]:
        return contract(self.kind)


@dataclass(frozen=True)
class Batch:
    rows: list[dict[str, Any]]
    state: State
    """The stream's state once this batch is stored: where the next read starts."""


class Source(ABC):
    """Base of every connector. Subclasses set ``connector`` and implement two methods.

    ``read`` yields batches in a stable order and gives each the state after it; the
    hub stores a batch and its state in one transaction, so a killed sync resumes from
    the last committed batch with nothing lost and nothing twice.
    """

    connector: ClassVar[str]

    def __init__(self, source_id: str, config: Mapping[str, Any]) -> None:
        self.source_id = source_id
        self.config = dict(config)

    @abstractmethod
    def streams(self) -> list[Stream]: ...

    @abstractmethod
    def read(self, stream: Stream, state: State | None, batch_size: int) -> Iterator[Batch]: ...

    def stream(self, name: str) -> Stream:
        for stream in self.streams():
            if stream.name == name:
                return stream
        raise ConfigurationError(f"no stream {name!r}", source=self.source_id)

    def close(self) -> None:  # noqa: B027 (an optional hook, not abstract)
        """Release connections; called once the sync is over."""


def available_connectors() -> dict[str, type[Source]]:
    """Every connector installed, built-in or third-party, by its entry-point name."""
    return {point.name: _load(point.name) for point in entry_points(group=ENTRY_POINT_GROUP)}


def load_source(source_id: str, connector: str, config: Mapping[str, Any]) -> Source:
    return _load(connector, source_id)(source_id, config)


def _load(connector: str, source_id: str | None = None) -> type[Source]:
    points = entry_points(group=ENTRY_POINT_GROUP, name=connector)
    if not points:
        installed = sorted(point.name for point in entry_points(group=ENTRY_POINT_GROUP))
        raise ConfigurationError(
            f"unknown connector {connector!r}; installed: {', '.join(installed)}",
            source=source_id,
        )
    loaded = next(iter(points)).load()
    if not (isinstance(loaded, type) and issubclass(loaded, Source)):
        raise ConfigurationError(f"entry point {connector!r} is not a Source subclass")
    return loaded
