"""A client registration or revocation and its audit entry commit together, or neither."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hub.audit import AuditError, AuditLog
from hub.auth import ClientRegistry
from hub.store import Store
from hub.store.tables import clients


def _clients(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(clients)).scalar_one())


def test_a_registration_and_a_revocation_are_audited_in_their_transaction(store: Store) -> None:
    log = AuditLog.for_store(store)
    registry = ClientRegistry(store)
    new = registry.add("网格", "grid-platform", ["person.read"], audit=log, policy_version=3)
    registry.revoke(new.client.client_id, audit=log)

    added, revoked = sorted(log.search(limit=10), key=lambda e: e.seq)
    assert added.event.action == "client.added"
    assert added.event.client_id == new.client.client_id
    assert added.event.policy_version == 3
    assert new.secret is not None
    assert new.secret not in added.event.canonical()
    assert revoked.event.action == "client.revoked"
    assert log.verify().ok


def test_an_audit_that_fails_rolls_the_registration_back(store: Store) -> None:
    read_only = AuditLog(store, public_key=store.keyring.audit_signing_key().public_key())
    registry = ClientRegistry(store)
    with pytest.raises(AuditError):
        registry.add("网格", "grid-platform", ["person.read"], audit=read_only)
    assert _clients(store) == 0

    kept = registry.add("网格", "grid-platform", ["person.read"]).client
    with pytest.raises(AuditError):
        registry.revoke(kept.client_id, audit=read_only)
    again = registry.get(kept.client_id)
    assert again is not None
    assert not again.revoked
