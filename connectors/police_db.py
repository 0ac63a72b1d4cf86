"""Tables or queries of a relational database (the police side's population systems).

Rows are read in (cursor_field, primary_key) order and a read resumes strictly after the
last row handed out, so rows sharing one cursor value are neither lost nor read twice at
a batch boundary. The primary key must therefore be unique and not null.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from decimal import Decimal
from typing import Any, ClassVar, Self

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import exc as sa_exc

from connectors.sdk import (
    Batch,
    ConfigurationError,
    ConnectorError,
    FatalError,
    RetryConfig,
    Source,
    State,
    Stream,
    StreamConfig,
    TransientError,
    parse_config,
    retrying,
)

Position = tuple[Any, Any]
"""(cursor value, primary key) of the last row handed out."""


class TableStreamConfig(StreamConfig):
    """A stream read from one table, or from the rows of one query."""

    table: str | None = Field(default=None, min_length=1)
    query: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _table_or_query(self) -> Self:
        if (self.table is None) == (self.query is None):
            raise ValueError("a stream takes exactly one of 'table' and 'query'")
        return self


class PoliceDbConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str
    streams: list[TableStreamConfig] = Field(min_length=1)
    retry: RetryConfig = Field(default_factory=RetryConfig)

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        if len({s.name for s in self.streams}) != len(self.streams):
            raise ValueError("stream names must be unique")
        return self


class PoliceDbSource(Source):
    connector: ClassVar[str] = "police_db"

    def __init__(self, source_id: str, config: Mapping[str, Any]) -> None:
        super().__init__(source_id, config)
        self.settings = parse_config(PoliceDbConfig, self.config, source_id)
        try:
            url = sa.make_url(self.settings.url)
            if url.drivername in ("postgres", "postgresql"):
                url = url.set(drivername="postgresql+psycopg")
            self.engine = sa.create_engine(url, pool_pre_ping=True, hide_parameters=True)
        except (sa_exc.SQLAlchemyError, ImportError) as exc:
            raise ConfigurationError(f"url: {exc}", source=source_id) from None
        self._configs = {stream.name: stream for stream in self.settings.streams}

    def streams(self) -> list[Stream]:
        return [config.to_stream() for config in self.settings.streams]

    def read(self, stream: Stream, state: State | None, batch_size: int) -> Iterator[Batch]:
        config = self._configs.get(stream.name)
        if config is None:
            raise ConfigurationError(f"no stream {stream.name!r}", source=self.source_id)
        after = self._decode_state(config, state)
        open_rows = retrying(**self.settings.retry.model_dump())(self._open)
        while True:
            opened, batches = open_rows(config, after, batch_size)
            progressed = False
            try:
                for rows in batches:
                    last = rows[-1]
                    cursor = last[config.cursor_field] if config.cursor_field else None
                    after = (cursor, last[config.primary_key])
                    progressed = True
                    yield Batch(rows, self._encode_state(config, after))
                return
            except TransientError:
                if not progressed:
                    raise
                # The connection broke mid-stream: reopen after the last batch handed out.
            finally:
                opened.close()

    def close(self) -> None:
        self.engine.dispose()

    def _open(
        self, config: TableStreamConfig, after: Position | None, batch_size: int
    ) -> tuple[ExitStack, Iterator[list[dict[str, Any]]]]:
        """Connect, run the select and fetch its first batch: the part worth retrying."""
        with ExitStack() as opened, self._translated(config):
            conn = opened.enter_context(self.engine.connect())
            query = _select(self._from(conn, config), config, after)
            options = conn.execution_options(stream_results=True, yield_per=batch_size)
            result = opened.enter_context(options.execute(query))
            partitions = result.partitions()
            first = next(partitions, None)
            names = list(result.keys())
            return opened.pop_all(), self._batches(config, names, first, partitions)

    def _batches(
        self, config: TableStreamConfig, names: list[str], partition: Any, rest: Iterator[Any]
    ) -> Iterator[list[dict[str, Any]]]:
        """Each partition as rows by column name (made from plain tuples: the cheaper
        way to a dict)."""
        while partition:
            yield [dict(zip(names, row, strict=True)) for row in partition]
            with self._translated(config):
                partition = next(rest, None)

    def _from(self, conn: sa.Connection, config: TableStreamConfig) -> sa.FromClause:
        source: sa.FromClause
        if config.table is not None:
            schema, _, name = config.table.rpartition(".")
            source = sa.Table(name, sa.MetaData(), schema=schema or None, autoload_with=conn)
        else:
            # Only the configured text: row values are always bound parameters.
            statement = (config.query or "").strip().rstrip(";")
            probe = sa.text(statement).columns().subquery("q")
            names = conn.execute(sa.select(sa.text("*")).select_from(probe).limit(0)).keys()
            columns: list[sa.ColumnClause[Any]] = [sa.column(name) for name in names]
            source = sa.text(statement).columns(*columns).subquery("q")
        for column in filter(None, (config.primary_key, config.cursor_field)):
            if column not in source.c:
                found = ", ".join(source.c.keys())
                raise self._error(ConfigurationError, config, f"no column {column!r} ({found})")
        return source

    @contextmanager
    def _translated(self, config: TableStreamConfig) -> Iterator[None]:
        try:
            yield
        except sa_exc.SQLAlchemyError as exc:
            # The driver's message, not str(exc): that carries the statement.
            message = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, sa_exc.DBAPIError):
                message = str(exc.orig)
            raise self._error(_classify(exc), config, message) from exc

    def _encode_state(self, config: TableStreamConfig, after: Position) -> State:
        try:
            state = {"key": _encode(after[1])}
            if config.cursor_field is not None:
                state["cursor"] = _encode(after[0])
        except TypeError as exc:
            raise self._error(ConfigurationError, config, f"cannot checkpoint a {exc}") from None
        return state

    def _decode_state(self, config: TableStreamConfig, state: State | None) -> Position | None:
        if not state:
            return None
        try:
            key = _decode(state["key"])
            cursor = _decode(state["cursor"]) if config.cursor_field is not None else None
        except (KeyError, TypeError, ValueError, ArithmeticError):
            message = "the saved state does not fit this stream; reset it"
            raise self._error(ConfigurationError, config, message) from None
        return cursor, key

    def _error(
        self, kind: type[ConnectorError], config: TableStreamConfig, message: str
    ) -> ConnectorError:
        return kind(message, source=self.source_id, stream=config.name)


def _classify(exc: sa_exc.SQLAlchemyError) -> type[ConnectorError]:
    if isinstance(exc, sa_exc.NoSuchTableError | sa_exc.ProgrammingError):
        return ConfigurationError
    if isinstance(exc, sa_exc.DisconnectionError):
        return TransientError
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return TransientError
    if isinstance(exc, sa_exc.OperationalError):
        # SQLite reports a missing table or column as an operational error too.
        sqlite_error = getattr(exc.orig, "sqlite_errorname", None) == "SQLITE_ERROR"
        return ConfigurationError if sqlite_error else TransientError
    return FatalError


def _select(
    source: sa.FromClause, config: TableStreamConfig, after: Position | None
) -> sa.Select[Any]:
    key = source.c[config.primary_key]
    if config.cursor_field is None:
        query = sa.select(source).order_by(key)
        return query if after is None else query.where(key > after[1])
    column = source.c[config.cursor_field]
    query = sa.select(source).order_by(column.nulls_first(), key)
    if after is None:
        return query
    cursor, last_key = after
    if cursor is None:  # NULLs sort first: everything not NULL comes after
        return query.where(sa.or_(column.is_not(None), sa.and_(column.is_(None), key > last_key)))
    return query.where(sa.or_(column > cursor, sa.and_(column == cursor, key > last_key)))


_DECODERS: dict[str, Callable[[str], Any]] = {
    "datetime": dt.datetime.fromisoformat,
    "date": dt.date.fromisoformat,
    "time": dt.time.fromisoformat,
    "decimal": Decimal,
}


def _encode(value: Any) -> Any:
    """A JSON value; dates, times and decimals tagged so they decode to their own type."""
    if value is None or isinstance(value, str | int | float):
        return value
    for tag, kind in (("datetime", dt.datetime), ("date", dt.date), ("time", dt.time)):
        if isinstance(value, kind):
            return {"type": tag, "value": value.isoformat()}
    if isinstance(value, Decimal):
        return {"type": "decimal", "value": str(value)}
    raise TypeError(f"{type(value).__name__} value")


def _decode(value: Any) -> Any:
    return _DECODERS[value["type"]](value["value"]) if isinstance(value, dict) else value
