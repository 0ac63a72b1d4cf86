"""The ingest invariants, over a connector that reads a list held in memory.

The connectors themselves are tested against real databases and servers in
tests/connectors; here the subject is the pipeline: store or quarantine, never drop.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from hub.ingest import StreamReport, new_run_id, sync_stream
from hub.store import Store, quarantine
from tests.ingest.listsource import ListSource, person_row


def broken_rows() -> list[dict[str, Any]]:
    rows = [person_row(n) for n in range(1, 41)]
    rows[4]["SFZH"] = rows[4]["SFZH"][:-1] + ("1" if rows[4]["SFZH"][-1] != "1" else "2")
    rows[9]["CSRQ"] = "1990-13-45"
    rows[14].pop("XM")
    rows[19]["MZ"] = "火星族"
    return rows


def sync(store: Store, source: ListSource, batch_size: int = 7) -> StreamReport:
    return sync_stream(store, source, source.streams()[0], new_run_id(), batch_size)


def test_every_row_is_stored_or_quarantined(store: Store) -> None:
    report = sync(store, ListSource(broken_rows()))
    assert report.error is None
    assert report.read == 40
    assert (report.stored, report.quarantined) == (36, 4)
    assert report.read == report.stored + report.quarantined
    assert store.count("person") == 36
    assert dict(report.failures) == {
        "id_number:id_check_digit": 1,
        "birth_date:date_format": 1,
        "name:required": 1,
        "ethnicity:unknown_code": 1,
    }
    assert report.examples["name:required"] == ["P0015"]
    quarantined = {q.source_key: q for q in store.quarantined()}
    assert set(quarantined) == {"P0005", "P0010", "P0015", "P0020"}
    assert quarantined["P0020"].row["MZ"] == "火星族"
    assert quarantined["P0020"].failures[0]["rule"] == "unknown_code"


def test_quarantine_keeps_raw_rows_sealed(store: Store) -> None:
    rows = broken_rows()
    sync(store, ListSource(rows))
    with store.engine.connect() as conn:
        raw = str(conn.execute(quarantine.select()).all())
    assert rows[4]["SFZH"] not in raw
    assert "id_number:id_check_digit" in raw


def test_a_second_sync_reads_nothing_and_a_full_resync_changes_nothing(store: Store) -> None:
    rows = broken_rows()
    sync(store, ListSource(rows))
    assert sync(store, ListSource(rows)).read == 0
    with store.begin() as tx:
        tx.save_state("police_list", "people", {}, dt.datetime.now(dt.UTC))
    again = sync(store, ListSource(rows))
    assert (again.read, again.counts.unchanged, again.counts.inserted, again.quarantined) == (
        40,
        36,
        0,
        4,
    )
    assert store.count("person") == 36
    assert len(store.quarantined()) == 4


def test_a_failed_stream_keeps_committed_batches_and_resumes(store: Store) -> None:
    rows = [person_row(n) for n in range(1, 51)]
    first = sync(store, ListSource(rows, fail_after=3), batch_size=10)
    assert first.error is not None
    assert "source went away" in first.error
    assert store.count("person") == 30
    second = sync(store, ListSource(rows), batch_size=10)
    assert (second.read, second.counts.inserted) == (20, 20)
    assert store.count("person") == 50


def test_a_corrected_row_resolves_its_quarantine_entry(store: Store) -> None:
    rows = broken_rows()
    sync(store, ListSource(rows))
    fixed = person_row(15) | {"updated": 100}
    report = sync(store, ListSource([*rows, fixed]))
    assert (report.read, report.counts.inserted) == (1, 1)
    assert {q.source_key for q in store.quarantined()} == {"P0005", "P0010", "P0020"}
    assert [q.source_key for q in store.quarantined("resolved")] == ["P0015"]


@pytest.mark.parametrize("batch_size", [1, 3, 40, 1000])
def test_counts_hold_for_any_batch_size(store: Store, batch_size: int) -> None:
    report = sync(store, ListSource(broken_rows()), batch_size=batch_size)
    assert report.read == report.stored + report.quarantined == 40


def test_one_natural_key_under_two_source_keys_is_a_duplicate(store: Store) -> None:
    rows = [person_row(n) for n in range(1, 21)]
    twin = rows[3] | {"pk": "P9999", "updated": 50}
    in_batch_twin = rows[5] | {"pk": "P9998", "updated": 6}
    report = sync(store, ListSource([*rows, in_batch_twin, twin]), batch_size=10)
    assert (report.read, report.stored, report.quarantined) == (22, 20, 2)
    assert report.failures == {"id_number:duplicate_key": 2}
    assert {q.source_key for q in store.quarantined()} == {"P9998", "P9999"}
