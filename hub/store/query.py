"""Queries over one kind's records, with a policy's row scope compiled into the SQL.

The scope (``policies.RowScope``) and the caller's filters become WHERE clauses, so a row
outside the caller's scope is never fetched. Paging is keyset on the record id: a page
boundary does not move when records are inserted before it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import ColumnElement, and_, false, or_, select, true

from hub.store.codec import untyped
from hub.store.store import Store, StoredRecord, kind_table
from hub.store.tables import FieldColumn, KindTable
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


def _column(kt: KindTable, name: str) -> FieldColumn:
    for column in kt.fields:
        if column.name == name:
            return column
    raise QueryError(name, f"{kt.model.kind} has no field {name!r}")


def _typed(kt: KindTable, column: FieldColumn, value: Any) -> Any:
    try:
        return TypeAdapter(untyped(column.spec.info.annotation)).validate_python(value)
    except ValidationError:
        raise QueryError(column.name, f"{value!r} is not a valid value") from None


def _escape_like(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _match(kt: KindTable, match: Match) -> ColumnElement[bool]:
    column = kt.table.c[match.field]
    if match.op == "prefix":
        return or_(
            false(),
            *(column.like(_escape_like(str(p)) + "%", escape="\\") for p in match.values),
        )
    return column.in_(list(match.values))


def scope_clause(kt: KindTable, scope: RowScope) -> ColumnElement[bool]:
    if scope.empty:
        return false()
    reach = true() if scope.unrestricted else or_(*(_match(kt, m) for m in scope.any_of))
    return and_(reach, *(_match(kt, m) for m in scope.all_of))


def filter_clause(store: Store, kt: KindTable, item: Filter) -> ColumnElement[bool]:
    column = _column(kt, item.field)
    values = item.value if item.op == "in" else [item.value]
    if not isinstance(values, list) or not values:
        raise QueryError(item.field, "'in' takes a non-empty list")
    if column.encrypted:
        if not column.indexed or item.op not in ("eq", "in"):
            raise QueryError(item.field, "a sealed field can only be matched by equality")
        digests = [store.keyring.blind_index(str(v)) for v in values]
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
        return sql.like(_escape_like(typed[0]) + "%", escape="\\")
    if not isinstance(typed[0], int | float | dt.date):
        raise QueryError(item.field, "ranges need a number, date or time field")
    return sql >= typed[0] if item.op == "gte" else sql <= typed[0]


def select_records(
    store: Store,
    kind: str,
    scope: RowScope,
    filters: Sequence[Filter] = (),
    after_id: int | None = None,
    limit: int = 100,
) -> list[StoredRecord]:
    """Up to ``limit`` records in ``scope`` matching every filter, by id, after ``after_id``."""
    kt = kind_table(kind)
    query = select(kt.table).where(scope_clause(kt, scope))
    for item in filters:
        query = query.where(filter_clause(store, kt, item))
    if after_id is not None:
        query = query.where(kt.table.c.id > after_id)
    query = query.order_by(kt.table.c.id).limit(limit)
    with store.engine.connect() as conn:
        return [store.stored(kt, row) for row in conn.execute(query)]


def get_record(store: Store, kind: str, scope: RowScope, record_id: int) -> StoredRecord | None:
    """The record with ``record_id`` if it exists and is in ``scope``; None otherwise,
    so out of scope and absent look the same to the caller."""
    kt = kind_table(kind)
    query = select(kt.table).where(kt.table.c.id == record_id, scope_clause(kt, scope))
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    return None if row is None else store.stored(kt, row)
