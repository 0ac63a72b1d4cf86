"""Writing events: one outbox row, in the transaction of the change it tells of, so the
change and the news of it commit together or not at all.

The event is fanned out in that same transaction: one ``deliveries`` row (``pending``)
for every active subscription naming its type. Fanning out at emit time rather than
from a per-subscription cursor over ``outbox.seq`` is what makes delivery at-least-once
without further care: on PostgreSQL sequence values are taken at insert, not at commit,
so a cursor that has passed seq 41 can miss an event 40 whose transaction commits a
moment later; a delivery row committed with its event cannot be skipped. The cost, one
small read of ``subscriptions`` per emit, is why ``record.changed`` events (one per
stored record, inside syncs) are written only when some subscription names their type.
Whether the subscriber may see the record is decided later, at delivery, under its
policy as it is then (``hub.events.render``).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import select

from hub.events.types import RECORD_CHANGED, RECORD_EVENTS, record_kind
from hub.store import Transaction
from hub.store.tables import clients, deliveries, outbox, subscriptions


def emit(
    tx: Transaction,
    type: str,
    *,
    kind: str | None = None,
    record_id: int | None = None,
    data: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> str:
    """Record event ``type`` (``work_order.transitioned``, ``record.changed:person``…)
    about record ``kind/record_id``; returns its id, the ``webhook-id`` of every delivery
    of it (the receiver's idempotency key). ``data`` must hold only facts no policy
    guards (times and the like are stored as JSON gives them); the keys ``kind`` and
    ``record`` of a payload's data are the hub's."""
    named = record_kind(type)
    if (type in RECORD_EVENTS or type.startswith(RECORD_CHANGED)) and (
        kind != named or record_id is None
    ):
        raise ValueError(f"a {type} event names one {named} record: give kind and record_id")
    facts = to_jsonable_python(data or {})
    [event_id] = _write(tx, type, kind, [record_id], facts, at, _subscribers(tx, type))
    return event_id


def record_changed(
    tx: Transaction, changed: Iterable[tuple[str, int]], at: dt.datetime | None = None
) -> int:
    """One ``record.changed:<kind>`` event per (kind, id) given, for the kinds some
    active subscription wants; the others are not written at all. Returns how many."""
    by_kind: dict[str, list[int]] = {}
    for kind, record_id in changed:
        by_kind.setdefault(kind, []).append(record_id)
    written = 0
    for kind, ids in by_kind.items():
        type = f"{RECORD_CHANGED}{kind}"
        wanted = _subscribers(tx, type)
        if wanted:
            written += len(_write(tx, type, kind, ids, {}, at, wanted))
    return written


def _subscribers(tx: Transaction, type: str) -> list[str]:
    """The active subscriptions, of clients not revoked, that name ``type``."""
    query = (
        select(subscriptions.c.id, subscriptions.c.events)
        .join(clients, clients.c.client_id == subscriptions.c.client_id)
        .where(subscriptions.c.revoked_at.is_(None), clients.c.revoked_at.is_(None))
        .order_by(subscriptions.c.id)
    )
    return [row.id for row in tx.conn.execute(query) if type in row.events]


def _write(
    tx: Transaction,
    type: str,
    kind: str | None,
    record_ids: Sequence[int | None],
    data: dict[str, Any],
    at: dt.datetime | None,
    wanted: Sequence[str],
) -> list[str]:
    at = at or dt.datetime.now(dt.UTC)
    rows = [
        {
            "event_id": f"evt_{secrets.token_urlsafe(18)}",
            "type": type,
            "kind": kind,
            "record_id": record_id,
            "data": data,
            "at": at,
        }
        for record_id in record_ids
    ]
    inserted = tx.conn.execute(
        outbox.insert().returning(outbox.c.seq, sort_by_parameter_order=True), rows
    )
    seqs = list(inserted.scalars())
    if wanted:
        tx.conn.execute(
            deliveries.insert(),
            [
                {
                    "event_seq": seq,
                    "subscription_id": subscription,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": at,
                }
                for seq in seqs
                for subscription in wanted
            ],
        )
    return [str(row["event_id"]) for row in rows]
