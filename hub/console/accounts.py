"""Operator accounts and their sessions: argon2id password hashes, lock-out after repeated
failures, sessions held server-side with an idle timeout.

A session is a random token in an HttpOnly cookie; the database keeps only its SHA-256,
so a copy of the table signs no one in, and every hub process behind one database sees
the same sessions (a sign-out or a timeout holds everywhere at once). Each session has
its own CSRF token, which every form carries back.

An account may instead (or also) be linked to a person at the operators' OpenID Connect
provider (``oidc_issuer``, ``oidc_subject``): ``sign_in_linked`` opens its session once
``hub.console.provider`` has verified the provider's ID token. The link names the
account; the account's roles are the hub's, whatever the provider's claims say.

Every sign-in, refusal and sign-out is an audit entry (``console.sign_in``,
``console.sign_out``) whose subject is ``console:<name>``, written in the transaction
that changes the account's failure count or the session table; a sign-in through the
provider says so (``detail.method``: ``oidc``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, insert, select, update

from hub.audit import AuditEvent, AuditLog
from hub.console.errors import (
    AccountExists,
    NoSuchAccount,
    SessionInvalid,
    SignInRefused,
    SubjectTaken,
    WeakPassword,
)
from hub.console.roles import Role, checked_roles
from hub.store import Store, Transaction
from hub.store.tables import operator_sessions, operators

MAX_FAILURES = 5
"""Consecutive wrong passwords after which the account locks for ``LOCK_FOR``."""
LOCK_FOR = dt.timedelta(minutes=15)
IDLE_TIMEOUT = dt.timedelta(minutes=30)
MIN_PASSWORD = 12
_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash("an unknown name costs as much as a wrong password")


PROVIDER_SUBJECT = "console:oidc"
"""The audit subject of a sign-in through the provider that names no account."""


def subject_of(name: str) -> str:
    """The audit subject of a person at the pages, as ``cli:<login>`` is at the CLI."""
    return f"console:{name}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Operator:
    name: str
    roles: tuple[Role, ...]

    @property
    def subject(self) -> str:
        return subject_of(self.name)


@dataclass(frozen=True, slots=True)
class Session:
    operator: Operator
    token: str
    """The cookie's value; only its digest is stored."""
    csrf: str

    def csrf_matches(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(self.csrf, given)


class Accounts:
    def __init__(
        self, store: Store, audit: AuditLog, clock: Callable[[], dt.datetime] = _now
    ) -> None:
        self.store = store
        self.audit = audit
        self.clock = clock

    def add(
        self,
        name: str,
        roles: Iterable[str],
        password: str | None,
        *,
        by: str,
        oidc: tuple[str, str] | None = None,
    ) -> Operator:
        """A new account, audited as ``by``'s (``console.account_added``); refused if the
        name is taken, a role unknown, the roles clash with the separation of duties, the
        password is shorter than MIN_PASSWORD, or there is neither a password nor a
        provider identity (``oidc``: issuer and subject) to sign in with."""
        held = checked_roles(name, roles)
        if password is None and oidc is None:
            raise WeakPassword(name, "an account needs a password or an --oidc-subject")
        if password is not None and len(password) < MIN_PASSWORD:
            raise WeakPassword(name, f"a password has at least {MIN_PASSWORD} characters")
        with self.store.begin() as tx:
            taken = tx.conn.execute(select(operators.c.name).where(operators.c.name == name))
            if taken.first() is not None:
                raise AccountExists(name, "an account of that name exists")
            if oidc is not None:
                self._unlinked(tx, name, *oidc)
            tx.conn.execute(
                insert(operators).values(
                    name=name,
                    roles=[r.value for r in held],
                    password_hash=None if password is None else _HASHER.hash(password),
                    failures=0,
                    created_at=self.clock(),
                    oidc_issuer=oidc[0] if oidc else None,
                    oidc_subject=oidc[1] if oidc else None,
                )
            )
            detail: dict[str, Any] = {"name": name, "roles": [r.value for r in held]}
            if oidc is not None:
                detail.update(oidc_issuer=oidc[0], oidc_subject=oidc[1])
            self.audit.append(
                AuditEvent(
                    action="console.account_added", outcome="allowed", subject=by, detail=detail
                ),
                tx,
            )
        return Operator(name, held)

    def link(self, name: str, issuer: str, subject: str, *, by: str) -> None:
        """Link an existing account to a person at the provider (``console.account_linked``),
        replacing any earlier link; refused if another account holds that identity."""
        with self.store.begin() as tx:
            found = tx.conn.execute(select(operators.c.name).where(operators.c.name == name))
            if found.first() is None:
                raise NoSuchAccount(name, "no account of that name")
            self._unlinked(tx, name, issuer, subject)
            tx.conn.execute(
                update(operators)
                .where(operators.c.name == name)
                .values(oidc_issuer=issuer, oidc_subject=subject)
            )
            self.audit.append(
                AuditEvent(
                    action="console.account_linked",
                    outcome="allowed",
                    subject=by,
                    detail={"name": name, "oidc_issuer": issuer, "oidc_subject": subject},
                ),
                tx,
            )

    def _unlinked(self, tx: Transaction, name: str, issuer: str, subject: str) -> None:
        if not subject or len(subject) > 255:
            raise SubjectTaken(name, "a provider subject has 1 to 255 characters")
        holder = tx.conn.execute(
            select(operators.c.name).where(
                operators.c.oidc_issuer == issuer, operators.c.oidc_subject == subject
            )
        ).first()
        if holder is not None and holder.name != name:
            raise SubjectTaken(name, f"the provider subject is linked to {holder.name!r}")

    def links(self) -> dict[str, str]:
        """The provider subject each linked account is linked to, by account name."""
        query = select(operators.c.name, operators.c.oidc_subject).where(
            operators.c.oidc_subject.is_not(None)
        )
        with self.store.engine.connect() as conn:
            return {row.name: row.oidc_subject for row in conn.execute(query)}

    def listing(self) -> list[tuple[Operator, dt.datetime | None]]:
        """Every account with the time it is locked until, if it is."""
        query = select(operators).order_by(operators.c.name)
        with self.store.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [(Operator(r.name, checked_roles(r.name, r.roles)), r.locked_until) for r in rows]

    def sign_in(self, name: str, password: str, *, request_id: str | None = None) -> Session:
        """A new session for ``name``, or ``SignInRefused``; both are audited. The
        MAX_FAILURES-th wrong password in a row locks the account for LOCK_FOR."""
        now = self.clock()
        with self.store.begin() as tx:
            row = tx.conn.execute(select(operators).where(operators.c.name == name)).first()
            if row is None:
                _verify(_DUMMY_HASH, password)
                refusal = SignInRefused(name, "unknown")
            elif row.password_hash is None:
                _verify(_DUMMY_HASH, password)  # costs as much as a wrong password
                refusal = SignInRefused(name, "no_password")
            elif row.locked_until is not None and row.locked_until > now:
                refusal = SignInRefused(name, "locked")
            elif not _verify(row.password_hash, password):
                failures = row.failures + 1
                locked = now + LOCK_FOR if failures >= MAX_FAILURES else None
                tx.conn.execute(
                    update(operators)
                    .where(operators.c.name == name)
                    .values(failures=0 if locked else failures, locked_until=locked)
                )
                refusal = SignInRefused(name, "locked_now" if locked else "wrong_password")
            else:
                tx.conn.execute(
                    update(operators)
                    .where(operators.c.name == name)
                    .values(failures=0, locked_until=None)
                )
                session = self._open(tx, row.name, checked_roles(row.name, row.roles), now)
                self._signed(tx, subject_of(name), "allowed", request_id, {})
                return session
            self._signed(tx, subject_of(name), "denied", request_id, {"reason": refusal.reason})
        raise refusal

    def sign_in_linked(
        self,
        issuer: str,
        subject: str,
        *,
        request_id: str | None = None,
    ) -> Session:
        """A new session for the account linked to ``subject`` at ``issuer``, whose ID
        token the caller has verified; ``SignInRefused`` (``unknown_subject``) if no
        account is, audited either way. The password's failure count and lock are the
        password's: they are left as they are."""
        now = self.clock()
        with self.store.begin() as tx:
            row = tx.conn.execute(
                select(operators).where(
                    operators.c.oidc_issuer == issuer, operators.c.oidc_subject == subject
                )
            ).first()
            if row is not None:
                session = self._open(tx, row.name, checked_roles(row.name, row.roles), now)
                self._signed(tx, subject_of(row.name), "allowed", request_id, {"method": "oidc"})
                return session
            detail = {"method": "oidc", "reason": "unknown_subject", "oidc_subject": subject}
            self._signed(tx, PROVIDER_SUBJECT, "denied", request_id, detail)
        raise SignInRefused(subject, "unknown_subject")

    def refuse_linked(
        self,
        reason: str,
        *,
        request_id: str | None = None,
    ) -> SignInRefused:
        """Audit a sign-in through the provider refused before anyone was identified (a
        forged state, an ID token that does not verify: ``reason``) and return the error."""
        with self.store.begin() as tx:
            detail = {"method": "oidc", "reason": reason}
            self._signed(tx, PROVIDER_SUBJECT, "denied", request_id, detail)
        return SignInRefused("", reason)

    def _open(
        self, tx: Transaction, name: str, roles: tuple[Role, ...], now: dt.datetime
    ) -> Session:
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        tx.conn.execute(
            insert(operator_sessions).values(
                token_hash=_digest(token), operator=name, csrf=csrf, created_at=now, last_seen=now
            )
        )
        return Session(Operator(name, roles), token, csrf)

    def _signed(
        self,
        tx: Transaction,
        subject: str,
        outcome: str,
        request_id: str | None,
        detail: dict[str, str],
    ) -> None:
        self.audit.append(
            AuditEvent(
                action="console.sign_in",
                outcome="allowed" if outcome == "allowed" else "denied",
                subject=subject,
                request_id=request_id,
                detail=detail,
            ),
            tx,
        )

    def session(self, token: str | None) -> Session:
        """The live session whose cookie is ``token``, its idle clock restarted; a session
        idle past IDLE_TIMEOUT is ended (``SessionInvalid``, ``idle``)."""
        if not token:
            raise SessionInvalid("none")
        now = self.clock()
        digest = _digest(token)
        with self.store.begin() as tx:
            found = tx.conn.execute(
                select(operator_sessions, operators.c.roles)
                .join(operators, operators.c.name == operator_sessions.c.operator)
                .where(operator_sessions.c.token_hash == digest)
            ).first()
            if found is None:
                raise SessionInvalid("unknown")
            mine = operator_sessions.c.token_hash == digest
            if now - found.last_seen > IDLE_TIMEOUT:
                tx.conn.execute(delete(operator_sessions).where(mine))
                expired = True
            else:
                tx.conn.execute(update(operator_sessions).where(mine).values(last_seen=now))
                expired = False
        if expired:
            raise SessionInvalid("idle")
        operator = Operator(found.operator, checked_roles(found.operator, found.roles))
        return Session(operator, token, found.csrf)

    def sign_out(self, session: Session, *, request_id: str | None = None) -> None:
        with self.store.begin() as tx:
            tx.conn.execute(
                delete(operator_sessions).where(
                    operator_sessions.c.token_hash == _digest(session.token)
                )
            )
            self.audit.append(
                AuditEvent(
                    action="console.sign_out",
                    outcome="allowed",
                    subject=session.operator.subject,
                    request_id=request_id,
                ),
                tx,
            )


def _verify(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False
