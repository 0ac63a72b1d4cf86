"""The operator's view of webhooks (``hub webhooks list|replay|prune``): every subscription
with its deliveries counted by status, the dead letters, re-queueing, and removing what is
done with. Each is audited under the operator's name, a replay or a prune in the
transaction that makes it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, exists, select, update

from hub.audit import AuditEvent, AuditLog
from hub.events.errors import NoSuchDelivery
from hub.events.subscriptions import Subscription, delivery_counts, subscription_of
from hub.store import Store
from hub.store.tables import deliveries, outbox, subscriptions


@dataclass(frozen=True, slots=True)
class Overview:
    subscriptions: list[tuple[Subscription, dict[str, int]]]
    dead: list[dict[str, Any]]
    """The dead letters, oldest event first: what to look at, then replay."""


def overview(store: Store, audit: AuditLog, by: str, *, dead_limit: int = 100) -> Overview:
    with store.engine.connect() as conn:
        found = [
            subscription_of(row._mapping)
            for row in conn.execute(
                select(subscriptions).order_by(subscriptions.c.created_at, subscriptions.c.id)
            )
        ]
        d, o = deliveries.c, outbox.c
        dead = [
            dict(row._mapping)
            for row in conn.execute(
                select(
                    d.id,
                    o.event_id,
                    o.type,
                    d.subscription_id,
                    d.attempts,
                    d.last_status,
                    d.last_error,
                    o.at,
                )
                .join(outbox, o.seq == d.event_seq)
                .where(d.status == "dead")
                .order_by(d.event_seq, d.id)
                .limit(dead_limit)
            )
        ]
    counted = delivery_counts(store, [s.id for s in found])
    audit.append(
        AuditEvent(
            action="webhooks.listed",
            outcome="allowed",
            subject=by,
            detail={"subscriptions": len(found), "dead_shown": len(dead)},
        )
    )
    return Overview([(s, counted[s.id]) for s in found], dead)


FINISHED = ("delivered", "filtered")
"""Deliveries that will never be sent again: what ``prune`` removes (dead letters only when
asked, since they are what an operator replays)."""


@dataclass(frozen=True, slots=True)
class Pruned:
    deliveries: int
    events: int


def prune(
    store: Store,
    audit: AuditLog,
    by: str,
    *,
    before: dt.datetime,
    dead: bool = False,
) -> Pruned:
    """Remove the finished deliveries of events emitted before ``before`` (and, with
    ``dead``, the dead letters), then the events before it that no delivery still needs.
    Pending deliveries and their events are never touched. The outbox and deliveries hold
    no record field (an event names its record), so this is about size, not secrecy."""
    d, o = deliveries.c, outbox.c
    statuses = [*FINISHED, *(["dead"] if dead else [])]
    old = select(o.seq).where(o.at < before).scalar_subquery()
    with store.begin() as tx:
        gone = tx.conn.execute(
            delete(deliveries).where(d.status.in_(statuses), d.event_seq.in_(old))
        ).rowcount
        needed = exists().where(d.event_seq == o.seq)
        events = tx.conn.execute(delete(outbox).where(o.at < before, ~needed)).rowcount
        audit.append(
            AuditEvent(
                action="webhooks.pruned",
                outcome="allowed",
                subject=by,
                detail={
                    "before": before.isoformat(),
                    "dead": dead,
                    "deliveries": gone,
                    "events": events,
                },
            ),
            tx,
        )
    return Pruned(gone, events)


def replay(
    store: Store,
    audit: AuditLog,
    by: str,
    *,
    ref: str | None = None,
    dead: bool = False,
    subscription: str | None = None,
    now: dt.datetime | None = None,
) -> list[int]:
    """Re-queue deliveries, due at once with their attempts counted afresh: one delivery
    (its number), every delivery of one event (``evt_…``), or, with ``dead``, every dead
    letter (of one subscription if given). A replayed delivery is rendered again under
    the subscriber's policy as it is then. Returns the delivery ids."""
    if (ref is None) == (not dead):
        raise ValueError("replay takes a delivery or event id, or dead letters: one of them")
    d = deliveries.c
    query = select(d.id)
    if ref is not None and ref.startswith("evt_"):
        seq = select(outbox.c.seq).where(outbox.c.event_id == ref).scalar_subquery()
        query = query.where(d.event_seq == seq)
    elif ref is not None:
        if not ref.isdigit():
            raise NoSuchDelivery(ref)
        query = query.where(d.id == int(ref))
    else:
        query = query.where(d.status == "dead")
    if subscription is not None:
        query = query.where(d.subscription_id == subscription)
    moment = now or dt.datetime.now(dt.UTC)
    with store.begin() as tx:
        ids = sorted(tx.conn.execute(query).scalars())
        if not ids:
            if ref is not None:
                raise NoSuchDelivery(ref)
            return []
        tx.conn.execute(
            update(deliveries)
            .where(d.id.in_(ids))
            .values(
                status="pending",
                attempts=0,
                next_attempt_at=moment,
                claimed_by=None,
                claimed_until=None,
                delivered_at=None,
            )
        )
        audit.append(
            AuditEvent(
                action="webhooks.replayed",
                outcome="allowed",
                subject=by,
                detail={
                    "deliveries": ids,
                    "ref": ref,
                    "dead": dead,
                    "subscription": subscription,
                },
            ),
            tx,
        )
    return ids
