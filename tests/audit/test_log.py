"""The audit log on both backends: it verifies when intact, and every kind of tampering
done straight through SQL, as an attacker with write access to the database (and the
hub's code) would, is caught by ``verify`` at the first bad position."""

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
from hub.audit.checkpoint import cosign
from hub.audit.log import entry_bytes
from hub.audit.merkle import MerkleTree, leaf_hash
from hub.audit.note import Cosigner
from hub.cli import app
from hub.config import load_config, open_store
from hub.store import Keyring, Store
from hub.store.keyring import ed25519_key_id
from hub.store.tables import (
    audit_checkpoints,
    audit_cosignatures,
    audit_log,
    audit_records,
    audit_tree,
)

KEY = Ed25519PrivateKey.generate()
ENTRIES = 300
BATCH = 4
"""The template log is appended four entries a transaction: a checkpoint every 4."""
ROOT = Path(__file__).resolve().parents[2]
TABLES = (audit_log, audit_records, audit_tree, audit_checkpoints, audit_cosignatures)


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
    return AuditLog(store, KEY, **options)


Rows = dict[str, list[dict[str, Any]]]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Rows:
    """The rows of a 300-entry log made through the API once; tests copy them in."""
    store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('tpl') / 'a.db'}", Keyring.generate())
    store.create_schema()
    log = make_log(store)
    for start in range(1, ENTRIES + 1, BATCH):
        log.append_all([event(i) for i in range(start, start + BATCH)])
    with store.engine.connect() as conn:
        rows = {t.name: [dict(r._mapping) for r in conn.execute(select(t))] for t in TABLES}
    store.close()
    return rows


def restore(store: Store, rows: Rows) -> None:
    with store.engine.begin() as conn:
        for table in TABLES:
            conn.execute(delete(table))
            if rows[table.name]:
                conn.execute(insert(table), rows[table.name])


@pytest.fixture
def seeded(store: Store, template: Rows) -> AuditLog:
    restore(store, template)
    return make_log(store)


def test_appends_verify_and_every_transaction_is_checkpointed(store: Store) -> None:
    log = make_log(store)
    assert [log.append(event(i)) for i in range(1, 11)] == list(range(1, 11))
    assert log.append_all([event(i) for i in range(11, 16)]) == list(range(11, 16))
    result = log.verify()
    assert result.ok, result
    assert (result.entries, result.first_bad, result.checkpoints) == (15, None, 11)
    assert [c.size for c in log.checkpoints()] == [*range(1, 11), 15]
    latest = log.latest()
    assert latest is not None
    assert latest.note.startswith(f"{log.origin}\n15\n")
    assert "\nprev 10\n" in latest.note
    assert log.checkpoint() == log.checkpoint_at(15)


def test_a_checkpoint_is_due_after_n_entries_or_the_interval(store: Store) -> None:
    ticks = iter(range(10_000))
    start = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    log = make_log(
        store,
        checkpoint_every=20,
        checkpoint_interval=5,
        clock=lambda: start + dt.timedelta(seconds=next(ticks)),
    )
    for i in range(12):
        log.append(event(i))
    assert [c.size for c in log.checkpoints()] == [1, 6, 11]  # the first, then 5 s on
    result = log.verify()
    assert (result.ok, result.checkpoints) == (True, 3)


# --- tampering ------------------------------------------------------------------------


def _row(conn: Connection, seq: int) -> Any:
    return conn.execute(select(audit_log).where(audit_log.c.seq == seq)).one()


def _set_entry(conn: Connection, at_seq: int, /, **values: Any) -> None:
    conn.execute(update(audit_log).where(audit_log.c.seq == at_seq).values(**values))


def _entries(conn: Connection) -> list[tuple[dt.datetime, str]]:
    rows = conn.execute(select(audit_log.c.at, audit_log.c.event).order_by(audit_log.c.seq))
    return [(row.at, row.event) for row in rows]


def rewrite(
    conn: Connection,
    entries: list[tuple[dt.datetime, str]],
    key: Ed25519PrivateKey | None = None,
) -> None:
    """Replace the log by ``entries``, leaves and tree recomputed as the hub's code would;
    with ``key`` also every checkpoint (one per entry) signed anew with it."""
    for table in (audit_log, audit_tree):
        conn.execute(delete(table))
    leaves = []
    for seq, (at, body) in enumerate(entries, 1):
        leaf = leaf_hash(entry_bytes(seq, at, body))
        conn.execute(insert(audit_log).values(seq=seq, at=at, event=body, hash=leaf.hex()))
        leaves.append(leaf)
    MerkleTree().extend(conn, leaves, 0)
    if key is not None:
        conn.execute(delete(audit_checkpoints))
        log = AuditLog(conn.engine, key)
        for size in range(1, len(entries) + 1):
            log._sign(conn, log._signer(conn), size)


def modify_event(conn: Connection) -> None:
    document = json.loads(_row(conn, 17).event)
    document["outcome"] = "allowed" if document["outcome"] == "denied" else "denied"
    _set_entry(conn, 17, event=canonical_json(document))


def modify_time(conn: Connection) -> None:
    _set_entry(conn, 8, at=_row(conn, 8).at + dt.timedelta(seconds=1))


def modify_leaf(conn: Connection) -> None:
    _set_entry(conn, 33, hash="f" * 64)


def delete_newest(conn: Connection) -> None:
    conn.execute(delete(audit_log).where(audit_log.c.seq == ENTRIES))


def delete_101_to_224_with_their_checkpoints(conn: Connection) -> None:
    conn.execute(delete(audit_log).where(audit_log.c.seq.between(101, 224)))
    conn.execute(delete(audit_checkpoints).where(audit_checkpoints.c.size.between(101, 224)))


def delete_every_checkpoint(conn: Connection) -> None:
    conn.execute(delete(audit_checkpoints))


def delete_checkpoints_reattribute_and_recompute(conn: Connection) -> None:
    """Without the key: blame client-0's accesses on client-1, then recompute everything
    that can be recomputed without signing."""
    conn.execute(delete(audit_checkpoints))
    entries = [(at, body.replace('"client-0"', '"client-1"')) for at, body in _entries(conn)]
    rewrite(conn, entries)


def cut_a_range_and_rehash(conn: Connection) -> None:
    entries = _entries(conn)
    rewrite(conn, entries[:49] + entries[80:])


def forge_an_entry_at_the_head(conn: Connection) -> None:
    entries = _entries(conn)
    rewrite(conn, [*entries, (entries[-1][0], event(999).canonical())])


def swap_two_entries(conn: Connection) -> None:
    entries = _entries(conn)
    entries[11], entries[12] = entries[12], entries[11]
    rewrite(conn, entries)


def delete_a_middle_checkpoint(conn: Connection) -> None:
    conn.execute(delete(audit_checkpoints).where(audit_checkpoints.c.size == 100))


def sign_with_another_key(conn: Connection) -> None:
    rewrite(conn, _entries(conn), Ed25519PrivateKey.generate())


def move_a_tree_node(conn: Connection) -> None:
    t = audit_tree.c
    conn.execute(update(audit_tree).where(t.level == 3, t.idx == 2).values(hash=b"\x00" * 32))


TAMPERING: list[tuple[Callable[[Connection], None], int, str]] = [
    (modify_event, 17, "entry modified"),
    (modify_time, 8, "entry modified"),
    (modify_leaf, 33, "entry modified"),
    (delete_newest, ENTRIES, "checkpointed to 300"),
    (delete_101_to_224_with_their_checkpoints, 101, "a checkpoint was removed"),
    (delete_every_checkpoint, 1, "covered by no checkpoint"),
    (delete_checkpoints_reattribute_and_recompute, 1, "covered by no checkpoint"),
    (cut_a_range_and_rehash, 49, "do not hash to the root"),
    (forge_an_entry_at_the_head, 301, "covered by no checkpoint"),
    (swap_two_entries, 9, "do not hash to the root"),
    (delete_a_middle_checkpoint, 97, "a checkpoint was removed"),
    (sign_with_another_key, 1, "refused"),
    (move_a_tree_node, 24, "stored Merkle tree differs"),
]


def test_tampering_is_found_at_the_first_bad_position(
    store: Store, template: Rows, subtests: pytest.Subtests
) -> None:
    """One store per backend for all cases (the schema is the slow part on PostgreSQL):
    each case tampers a fresh copy of the template log."""
    log = make_log(store)
    for tamper, first_bad, reason in TAMPERING:
        with subtests.test(tamper.__name__):
            restore(store, template)
            assert log.verify().ok
            with store.engine.begin() as conn:
                tamper(conn)
            result = log.verify(chunk=7)
            assert not result.ok
            assert reason in (result.reason or ""), result
            assert result.first_bad == first_bad, result


def test_only_witnesses_catch_a_rewrite_signed_with_the_hubs_own_key(
    store: Store, template: Rows
) -> None:
    """The hub's key re-signs a rewritten log consistently; the cosignatures a witness
    gave before do not hold over it, and deleting them leaves a witness with none."""
    log = make_log(store)
    witness = Cosigner("police-witness", Ed25519PrivateKey.generate())
    for deleted in (False, True):
        restore(store, template)
        stored = log.checkpoint_at(200)
        assert stored is not None
        line = cosign(stored.checkpoint, witness)
        log.add_cosignature(200, line, witness.verifier())
        assert log.verify(witnesses=[witness.verifier()]).ok
        with store.engine.begin() as conn:
            entries = _entries(conn)
            entries[150] = (entries[150][0], event(0).canonical())
            rewrite(conn, entries, KEY)
            if deleted:
                conn.execute(delete(audit_cosignatures))
        assert log.verify().ok, "without witnesses a rewrite with the hub's key is unseen"
        result = log.verify(witnesses=[witness.verifier()])
        assert not result.ok
        assert ("cosigned nothing" if deleted else "rewritten below a witnessed size") in (
            result.reason or ""
        ), result


def test_a_cosigned_checkpoint_deleted_is_caught(store: Store, template: Rows) -> None:
    restore(store, template)
    log = make_log(store)
    witness = Cosigner("grid-witness", Ed25519PrivateKey.generate())
    stored = log.checkpoint_at(120)
    assert stored is not None
    log.add_cosignature(120, cosign(stored.checkpoint, witness), witness.verifier())
    with store.engine.begin() as conn:
        conn.execute(delete(audit_checkpoints).where(audit_checkpoints.c.size == 120))
    result = log.verify(witnesses=[witness.verifier()])
    assert not result.ok
    assert "a checkpoint was removed" in (result.reason or "")


def test_an_auditor_verifies_with_the_public_key_alone(seeded: AuditLog, store: Store) -> None:
    auditor = AuditLog(store, public_key=KEY.public_key())
    assert auditor.verify().ok
    with pytest.raises(AuditError):
        auditor.append(event(1))
    stranger = Ed25519PrivateKey.generate().public_key()
    result = seeded.verify(public_key=stranger)
    assert (result.ok, result.first_bad) == (False, 1)
    with pytest.raises(AuditError):
        AuditLog(store).verify()


def test_search_by_client_kind_purpose_record_and_time(seeded: AuditLog) -> None:
    def seqs(**filters: Any) -> list[int]:
        return [e.seq for e in seeded.search(chunk=8, **filters)]

    assert seqs(client_id="client-1") == list(range(1, ENTRIES + 1, 3))
    assert seqs(kind="house", client_id="client-0") == list(range(6, ENTRIES + 1, 6))
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


def test_concurrent_appends_from_threads_make_one_log(store: Store) -> None:
    log = AuditLog(store, KEY, checkpoint_every=7)
    with ThreadPoolExecutor(4) as pool:
        seqs = list(pool.map(lambda i: log.append(event(i)), range(100)))
    assert sorted(seqs) == list(range(1, 101))
    result = log.verify()
    # Concurrent appends share transactions (group commit): one checkpoint may cover more
    # than seven entries, never fewer checkpoints than the cadence lets verify accept.
    assert (result.ok, result.entries) == (True, 100)
    assert 1 <= result.checkpoints <= 15


_APPENDER = textwrap.dedent(
    """
    import os, sys
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from hub.audit import AuditEvent, AuditLog
    from hub.store import engine_for
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(os.environ["AUDIT_KEY"]))
    log = AuditLog(engine_for(sys.argv[1]), key)
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


def test_concurrent_appends_from_processes_make_one_log(
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
    assert (result.ok, result.entries, result.checkpoints) == (True, 80, 80)


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
    assert "intact: 5 entries, 5 signed checkpoints" in verified.output
    signed = runner.invoke(app, ["audit", "checkpoint", "--home", str(home)])
    assert signed.exit_code == 0, signed.output
    assert "checkpoint of tree size 5" in signed.output
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
