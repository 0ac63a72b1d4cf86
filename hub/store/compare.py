"""Records read to be compared across sources: every record linked to one in a scope.

A reconciliation asks, of each real person, house or unit in a caller's rows, which
sources hold it and whether they agree. It reads every record sharing a ``link_key`` with
a record in the scope (the linked ones may lie outside it), in one statement, and only the
compared fields: plain ones as stored, sealed ones as their blind index, so values are
compared without decrypting any (every row holding a value holds the same index of it at
any one moment, ``Store.index_forms``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, select

from hub.store.query import Filter, filter_clause, scope_clause
from hub.store.store import Store, kind_table
from policies import RowScope


@dataclass(frozen=True, slots=True)
class Comparable:
    id: int
    source_system: str
    last_updated: dt.datetime
    link_key: str
    grid_code: str | None
    in_scope: bool
    """The record itself is in the scope (and matches the filters), not only linked to one."""
    values: dict[str, Any]
    """The compared fields: a plain field's value, a sealed one's blind index."""


def linked_comparables(
    store: Store,
    kind: str,
    scope: RowScope,
    fields: Sequence[str],
    filters: Sequence[Filter] = (),
) -> list[Comparable]:
    """Every record of ``kind`` whose ``link_key`` a record in ``scope`` matching
    ``filters`` has, by id, with ``fields`` in comparable form."""
    kt = kind_table(kind)
    t = kt.table
    inside = and_(scope_clause(kt, scope), *(filter_clause(store, kt, f) for f in filters))
    columns = []
    for name in fields:
        column = kt.column(name)
        columns.append(t.c[column.index_column if column.encrypted else name].label(name))
    query = (
        select(
            t.c.id,
            t.c.source_system,
            t.c.last_updated,
            t.c.link_key,
            t.c.grid_code,
            case((inside, 1), else_=0).label("in_scope"),
            *columns,
        )
        .where(t.c.link_key.in_(select(t.c.link_key).where(inside)))
        .order_by(t.c.id)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        Comparable(
            row.id,
            row.source_system,
            row.last_updated,
            row.link_key,
            row.grid_code,
            bool(row.in_scope),
            {name: row._mapping[name] for name in fields},
        )
        for row in rows
    ]
