"""Archiving the audit log on both backends: entries older than the retention period go
to a file with their signed checkpoint and proofs; the database verifies without them,
the file verifies alone, and tampering with either is caught with a reason."""

from __future__ import annotations

import datetime as dt
import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, delete, func, insert, select, update
from typer.testing import CliRunner

from hub.audit import AuditEvent, AuditLog
from hub.audit.archive import ACTION, archive, archives, log_key_of_archive, verify_archive
from hub.audit.checkpoint import Checkpoint, sign_checkpoint
from hub.audit.errors import ArchiveError, RetentionError
from hub.audit.note import Signer
from hub.cli import app
from hub.config import load_config, open_store
from hub.store import Store
from hub.store.tables import audit_archives, audit_log, audit_records, audit_tree

KEY = Ed25519PrivateKey.generate()
NOW = dt.datetime.now(dt.UTC)


def event(i: int) -> AuditEvent:
    return AuditEvent(
        action="records.query",
        outcome="allowed",
        client_id=f"client-{i % 3}",
        purpose="case-work",
        kind="person",
        record_ids=[f"person/{i}"],
        request_id=f"req-{i}",
    )


def backdated(store: Store | Any) -> AuditLog:
    """Entries 1..20 300 days ago, 21..43 200 days ago, 44..60 now, appended one by one
    and checkpointed every 5 (sizes 1, 6, 11, …, 56) and at the head, 60."""
    moment = [NOW - dt.timedelta(days=300)]
    log = AuditLog(store, KEY, checkpoint_every=5, checkpoint_interval=1e9, clock=lambda: moment[0])
    for i in range(1, 61):
        if i == 21:
            moment[0] = NOW - dt.timedelta(days=200)
        elif i == 44:
            moment[0] = dt.datetime.now(dt.UTC)
        log.append(event(i))
    log.checkpoint()
    return AuditLog(store, KEY)


def days_ago(days: int) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


def count(conn: Connection, table: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_archive_in_two_ranges_then_the_log_and_each_file_verify(
    store: Store, tmp_path: Path
) -> None:
    log = backdated(store)
    vkey = log.verifier.vkey()
    one = archive(log, days_ago(250), tmp_path / "a" / "one.json", subject="cli:test")
    assert (one.record.first, one.record.last, one.record.entry) == (1, 16, 61)
    two = archive(log, days_ago(190), tmp_path / "a" / "two.json")
    assert (two.record.first, two.record.last, two.record.entry) == (17, 41, 62)
    assert stat.S_IMODE((tmp_path / "a" / "one.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700

    result = log.verify(chunk=7)
    assert result.ok, result
    assert (result.entries, result.archived) == (62, 41)
    assert archives(log) == [one.record, two.record]

    first = verify_archive(one.path, vkey)
    assert (first.ok, first.first, first.last, first.latest) == (True, 1, 16, 60), first
    second = verify_archive(two.path, vkey)
    assert (second.ok, second.first, second.last, second.latest) == (True, 17, 41, 61), second
    assert second.sha256 == two.record.sha256

    with store.engine.connect() as conn:
        assert conn.execute(select(func.min(audit_log.c.seq))).scalar() == 42
        assert conn.execute(select(func.min(audit_records.c.seq))).scalar() == 42
        assert count(conn, audit_tree) > 60  # every leaf and node is kept
    found = log.search(action=ACTION)
    assert [e.seq for e in found] == [61, 62]
    assert found[0].event.subject == "cli:test"
    assert found[0].event.detail == one.record.detail()
    assert [e.seq for e in log.search(limit=100)][:2] == [42, 43]
    assert log.entry(5) is None
    document = json.loads(one.path.read_text())
    stored = [(e["seq"], e["event"]) for e in document["entries"]]
    assert stored[0] == (1, event(1).canonical())

    with pytest.raises(ArchiveError, match="nothing to archive"):
        archive(log, days_ago(190), tmp_path / "a" / "three.json")


def test_a_cut_within_the_retention_period_is_refused(store: Store, tmp_path: Path) -> None:
    log = backdated(store)
    with pytest.raises(RetentionError, match="kept 180 days"):
        archive(log, days_ago(179), tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()
    assert log.verify().archived == 0


def test_nothing_is_removed_when_the_file_cannot_be_written(store: Store, tmp_path: Path) -> None:
    log = backdated(store)
    (tmp_path / "not-a-folder").write_text("")
    with store.engine.connect() as conn:
        before = [count(conn, t) for t in (audit_log, audit_records, audit_tree)]
    with pytest.raises(ArchiveError, match="nothing was removed"):
        archive(log, days_ago(190), tmp_path / "not-a-folder" / "a.json")
    with store.engine.connect() as conn:
        assert [count(conn, t) for t in (audit_log, audit_records, audit_tree)] == before
        assert count(conn, audit_archives) == 0
    result = log.verify()
    assert (result.ok, result.entries, result.archived) == (True, 60, 0)


# --- tampering with the archive file -------------------------------------------------------


def alter_an_entry(doc: dict[str, Any]) -> None:
    doc["entries"][7]["event"] = doc["entries"][7]["event"].replace("client-", "client-9")


def drop_an_entry(doc: dict[str, Any]) -> None:
    del doc["entries"][7]


def drop_the_last_entry(doc: dict[str, Any]) -> None:
    del doc["entries"][-1]


def forge_the_checkpoint(doc: dict[str, Any]) -> None:
    """Sign the range's checkpoint anew, under the log's origin, with another key."""
    origin, size = doc["checkpoint"].split("\n")[:2]
    forged = Checkpoint(origin, int(size), b"\x07" * 32, ("prev 0",))
    doc["checkpoint"] = sign_checkpoint(forged, Signer(origin, Ed25519PrivateKey.generate()))


def move_a_time(doc: dict[str, Any]) -> None:
    at = dt.datetime.fromisoformat(doc["entries"][3]["at"]) + dt.timedelta(seconds=1)
    doc["entries"][3]["at"] = at.isoformat(timespec="microseconds")


def break_the_consistency_proof(doc: dict[str, Any]) -> None:
    doc["consistency"][0] = "00" * 32


FILE_TAMPERING: list[tuple[Callable[[dict[str, Any]], None], str]] = [
    (alter_an_entry, "do not hash to the root signed at size 41"),
    (drop_an_entry, "archived entry 8 is missing (next is 9)"),
    (drop_the_last_entry, "holds 40 entries, not the 41"),
    (forge_the_checkpoint, "the archived range's checkpoint is refused"),
    (move_a_time, "do not hash to the root"),
    (break_the_consistency_proof, "consistency proof from size 41"),
]


def test_tampering_with_the_file_is_caught(store: Store, tmp_path: Path) -> None:
    log = backdated(store)
    done = archive(log, days_ago(190), tmp_path / "audit.json")
    vkey = log.verifier.vkey()
    assert verify_archive(done.path, vkey).ok
    for tamper, reason in FILE_TAMPERING:
        doc = json.loads(done.path.read_text())
        tamper(doc)
        copy = tmp_path / f"{tamper.__name__}.json"
        copy.write_text(json.dumps(doc))
        result = verify_archive(copy, vkey)
        assert not result.ok, tamper.__name__
        assert reason in (result.reason or ""), (tamper.__name__, result)
    other = AuditLog(store, Ed25519PrivateKey.generate()).verifier.vkey()
    result = verify_archive(done.path, other)
    assert not result.ok
    assert "not the one given" in (result.reason or "")


# --- tampering with the database ---------------------------------------------------------


def delete_the_archive_record(conn: Connection) -> None:
    conn.execute(delete(audit_archives))


def extend_the_archive_record(conn: Connection) -> None:
    """Claim 42..46 archived too, at the signed root of 46, and drop them."""
    conn.execute(update(audit_archives).values(last=46, root=_root(conn, 46)))
    conn.execute(delete(audit_log).where(audit_log.c.seq.between(42, 46)))


def extend_the_record_and_its_entry(conn: Connection) -> None:
    """As above, and rewrite the audit.archived entry to state the longer range."""
    extend_the_archive_record(conn)
    row = conn.execute(select(audit_log).where(audit_log.c.seq == 61)).one()
    text = row.event.replace('"last":41', '"last":46').replace(_root(conn, 41), _root(conn, 46))
    conn.execute(update(audit_log).where(audit_log.c.seq == 61).values(event=text))


def delete_the_archived_entry(conn: Connection) -> None:
    conn.execute(delete(audit_log).where(audit_log.c.seq == 61))


def delete_rows_beyond_the_archive(conn: Connection) -> None:
    conn.execute(delete(audit_log).where(audit_log.c.seq.between(50, 52)))


def delete_the_first_unarchived_row(conn: Connection) -> None:
    conn.execute(delete(audit_log).where(audit_log.c.seq == 42))


def forge_an_entry_in_the_archived_range(conn: Connection) -> None:
    body = event(999).canonical()
    conn.execute(insert(audit_log).values(seq=7, at=days_ago(200), event=body, hash="0" * 64))


def alter_an_archived_leaf(conn: Connection) -> None:
    t = audit_tree.c
    conn.execute(update(audit_tree).where(t.level == 0, t.idx == 9).values(hash=b"\x01" * 32))


def _root(conn: Connection, size: int) -> str:
    log = AuditLog(conn.engine, KEY)
    return log.tree.root(conn, size).hex()


DB_TAMPERING: list[tuple[Callable[[Connection], None], int, str]] = [
    (delete_the_archive_record, 1, "entry 1 is missing (next is 42)"),
    (extend_the_archive_record, 1, "is not what entry 61 states: archive record altered"),
    (extend_the_record_and_its_entry, 61, "entry modified"),
    (delete_the_archived_entry, 1, "is not what entry 61 states"),
    (delete_rows_beyond_the_archive, 50, "entry 50 is missing (next is 53)"),
    (delete_the_first_unarchived_row, 42, "entry 42 is missing (next is 43)"),
    (forge_an_entry_in_the_archived_range, 7, "entry forged"),
    (alter_an_archived_leaf, 10, "stored Merkle tree differs"),
]


def test_tampering_with_the_database_after_archiving_is_caught(
    store: Store, tmp_path: Path, subtests: pytest.Subtests
) -> None:
    log = backdated(store)
    archive(log, days_ago(190), tmp_path / "audit.json")
    with store.engine.connect() as conn:
        tables = [audit_log, audit_records, audit_tree, audit_archives]
        saved = {t.name: [dict(r._mapping) for r in conn.execute(select(t))] for t in tables}
    for tamper, first_bad, reason in DB_TAMPERING:
        with subtests.test(tamper.__name__):
            with store.engine.begin() as conn:
                for table in tables:
                    conn.execute(delete(table))
                    conn.execute(insert(table), saved[table.name])
            assert log.verify().ok
            with store.engine.begin() as conn:
                tamper(conn)
            result = log.verify(chunk=6)
            assert not result.ok, tamper.__name__
            assert reason in (result.reason or ""), result
            assert result.first_bad == first_bad, result


# --- the CLI ---------------------------------------------------------------------------


def test_cli_archive_verify_archive_and_log_key(tmp_path: Path) -> None:
    runner = CliRunner()
    home = tmp_path / "hub"
    made = runner.invoke(app, ["init", "--home", str(home)])
    assert made.exit_code == 0, made.output
    store = open_store(load_config(home))
    moment = [days_ago(200)]
    log = AuditLog.for_store(store, clock=lambda: moment[0])
    for i in range(1, 11):
        log.append(event(i))
    moment[0] = dt.datetime.now(dt.UTC)
    log.append(event(11))
    store.close()

    refused = runner.invoke(
        app, ["audit", "archive", "--before", days_ago(10).date().isoformat(), "--home", str(home)]
    )
    assert refused.exit_code == 2
    assert "kept 180 days" in refused.output
    cut = days_ago(190).date().isoformat()
    done = runner.invoke(app, ["audit", "archive", "--before", cut, "--home", str(home)])
    assert done.exit_code == 0, done.output
    assert "archived entries 1..10" in done.output
    folder = home / "archive"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    (path,) = folder.iterdir()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    verified = runner.invoke(app, ["audit", "verify", "--home", str(home)])
    assert verified.exit_code == 0, verified.output
    assert "12 entries (10 archived)" in verified.output
    checked = runner.invoke(app, ["audit", "verify-archive", str(path), "--home", str(home)])
    assert checked.exit_code == 0, checked.output
    assert "archive intact: entries 1..10" in checked.output
    key = runner.invoke(app, ["audit", "key", "--home", str(home)])
    assert key.exit_code == 0, key.output
    vkey = key.output.strip()
    alone = runner.invoke(app, ["audit", "verify-archive", str(path), "--log-key", vkey])
    assert alone.exit_code == 0, alone.output

    store = open_store(load_config(home))
    (entry,) = AuditLog.for_store(store).search(action=ACTION)
    store.close()
    assert entry.event.subject is not None
    assert entry.event.subject.startswith("cli:")
    assert entry.event.detail["file"] == path.name
    assert entry.event.detail["sha256"] in done.output

    doc = json.loads(path.read_text())
    del doc["entries"][3]
    path.write_text(json.dumps(doc))
    broken = runner.invoke(app, ["audit", "verify-archive", str(path), "--log-key", vkey])
    assert broken.exit_code == 1
    assert "archive BROKEN: archived entry 4 is missing" in broken.output


def test_a_range_archived_after_a_key_rotation_verifies_with_the_key_of_its_day(
    store: Store, tmp_path: Path
) -> None:
    """The archive's checkpoints are the old key's (the newest one it signs: the hand-over),
    and the hub finds that key for ``verify-archive`` from the file's range."""
    log = backdated(store)
    old = log.verifier
    change = log.hand_over(Ed25519PrivateKey.generate())
    log.append(event(99))
    done = archive(log, days_ago(250), tmp_path / "one.json")
    path = done.path
    assert log_key_of_archive(log, path) == old.vkey() != log.verifier.vkey()
    checked = verify_archive(path, old.vkey())
    assert (checked.ok, checked.last, checked.latest) == (True, 16, change.size), checked
    assert log.verify().ok
