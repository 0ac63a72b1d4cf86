"""The delivery worker: pending deliveries out as signed webhooks, at least once.

A worker loops (``hub webhooks deliver``):

1. claims up to ``batch`` due deliveries (``pending``, ``next_attempt_at`` passed, no
   live lease) in one short transaction: on PostgreSQL ``SELECT … FOR UPDATE SKIP
   LOCKED`` then the update setting ``claimed_by`` and ``claimed_until = now + lease``
   (as ``hub.ingest.worker`` claims streams), so several workers share the table;
2. for each, renders the payload through the subscriber's policy as it is now
   (``hub.events.render``); one it may not see is marked ``filtered``;
3. in one transaction, renews the lease (``WHERE claimed_by = me``: a lease that passed
   to another worker ends the attempt here), counts the attempt and appends the
   ``events.sent`` audit entry naming the records and fields it discloses. The entry
   commits *before* the body leaves the hub: a worker killed between sending and
   recording still left its disclosure in the log (the attempt is then retried, and
   logged again: the log may over-report an access by a crashed attempt, never omit one);
4. POSTs it, signed with the subscription's secret per Standard Webhooks (``webhook-id``
   is the event id, the same on every attempt and for every subscriber: the receiver's
   idempotency key; ``webhook-timestamp``; ``webhook-signature``), without following
   redirects and without reading the answer's body;
5. records the outcome: 2xx ``delivered``; anything else ``pending`` again with
   ``next_attempt_at`` = now + an exponential backoff with jitter (tenacity's
   ``wait_exponential_jitter``), or ``dead`` once ``attempts`` reaches the limit.

Retries are rows, not sleeps: a worker killed at any point leaves each delivery pending,
its lease lapses, and the next worker sends it again. Nothing is lost; an event may
arrive twice, with the same ``webhook-id``. Deliveries carry no order guarantee: the
payload's ``timestamp`` (and a work order's ``version``) order them.

Times are the database's clock on PostgreSQL (``db_now``), unless a clock is injected;
the signature's timestamp is always this machine's wall clock (the receiver checks it
against its own, within five minutes).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import Connection, or_, select, update
from standardwebhooks import Webhook
from tenacity import RetryCallState, Retrying, wait_exponential_jitter

from hub import __version__
from hub.auth.clients import ClientRegistry
from hub.events.errors import UrlRefused
from hub.events.render import Event, Rendered, Renderer
from hub.events.subscriptions import Subscription, secret_of, subscription_of
from hub.events.urls import Resolver, pin, resolve
from hub.ingest.worker import db_now, new_worker_id
from hub.sharing import Sharing
from hub.store.store import begin_immediate
from hub.store.tables import deliveries, outbox, subscriptions

log = logging.getLogger("hub.webhooks")
USER_AGENT = f"police-grid-hub/{__version__} (webhooks)"


@dataclass
class DeliveryOptions:
    attempts: int = 8
    """Attempts before a delivery is dead (``HubConfig.webhook_attempts``)."""
    lease: dt.timedelta = dt.timedelta(seconds=60)
    """How long a claim holds: longer than ``timeout`` plus rendering."""
    poll: dt.timedelta = dt.timedelta(seconds=2)
    batch: int = 10
    timeout: float = 10.0
    """Seconds for each of connecting, writing, waiting for the answer."""
    backoff: float = 5.0
    """The first retry's wait in seconds; each later one ``backoff_base`` times longer."""
    backoff_base: float = 4.0
    backoff_max: dt.timedelta = dt.timedelta(hours=6)
    once: bool = False
    """Stop once nothing is due (rather than wait for more)."""
    allow_loopback: bool = False
    """Deliver to loopback addresses (``HubConfig.webhook_loopback``: tests, the demo)."""
    wait: wait_exponential_jitter = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.wait = wait_exponential_jitter(
            multiplier=self.backoff,
            exp_base=self.backoff_base,
            max=self.backoff_max.total_seconds(),
            jitter=self.backoff,
        )

    def retry_after(self, attempts: int) -> dt.timedelta:
        """The wait after the ``attempts``-th failed attempt."""
        state = RetryCallState(Retrying(), None, (), {})
        state.attempt_number = attempts
        return dt.timedelta(seconds=float(self.wait(state)))


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    delivery_id: int
    status: str
    """delivered, pending (to be retried), dead, filtered, or lost (claim passed on)."""
    http_status: int | None = None
    error: str | None = None


class Deliverer:
    """One worker's loop over the deliveries table."""

    def __init__(
        self,
        sharing: Sharing,
        clients: ClientRegistry,
        options: DeliveryOptions | None = None,
        *,
        worker_id: str | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        transport: httpx.BaseTransport | None = None,
        resolver: Resolver = resolve,
    ) -> None:
        self.sharing = sharing
        self.store = sharing.store
        self.renderer = Renderer(sharing, clients)
        self.options = options or DeliveryOptions()
        self.id = worker_id or new_worker_id()
        self.clock = clock
        self.resolver = resolver
        self.stop = threading.Event()
        timeout = httpx.Timeout(self.options.timeout)
        self.http = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            transport=transport,
        )

    def close(self) -> None:
        self.http.close()

    def now(self, conn: Connection) -> dt.datetime:
        return self.clock() if self.clock is not None else db_now(conn)

    # --- the loop -----------------------------------------------------------------------

    def run(self) -> None:
        """Deliver until ``stop`` is set (or, with ``once``, until nothing is due)."""
        log.info("webhook worker %s: started", self.id)
        while not self.stop.is_set():
            if not self.run_once() and not self.stop.is_set():
                if self.options.once:
                    break
                self.stop.wait(self.options.poll.total_seconds())
        log.info("webhook worker %s: stopped", self.id)

    def run_once(self) -> list[DeliveryResult]:
        """Claim one batch and deliver it; what became of each."""
        claimed = self.claim()
        outcomes = []
        for n, delivery_id in enumerate(claimed):
            if self.stop.is_set():
                self.release(claimed[n:])
                break
            try:
                outcomes.append(self.deliver(delivery_id))
            except Exception as exc:  # one delivery's failure must not stop the worker
                log.exception("delivery %d failed", delivery_id)
                outcomes.append(self._failed(delivery_id, exc))
        return outcomes

    # --- the table ----------------------------------------------------------------------

    def claim(self) -> list[int]:
        d = deliveries.c
        with self.store.engine.begin() as conn:
            begin_immediate(conn)
            now = self.now(conn)
            free = or_(d.claimed_until.is_(None), d.claimed_until < now)
            due = (
                select(d.id)
                .where(d.status == "pending", d.next_attempt_at <= now, free)
                .order_by(d.next_attempt_at, d.id)
                .limit(self.options.batch)
            )
            if conn.dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            ids = list(conn.execute(due).scalars())
            if not ids:
                return []
            # Conditional even after the row locks: on SQLite it is the claim itself.
            taken = conn.execute(
                update(deliveries)
                .where(d.id.in_(ids), d.status == "pending", free)
                .values(claimed_by=self.id, claimed_until=now + self.options.lease)
                .returning(d.id)
            )
            return sorted(taken.scalars())

    def release(self, ids: list[int]) -> None:
        """Give back claims not worked on (a stop), due at once for another worker."""
        with self.store.engine.begin() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id.in_(ids), deliveries.c.claimed_by == self.id)
                .values(claimed_by=None, claimed_until=None)
            )

    def deliver(self, delivery_id: int) -> DeliveryResult:
        """Render, log, send and record one claimed delivery."""
        loaded = self._load(delivery_id)
        if loaded is None:
            return DeliveryResult(delivery_id, "lost")
        event, subscription, secret = loaded
        rendered = self.renderer.render(event, subscription, delivery_id)
        if not isinstance(rendered, Rendered):
            with self.sharing.store.begin() as tx:
                if rendered.audit is not None:
                    self.sharing.audit.append(rendered.audit, tx)
                self._finish(tx.conn, delivery_id, status="filtered", error=rendered.reason)
            return DeliveryResult(delivery_id, "filtered", error=rendered.reason)
        attempt = self._begin_attempt(delivery_id, rendered)
        if attempt is None:
            return DeliveryResult(delivery_id, "lost")
        status, error = self._send(event, subscription, secret, rendered.body)
        ok = status is not None and 200 <= status < 300
        with self.store.engine.begin() as conn:
            begin_immediate(conn)
            now = self.now(conn)
            if ok:
                self._finish(conn, delivery_id, "delivered", status, None, delivered_at=now)
                return DeliveryResult(delivery_id, "delivered", status)
            if attempt >= self.options.attempts:
                self._finish(conn, delivery_id, "dead", status, error)
                log.warning("delivery %d dead after %d attempts: %s", delivery_id, attempt, error)
                return DeliveryResult(delivery_id, "dead", status, error)
            retry = now + self.options.retry_after(attempt)
            self._finish(conn, delivery_id, "pending", status, error, next_attempt_at=retry)
        return DeliveryResult(delivery_id, "pending", status, error)

    def _failed(self, delivery_id: int, exc: Exception) -> DeliveryResult:
        """An attempt the hub itself failed (a record that will not decrypt…): counted,
        retried later, dead at the limit, like a receiver's failure."""
        d = deliveries.c
        error = f"hub: {type(exc).__name__}"
        with self.store.engine.begin() as conn:
            begin_immediate(conn)
            now = self.now(conn)
            row = conn.execute(
                update(deliveries)
                .where(d.id == delivery_id, d.claimed_by == self.id, d.status == "pending")
                .values(attempts=d.attempts + 1)
                .returning(d.attempts)
            ).first()
            if row is None:
                return DeliveryResult(delivery_id, "lost", error=error)
            if row.attempts >= self.options.attempts:
                self._finish(conn, delivery_id, "dead", None, error)
                return DeliveryResult(delivery_id, "dead", error=error)
            retry = now + self.options.retry_after(row.attempts)
            self._finish(conn, delivery_id, "pending", None, error, next_attempt_at=retry)
        return DeliveryResult(delivery_id, "pending", error=error)

    def _load(self, delivery_id: int) -> tuple[Event, Subscription, str] | None:
        d, o = deliveries.c, outbox.c
        query = (
            select(outbox, d.subscription_id)
            .join(deliveries, o.seq == d.event_seq)
            .where(d.id == delivery_id, d.claimed_by == self.id, d.status == "pending")
        )
        with self.store.engine.connect() as conn:
            row = conn.execute(query).first()
            if row is None:
                return None
            own = select(subscriptions).where(subscriptions.c.id == row.subscription_id)
            m = conn.execute(own).one()._mapping
        event = Event(row.seq, row.event_id, row.type, row.kind, row.record_id, row.data, row.at)
        subscription = subscription_of(m)
        return event, subscription, secret_of(self.store, subscription.id, m["secret"])

    def _begin_attempt(self, delivery_id: int, rendered: Rendered) -> int | None:
        """Renew the lease, count the attempt and log the disclosure, in one transaction;
        the attempt's number, or None if the claim passed to another worker."""
        d = deliveries.c
        with self.store.begin() as tx:
            now = self.now(tx.conn)
            counted = tx.conn.execute(
                update(deliveries)
                .where(d.id == delivery_id, d.claimed_by == self.id, d.status == "pending")
                .values(attempts=d.attempts + 1, claimed_until=now + self.options.lease)
                .returning(d.attempts)
            ).first()
            if counted is None:
                return None
            attempt: int = counted.attempts
            audit = rendered.audit.model_copy(
                update={"detail": {**rendered.audit.detail, "attempt": attempt}}
            )
            self.sharing.audit.append(audit, tx)
        return attempt

    def _send(
        self, event: Event, subscription: Subscription, secret: str, body: str
    ) -> tuple[int | None, str | None]:
        sent_at = dt.datetime.now(dt.UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": event.event_id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": Webhook(secret).sign(event.event_id, sent_at, body),
        }
        try:
            target = pin(
                subscription.url, allow_loopback=self.options.allow_loopback, resolver=self.resolver
            )
        except UrlRefused as exc:
            log.warning("delivery to subscription %s refused: %s", subscription.id, exc)
            return None, exc.reason
        headers["host"] = target.host
        extensions = {"sni_hostname": target.server_name} if target.url.startswith("https") else {}
        try:
            with self.http.stream(
                "POST", target.url, content=body.encode(), headers=headers, extensions=extensions
            ) as answer:
                status = answer.status_code
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return None, type(exc).__name__
        return status, None if 200 <= status < 300 else f"HTTP {status}"

    def _finish(
        self,
        conn: Connection,
        delivery_id: int,
        status: str,
        http_status: int | None = None,
        error: str | None = None,
        **values: Any,
    ) -> None:
        d = deliveries.c
        mine = d.claimed_by == self.id
        # A 2xx counts whoever holds the claim now: the receiver has the event.
        where = [d.id == delivery_id, d.status == "pending"]
        if status != "delivered":
            where.append(mine)
        conn.execute(
            update(deliveries)
            .where(*where)
            .values(
                status=status,
                last_status=http_status,
                last_error=error,
                claimed_by=None,
                claimed_until=None,
                **values,
            )
        )
