"""Reads of the verification registry (走访核查), with the caller's row scopes in the SQL.

A visit names what it verified by ``record_kind`` and ``record_key``, the verified record's
natural key, sealed. Its blind index ``record_key_bidx`` is the keyring's blind index of
that natural key, which is exactly what every source's copy of the record holds as its
``link_key``: "the visits of this person" is one equality on an indexed column, whichever
source's copy the visitor was shown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, case, exists, func, or_, select

from hub.store.query import Filter, FoundRow, filter_clause, scope_clause
from hub.store.store import Store, kind_table
from hub.store.tables import verification_tasks
from policies import RowScope


def last_visits(
    store: Store,
    kind: str,
    link_keys: Sequence[str],
    scope: RowScope,
    fields: Sequence[str],
) -> dict[str, FoundRow]:
    """The latest visit (by ``visited_at``, then id) in ``scope`` of each real ``kind``
    named by ``link_keys``, with ``fields`` read, by link key: one query for a whole page."""
    if not link_keys or scope.empty:
        return {}
    vt = kind_table("visit")
    v = vt.table
    order = (v.c.visited_at.desc(), v.c.id.desc())
    latest = func.row_number().over(partition_by=v.c.record_key_bidx, order_by=order)
    ranked = (
        select(
            v.c.id,
            v.c.source_system,
            v.c.last_updated,
            v.c.record_key_bidx,
            *(v.c[name] for name in fields),
            latest.label("latest"),
        )
        .where(
            v.c.record_kind == kind,
            v.c.record_key_bidx.in_(sorted(set(link_keys))),
            scope_clause(vt, scope),
        )
        .subquery()
    )
    with store.engine.connect() as conn:
        rows = conn.execute(select(ranked).where(ranked.c.latest == 1)).all()
    return {
        row.record_key_bidx: FoundRow(
            row.id,
            row.source_system,
            row.last_updated,
            row.record_key_bidx,
            store.values(vt, row, fields),
        )
        for row in rows
    }


@dataclass(frozen=True, slots=True)
class DueRow:
    row: FoundRow
    task: str | None
    """The reason of the real thing's open verification task (the oldest, if several);
    None: due because no visit of it falls in the window."""
    declared_at: dt.datetime | None
    """When that task was opened."""

    @property
    def rank(self) -> int:
        """0 for a record with an open task (listed first), 1 for the others."""
        return 0 if self.declared_at is not None else 1


def due_rows(
    store: Store,
    kind: str,
    scope: RowScope,
    filters: Sequence[Filter],
    fields: Sequence[str],
    since: dt.datetime,
    *,
    after: tuple[int, int] | None = None,
    limit: int = 100,
) -> list[DueRow]:
    """The records of ``kind`` in ``scope`` matching ``filters`` that need a visit: those
    with an open verification task, first, then those no visit has verified since
    ``since``. Whoever made a visit, and whichever copy it verified, it counts: the
    records are one per real thing (the lowest id among the copies in scope), and visits
    are matched by ``link_key``. Keyset paging on (rank, id) after ``after``."""
    kt = kind_table(kind)
    t = kt.table
    v = kind_table("visit").table
    tasks = verification_tasks
    open_task = and_(
        tasks.c.kind == kind, tasks.c.link_key == t.c.link_key, tasks.c.done_at.is_(None)
    )
    recent = exists().where(
        v.c.record_kind == kind, v.c.record_key_bidx == t.c.link_key, v.c.visited_at >= since
    )
    firsts = (
        select(func.min(t.c.id).label("id"))
        .where(
            scope_clause(kt, scope),
            *(filter_clause(store, kt, item) for item in filters),
            or_(exists().where(open_task), ~recent),
        )
        .group_by(t.c.link_key)
        .subquery()
    )
    oldest = select(tasks.c.created_at, tasks.c.reason).where(open_task)
    oldest = oldest.order_by(tasks.c.created_at, tasks.c.id).limit(1)
    declared = oldest.with_only_columns(tasks.c.created_at).scalar_subquery()
    reason = oldest.with_only_columns(tasks.c.reason).scalar_subquery()
    rank = case((declared.is_not(None), 0), else_=1)
    query = select(
        t.c.id,
        t.c.source_system,
        t.c.last_updated,
        t.c.link_key,
        *(t.c[name] for name in fields),
        declared.label("declared_at"),
        reason.label("task"),
    ).select_from(t.join(firsts, t.c.id == firsts.c.id))
    if after is not None:
        after_rank, after_id = after
        query = query.where(or_(rank > after_rank, and_(rank == after_rank, t.c.id > after_id)))
    query = query.order_by(rank, t.c.id).limit(limit)
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    due = []
    for row in rows:
        values = store.values(kt, row, fields)
        found = FoundRow(row.id, row.source_system, row.last_updated, row.link_key, values)
        due.append(DueRow(found, row.task, row.declared_at))
    return due
