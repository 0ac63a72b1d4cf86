"""The parallel sync (worker processes judging and sealing, one writer) stores exactly what
the serial one does, commits in order, and never writes a blind index under a key the
rows are not under."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connectors.sdk import load_source
from hub.errors import KeyringError
from hub.ingest import new_run_id, sync_stream
from hub.ingest.judging import prepare
from hub.ingest.sync import admit_rows
from hub.reference.police_db import write_police_db
from hub.reference.sources import POLICE_STREAMS
from hub.reference.world import World, generate
from hub.store import Keyring, Sealed, Sealer, Store
from hub.store.store import kind_table
from tests.ingest.listsource import ListSource, person_row


@pytest.fixture(scope="module")
def world() -> World:
    return generate(people=600, seed=11)


@pytest.fixture
def police_url(tmp_path: Path, world: World) -> str:
    url = f"sqlite:///{tmp_path / 'police.db'}"
    write_police_db(world, url).dispose()
    return url


def _sync_all(store: Store, url: str, workers: int) -> dict[str, tuple[int, int, int]]:
    source = load_source("police_db", "police_db", {"url": url, "streams": POLICE_STREAMS})
    run = new_run_id()
    try:
        results = {}
        for stream in source.streams():
            report = sync_stream(store, source, stream, run, batch_size=53, workers=workers)
            assert report.error is None
            results[stream.name] = (report.read, report.stored, report.quarantined)
        return results
    finally:
        source.close()


def _held(store: Store) -> dict[str, Any]:
    """Everything a sync leaves behind, in clear, without what differs run to run (ids,
    times, nonces)."""
    held: dict[str, Any] = {}
    for kind in ("person", "house", "unit"):
        held[kind] = {
            stored.provenance.source_key: (
                stored.record,
                stored.provenance.content_hash,
                store.link_key(stored.record.natural_key()),
            )
            for stored in store.records(kind)
        }
    held["quarantine"] = {
        (q.stream, q.source_key): (q.row, q.failures) for q in store.quarantined()
    }
    held["state"] = {
        str(s["name"]): store.load_state("police_db", str(s["name"])) for s in POLICE_STREAMS
    }
    return held


def test_workers_store_and_quarantine_what_one_process_does(
    store: Store, tmp_path: Path, world: World, police_url: str
) -> None:
    serial = Store.open(f"sqlite:///{tmp_path / 'serial.db'}", store.keyring)
    serial.create_schema()
    try:
        one = _sync_all(serial, police_url, workers=1)
        two = _sync_all(store, police_url, workers=2)
        assert one == two
        for read, stored, quarantined in two.values():
            assert read == stored + quarantined
        assert sum(quarantined for _, _, quarantined in two.values()) > 0
        assert _held(store) == _held(serial)
        assert _sync_all(store, police_url, workers=2) == {
            name: (0, 0, 0) for name in two
        }  # resumed from the saved state: nothing read again
    finally:
        serial.close()


def test_a_source_failing_mid_stream_keeps_every_batch_read_before(store: Store) -> None:
    rows = [person_row(n) for n in range(1, 61)]
    source = ListSource(rows, fail_after=5)
    report = sync_stream(store, source, source.streams()[0], new_run_id(), 7, workers=2)
    assert report.error is not None
    assert "source went away" in report.error
    assert (report.read, store.count("person")) == (35, 35)
    assert store.load_state("police_list", "people") == {"updated": 35}
    again = sync_stream(store, ListSource(rows), source.streams()[0], new_run_id(), 7, workers=2)
    assert (again.error, again.read, store.count("person")) == (None, 25, 60)


def _other_index_key(keyring: Keyring) -> Sealer:
    """A sealer indexing under another key than ``keyring``'s rows are under."""
    rotating = Keyring(
        dict(keyring.data_keys),
        keyring.active,
        keyring.index_key,
        next_index_key=b"\x01" * 32,
    )
    next_key = rotating.next_index_key_id
    assert next_key is not None
    return Sealer(rotating.indexing(next_key))


def test_a_batch_sealed_under_another_index_key_is_sealed_again_in_its_transaction(
    store: Store,
) -> None:
    source = ListSource([person_row(n) for n in range(1, 6)])
    stream = source.streams()[0]
    rows = source.rows
    stale = prepare(stream, rows, _other_index_key(store.keyring))
    assert stale.index_key != store.sealer().index_key
    sealed = [
        (k, s) for k, s in zip(stale.keys, stale.outcomes, strict=True) if isinstance(s, Sealed)
    ]
    with store.begin() as tx, pytest.raises(KeyringError, match="indexed under key"):
        tx.upsert_sealed("police_list", sealed)
    admitted = admit_rows(store, "police_list", stream, rows, new_run_id(), prepared=stale)
    assert admitted.counts.inserted == 5
    table = kind_table("person").table
    with store.engine.connect() as conn:
        links = dict(
            conn.execute(
                table.select().with_only_columns(table.c.source_key, table.c.link_key)
            ).all()
        )
    assert links == {row["pk"]: store.link_key(row["SFZH"]) for row in rows}
