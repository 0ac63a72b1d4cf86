"""Operator accounts on each backend: roles kept apart, argon2id hashes, lock-out after
repeated failures, sessions that end when idle, every sign-in and refusal audited."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from hub.audit import AuditLog
from hub.console import (
    IDLE_TIMEOUT,
    LOCK_FOR,
    MAX_FAILURES,
    Accounts,
    SessionInvalid,
    SignInRefused,
)
from hub.console.errors import AccountExists, RolesConflict, UnknownRole, WeakPassword
from hub.store import Store
from hub.store.tables import operator_sessions, operators

PASSWORD = "a long enough passphrase"  # noqa: S105 (a test account's)


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def accounts(store: Store, clock: Clock) -> Accounts:
    accounts = Accounts(store, AuditLog.for_store(store), clock)
    accounts.add("li.na", ["steward"], PASSWORD, by="cli:root")
    return accounts


@pytest.mark.parametrize(
    "roles",
    [
        ["audit_admin", "system_admin"],
        ["audit_admin", "security_admin"],
        ["audit_admin", "steward"],
    ],
)
def test_the_audit_admin_holds_no_role_that_changes_anything(
    accounts: Accounts, roles: list[str]
) -> None:
    with pytest.raises(RolesConflict, match="audit_admin is never held with"):
        accounts.add("zhao.lei", roles, PASSWORD, by="cli:root")
    assert [a.name for a, _ in accounts.listing()] == ["li.na"]


def test_the_other_admin_roles_may_be_held_together_and_unknown_ones_are_refused(
    accounts: Accounts,
) -> None:
    both = accounts.add("wu.gang", ["system_admin", "security_admin"], PASSWORD, by="cli:root")
    assert [r.value for r in both.roles] == ["security_admin", "system_admin"]
    with pytest.raises(UnknownRole):
        accounts.add("x", ["root"], PASSWORD, by="cli:root")
    with pytest.raises(UnknownRole):
        accounts.add("x", [], PASSWORD, by="cli:root")
    with pytest.raises(AccountExists):
        accounts.add("li.na", ["viewer"], PASSWORD, by="cli:root")
    with pytest.raises(WeakPassword):
        accounts.add("y", ["viewer"], "short", by="cli:root")


def test_only_an_argon2id_hash_is_stored_and_the_creation_is_audited(
    store: Store, accounts: Accounts
) -> None:
    with store.engine.connect() as conn:
        stored = conn.execute(select(operators.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    [added] = AuditLog.for_store(store).search(action="console.account_added")
    assert (added.event.subject, added.event.detail) == (
        "cli:root",
        {"name": "li.na", "roles": ["steward"]},
    )
    assert PASSWORD not in added.event.canonical()


def test_repeated_failures_lock_the_account_for_a_while(
    store: Store, accounts: Accounts, clock: Clock
) -> None:
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(SignInRefused) as refused:
            accounts.sign_in("li.na", "wrong guess")
        assert refused.value.reason == "wrong_password"
    with pytest.raises(SignInRefused) as refused:
        accounts.sign_in("li.na", "wrong guess")
    assert refused.value.reason == "locked_now"
    with pytest.raises(SignInRefused) as refused:
        accounts.sign_in("li.na", PASSWORD)  # the right password, but locked
    assert refused.value.reason == "locked"
    clock.now += LOCK_FOR + dt.timedelta(seconds=1)
    assert accounts.sign_in("li.na", PASSWORD).operator.name == "li.na"
    outcomes = [
        (e.event.outcome, e.event.detail.get("reason"))
        for e in AuditLog.for_store(store).search(action="console.sign_in")
    ]
    assert outcomes == [
        *[("denied", "wrong_password")] * (MAX_FAILURES - 1),
        ("denied", "locked_now"),
        ("denied", "locked"),
        ("allowed", None),
    ]


def test_an_unknown_name_is_refused_like_a_wrong_password_and_audited(
    store: Store, accounts: Accounts
) -> None:
    with pytest.raises(SignInRefused) as refused:
        accounts.sign_in("nobody", PASSWORD)
    assert refused.value.reason == "unknown"
    [entry] = AuditLog.for_store(store).search(action="console.sign_in")
    assert (entry.event.subject, entry.event.outcome) == ("console:nobody", "denied")


def test_a_session_ends_when_idle_and_only_its_digest_is_stored(
    store: Store, accounts: Accounts, clock: Clock
) -> None:
    session = accounts.sign_in("li.na", PASSWORD)
    with store.engine.connect() as conn:
        [digest] = conn.execute(select(operator_sessions.c.token_hash)).scalars()
    assert session.token not in digest
    clock.now += IDLE_TIMEOUT - dt.timedelta(seconds=1)
    assert accounts.session(session.token).operator.name == "li.na"  # use restarts the clock
    clock.now += IDLE_TIMEOUT - dt.timedelta(seconds=1)
    assert accounts.session(session.token).csrf == session.csrf
    clock.now += IDLE_TIMEOUT + dt.timedelta(seconds=1)
    with pytest.raises(SessionInvalid) as invalid:
        accounts.session(session.token)
    assert invalid.value.reason == "idle"
    with pytest.raises(SessionInvalid) as invalid:
        accounts.session(session.token)
    assert invalid.value.reason == "unknown"  # ended, not merely refused


def test_signing_out_ends_the_session(store: Store, accounts: Accounts) -> None:
    session = accounts.sign_in("li.na", PASSWORD)
    accounts.sign_out(session)
    with pytest.raises(SessionInvalid):
        accounts.session(session.token)
    [out] = AuditLog.for_store(store).search(action="console.sign_out")
    assert out.event.subject == "console:li.na"
