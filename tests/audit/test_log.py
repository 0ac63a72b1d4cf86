"""The audit log on both backends: it verifies when intact, and every kind of tampering
done straight through SQL is caught at the right position."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, delete, insert, select, update
from typer.testing import CliRunner

from hub.audit import AuditError, AuditEvent, AuditLog, canonical_json
from hub.audit.log import checkpoint_message, entry_hash
from hub.cli import app
from hub.config import load_config, open_store
from hub.store import Keyring, Store
from hub.store.keyring import ed25519_key_id
from hub.store.tables import audit_checkpoints, audit_log, audit_records

KEY = Ed25519PrivateKey.generate()
EVERY = 20
ENTRIES = 50
ROOT = Path(__file__).resolve().parents[2]


def event(i: int) -> AuditEvent:
    return AuditEvent(
        action="records.query" if i % 5 else "token.issued",
        outcome="denied" if i % 7 == 0 else "allowed",
        client_id=f"client-{i % 3}",
        subject="officer-7",
        purpose="case-work" if i % 2 else "grid-visit",
        kind="person" if i % 2 else "house",
        filters={"grid_code": f"G{i % 4}", "since": dt.datetime(2025, 1, 1, tzinfo=dt.UTC)},
        record_ids=[f"r{i}", f"r{i + 1}"],
        fields={"clear": ["name"], "masked": ["phone"], "withheld": ["id_number"]},
        policy_id="police-grid",
        policy_version=3,
        request_id=f"req-{i}",
    )


def make_log(store: Store, **options: Any) -> AuditLog:
    return AuditLog(store, KEY, checkpoint_every=EVERY, **options)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Any], list[Any]]:
    """The rows of a 50-entry log made through the API once; tests copy them in."""
    store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('tpl') / 'a.db'}", Keyring.generate())
    store.create_schema()
    log = make_log(store)
    for i in range(1, ENTRIES + 1):
        log.append(event(i))
    with store.engine.connect() as conn:
        entries = [dict(r._mapping) for r in conn.execute(select(audit_log))]
        checkpoints = [dict(r._mapping) for r in conn.execute(select(audit_checkpoints))]
    store.close()
    return entries, checkpoints


@pytest.fixture
def seeded(store: Store, template: tuple[list[Any], list[Any]]) -> AuditLog:
    with store.engine.begin() as conn:
        conn.execute(insert(audit_log), template[0])
        conn.execute(
            insert(audit_records),
            [{"record_id": f"r{s}", "seq": q} for q in range(1, ENTRIES + 1) for s in (q, q + 1)],
        )
        conn.execute(insert(audit_checkpoints), template[1])
    return make_log(store)


def test_appended_entries_chain_verify_and_checkpoint_every_n(store: Store) -> None:
    log = make_log(store)
    assert [log.append(event(i)) for i in range(1, ENTRIES + 1)] == list(range(1, ENTRIES + 1))
    result = log.verify()
    assert result.ok, result
    assert (result.entries, result.first_bad, result.checkpoints) == (ENTRIES, None, 2)
    assert [c.seq for c in log.checkpoints()] == [20, 40]
    made, again = log.checkpoint(), log.checkpoint()
    assert made is not None
    assert (made.seq, again) == (ENTRIES, made)
    assert log.verify().checkpoints == 3


def test_a_checkpoint_is_due_after_the_interval_too(store: Store) -> None:
    ticks = iter(range(10_000))
    start = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    log = make_log(
        store, checkpoint_interval=5, clock=lambda: start + dt.timedelta(seconds=next(ticks))
    )
    for i in range(12):
        log.append(event(i))
    assert [c.seq for c in log.checkpoints()] == [6, 11]  # at t=5 s, then 5 s after t=6
    assert log.verify().ok


def _set_entry(conn: Connection, at_seq: int, /, **values: Any) -> None:
    conn.execute(update(audit_log).where(audit_log.c.seq == at_seq).values(**values))


def _row(conn: Connection, seq: int) -> Any:
    return conn.execute(select(audit_log).where(audit_log.c.seq == seq)).one()


def modify_event(conn: Connection) -> None:
    document = json.loads(_row(conn, 17).event)
    document["outcome"] = "allowed" if document["outcome"] == "denied" else "denied"
    _set_entry(conn, 17, event=canonical_json(document))


def modify_time(conn: Connection) -> None:
    _set_entry(conn, 8, at=_row(conn, 8).at + dt.timedelta(seconds=1))


def modify_hash(conn: Connection) -> None:
    _set_entry(conn, 33, hash="f" * 64)


def delete_middle(conn: Connection) -> None:
    conn.execute(delete(audit_log).where(audit_log.c.seq == 25))


def truncate_into_checkpointed(conn: Connection) -> None:
    conn.execute(delete(audit_log).where(audit_log.c.seq >= 36))


def insert_renumbering(conn: Connection) -> None:
    """A forged entry 30 that chains correctly onto 29; the old 30.. move up by one."""
    for seq in range(ENTRIES, 29, -1):
        _set_entry(conn, seq, seq=seq + 1)
    body, at, prev = event(999).canonical(), _row(conn, 29).at, _row(conn, 29).hash
    conn.execute(
        insert(audit_log).values(
            seq=30, at=at, event=body, prev_hash=prev, hash=entry_hash(prev, body, 30, at)
        )
    )


def insert_duplicate(conn: Connection) -> None:
    copy = dict(_row(conn, 10)._mapping)
    conn.execute(insert(audit_log).values({**copy, "seq": ENTRIES + 1}))


def swap(conn: Connection) -> None:
    _set_entry(conn, 12, seq=-1)
    _set_entry(conn, 13, seq=12)
    _set_entry(conn, -1, seq=13)


def rechain_from(conn: Connection) -> None:
    """Rewrite entry 25 and recompute every hash after it, as one without the key could."""
    prev = _row(conn, 24).hash
    for seq in range(25, ENTRIES + 1):
        row = _row(conn, seq)
        body = event(0).canonical() if seq == 25 else row.event
        digest = entry_hash(prev, body, seq, row.at)
        _set_entry(conn, seq, event=body, prev_hash=prev, hash=digest)
        prev = digest


def forge_signature(conn: Connection) -> None:
    cp = conn.execute(select(audit_checkpoints).where(audit_checkpoints.c.seq == 40)).one()
    forged = Ed25519PrivateKey.generate().sign(checkpoint_message(cp.seq, cp.hash, cp.at))
    conn.execute(
        update(audit_checkpoints)
        .where(audit_checkpoints.c.seq == 40)
        .values(signature=forged.hex())
    )


def sign_with_another_key(conn: Connection) -> None:
    other = Ed25519PrivateKey.generate()
    cp = conn.execute(select(audit_checkpoints).where(audit_checkpoints.c.seq == 20)).one()
    signature = other.sign(checkpoint_message(cp.seq, cp.hash, cp.at)).hex()
    conn.execute(
        update(audit_checkpoints)
        .where(audit_checkpoints.c.seq == 20)
        .values(signature=signature, key_id=ed25519_key_id(other.public_key()))
    )


def change_checkpointed_hash(conn: Connection) -> None:
    conn.execute(
        update(audit_checkpoints).where(audit_checkpoints.c.seq == 20).values(hash="0" * 64)
    )


TAMPERING: list[tuple[Callable[[Connection], None], int, str]] = [
    (modify_event, 17, "entry modified"),
    (modify_time, 8, "entry modified"),
    (modify_hash, 33, "entry modified"),
    (delete_middle, 25, "entry 25 is missing"),
    (truncate_into_checkpointed, 36, "checkpointed to 40"),
    (insert_renumbering, 31, "entry modified"),
    (insert_duplicate, 51, "entry modified"),
    (swap, 12, "entry modified"),
    (rechain_from, 40, "another hash"),
    (forge_signature, 40, "signature is invalid"),
    (sign_with_another_key, 20, "signed by key"),
    (change_checkpointed_hash, 20, "signature is invalid"),
]


def test_tampering_is_found_at_the_first_bad_position(
    seeded: AuditLog, template: tuple[list[Any], list[Any]], subtests: pytest.Subtests
) -> None:
    """One store per backend for all cases (the schema is the slow part on PostgreSQL):
    each case tampers a fresh copy of the template log."""
    for tamper, first_bad, reason in TAMPERING:
        with subtests.test(tamper.__name__):
            with seeded.engine.begin() as conn:
                conn.execute(delete(audit_log))
                conn.execute(delete(audit_checkpoints))
                conn.execute(insert(audit_log), template[0])
                conn.execute(insert(audit_checkpoints), template[1])
            assert seeded.verify().ok
            with seeded.engine.begin() as conn:
                tamper(conn)
            result = seeded.verify(chunk=7)
            assert not result.ok
            assert result.first_bad == first_bad, result
            assert reason in (result.reason or ""), result
            assert result.entries == first_bad - 1


def test_a_cut_tail_after_the_last_checkpoint_goes_unseen(seeded: AuditLog) -> None:
    """The documented limit of a hash chain: only checkpoints bound the tail."""
    with seeded.engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq > 40))
    result = seeded.verify()
    assert (result.ok, result.entries) == (True, 40)


def test_an_auditor_verifies_with_the_public_key_alone(seeded: AuditLog, store: Store) -> None:
    auditor = AuditLog(store, public_key=KEY.public_key())
    assert auditor.verify().ok
    with pytest.raises(AuditError):
        auditor.append(event(1))
    stranger = Ed25519PrivateKey.generate().public_key()
    result = seeded.verify(public_key=stranger)
    assert (result.ok, result.first_bad) == (False, 20)
    with pytest.raises(AuditError):
        AuditLog(store).verify()


def test_search_by_client_kind_purpose_record_and_time(seeded: AuditLog) -> None:
    def seqs(**filters: Any) -> list[int]:
        return [e.seq for e in seeded.search(chunk=8, **filters)]

    assert seqs(client_id="client-1") == list(range(1, ENTRIES + 1, 3))
    assert seqs(kind="house", client_id="client-0") == [6, 12, 18, 24, 30, 36, 42, 48]
    assert seqs(purpose="case-work", limit=3) == [1, 3, 5]
    assert seqs(record_id="r10") == [9, 10]
    assert seqs(action="token.issued", limit=2) == [5, 10]
    entries = seeded.search(limit=ENTRIES)
    assert entries[16].event.canonical() == event(17).canonical()
    assert entries[16].as_json()["filters"]["since"] == "2025-01-01T00:00:00.000000+00:00"
    since, until = entries[9].at, entries[19].at
    assert seqs(since=since, until=until, limit=ENTRIES) == [
        e.seq for e in entries if since <= e.at < until
    ]


def test_concurrent_appends_from_threads_make_one_chain(store: Store) -> None:
    log = AuditLog(store, KEY, checkpoint_every=7)
    with ThreadPoolExecutor(4) as pool:
        seqs = list(pool.map(lambda i: log.append(event(i)), range(100)))
    assert sorted(seqs) == list(range(1, 101))
    result = log.verify()
    assert (result.ok, result.entries, result.checkpoints) == (True, 100, 14)


_APPENDER = textwrap.dedent(
    """
    import os, sys
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from hub.audit import AuditEvent, AuditLog
    from hub.store import engine_for
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(os.environ["AUDIT_KEY"]))
    log = AuditLog(engine_for(sys.argv[1]), key, checkpoint_every=9)
    print("ready", flush=True)
    sys.stdin.readline()
    seqs = [log.append(AuditEvent(action="records.read", outcome="allowed")) for _ in range(40)]
    print(" ".join(map(str, seqs)), flush=True)
    log.engine.dispose()
    """
)


@pytest.fixture
def audit_key_hex() -> str:
    return KEY.private_bytes_raw().hex()


def test_concurrent_appends_from_processes_make_one_chain(
    store: Store, database_url: str, audit_key_hex: str
) -> None:
    env = {**os.environ, "AUDIT_KEY": audit_key_hex}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _APPENDER, database_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for _ in range(2)
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
    outputs = [proc.communicate("go\n", timeout=60)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0]
    seqs = sorted(int(s) for out in outputs for s in out.split())
    assert seqs == list(range(1, 81))
    result = make_log(store).verify()
    assert (result.ok, result.entries, result.checkpoints) == (True, 80, 8)


def test_canonical_json_is_sorted_compact_utf8_with_utc_microseconds() -> None:
    moment = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    text = canonical_json({"b": [1, {"z": moment}], "a": "张三"})
    assert text == '{"a":"张三","b":[1,{"z":"2025-03-01T00:00:00.000000+00:00"}]}'
    decoded = AuditEvent.model_validate_json(event(3).canonical())
    assert decoded.canonical() == event(3).canonical()


def test_the_audit_key_is_kept_in_the_key_file_and_optional(tmp_path: Path) -> None:
    keyring = Keyring.generate()
    keyring.save(tmp_path / "keys.json")
    loaded = Keyring.load(tmp_path / "keys.json")
    assert loaded.audit_key == keyring.audit_key
    assert loaded.audit_key_id == ed25519_key_id(loaded.audit_signing_key().public_key())
    document = json.loads((tmp_path / "keys.json").read_text())
    del document["audit_key"]
    (tmp_path / "old.json").write_text(json.dumps(document))
    old = Keyring.load(tmp_path / "old.json")
    assert (old.audit_key, old.audit_key_id) == (None, None)
    assert old.index_key == keyring.index_key


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "hub"
    result = CliRunner().invoke(app, ["init", "--home", str(home)])
    assert result.exit_code == 0, result.output
    return home


def test_cli_verify_checkpoint_and_search(home: Path) -> None:
    runner = CliRunner()
    store = open_store(load_config(home))
    log = AuditLog.for_store(store)
    for i in range(1, 6):
        log.append(event(i))
    store.close()

    verified = runner.invoke(app, ["audit", "verify", "--home", str(home)])
    assert verified.exit_code == 0, verified.output
    assert "intact: 5 entries, 0 signed checkpoints" in verified.output
    signed = runner.invoke(app, ["audit", "checkpoint", "--home", str(home)])
    assert signed.exit_code == 0, signed.output
    assert "checkpoint at entry 5" in signed.output
    found = runner.invoke(
        app,
        ["audit", "search", "--client", "client-1", "--since", "2000-01-01", "--home", str(home)],
    )
    assert found.exit_code == 0, found.output
    lines = [json.loads(line) for line in found.output.splitlines()]
    assert [line["seq"] for line in lines] == [1, 4]
    assert lines[0]["record_ids"] == ["r1", "r2"]

    store = open_store(load_config(home))
    with store.engine.begin() as conn:
        _set_entry(conn, 3, event=event(99).canonical())
    store.close()
    broken = runner.invoke(app, ["audit", "verify", "--home", str(home)])
    assert broken.exit_code == 1
    assert "BROKEN at entry 3" in broken.output


def test_cli_refuses_a_key_file_without_an_audit_key(home: Path) -> None:
    keys = home / "keys.json"
    document = json.loads(keys.read_text())
    del document["audit_key"]
    keys.write_text(json.dumps(document))
    result = CliRunner().invoke(app, ["audit", "verify", "--home", str(home)])
    assert result.exit_code == 2
    assert "no audit key" in result.output
