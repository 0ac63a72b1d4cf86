"""One event as one subscriber may see it, read at delivery through its policy.

The subscriber is its client as the registry holds it now (policy, jurisdiction claims,
scopes), and its policy is the one in force now: a record is read with ``select_rows``
under the subscriber's read decision, its scope and the subscription's filter compiled
into the SQL, only the granted columns decrypted, the treatments applied by the sharing
service's ``view`` (the record's id is the subscriber's own opaque id for it). What the
subscriber may not see is *withheld* (delivery ``filtered``) with a stable reason:

- ``client_revoked``, ``subscription_deleted``: nobody to send it to any more;
- ``policy``, ``purpose``, ``kind``, ``scope``, ``filter``: the policy (or the client's
  scopes) no longer grants what the subscription needs: audited as ``events.withheld``;
- ``out_of_scope``: the record lies outside the subscriber's rows, or does not match its
  filter, or is gone: not audited, as a query's unreturned rows are not;
- ``not_addressed``: a review event for neither its submitter nor a reviewer of its kind.

The payload follows Standard Webhooks: ``{"type", "timestamp", "data"}``; ``data`` is
the event's own policy-free facts, plus ``kind`` and the ``record`` when the event names
one the subscriber may read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic_core import to_json

from hub.audit import AuditEvent, Outcome
from hub.auth.clients import Client, ClientRegistry
from hub.events.subscriptions import Subscription, check_grants
from hub.events.types import REVIEW_EVENTS
from hub.sharing import Asked, Sharing
from hub.store.query import FoundRow, QueryError, select_rows
from policies import AccessDenied, Decision, Policy, decide


@dataclass(frozen=True, slots=True)
class Subscriber:
    """The subscribing client as the sharing service's ``Access`` sees a caller."""

    client_id: str
    subject: str
    policy_id: str
    scopes: frozenset[str]
    jurisdiction: Mapping[str, Sequence[str]]

    @classmethod
    def of(cls, client: Client, subscription: Subscription) -> Subscriber:
        return cls(
            client.client_id,
            f"webhook:{subscription.id}",
            client.policy_id,
            client.scopes,
            client.claims,
        )


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    event_id: str
    type: str
    kind: str | None
    record_id: int | None
    data: dict[str, Any]
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class Rendered:
    body: str
    """The JSON payload exactly as it is signed and sent."""
    audit: AuditEvent
    """``events.sent``: what it discloses, to be logged before it leaves the hub."""


@dataclass(frozen=True, slots=True)
class Withheld:
    reason: str
    audit: AuditEvent | None = None


class Renderer:
    def __init__(self, sharing: Sharing, clients: ClientRegistry) -> None:
        self.sharing = sharing
        self.clients = clients

    def render(
        self, event: Event, subscription: Subscription, delivery_id: int
    ) -> Rendered | Withheld:
        client = self.clients.get(subscription.client_id)
        if client is None or client.revoked:
            return Withheld("client_revoked")
        if subscription.revoked_at is not None:
            return Withheld("subscription_deleted")
        subscriber = Subscriber.of(client, subscription)
        asked = Asked(subscriber, event.kind or "", subscription.purpose, f"dlv_{delivery_id}")
        policy = self.sharing.policies.get(client.policy_id)
        if policy is None:
            missing = AccessDenied("policy", f"no policy {client.policy_id!r} is loaded")
            return Withheld("policy", self._withheld(asked, event, None, missing))
        try:
            check_grants(
                policy, subscriber.jurisdiction, subscriber.scopes, subscription, [event.type]
            )
        except AccessDenied as exc:
            return Withheld(exc.reason, self._withheld(asked, event, policy, exc))
        review = event.type in REVIEW_EVENTS
        if review and not _addressed(event, client.client_id, policy):
            return Withheld("not_addressed")
        decision, row = None, None
        if event.kind is not None and event.record_id is not None:
            try:
                decision, row = self._read(
                    asked, policy, event.kind, event.record_id, subscription, review
                )
            except QueryError:
                return Withheld("filter", self._withheld(asked, event, policy, None))
            if row is None and not review:
                return Withheld("out_of_scope")
        data = dict(event.data)
        if event.kind is not None:
            data["kind"] = event.kind
        if decision is not None and row is not None:
            data["record"] = self.sharing.view(asked, decision, row)
        payload = {"type": event.type, "timestamp": event.at, "data": data}
        detail = {"event": event.event_id, "type": event.type, "subscription": subscription.id}
        if decision is not None and row is not None:
            audit = self.sharing.event(
                asked,
                "events.sent",
                "allowed",
                filters=[] if review else subscription.filters(),
                decision=decision,
                found=[row],
                detail=detail,
            )
        else:
            audit = _event(asked, event, "events.sent", "allowed", policy, detail)
        return Rendered(to_json(payload).decode(), audit)

    def _read(
        self,
        asked: Asked,
        policy: Policy,
        kind: str,
        record_id: int,
        subscription: Subscription,
        review: bool,
    ) -> tuple[Decision | None, FoundRow | None]:
        """The record as the subscriber's read decision reaches it, or (…, None). A
        review event does not need it: its record is sent only if the reviewer or the
        submitter may read it, and the subscription's filter does not apply to it."""
        filters = [] if review else subscription.filters()
        try:
            decision = decide(
                policy,
                asked.access.jurisdiction,
                kind,
                subscription.purpose,
                "read",
                filter_fields=[f.field for f in filters],
            )
        except AccessDenied:
            if review:
                return None, None
            raise
        if review and f"{kind}.read" not in asked.access.scopes:
            return None, None
        found = select_rows(
            self.sharing.store,
            kind,
            decision.scope,
            list(decision.treatments),
            filters,
            record_id=record_id,
            limit=1,
            include_inactive=True,  # a record gone inactive is news: the view says so
        )
        return decision, (found[0] if found else None)

    def _withheld(
        self, asked: Asked, event: Event, policy: Policy | None, exc: AccessDenied | None
    ) -> AuditEvent:
        reason = exc.reason if exc else "filter"
        detail = {"event": event.event_id, "type": event.type, "reason": reason}
        if exc is not None:
            detail["message"] = str(exc)
        named = [f"{event.kind}/{event.record_id}"] if event.record_id is not None else []
        return _event(asked, event, "events.withheld", "denied", policy, detail, named)


def _addressed(event: Event, client_id: str, policy: Policy) -> bool:
    """A review event goes to its submitter and to the reviewers of its kind."""
    kind = event.kind or event.data.get("kind")
    grant = policy.grant(kind) if isinstance(kind, str) else None
    reviewer = grant is not None and "review" in grant.actions
    if event.type == "review.submitted":
        return reviewer
    return reviewer or event.data.get("submitter") == client_id


def _event(
    asked: Asked,
    event: Event,
    action: str,
    outcome: Outcome,
    policy: Policy | None,
    detail: dict[str, Any],
    record_ids: Sequence[str] = (),
) -> AuditEvent:
    return AuditEvent(
        action=action,
        outcome=outcome,
        client_id=asked.access.client_id,
        subject=asked.access.subject,
        purpose=asked.purpose,
        kind=event.kind,
        record_ids=list(record_ids),
        policy_id=policy.id if policy else asked.access.policy_id,
        policy_version=policy.version if policy else None,
        request_id=asked.request_id,
        detail=detail,
    )
