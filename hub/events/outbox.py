"""Writing events: one outbox row, in the transaction of the change it tells of, so the
change and the news of it commit together or not at all."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from hub.store import Transaction
from hub.store.tables import outbox


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
    of it (the receiver's idempotency key)."""
    event_id = f"evt_{secrets.token_urlsafe(18)}"
    tx.conn.execute(
        outbox.insert().values(
            event_id=event_id,
            type=type,
            kind=kind,
            record_id=record_id,
            data=data or {},
            at=at or dt.datetime.now(dt.UTC),
        )
    )
    return event_id
