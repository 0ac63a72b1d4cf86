"""Rotating the audit key: the log hands over from one key to the next in a checkpoint both
sign, its origin stays, ``verify`` follows the chain from the first key, and every way of
forging or cutting the chain that an attacker with the database (and an old key) has is
caught. Both backends."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, delete, func, insert, select, update
from typer.testing import CliRunner

from hub.audit import AuditError, AuditEvent, AuditLog
from hub.audit.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from hub.audit.errors import AuditKeyUnavailable, Unverified
from hub.audit.keychain import KEY_CHANGED, key_line, next_key
from hub.audit.log import origin_for
from hub.audit.note import Signer, Verifier
from hub.cli import app
from hub.config import load_config, open_store
from hub.encoding import b64url_encode
from hub.store import Keyring, Store
from hub.store.keyring import ed25519_key_id
from hub.store.tables import audit_checkpoints, audit_keys, audit_log

runner = CliRunner()


def append(log: AuditLog, n: int) -> None:
    for i in range(n):
        log.append(AuditEvent(action="records.read", outcome="allowed", request_id=f"r{i}"))


def rotated(store: Store) -> tuple[AuditLog, list[Ed25519PrivateKey]]:
    """A log of 3 + 1 + 4 + 1 + 2 entries: two hand-overs, at sizes 4 and 9."""
    keys = [Ed25519PrivateKey.generate() for _ in range(3)]
    log = AuditLog(store, keys[0])
    append(log, 3)
    log.hand_over(keys[1], subject="operator:test")
    append(log, 4)
    log.hand_over(keys[2], subject="operator:test")
    append(log, 2)
    return log, keys


def test_the_log_hands_over_and_verifies_from_its_first_key(store: Store) -> None:
    log, keys = rotated(store)
    first = keys[0].public_key()
    assert [(c.size, c.key_id) for c in log.key_changes()] == [
        (4, ed25519_key_id(keys[1].public_key())),
        (9, ed25519_key_id(keys[2].public_key())),
    ]
    origin = origin_for(first)
    assert {c.checkpoint.origin for c in log.checkpoints()} == {origin}
    result = AuditLog(store.engine, public_key=first).verify()  # an auditor: public key only
    assert result.ok, result
    assert (result.entries, result.checkpoints) == (11, 11)

    old, new = (Verifier(origin, k.public_key()) for k in keys[:2])
    handover = log.checkpoint_at(4)
    assert handover is not None
    opened = open_checkpoint(handover.note, old)
    assert next_key(opened.checkpoint) == new
    assert open_checkpoint(handover.note, new).checkpoint == opened.checkpoint
    later = log.checkpoint_at(5)
    assert later is not None
    with pytest.raises(Unverified):
        open_checkpoint(later.note, old)
    entry = log.entry(4)
    assert entry is not None
    assert entry[0].event.action == KEY_CHANGED
    assert entry[0].event.detail == {"from": old.vkey(), "to": new.vkey()}
    assert log.verifier_at(3) == old
    assert log.verifier_at(4) == new
    assert log.verifier_at(11).public_key == keys[2].public_key()

    other = AuditLog(store.engine, public_key=keys[2].public_key()).verify()
    assert not other.ok, "verifying starts from the first key, the one the origin names"


def test_a_hand_over_is_done_once(store: Store) -> None:
    log, keys = rotated(store)
    again = log.hand_over(keys[2])
    assert again.size == 9
    with store.engine.connect() as conn:
        count = select(func.count()).select_from(audit_log).where(audit_log.c.action == KEY_CHANGED)
        assert conn.execute(count).scalar() == 2
    assert log.verify().ok


def test_another_process_follows_the_rotation_or_signs_nothing(store: Store) -> None:
    """A log opened before the rotation (``hub serve``) signs with the new key once its key
    file has it; one that cannot find the key appends nothing rather than sign with the old."""
    keys = [Ed25519PrivateKey.generate() for _ in range(2)]
    on_file: list[Ed25519PrivateKey] = [keys[0]]
    rotating = AuditLog(store, keys[0])
    serving = AuditLog(store, keys[0], key_source=lambda: on_file)
    stale = AuditLog(store, keys[0])
    append(serving, 2)
    on_file.append(keys[1])
    rotating.hand_over(keys[1])
    del on_file[0]
    append(serving, 2)
    assert serving.key_id == ed25519_key_id(keys[1].public_key())
    with pytest.raises(AuditKeyUnavailable):
        append(stale, 1)
    with store.engine.connect() as conn:
        assert conn.execute(select(func.max(audit_log.c.seq))).scalar() == 5
    assert rotating.verify().ok


def _resign(conn: Connection, size: int, key: Ed25519PrivateKey, *also: Ed25519PrivateKey) -> None:
    """Replace the checkpoint of ``size`` by the same statement signed with other keys."""
    note = conn.execute(select(audit_checkpoints.c.note).where(audit_checkpoints.c.size == size))
    text = note.scalar_one()
    checkpoint = Checkpoint.parse(text[: text.index("\n\n") + 1])
    origin = checkpoint.origin
    signed = sign_checkpoint(checkpoint, Signer(origin, key), *(Signer(origin, k) for k in also))
    conn.execute(
        update(audit_checkpoints).where(audit_checkpoints.c.size == size).values(note=signed)
    )


def _rewrite(
    conn: Connection, size: int, extensions: tuple[str, ...], *keys: Ed25519PrivateKey
) -> None:
    text = conn.execute(
        select(audit_checkpoints.c.note).where(audit_checkpoints.c.size == size)
    ).scalar_one()
    old = Checkpoint.parse(text[: text.index("\n\n") + 1])
    checkpoint = Checkpoint(old.origin, old.size, old.root, extensions)
    signers = [Signer(old.origin, k) for k in keys]
    signed = sign_checkpoint(checkpoint, signers[0], *signers[1:])
    conn.execute(
        update(audit_checkpoints).where(audit_checkpoints.c.size == size).values(note=signed)
    )


def test_every_forgery_of_the_key_chain_is_caught(store: Store, subtests: pytest.Subtests) -> None:
    """The attacker holds the database and the *retired* keys (a stolen backup of an old key
    file), not the key in force. Re-signing the hand-over of a retired key's day to a key of
    the attacker's is caught by the hub, which knows the key in force (an auditor holding
    only the first key needs a witness that cosigned the real hand-over for that one)."""
    log, keys = rotated(store)
    mallory = Ed25519PrivateKey.generate()
    origin = log.origin
    assert origin is not None
    forged_key = key_line(Verifier(origin, mallory.public_key()))

    def later_signed_by_the_old_key(conn: Connection) -> None:
        _resign(conn, 10, keys[1])

    def hand_over_unsigned_by_the_new_key(conn: Connection) -> None:
        _resign(conn, 9, keys[1])

    def hand_over_to_mallory(conn: Connection) -> None:
        _rewrite(conn, 9, ("prev 8", forged_key), keys[1], mallory)
        conn.execute(
            update(audit_keys)
            .where(audit_keys.c.size == 9)
            .values(key_id=ed25519_key_id(mallory.public_key()))
        )
        for size in (10, 11):
            _resign(conn, size, mallory)

    def hand_over_erased(conn: Connection) -> None:
        _rewrite(conn, 9, ("prev 8",), keys[1])
        conn.execute(delete(audit_keys).where(audit_keys.c.size == 9))

    def key_table_row_deleted(conn: Connection) -> None:
        conn.execute(delete(audit_keys).where(audit_keys.c.size == 9))

    def key_table_row_added(conn: Connection) -> None:
        vkey = Verifier(origin, mallory.public_key()).vkey()
        row = {"size": 6, "key_id": ed25519_key_id(mallory.public_key()), "vkey": vkey}
        conn.execute(insert(audit_keys).values(**row, at=log.checkpoints()[5].at))

    cases = [
        (later_signed_by_the_old_key, 10, "refused"),
        (hand_over_unsigned_by_the_new_key, 9, "did not sign it"),
        (hand_over_to_mallory, 9, "a key this hub does not hold"),
        (hand_over_erased, 10, "refused"),
        (key_table_row_deleted, 9, "audit_keys was altered"),
        (key_table_row_added, 6, "audit_keys was altered"),
    ]
    for tamper, first_bad, reason in cases:
        with subtests.test(tamper.__name__):
            with store.engine.begin() as conn:
                saved_cp = conn.execute(select(audit_checkpoints)).all()
                saved_keys = conn.execute(select(audit_keys)).all()
                tamper(conn)
            result = log.verify()
            assert not result.ok
            assert reason in (result.reason or ""), result
            assert result.first_bad == first_bad, result
            with store.engine.begin() as conn:
                conn.execute(delete(audit_checkpoints))
                conn.execute(delete(audit_keys))
                conn.execute(insert(audit_checkpoints), [r._asdict() for r in saved_cp])
                conn.execute(insert(audit_keys), [r._asdict() for r in saved_keys])
            assert log.verify().ok


def test_a_deleted_key_change_stops_the_hub_signing(store: Store) -> None:
    """With the hand-over's row gone, the hub would sign with the old key, which its key
    file no longer holds: it refuses and appends nothing."""
    log, _ = rotated(store)
    fresh = AuditLog(store, log._signing_key, first_key=log.first_key, key_source=lambda: [])
    with store.engine.begin() as conn:
        conn.execute(delete(audit_keys).where(audit_keys.c.size == 9))
    with pytest.raises(AuditKeyUnavailable):
        append(fresh, 1)


def test_a_read_only_log_cannot_hand_over(store: Store) -> None:
    log = AuditLog(store.engine, public_key=Ed25519PrivateKey.generate().public_key())
    with pytest.raises(AuditError):
        log.hand_over(Ed25519PrivateKey.generate())


# --- the command ------------------------------------------------------------------------


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "hub"
    assert runner.invoke(app, ["init", "--home", str(home)]).exit_code == 0
    return home


def _keys_changed(home: Path) -> int:
    store = open_store(load_config(home))
    try:
        with store.engine.connect() as conn:
            query = select(func.count()).where(audit_log.c.action == KEY_CHANGED)
            return int(conn.execute(query.select_from(audit_log)).scalar_one())
    finally:
        store.close()


def test_hub_keys_rotate_audit(tmp_path: Path) -> None:
    home = _home(tmp_path)
    key_file = load_config(home).key_file
    before = Keyring.load(key_file)
    first_id = before.audit_key_id
    assert first_id is not None
    old_key = before.audit_key
    assert old_key is not None
    done = runner.invoke(app, ["keys", "rotate", "--audit", "--home", str(home)])
    assert done.exit_code == 0, done.output
    after = Keyring.load(key_file)
    assert after.audit_key_id != first_id
    assert after.audit_next_key is None
    assert b64url_encode(old_key) not in key_file.read_text(), "the old key's material is gone"
    assert ed25519_key_id(after.audit_first_key()) == first_id
    assert f"retired: {first_id}" in done.output
    shown = runner.invoke(app, ["keys", "show", "--home", str(home)])
    assert f"audit key {after.audit_key_id}: signs checkpoints" in shown.output
    assert f"audit key {first_id}: first" in shown.output
    log_key = runner.invoke(app, ["audit", "key", "--home", str(home)]).stdout.strip()
    assert log_key.startswith(f"hub-audit/{first_id}+"), "the origin stays"
    assert log_key == re.search(r"log key for witnesses: (\S+)", done.output).group(1)  # type: ignore[union-attr]
    verified = runner.invoke(app, ["audit", "verify", "--home", str(home)])
    assert verified.exit_code == 0, verified.output
    assert _keys_changed(home) == 1


def test_a_killed_audit_rotation_is_finished_by_running_it_again(tmp_path: Path) -> None:
    """The two places a rotation can die: after the key file has the next key and before
    the log names it, and after the log names it and before the key file drops the old key.
    Run again, each ends with one hand-over, to the key saved first, and a log that verifies."""
    for stop_after_hand_over in (False, True):
        home = _home(tmp_path / str(stop_after_hand_over))
        key_file = load_config(home).key_file
        keyring = Keyring.load(key_file)
        pending = keyring.start_audit_rotation()
        keyring.save(key_file)
        if stop_after_hand_over:
            store = open_store(load_config(home))
            AuditLog.for_store(store).hand_over(pending)
            store.close()
        shown = runner.invoke(app, ["keys", "show", "--home", str(home)])
        assert "audit key rotation unfinished" in shown.output
        done = runner.invoke(app, ["keys", "rotate", "--audit", "--home", str(home)])
        assert done.exit_code == 0, done.output
        assert "resuming" in done.output
        after = Keyring.load(key_file)
        assert after.audit_key_id == ed25519_key_id(pending.public_key())
        assert after.audit_next_key is None
        assert _keys_changed(home) == 1
        verified = runner.invoke(app, ["audit", "verify", "--home", str(home)])
        assert verified.exit_code == 0, verified.output
    nothing = runner.invoke(app, ["keys", "rotate", "--audit", "--resume", "--home", str(home)])
    assert nothing.exit_code == 2
    assert "no audit key rotation to resume" in nothing.output
