"""Group commit on both backends: concurrent callers' entries share one transaction, each
caller returns only once its own entries are committed, and a caller whose entries the
database refuses gets the error, never sequence numbers, while the others' still commit."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError

from hub.audit import AuditEvent, AuditLog
from hub.store import Store
from hub.store.tables import audit_checkpoints, audit_log

KEY = Ed25519PrivateKey.generate()
REFUSED = "refused-by-the-database"


def event(i: int, client: str = "client-a") -> AuditEvent:
    return AuditEvent(action="records.query", outcome="allowed", client_id=client, detail={"i": i})


def count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


@pytest.fixture
def refusing(store: Store) -> Iterator[Store]:
    """The store whose database refuses (a trigger, as a full disk or a broken constraint
    would) every audit entry of client ``REFUSED``."""
    sqlite = store.engine.dialect.name == "sqlite"
    with store.engine.begin() as conn:
        if sqlite:
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_entry BEFORE INSERT ON audit_log "
                    f"WHEN NEW.event LIKE '%{REFUSED}%' "
                    "BEGIN SELECT RAISE(ABORT, 'entry refused'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_entry() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.event LIKE '%{REFUSED}%' THEN RAISE EXCEPTION 'entry refused'; "
                    "END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_entry BEFORE INSERT ON audit_log "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_entry()"
                )
            )
    yield store
    with store.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse_entry" + ("" if sqlite else " ON audit_log")))
        if not sqlite:
            conn.execute(text("DROP FUNCTION refuse_entry()"))


def _submitted_together(log: AuditLog, events: list[AuditEvent]) -> list[object]:
    """Append each of ``events`` from a thread of its own while the commit is held, so all
    are queued before the first transaction starts; what each thread got back."""
    group = log._group
    results: list[object] = [None] * len(events)

    def one(n: int) -> None:
        try:
            results[n] = log.append(events[n])
        except DBAPIError as exc:
            results[n] = exc

    with group._commit_lock:
        threads = [threading.Thread(target=one, args=(n,)) for n in range(len(events))]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while len(group._queue) < len(events) and time.monotonic() < deadline:
            time.sleep(0.005)
        assert len(group._queue) == len(events)
    for thread in threads:
        thread.join(30)
    return results


def test_callers_waiting_together_share_one_transaction(store: Store) -> None:
    log = AuditLog(store, KEY)
    log.append(event(0))
    results = _submitted_together(log, [event(i) for i in range(1, 9)])
    assert sorted(results) == list(range(2, 10))  # type: ignore[type-var]
    # One checkpoint for the first entry, one for the eight appended together.
    assert count(store.engine, audit_checkpoints) == 2
    verified = log.verify()
    assert (verified.ok, verified.entries, verified.checkpoints) == (True, 9, 2)


def test_many_threads_get_every_entry_once_and_in_a_verifiable_log(store: Store) -> None:
    log = AuditLog(store, KEY)
    with ThreadPoolExecutor(8) as pool:
        seqs = list(pool.map(lambda i: log.append(event(i)), range(120)))
    assert sorted(seqs) == list(range(1, 121))
    for i, seq in enumerate(seqs):
        found = log.entry(seq)
        assert found is not None
        assert found[0].event.detail == {"i": i}
    assert log.verify().ok


def test_a_refused_entry_fails_its_caller_and_no_other(refusing: Store) -> None:
    log = AuditLog(refusing, KEY)
    events = [event(i, REFUSED if i == 3 else "client-a") for i in range(6)]
    results = _submitted_together(log, events)
    assert isinstance(results[3], DBAPIError)
    kept = [r for n, r in enumerate(results) if n != 3]
    assert all(isinstance(r, int) for r in kept)
    assert sorted(kept) == list(range(1, 6))  # type: ignore[type-var]
    assert count(refusing.engine, audit_log) == 5
    with refusing.engine.connect() as conn:
        stored = conn.execute(select(audit_log.c.event)).scalars().all()
    assert not any(REFUSED in text_ for text_ in stored)
    assert log.verify().ok


def test_a_caller_alone_gets_the_error_of_its_refused_entry(refusing: Store) -> None:
    log = AuditLog(refusing, KEY)
    with pytest.raises(DBAPIError):
        log.append(event(1, REFUSED))
    assert count(refusing.engine, audit_log) == 0
    assert log.append(event(2)) == 1
