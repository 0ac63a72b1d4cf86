"""Queries over one kind's records, with a policy's row scope compiled into the SQL.

The scope (``policies.RowScope``) and the caller's filters become WHERE clauses, so a row
outside the caller's scope is never fetched; a scope naming communities or streets
(``Match.op == "area"``) becomes a sub-query of the grid registry. Paging is keyset on
the record id: a page boundary does not move when records are inserted before it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Column, ColumnElement, Select, and_, false, func, or_, select, true

from contracts import untyped
from hub.store.store import Store, StoredRecord, kind_table
from hub.store.tables import FieldColumn, KindTable, grid_registry
from policies import Match, RowScope

Op = Literal["eq", "in", "gte", "lte", "prefix"]


class QueryError(ValueError):
    """A filter the store cannot run: unknown field, wrong operator, bad value."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True, slots=True)
class Filter:
    field: str
    op: Op
    value: Any


INT64 = range(-(2**63), 2**63)
"""What an integer column holds on every backend: a value outside is no row, and a 400."""


@dataclass(frozen=True, slots=True)
class FoundRow:
    """A record as a caller's query reads it: only the fields asked for, decrypted."""

    id: int
    source_system: str
    last_updated: dt.datetime
    link_key: str
    values: dict[str, Any]
    inactive_since: dt.datetime | None = None
    """Set on an inactive record (read only when asked for: ``include_inactive``)."""
    inactive_reason: str | None = None


def _column(kt: KindTable, name: str) -> FieldColumn:
    try:
        return kt.column(name)
    except KeyError:
        raise QueryError(name, f"{kt.model.kind} has no field {name!r}") from None


@cache
def _adapter(kind: str, name: str) -> TypeAdapter[Any]:
    return TypeAdapter(untyped(kind_table(kind).column(name).spec.info.annotation))


def _typed(kt: KindTable, column: FieldColumn, value: Any) -> Any:
    if isinstance(value, str) and any(ord(c) < 32 for c in value):
        raise QueryError(column.name, "control characters are not valid in a value")
    try:
        typed = _adapter(kt.model.kind, column.name).validate_python(value)
    except ValidationError:
        raise QueryError(column.name, "not a valid value for this field") from None
    if isinstance(typed, int) and not isinstance(typed, bool) and typed not in INT64:
        raise QueryError(column.name, "integer out of range")
    return typed


def _starts_with(column: ColumnElement[Any], prefix: str) -> ColumnElement[bool]:
    """Exact and case-sensitive on every backend (SQLite's LIKE ignores ASCII case), with
    no wildcard to escape."""
    return func.substr(column, 1, len(prefix)) == prefix


def _match(column: ColumnElement[Any], match: Match) -> ColumnElement[bool]:
    if match.op == "prefix":
        return or_(false(), *(_starts_with(column, str(p)) for p in match.values))
    if match.op == "area":
        return column.in_(area_grids(match.values))
    return column.in_(list(match.values))


def area_grids(areas: Sequence[Any]) -> Select[tuple[str]]:
    """The codes of the registry's grids in the communities or streets ``areas`` (their
    12- or 9-digit codes), as a sub-query: a scope naming an area is expanded by the
    database, in the query that reads the rows. No registry loaded: no grid, no row."""
    community = grid_registry.c.community_code
    inside = or_(false(), *(_starts_with(community, str(a)) for a in areas))
    return select(grid_registry.c.code).where(inside)


def scope_clause(kt: KindTable, scope: RowScope) -> ColumnElement[bool]:
    return compile_scope(scope, lambda name: kt.table.c[name])


def compile_scope(
    scope: RowScope, column: Callable[[str], ColumnElement[Any]]
) -> ColumnElement[bool]:
    """``scope`` as a WHERE clause over the columns ``column`` gives for each field name:
    a kind's own table, or what another table keeps of a record (the review queue)."""
    if scope.empty:
        return false()
    reach = (
        true() if scope.unrestricted else or_(*(_match(column(m.field), m) for m in scope.any_of))
    )
    return and_(reach, *(_match(column(m.field), m) for m in scope.all_of))


def filter_clause(store: Store, kt: KindTable, item: Filter) -> ColumnElement[bool]:
    column = _column(kt, item.field)
    values = item.value if item.op == "in" else [item.value]
    if not isinstance(values, list) or not values:
        raise QueryError(item.field, "'in' takes a non-empty list")
    if column.encrypted:
        if not column.indexed or item.op not in ("eq", "in"):
            raise QueryError(item.field, "a sealed field can only be matched by equality")
        digests = [digest for v in values for digest in store.index_forms(str(v))]
        return kt.table.c[column.index_column].in_(digests)
    if column.structured:
        raise QueryError(item.field, "cannot filter on a list or object field")
    sql = kt.table.c[column.name]
    typed = [_typed(kt, column, v) for v in values]
    if item.op in ("eq", "in"):
        return sql.in_(typed)
    if item.op == "prefix":
        if not isinstance(typed[0], str):
            raise QueryError(item.field, "prefix needs a text field")
        return _starts_with(sql, typed[0])
    if not isinstance(typed[0], int | float | dt.date):
        raise QueryError(item.field, "ranges need a number, date or time field")
    return sql >= typed[0] if item.op == "gte" else sql <= typed[0]


def _where(
    store: Store,
    kt: KindTable,
    scope: RowScope,
    filters: Sequence[Filter],
    *,
    after_id: int | None = None,
    record_id: int | None = None,
    link_key: str | Sequence[str] | None = None,
    include_inactive: bool = False,
) -> list[ColumnElement[bool]]:
    clauses = [scope_clause(kt, scope), *(filter_clause(store, kt, item) for item in filters)]
    if not include_inactive:
        clauses.append(kt.table.c.inactive_since.is_(None))
    if after_id is not None:
        clauses.append(kt.table.c.id > after_id)
    if record_id is not None:
        clauses.append(kt.table.c.id == record_id)
    if isinstance(link_key, str):
        clauses.append(kt.table.c.link_key == link_key)
    elif link_key is not None:
        clauses.append(kt.table.c.link_key.in_(list(link_key)))
    return clauses


def select_records(
    store: Store,
    kind: str,
    scope: RowScope,
    filters: Sequence[Filter] = (),
    after_id: int | None = None,
    limit: int = 100,
    include_inactive: bool = False,
) -> list[StoredRecord]:
    """Up to ``limit`` whole records in ``scope`` matching every filter, by id, after
    ``after_id``: for the hub's own use; a partner's query reads ``select_rows``."""
    kt = kind_table(kind)
    where = _where(store, kt, scope, filters, after_id=after_id, include_inactive=include_inactive)
    query = select(kt.table).where(*where)
    with store.engine.connect() as conn:
        rows = conn.execute(query.order_by(kt.table.c.id).limit(limit)).all()
    return [store.stored(kt, row) for row in rows]


def select_rows(
    store: Store,
    kind: str,
    scope: RowScope,
    fields: Sequence[str],
    filters: Sequence[Filter] = (),
    *,
    after_id: int | None = None,
    record_id: int | None = None,
    link_key: str | Sequence[str] | None = None,
    limit: int = 100,
    include_inactive: bool = False,
) -> list[FoundRow]:
    """Up to ``limit`` rows in ``scope`` matching every filter, by id, with only the
    columns of ``fields`` read and decrypted. ``record_id`` finds one row: absent and out
    of scope look the same to the caller. ``link_key``: one (as a row holds it) or any of
    several (a natural key's ``Store.index_forms``). Inactive records (deleted at their
    source, ``hub.store.lifecycle``) are left out unless ``include_inactive``."""
    kt = kind_table(kind)
    columns = [kt.table.c[name] for name in fields]
    for name in fields:
        column = kt.column(name)
        if column.indexed:
            columns.append(kt.table.c[column.index_column])
    t = kt.table
    provenance: tuple[Column[Any], ...] = (
        t.c.id,
        t.c.source_system,
        t.c.last_updated,
        t.c.link_key,
    )
    if include_inactive:
        provenance += (t.c.inactive_since, t.c.inactive_reason)
    where = _where(
        store,
        kt,
        scope,
        filters,
        after_id=after_id,
        record_id=record_id,
        link_key=link_key,
        include_inactive=include_inactive,
    )
    query = select(*provenance, *columns).where(*where).order_by(kt.table.c.id).limit(limit)
    # Rows are fetched whole before anything is decrypted: a value that fails to decrypt
    # must not leave a half-read cursor on a pooled SQLite connection, whose stale read
    # snapshot would then refuse the next writer ("database is locked").
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        FoundRow(
            row.id,
            row.source_system,
            row.last_updated,
            row.link_key,
            store.values(kt, row, fields),
            row.inactive_since if include_inactive else None,
            row.inactive_reason if include_inactive else None,
        )
        for row in rows
    ]


Measure = Literal["count", "distinct"]


@dataclass(frozen=True, slots=True)
class Counts:
    """Counts of one kind's records in a scope, by the values of the fields grouped by."""

    cells: dict[tuple[Any, ...], int]
    """Each combination of values present, and its count (absent combinations: none)."""
    margins: dict[int, dict[Any, int]]
    """For each field grouped by (by position), its values' counts over the others."""
    total: int


def count_rows(
    store: Store,
    kind: str,
    scope: RowScope,
    group_by: Sequence[str],
    filters: Sequence[Filter] = (),
    measure: Measure = "count",
) -> Counts:
    """Records in ``scope`` matching every filter, counted by the values of ``group_by``
    (fields kept in clear, single-valued), each margin and the total counted by the
    database too: under ``distinct`` (records of one real thing, by ``link_key``, count
    once) a margin is not the sum of its cells."""
    kt = kind_table(kind)
    for name in group_by:
        column = _column(kt, name)
        if column.encrypted or column.structured:
            raise QueryError(name, "counts are grouped by fields kept in clear, single-valued")
    measured = (
        func.count(func.distinct(kt.table.c.link_key)) if measure == "distinct" else func.count()
    )
    where = _where(store, kt, scope, filters)

    def grouped(names: Sequence[str]) -> list[tuple[Any, ...]]:
        keys = [kt.table.c[name] for name in names]
        query = select(*keys, measured).where(*where)
        with store.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(query.group_by(*keys) if keys else query)]

    cells = {row[:-1]: int(row[-1]) for row in grouped(group_by) if row[-1]}
    margins = (
        {i: {row[0]: int(row[1]) for row in grouped([name])} for i, name in enumerate(group_by)}
        if len(group_by) > 1
        else {0: {key[0]: n for key, n in cells.items()}}
        if group_by
        else {}
    )
    [[total]] = grouped([])
    return Counts(cells, margins, int(total))
