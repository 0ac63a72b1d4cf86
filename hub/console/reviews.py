"""The review queue at the pages: a steward lists, reads, accepts and rejects grid
submissions (上报 → 审核入库) for the reviewing org the hub names (``console.reviewer``).

Every step goes through the one review service (``hub.work.reviews.Reviews``) as that
org's own system would through the API: under its policy, its rows and its registered
``<kind>.review`` scope, so the page shows and decides nothing the org could not. The
person is the steward: the audit entries (``reviews.query``, ``reviews.read``,
``reviews.decide``) and the queue's ``reviewer_subject`` name ``console:<name>``. A
refusal is audited with the service's own event, then raised as ``ReviewRefused``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hub.auth.clients import Client, ClientRegistry
from hub.console.accounts import Operator
from hub.console.errors import ReviewRefused, ReviewsClosed
from hub.sharing import Asked, Page, Sharing, SharingError
from hub.work.queue import Status
from hub.work.reviews import Reviews, Verdict

LISTED = 100
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class DeskAccess:
    """The reviewing org as the sharing service sees a caller, the steward as its subject."""

    client_id: str
    subject: str
    policy_id: str
    scopes: frozenset[str]
    jurisdiction: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Desk:
    """What the review pages offer: the org, the kinds it reviews and its purposes."""

    reviewer: str
    name: str
    kinds: list[str]
    purposes: list[str]


class ReviewDesk:
    def __init__(self, sharing: Sharing, reviewer: str | None) -> None:
        self.sharing = sharing
        self.reviews = Reviews(sharing)
        self.reviewer = reviewer

    def desk(self) -> Desk:
        """The reviewing org, or ``ReviewsClosed`` when none is named, known and in force."""
        client, kinds, purposes = self._reviewer()
        return Desk(client.client_id, client.name, kinds, purposes)

    def _reviewer(self) -> tuple[Client, list[str], list[str]]:
        if self.reviewer is None:
            raise ReviewsClosed("no reviewing org is configured (console.reviewer)")
        client = ClientRegistry(self.sharing.store).get(self.reviewer)
        if client is None or client.revoked:
            raise ReviewsClosed(f"the reviewing org {self.reviewer!r} is not a client in force")
        policy = self.sharing.policies.get(client.policy_id)
        if policy is None:
            raise ReviewsClosed(f"the reviewing org's policy {client.policy_id!r} is not loaded")
        kinds = sorted(
            kind
            for kind, grant in policy.kinds.items()
            if "review" in grant.actions and f"{kind}.review" in client.scopes
        )
        return client, kinds, list(policy.purposes)

    def names(self) -> dict[str, str]:
        """Each registered client's name by its id: the submitting orgs as people know them."""
        return {c.client_id: c.name for c in ClientRegistry(self.sharing.store).list()}

    def listing(
        self,
        operator: Operator,
        kind: str,
        purpose: str,
        status: Status | None,
        cursor: str | None = None,
        request_id: str | None = None,
    ) -> Page:
        asked = self._asked(operator, kind, purpose, request_id)
        return self._run(
            lambda: self.reviews.listing(asked, status=status, cursor=cursor, limit=LISTED)
        )

    def review(
        self, operator: Operator, kind: str, purpose: str, ref: str, request_id: str | None = None
    ) -> dict[str, Any]:
        """One submission and what it would change in the records the org may read."""
        asked = self._asked(operator, kind, purpose, request_id)
        return self._run(lambda: self.reviews.review(asked, ref))

    def decide(
        self,
        operator: Operator,
        kind: str,
        purpose: str,
        ref: str,
        verdict: Verdict,
        reason: str | None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """Accept (the record stored under the submitter's source) or reject, once."""
        asked = self._asked(operator, kind, purpose, request_id)
        return self._run(lambda: self.reviews.decide(asked, ref, verdict, reason))

    def _asked(self, operator: Operator, kind: str, purpose: str, request_id: str | None) -> Asked:
        client, kinds, _ = self._reviewer()
        if kind not in kinds:
            raise ReviewRefused("kind", f"the reviewing org does not review {kind!r}")
        access = DeskAccess(
            client.client_id,
            operator.subject,
            client.policy_id,
            client.scopes,
            dict(client.claims),
        )
        return Asked(access, kind, purpose or None, request_id or f"console-{uuid.uuid4().hex}")

    def _run(self, step: Callable[[], T]) -> T:
        """``step()``, its refusal audited with the service's event and raised as ours."""
        try:
            return step()
        except SharingError as exc:
            self.sharing.audit.append(exc.event)
            raise ReviewRefused(exc.code, str(exc)) from None
