"""The audit log under each crypto suite: SM3 tree and SM2 checkpoints under ``gm``,
appended, verified with the public key only, proved offline, consistent, cosigned."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, update

from hub.audit.checkpoint import cosign, open_checkpoint
from hub.audit.entry import AuditEvent
from hub.audit.log import AuditLog, entry_bytes
from hub.audit.merkle import SHA256, SM3, root, verify_consistency
from hub.audit.note import SM2, Cosigner, Signer, Verifier
from hub.audit.proofs import check_proof, prove
from hub.store import Store
from hub.store.suite import GM, Sm2PrivateKey, Sm2PublicKey
from hub.store.tables import audit_log
from tests.conftest import SUITES


@pytest.fixture(params=SUITES)
def crypto(request: pytest.FixtureRequest) -> str:
    """Every test of this module under each crypto suite (``tests.conftest``)."""
    return str(request.param)


def _event(i: int) -> AuditEvent:
    return AuditEvent(
        action="records.query",
        outcome="allowed",
        client_id="grid-app",
        purpose="grid-visit",
        kind="person",
        record_ids=[f"person/{i}"],
        policy_id="police-grid",
        policy_version=1,
    )


def _filled(store: Store, n: int = 7) -> AuditLog:
    log = AuditLog.for_store(store)
    for i in range(n):
        log.append(_event(i))
    return log


def _entry_bytes_of(store: Store, seq: int) -> bytes:
    with store.engine.connect() as conn:
        row = conn.execute(select(audit_log).where(audit_log.c.seq == seq)).one()
    return entry_bytes(row.seq, row.at, row.event)


def test_the_tree_and_the_signature_are_the_suites(store: Store, crypto: str) -> None:
    log = _filled(store)
    gm = crypto == GM
    assert log.th is (SM3 if gm else SHA256)
    assert isinstance(log.public_key, Sm2PublicKey if gm else type(log.public_key))
    assert (log.verifier.algorithm == SM2) is gm
    stored = log.latest()
    assert stored is not None
    checkpoint = open_checkpoint(stored.note, log.verifier).checkpoint
    with store.engine.connect() as conn:
        leaves = [bytes.fromhex(h) for h in conn.execute(select(audit_log.c.hash)).scalars()]
        assert checkpoint.root == log.tree.root(conn, 7)
    assert checkpoint.size == 7
    assert leaves[0] == log.th.leaf(_entry_bytes_of(store, 1))


def test_verify_with_the_public_key_only_and_catch_a_changed_entry(
    store: Store, crypto: str
) -> None:
    log = _filled(store)
    auditor = AuditLog(store.engine, public_key=log.public_key)
    assert auditor.verify().ok
    with store.engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 3).values(event='{"forged": true}'))
    result = auditor.verify()
    assert not result.ok
    assert result.first_bad == 3


def test_a_proof_checks_offline_and_fails_when_altered(store: Store, crypto: str) -> None:
    log = _filled(store)
    bundle = prove(log, 5)
    vkey = Verifier.parse(bundle["log_key"])
    assert vkey == log.verifier
    assert check_proof(bundle, vkey).ok
    bundle["entry"]["event"] = bundle["entry"]["event"].replace("person/4", "person/9")
    assert not check_proof(bundle, vkey).ok


def test_consistency_between_two_sizes_holds_under_the_suites_hash(
    store: Store, crypto: str
) -> None:
    log = _filled(store, 5)
    with store.engine.connect() as conn:
        small = log.tree.root(conn, 3)
        big = log.tree.root(conn, 5)
    proof = log.consistency(3, 5)
    assert verify_consistency(3, 5, small, big, proof, log.th)
    other = SHA256 if log.th is SM3 else SM3
    assert not verify_consistency(3, 5, small, big, proof, other)


def test_a_witness_cosigns_the_suites_checkpoint(store: Store, crypto: str) -> None:
    """Witnesses keep Ed25519 cosignatures (tlog-cosignature) over an SM2 checkpoint too."""
    log = _filled(store, 3)
    stored = log.latest()
    assert stored is not None
    witness = Cosigner("police-witness", Ed25519PrivateKey.generate())
    opened_before = open_checkpoint(stored.note, log.verifier)
    line = cosign(opened_before.checkpoint, witness)
    log.add_cosignature(3, line, witness.verifier())
    opened = open_checkpoint(
        log.latest(cosigned=True).note,  # type: ignore[union-attr]
        log.verifier,
        (witness.verifier(),),
    )
    assert "police-witness" in opened.cosigned
    assert log.verify(witnesses=[witness.verifier()]).ok


def test_sm2_note_keys_round_trip_as_strings() -> None:
    signer = Signer("hub-audit/x", Sm2PrivateKey.generate())
    assert signer.algorithm == SM2
    again = Signer.parse(signer.skey())
    assert again.verifier() == signer.verifier()
    parsed = Verifier.parse(signer.verifier().vkey())
    assert parsed.verify(b"text\n", signer.sign(b"text\n"))
    assert not parsed.verify(b"text!\n", signer.sign(b"text\n"))


def test_sm3_tree_of_known_entries() -> None:
    """RFC 9162 hashing with SM3 in place of SHA-256, by hand for three leaves."""

    def sm3(data: bytes) -> bytes:
        return hashlib.new("sm3", data).digest()

    a, b, c = b"a", b"b", b"c"
    expected = sm3(b"\x01" + sm3(b"\x01" + sm3(b"\x00" + a) + sm3(b"\x00" + b)) + sm3(b"\x00" + c))
    assert root([a, b, c], SM3) == expected
    assert root([a, b, c]) != expected
