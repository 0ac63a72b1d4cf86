"""A record's lifecycle: active, or inactive since its source deleted it.

A source says a record is gone in one of two ways: a row marks it (a deleted flag, a status
注销 / 迁出: ``Stream.deleted``), or a full-refresh stream no longer lists its key in a
complete read. Either way the record's row is kept with its last values and marked
inactive (``inactive_since``, ``inactive_reason``, ``inactive_run``); the record's
``source_system`` says which source. A record its source sends again is active again.
Every change is one row of ``record_lifecycle``, written in the transaction of the change:
the history of when a record went inactive or active, why, and in which run.

Queries leave inactive records out unless asked (``select_rows(include_inactive=True)``).

A full read is told from the rest by the ``read_id`` its stream's state carries: each row
it lists marks its record ``seen_read`` (and ``source_stream``); once the read ends
complete, ``sweep`` makes inactive the active records of that stream whose ``seen_read``
is another read's. Records stored before the lifecycle columns existed, never listed by a
full read since, carry no ``source_stream`` and are not swept.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, or_, select, update

from hub.store.store import Transaction, any_of, kind_table
from hub.store.tables import KindTable, record_lifecycle

DELETED = "deleted_at_source"
"""The reason of a record a row of its source marked deleted (the mark follows: ``:迁出``)."""
VANISHED = "absent_from_full_read"
"""The reason of a record a complete full read of its stream no longer listed."""


def deactivate(
    tx: Transaction,
    kind: str,
    source_system: str,
    stream: str,
    source_keys: Sequence[str],
    reason: str,
    run_id: str,
    now: dt.datetime,
) -> list[int]:
    """Make inactive the active records this source holds under ``source_keys``; their ids."""
    if not source_keys:
        return []
    kt = kind_table(kind)
    table = kt.table
    where = and_(
        table.c.source_system == source_system,
        any_of(tx.conn, table.c.source_key, list(source_keys)),
        table.c.inactive_since.is_(None),
    )
    return _change(tx, kt, where, "inactive", reason, source_system, stream, run_id, now)


def reactivate(
    tx: Transaction,
    kind: str,
    source_system: str,
    stream: str,
    source_keys: Sequence[str],
    run_id: str,
    now: dt.datetime,
) -> list[int]:
    """Make active again the inactive records the source sent again; their ids."""
    if not source_keys:
        return []
    kt = kind_table(kind)
    table = kt.table
    where = and_(
        table.c.source_system == source_system,
        any_of(tx.conn, table.c.source_key, list(source_keys)),
        table.c.inactive_since.is_not(None),
    )
    return _change(tx, kt, where, "active", "sent_again", source_system, stream, run_id, now)


def mark_seen(
    tx: Transaction,
    kind: str,
    source_system: str,
    stream: str,
    source_keys: Sequence[str],
    read_id: str,
) -> None:
    """The records under ``source_keys`` were listed by full read ``read_id`` of ``stream``."""
    if not source_keys:
        return
    table = kind_table(kind).table
    tx.conn.execute(
        update(table)
        .where(
            table.c.source_system == source_system,
            any_of(tx.conn, table.c.source_key, list(source_keys)),
        )
        .values(source_stream=stream, seen_read=read_id)
    )


def seen_in(tx: Transaction, kind: str, source_system: str, stream: str, read_id: str) -> bool:
    """Whether full read ``read_id`` listed any record of ``stream``."""
    table = kind_table(kind).table
    query = select(table.c.id).where(
        table.c.source_system == source_system,
        table.c.source_stream == stream,
        table.c.seen_read == read_id,
    )
    return tx.conn.execute(query.limit(1)).first() is not None


def active(tx: Transaction, kind: str, source_system: str, stream: str) -> bool:
    """Whether any record listed by a full read of ``stream`` is active."""
    table = kind_table(kind).table
    query = select(table.c.id).where(
        table.c.source_system == source_system,
        table.c.source_stream == stream,
        table.c.inactive_since.is_(None),
    )
    return tx.conn.execute(query.limit(1)).first() is not None


def sweep(
    tx: Transaction,
    kind: str,
    source_system: str,
    stream: str,
    read_id: str,
    run_id: str,
    now: dt.datetime,
) -> list[int]:
    """After full read ``read_id`` of ``stream`` ended complete: make inactive the active
    records of that stream it did not list; their ids."""
    kt = kind_table(kind)
    table = kt.table
    where = and_(
        table.c.source_system == source_system,
        table.c.source_stream == stream,
        table.c.inactive_since.is_(None),
        or_(table.c.seen_read.is_(None), table.c.seen_read != read_id),
    )
    return _change(tx, kt, where, "inactive", VANISHED, source_system, stream, run_id, now)


def _change(
    tx: Transaction,
    kt: KindTable,
    where: ColumnElement[bool],
    change: str,
    reason: str,
    source_system: str,
    stream: str,
    run_id: str,
    now: dt.datetime,
) -> list[int]:
    table = kt.table
    ids = [row.id for row in tx.conn.execute(select(table.c.id).where(where).with_for_update())]
    if not ids:
        return []
    inactive = change == "inactive"
    tx.conn.execute(
        update(table)
        .where(where)
        .values(
            inactive_since=now if inactive else None,
            inactive_reason=reason if inactive else None,
            inactive_run=run_id if inactive else None,
        )
    )
    history = {
        "kind": kt.model.kind,
        "source_system": source_system,
        "stream": stream,
        "change": change,
        "reason": reason,
        "run_id": run_id,
        "at": now,
    }
    tx.conn.execute(record_lifecycle.insert(), [history | {"record_id": i} for i in ids])
    return ids


def history(tx: Transaction, kind: str, record_id: int) -> list[dict[str, object]]:
    """Record ``record_id``'s lifecycle changes, oldest first."""
    query = (
        select(record_lifecycle)
        .where(record_lifecycle.c.kind == kind, record_lifecycle.c.record_id == record_id)
        .order_by(record_lifecycle.c.id)
    )
    return [dict(row._mapping) for row in tx.conn.execute(query)]
