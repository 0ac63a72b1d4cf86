"""Subscriptions: a partner asks to be told of events, within what its policy grants.

Registration judges the request against the subscriber's policy as a read would be
judged: the purpose must be one the policy grants; every record kind the event types
name (``record.changed:person`` → person, ``work_order.*`` → work_order) must be one the
policy lets it read, under that purpose, and its token must hold ``<kind>.read``; the
filter's fields must be granted in clear for each of those kinds (``policies.decide``'s
own filter check) and be plain columns (a filter on a sealed field would keep an ID
number in clear in the subscription); ``review.submitted`` needs a policy that reviews
some kind, ``review.decided`` one that submits or reviews. The same checks run again at
every delivery (``hub.events.render``): a policy narrowed since is obeyed at once.

The signing secret (``whsec_…``, Standard Webhooks) is returned once and kept sealed.
Registration, listing and revocation are audited, each in its own transaction.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import RowMapping, func, select, update

from hub.audit import AuditEvent, AuditLog, Outcome
from hub.events.errors import UrlRefused
from hub.events.types import record_kind
from hub.events.urls import check_url
from hub.policyfiles import PolicyRegistry
from hub.sharing import Access, Denied, InvalidRequest, NotFound, Sharing
from hub.store import Store
from hub.store.query import Filter, QueryError, filter_clause
from hub.store.store import kind_table
from hub.store.tables import deliveries, subscription_secret_context, subscriptions
from policies import AccessDenied, Policy, decide

MAX_EVENTS = 50
MAX_FILTER = 20
MAX_PER_CLIENT = 20
"""Active subscriptions one client may hold: each event is sent once per subscription."""
STATUSES = ("pending", "delivered", "filtered", "dead")
FilterValue = str | int | bool | list[str | int | bool]


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    client_id: str
    url: str
    events: tuple[str, ...]
    filter: Mapping[str, FilterValue]
    purpose: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None

    def filters(self) -> list[Filter]:
        """The filter as the store's query takes it: a list is ``in``, a value ``eq``."""
        return [
            Filter(name, "in", value) if isinstance(value, list) else Filter(name, "eq", value)
            for name, value in self.filter.items()
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "events": list(self.events),
            "filter": dict(self.filter),
            "purpose": self.purpose,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


@dataclass(frozen=True, slots=True)
class NewSubscription:
    subscription: Subscription
    secret: str
    """``whsec_`` and the base64 key, in clear this once."""


def subscription_of(m: RowMapping) -> Subscription:
    """A subscription from its table row's mapping."""
    return Subscription(
        id=m["id"],
        client_id=m["client_id"],
        url=m["url"],
        events=tuple(m["events"]),
        filter=dict(m["filter"]),
        purpose=m["purpose"],
        created_at=m["created_at"],
        revoked_at=m["revoked_at"],
    )


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_of(store: Store, subscription_id: str, sealed: str) -> str:
    return store.unseal(sealed, subscription_secret_context(subscription_id))


def record_kinds(events: Sequence[str]) -> list[str]:
    """The record kinds events of these types name, each once."""
    return list(dict.fromkeys(k for k in map(record_kind, events) if k is not None))


def check_grants(
    policy: Policy,
    claims: Mapping[str, Sequence[str]],
    scopes: frozenset[str],
    subscription: Subscription,
    events: Sequence[str],
) -> None:
    """AccessDenied naming the first thing ``policy`` (or the client's scopes) does not
    grant the subscription for events of these types: at registration for all it names,
    at each delivery for the one being sent."""
    kinds = record_kinds(events)
    if subscription.purpose not in policy.purposes:
        raise AccessDenied(
            "purpose", f"purpose {subscription.purpose!r} is not granted by {policy.ref}"
        )
    names = list(subscription.filter)
    for kind in kinds:
        decide(policy, claims, kind, subscription.purpose, "read", filter_fields=names)
        if f"{kind}.read" not in scopes:
            raise AccessDenied("scope", f"the client lacks scope {kind}.read", kind=kind)
    actions = {a for grant in policy.kinds.values() for a in grant.actions}
    if "review.submitted" in events and "review" not in actions:
        raise AccessDenied("kind", f"{policy.ref} reviews no kind: review.submitted is not its")
    if "review.decided" in events and not actions & {"review", "submit"}:
        raise AccessDenied("kind", f"{policy.ref} submits and reviews nothing: no review.decided")


class Subscriptions:
    def __init__(
        self,
        store: Store,
        audit: AuditLog,
        policies: PolicyRegistry,
        *,
        allow_loopback: bool = False,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.store = store
        self.audit = audit
        self.policies = policies
        self.allow_loopback = allow_loopback
        self.now = now

    @classmethod
    def of(cls, sharing: Sharing, *, allow_loopback: bool = False) -> Subscriptions:
        """Over the same store, log and policies as the sharing service."""
        return cls(sharing.store, sharing.audit, sharing.policies, allow_loopback=allow_loopback)

    def register(
        self,
        access: Access,
        request_id: str,
        *,
        url: str,
        events: Sequence[str],
        filter: Mapping[str, FilterValue],
        purpose: str,
    ) -> NewSubscription:
        def refused(code: str, message: str, **extra: Any) -> InvalidRequest:
            detail = {"reason": code, **extra}
            event = self._event(
                access, request_id, "subscriptions.create", "denied", purpose, detail=detail
            )
            return InvalidRequest(code, message, event, **extra)

        try:
            url = check_url(url, allow_loopback=self.allow_loopback)
        except UrlRefused as exc:
            raise refused("bad_url", str(exc), field="url", why=exc.reason) from None
        wanted = list(dict.fromkeys(events))
        if not 0 < len(wanted) <= MAX_EVENTS:
            raise refused("bad_events", f"name 1 to {MAX_EVENTS} event types", field="events")
        try:
            kinds = record_kinds(wanted)
        except ValueError as exc:
            raise refused("unknown_event", str(exc), field="events") from None
        if len(filter) > MAX_FILTER:
            raise refused("bad_filter", f"at most {MAX_FILTER} filter fields", field="filter")
        if filter and not kinds:
            raise refused(
                "bad_filter", "a filter applies to events that name a record", field="filter"
            )
        candidate = Subscription(
            id="sub_" + secrets.token_hex(8),
            client_id=access.client_id,
            url=url,
            events=tuple(wanted),
            filter=dict(filter),
            purpose=purpose,
            created_at=self.now(),
        )
        policy = self._judge(access, request_id, candidate)
        for kind in kinds:
            kt = kind_table(kind)
            for item in candidate.filters():
                try:
                    sealed = kt.column(item.field).encrypted
                    filter_clause(self.store, kt, item)
                except KeyError:
                    raise refused("bad_filter", f"{kind} has no field {item.field!r}",
                                  field=item.field) from None  # fmt: skip
                except QueryError as exc:
                    raise refused("bad_filter", str(exc), field=exc.field) from None
                if sealed:
                    raise refused(
                        "bad_filter",
                        f"{item.field} is sealed: a subscription may filter on plain fields",
                        field=item.field,
                    )
        secret = new_secret()
        with self.store.begin() as tx:
            active = tx.conn.execute(
                select(func.count())
                .select_from(subscriptions)
                .where(
                    subscriptions.c.client_id == access.client_id,
                    subscriptions.c.revoked_at.is_(None),
                )
            ).scalar_one()
            if active >= MAX_PER_CLIENT:
                raise refused(
                    "too_many_subscriptions",
                    f"a client holds at most {MAX_PER_CLIENT} subscriptions: delete one",
                )
            tx.conn.execute(
                subscriptions.insert().values(
                    id=candidate.id,
                    client_id=candidate.client_id,
                    url=candidate.url,
                    events=list(candidate.events),
                    filter=dict(candidate.filter),
                    purpose=purpose,
                    secret=self.store.seal(secret, subscription_secret_context(candidate.id)),
                    created_at=candidate.created_at,
                )
            )
            detail = {"subscription": candidate.id, **candidate.as_dict()}
            detail.pop("id")
            event = self._event(
                access, request_id, "subscriptions.create", "allowed", purpose, policy,
                detail=detail,
            )  # fmt: skip
            self.audit.append(event, tx)
        return NewSubscription(candidate, secret)

    def list(self, access: Access, request_id: str) -> list[dict[str, Any]]:
        """The caller's active subscriptions, each with its deliveries counted by status."""
        query = (
            select(subscriptions)
            .where(
                subscriptions.c.client_id == access.client_id,
                subscriptions.c.revoked_at.is_(None),
            )
            .order_by(subscriptions.c.created_at, subscriptions.c.id)
        )
        with self.store.engine.connect() as conn:
            found = [subscription_of(row._mapping) for row in conn.execute(query)]
        counted = delivery_counts(self.store, [s.id for s in found])
        detail = {"found": len(found)}
        self.audit.append(
            self._event(access, request_id, "subscriptions.list", "allowed", None, detail=detail)
        )
        return [s.as_dict() | {"deliveries": counted[s.id]} for s in found]

    def revoke(self, access: Access, request_id: str, subscription_id: str) -> Subscription:
        """End one of the caller's subscriptions; what it had pending is not sent. Another
        client's subscription, or none, is ``NotFound`` alike."""
        with self.store.begin() as tx:
            row = tx.conn.execute(
                select(subscriptions).where(
                    subscriptions.c.id == subscription_id,
                    subscriptions.c.client_id == access.client_id,
                    subscriptions.c.revoked_at.is_(None),
                )
            ).first()
            if row is None:
                missing = {"reason": "not_found", "subscription": subscription_id}
                event = self._event(
                    access, request_id, "subscriptions.delete", "denied", None, detail=missing
                )
                raise NotFound(f"no subscription {subscription_id}", event)
            revoked_at = self.now()
            tx.conn.execute(
                update(subscriptions)
                .where(subscriptions.c.id == subscription_id)
                .values(revoked_at=revoked_at)
            )
            dropped = tx.conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.subscription_id == subscription_id,
                    deliveries.c.status == "pending",
                )
                .values(status="filtered", last_error="subscription deleted")
            ).rowcount
            found = subscription_of(row._mapping)
            detail = {"subscription": subscription_id, "dropped": dropped}
            event = self._event(
                access, request_id, "subscriptions.delete", "allowed", found.purpose,
                detail=detail,
            )  # fmt: skip
            self.audit.append(event, tx)
        return dataclasses.replace(found, revoked_at=revoked_at)

    def _judge(self, access: Access, request_id: str, candidate: Subscription) -> Policy:
        policy = self.policies.get(access.policy_id)
        try:
            if policy is None:
                raise AccessDenied("policy", f"no policy {access.policy_id!r} is loaded")
            check_grants(policy, access.jurisdiction, access.scopes, candidate, candidate.events)
        except AccessDenied as exc:
            detail = {"reason": exc.reason, "message": str(exc), "events": list(candidate.events)}
            event = self._event(
                access, request_id, "subscriptions.create", "denied", candidate.purpose, policy,
                kind=exc.kind, detail=detail,
            )  # fmt: skip
            raise Denied(
                exc.reason,
                str(exc),
                event,
                fields=list(exc.fields),
            ) from None
        return policy

    @staticmethod
    def _event(
        access: Access,
        request_id: str,
        action: str,
        outcome: Outcome,
        purpose: str | None,
        policy: Policy | None = None,
        *,
        kind: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> AuditEvent:
        return AuditEvent(
            kind=kind,
            detail=detail or {},
            action=action,
            outcome=outcome,
            client_id=access.client_id,
            subject=access.subject,
            purpose=purpose,
            policy_id=policy.id if policy else access.policy_id,
            policy_version=policy.version if policy else None,
            request_id=request_id,
        )


def delivery_counts(store: Store, ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """For each subscription: how many of its deliveries are in each status."""
    counted = {sid: dict.fromkeys(STATUSES, 0) for sid in ids}
    if not ids:
        return counted
    d = deliveries.c
    query = (
        select(d.subscription_id, d.status, func.count())
        .where(d.subscription_id.in_(list(ids)))
        .group_by(d.subscription_id, d.status)
    )
    with store.engine.connect() as conn:
        for subscription_id, status, n in conn.execute(query):
            counted[subscription_id][status] = n
    return counted
