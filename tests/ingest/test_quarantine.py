from __future__ import annotations

import pytest

from hub.ingest import new_run_id, sync_stream
from hub.ingest.quarantine import NoSuchEntry, resubmit
from hub.store import Store, quarantine
from tests.ingest.listsource import ListSource, person_row


def _quarantine_one(store: Store) -> tuple[ListSource, int]:
    rows = [person_row(n) for n in range(1, 6)]
    rows[2]["CSRQ"] = "1990-02-30"
    source = ListSource(rows)
    sync_stream(store, source, source.streams()[0], new_run_id())
    [entry] = store.quarantined()
    assert entry.id is not None
    return source, entry.id


def test_a_corrected_row_is_stored_and_its_entry_resolved(store: Store) -> None:
    source, entry_id = _quarantine_one(store)
    entry = resubmit(store, source.streams()[0], entry_id, {"CSRQ": "1990-03-07"}, new_run_id())
    assert entry.status == "resolved"
    assert store.count("person") == 5
    assert store.quarantined() == []


def test_a_correction_that_still_fails_keeps_the_entry_open(store: Store) -> None:
    source, entry_id = _quarantine_one(store)
    entry = resubmit(store, source.streams()[0], entry_id, {"CSRQ": "1990-03-08"}, new_run_id())
    assert entry.status == "open"
    assert [f["rule"] for f in entry.failures] == ["id_birth_date_mismatch"]
    assert entry.row["CSRQ"] == "1990-03-08"
    assert store.count("person") == 4


def test_unknown_entry(store: Store) -> None:
    source, _ = _quarantine_one(store)
    with pytest.raises(NoSuchEntry):
        resubmit(store, source.streams()[0], 9999, {}, new_run_id())


def test_a_source_keyed_by_id_number_keeps_its_keys_sealed(store: Store) -> None:
    rows = [person_row(n) for n in range(1, 6)]
    rows[1]["XM"] = ""
    source = ListSource(rows, primary_key="SFZH")
    sync_stream(store, source, source.streams()[0], new_run_id())
    with store.engine.connect() as conn:
        keys = [r.source_key for r in conn.execute(quarantine.select())]
    stored = [s.provenance.source_key for s in store.records("person")]
    assert stored
    for key in [*keys, *stored]:
        assert key.startswith("~")
        assert all(row["SFZH"] not in key for row in rows)


def test_a_nul_in_a_source_row_is_quarantined_not_a_crash(store: Store) -> None:
    rows = [person_row(n) for n in range(1, 4)]
    rows[1]["XM"] = "张\x00伟"  # PostgreSQL text cannot hold it: the contract refuses it first
    source = ListSource(rows)
    sync_stream(store, source, source.streams()[0], new_run_id())
    [entry] = store.quarantined()
    assert [(f["field"], f["rule"]) for f in entry.failures] == [("name", "control_character")]
    assert store.count("person") == 2
