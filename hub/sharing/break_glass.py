"""Break-glass sessions (紧急调阅): reading beyond a policy in an emergency, time-boxed,
approved by a second party after the fact, and reviewed.

- ``open``: a client whose policy grants ``break_glass`` states a reason and the kinds it
  needs, for at most the policy's ``minutes`` (30 by default). The session opens at once
  (an emergency does not wait), and its ``break_glass.opened`` entry commits with it. An
  operator may open one for a client at the CLI: the operator is then its ``subject``.
- ``approve``: a second approver confirms it within the box: another client whose policy
  says ``approve`` (never the opener), or an operator at the CLI (not the one who opened
  it). A session the box passed unapproved is flagged (``unapproved``); one cannot be
  approved after its box.
- reads: a request naming the session (``break_glass=``) is decided by
  ``policies.decide_break_glass`` for the session's kinds, while the box lasts, by the
  client that opened it only; its purpose is still required, it stays within what the
  store holds, it is audited like any read and flagged (``detail.break_glass``), and a
  revoked client's token no longer verifies, so its session is dead with it.
- ``report`` (``hub break-glass report``): every session with its status, approver and the
  reads and records its audit entries name, for the after-the-fact review.

A reason names why, not whom: one holding a run of 11 or more digits (a phone or an ID
number) is refused, so no clear number reaches the table, the audit log or the report.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select, update

from hub.audit import AuditEvent, AuditLog
from hub.policyfiles import PolicyRegistry
from hub.sharing.errors import Conflict, Denied, InvalidRequest, NotFound
from hub.store import Store
from hub.store.tables import break_glass_sessions as sessions
from policies import AccessDenied

Clock = Callable[[], dt.datetime]
Status = Literal["approved", "pending", "unapproved"]
REASON_LENGTH = range(8, 501)
NUMBERS = re.compile(r"\d{11,}")
"""A phone number (11 digits) or the digits of an ID number (17 or 18), full-width ones too."""
READ_ACTIONS = frozenset({"records.query", "records.read", "profile.section"})


@dataclass(frozen=True)
class Session:
    session_id: str
    client_id: str
    policy_id: str
    subject: str | None
    reason: str
    kinds: tuple[str, ...]
    opened_at: dt.datetime
    expires_at: dt.datetime
    approved_by: str | None
    approved_at: dt.datetime | None

    def status(self, now: dt.datetime) -> Status:
        if self.approved_at is not None:
            return "approved"
        return "pending" if now < self.expires_at else "unapproved"

    def view(self, now: dt.datetime) -> dict[str, Any]:
        return {
            "id": self.session_id,
            "client_id": self.client_id,
            "reason": self.reason,
            "kinds": list(self.kinds),
            "opened_at": self.opened_at,
            "expires_at": self.expires_at,
            "approved_by": self.approved_by,
            "approved_at": self.approved_at,
            "status": self.status(now),
        }


@dataclass(frozen=True)
class Reviewed:
    """A session as the review sees it: what its audit entries say it read."""

    session: Session
    status: Status
    reads: int
    records: int


class BreakGlass:
    def __init__(self, store: Store, audit: AuditLog, policies: PolicyRegistry) -> None:
        self.store = store
        self.audit = audit
        self.policies = policies
        self.clock: Clock = lambda: dt.datetime.now(dt.UTC)

    # --- opening and approving ----------------------------------------------------------

    def open(
        self,
        *,
        client_id: str,
        policy_id: str,
        subject: str | None,
        reason: str,
        kinds: Sequence[str],
        minutes: int | None,
        request_id: str | None = None,
    ) -> Session:
        """Open a session for ``client_id`` (already authenticated, not revoked)."""
        wanted = sorted(set(kinds))

        def refusal(reason_word: str, message: str) -> AuditEvent:
            return _event(
                "break_glass.opened",
                "denied",
                client_id,
                subject,
                request_id,
                policy_id,
                {"reason": reason_word, "message": message, "kinds": wanted},
            )

        policy = self.policies.get(policy_id)
        glass = policy.break_glass if policy is not None else None
        if glass is None or not glass.kinds:
            message = f"policy {policy_id} grants no break-glass reads"
            raise Denied("break_glass", message, refusal("break_glass", message))
        refused = [k for k in wanted if k not in glass.kinds] if wanted else ["(none)"]
        if refused:
            message = f"break-glass kinds not granted: {', '.join(refused)}"
            raise Denied("break_glass", message, refusal("break_glass", message), kinds=refused)
        if len(reason.strip()) not in REASON_LENGTH or NUMBERS.search(reason):
            message = "state the reason in 8 to 500 characters, naming no phone or ID number"
            raise InvalidRequest("bad_reason", message, refusal("bad_reason", message))
        box = glass.minutes if minutes is None else minutes
        if not 1 <= box <= glass.minutes:
            message = f"a session lasts 1 to {glass.minutes} minutes under {policy_id}"
            raise InvalidRequest("bad_minutes", message, refusal("bad_minutes", message))
        now = self.clock()
        session = Session(
            session_id=f"bg_{secrets.token_hex(12)}",
            client_id=client_id,
            policy_id=policy_id,
            subject=subject,
            reason=reason.strip(),
            kinds=tuple(wanted),
            opened_at=now,
            expires_at=now + dt.timedelta(minutes=box),
            approved_by=None,
            approved_at=None,
        )
        with self.store.begin() as tx:
            tx.conn.execute(sessions.insert().values(**_row(session)))
            detail = {
                "session": session.session_id,
                "reason": session.reason,
                "kinds": wanted,
                "expires_at": session.expires_at.isoformat(),
            }
            self.audit.append(
                _event(
                    "break_glass.opened",
                    "allowed",
                    client_id,
                    subject,
                    request_id,
                    policy_id,
                    detail,
                ),
                tx,
            )
        return session

    def approve(
        self,
        session_id: str,
        *,
        approver: str,
        client_id: str | None = None,
        policy_id: str | None = None,
        request_id: str | None = None,
    ) -> Session:
        """Approve a session: by another client (``client_id``, its policy ``policy_id``
        granting ``approve``) or, with no client, by the operator ``approver``."""
        detail: dict[str, Any] = {"session": session_id[:80], "approver": approver}

        def refusal(word: str, message: str) -> AuditEvent:
            return _event(
                "break_glass.approved",
                "denied",
                client_id,
                approver,
                request_id,
                policy_id,
                {**detail, "reason": word, "message": message},
            )

        if client_id is not None:
            policy = self.policies.get(policy_id or "")
            if policy is None or policy.break_glass is None or not policy.break_glass.approve:
                message = f"policy {policy_id} does not approve break-glass sessions"
                raise Denied(
                    "break_glass_approve", message, refusal("break_glass_approve", message)
                )
        with self.store.begin() as tx:
            row = tx.conn.execute(
                select(sessions).where(sessions.c.session_id == session_id).with_for_update()
            ).first()
            if row is None:
                raise NotFound(f"no break-glass session {session_id}", refusal("not_found", ""))
            session = _session(row._mapping)
            now = self.clock()
            if (client_id is not None and client_id == session.client_id) or (
                approver == session.subject
            ):
                message = "a session is approved by a second party, not by whoever opened it"
                raise Denied("break_glass_self", message, refusal("break_glass_self", message))
            if session.approved_at is not None:
                raise Conflict(
                    "already_approved", "the session is approved", refusal("already_approved", "")
                )
            if now >= session.expires_at:
                message = "the session's box has passed: it stays flagged as unapproved"
                raise Conflict("box_passed", message, refusal("box_passed", message))
            tx.conn.execute(
                update(sessions)
                .where(sessions.c.session_id == session_id)
                .values(approved_by=approver, approved_at=now)
            )
            approved = _event(
                "break_glass.approved",
                "allowed",
                client_id,
                approver,
                request_id,
                policy_id,
                {**detail, "opened_by": session.client_id},
            )
            self.audit.append(approved, tx)
        return dataclasses.replace(session, approved_by=approver, approved_at=now)

    # --- reading under a session --------------------------------------------------------

    def active(self, client_id: str, session_id: str, kind: str, action: str) -> Session:
        """The session ``client_id`` reads ``kind`` under, or AccessDenied: no such session
        of this client (another's looks the same), its box passed, a kind it did not
        ask for, anything but a read."""
        session = self.get(session_id)
        if session is None or session.client_id != client_id:
            raise AccessDenied(
                "break_glass_unknown", f"no break-glass session {session_id} of yours"
            )
        if self.clock() >= session.expires_at:
            raise AccessDenied("break_glass_expired", f"break-glass session {session_id} has ended")
        if action != "read":
            raise AccessDenied("break_glass_read_only", "a break-glass session reads only")
        if kind not in session.kinds:
            raise AccessDenied(
                "break_glass",
                f"break-glass session {session_id} was not opened for {kind}",
                kind=kind,
            )
        return session

    def get(self, session_id: str) -> Session | None:
        with self.store.engine.connect() as conn:
            row = conn.execute(select(sessions).where(sessions.c.session_id == session_id)).first()
        return None if row is None else _session(row._mapping)

    # --- the review ---------------------------------------------------------------------

    def report(self, since: dt.datetime | None = None) -> list[Reviewed]:
        """Every session opened since ``since`` (all when None), oldest first, with what
        its audit entries say it read."""
        query = select(sessions).order_by(sessions.c.opened_at, sessions.c.session_id)
        if since is not None:
            query = query.where(sessions.c.opened_at >= since)
        with self.store.engine.connect() as conn:
            found = [_session(row._mapping) for row in conn.execute(query)]
        now = self.clock()
        return [self._reviewed(session, now) for session in found]

    def _reviewed(self, session: Session, now: dt.datetime) -> Reviewed:
        reads = records = 0
        after: int | None = None
        while True:
            entries = self.audit.search(
                client_id=session.client_id,
                outcome="allowed",
                since=session.opened_at,
                until=session.expires_at + dt.timedelta(seconds=1),
                after_seq=after,
                limit=1000,
            )
            for entry in entries:
                event = entry.event
                flagged = event.detail.get("break_glass", {}).get("session")
                if event.action in READ_ACTIONS and flagged == session.session_id:
                    reads += 1
                    records += len(event.record_ids)
            if len(entries) < 1000:
                break
            after = entries[-1].seq
        return Reviewed(session, session.status(now), reads, records)


def _event(
    action: str,
    outcome: Literal["allowed", "denied"],
    client_id: str | None,
    subject: str | None,
    request_id: str | None,
    policy_id: str | None,
    detail: dict[str, Any],
) -> AuditEvent:
    return AuditEvent(
        action=action,
        outcome=outcome,
        client_id=client_id,
        subject=subject,
        request_id=request_id,
        policy_id=policy_id,
        detail=detail,
    )


def _row(session: Session) -> dict[str, Any]:
    return {
        "session_id": session.session_id,
        "client_id": session.client_id,
        "policy_id": session.policy_id,
        "subject": session.subject,
        "reason": session.reason,
        "kinds": list(session.kinds),
        "opened_at": session.opened_at,
        "expires_at": session.expires_at,
        "approved_by": session.approved_by,
        "approved_at": session.approved_at,
    }


def _session(row: Any) -> Session:
    return Session(
        session_id=row["session_id"],
        client_id=row["client_id"],
        policy_id=row["policy_id"],
        subject=row["subject"],
        reason=row["reason"],
        kinds=tuple(row["kinds"]),
        opened_at=row["opened_at"],
        expires_at=row["expires_at"],
        approved_by=row["approved_by"],
        approved_at=row["approved_at"],
    )
