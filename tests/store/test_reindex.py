"""Blind-index rotation on SQLite and PostgreSQL: every record stays findable by its sealed
values through the query layer, before, during and after; both sources' copies of a
person keep one ``link_key`` (and the visit of them its ``record_key_bidx``); partners' ids
and pseudonyms never change; subject access finds the searches for a number made under
the old key and the new; at the end no row holds an index under the old key, which is
retired but kept for the audit log alone. An index its row cannot account for stops the
switch and is reported; the blind-index columns are the ones the tables declare."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, String, Table, func, select, update

from contracts import Person
from hub.store import KIND_TABLES, Keyring, Store, metadata, reindex
from hub.store.indexstate import read_state
from hub.store.reindex import IndexRotationError, Progress, indexed_tables
from hub.store.tables import BLIND_INDEX, blind_indexed, index_keys, index_map
from tests.conftest import SUITES
from tests.data import ID_NUMBERS
from tests.store.reindex_data import (
    Filled,
    check_findable,
    fill,
    index_values,
    search_for,
    subject_seqs,
)


@pytest.fixture(params=SUITES)
def crypto(request: pytest.FixtureRequest) -> str:
    """Every test of this module under each crypto suite (``tests.conftest``)."""
    return str(request.param)


class Stop(Exception):
    """Raised from a progress callback: the rotation stops between two batches."""


@pytest.fixture
def key_file(store: Store, tmp_path: Path) -> Path:
    path = tmp_path / "keys.json"
    store.keyring.save(path)
    store.key_file = path
    return path


def _old_digests(store: Store, filled: Filled, old: str) -> set[str]:
    values = [p.id_number for p in filled.people] + [p.phone for p in filled.people if p.phone]
    return {store.keyring.blind_index(v, old) for v in values}


def _stop_after(batches: int) -> Callable[[Progress], None]:
    seen = []

    def on_batch(progress: Progress) -> None:
        seen.append(progress)
        if len(seen) >= batches:
            raise Stop

    return on_batch


def test_every_index_column_is_declared_in_the_table_definitions() -> None:
    for table in metadata.sorted_tables:
        for column in table.columns:
            if column.name == "link_key" or column.name.endswith("_bidx"):
                assert BLIND_INDEX in column.info, f"{table.name}.{column.name} undeclared"
    declared = {(t.table.name, c.name) for t in indexed_tables() for c, _s in t.columns}
    for kind, kt in KIND_TABLES.items():
        assert {("rec_" + kind, "link_key"), ("rec_" + kind, "source_key")} <= declared
        for field in kt.fields:
            if field.indexed:
                assert ("rec_" + kind, field.index_column) in declared
    assert ("quarantine", "source_key") in declared


def test_a_rotation_keeps_everything_findable_and_retires_the_old_key(
    store: Store, key_file: Path
) -> None:
    filled = fill(store, people=400)
    before_search = search_for(store, ID_NUMBERS[2])
    old = store.keyring.index_key_id
    stale = _old_digests(store, filled, old)
    assert stale & {v for *_w, v in index_values(store)}
    count = len(index_values(store))

    new = reindex.start(store, key_file)
    assert Keyring.load(key_file).next_index_key_id == new  # saved before anything moves
    progress: list[Progress] = []
    report = reindex.run(store, key_file, batch_size=50, on_batch=progress.append, notice=0)

    assert (report.old_key, report.new_key, report.retired) == (old, new, old)
    assert report.unmatched == []
    assert report.unmapped == {}
    assert len(progress) > 10
    check_findable(store, filled)
    values = index_values(store)
    assert len(values) == count
    assert not stale & {v.removeprefix("~") for *_w, v in values}
    after_search = search_for(store, ID_NUMBERS[2])
    found = subject_seqs(store, ID_NUMBERS[2])
    assert {before_search, after_search} <= found

    saved = Keyring.load(key_file)
    assert (saved.index_key_id, saved.next_index_key) == (new, None)
    assert set(saved.retired_index_keys) == {old}
    assert saved.partner_root == store.keyring.partner_root
    with store.engine.connect() as conn:
        assert read_state(conn).in_force == new
        assert dict(conn.execute(select(index_keys.c.key_id, index_keys.c.state)).all()) == {
            old: "retired",
            new: "in_force",
        }
        assert conn.execute(select(func.count()).select_from(index_map)).scalar_one() == 0
    # A store opened afresh from the key file alone agrees.
    again = Store(store.engine, Keyring.load(key_file), key_file)
    check_findable(again, filled)
    with pytest.raises(IndexRotationError, match="no index rotation"):
        reindex.run(store, key_file, notice=0)


def test_during_a_rotation_reads_and_writes_see_one_key_per_value(
    store: Store, key_file: Path
) -> None:
    filled = fill(store, people=300)
    old = store.keyring.index_key_id

    # Stores that know nothing of the rotation (started before it) learn of it: one at its
    # first transaction, one that only reads at its first look-up once its reading of the
    # state is older than its refresh; from then on they look up under both keys.
    def started_before() -> Store:
        return Store(store.engine, Keyring.load(key_file), key_file)

    unaware, reader = started_before(), started_before()
    reader.index_refresh = 0.2
    check_findable(reader, filled)

    new = reindex.start(store, key_file)
    with pytest.raises(Stop):
        reindex.run(store, key_file, batch_size=20, on_batch=_stop_after(3), notice=0)
    with store.engine.connect() as conn:
        mapped = conn.execute(select(func.count()).select_from(index_map)).scalar_one()
    assert mapped > 0
    check_findable(store, filled)  # rows are all under the old key still
    late = filled.people[0].model_dump() | {"id_number": ID_NUMBERS[2], "birth_date": "2012-03-15"}
    person = Person.parse(late)
    with store.begin() as tx:
        tx.upsert("police_db", [("LATE", person)])
        tx.upsert("grid", [(tx.seal_source_key(person.id_number), person)])
        assert tx.link_key(person.id_number) == store.keyring.blind_index(person.id_number, old)
    grown = Filled([*filled.people, person], filled.ids, filled.pseudonyms)

    assert unaware.keyring.next_index_key is None
    with unaware.begin():
        pass
    assert unaware.keyring.next_index_key_id == new
    time.sleep(0.3)
    check_findable(reader, grown)
    assert reader.keyring.next_index_key_id == new

    report = reindex.run(store, key_file, batch_size=200, notice=0)
    assert report.retired == old
    check_findable(store, grown)
    check_findable(unaware, grown)
    check_findable(reader, grown)
    with unaware.begin() as tx:
        assert tx.link_key(person.id_number) == store.keyring.blind_index(person.id_number, new)
    # ... and of its end: it reads the finished key file again.
    assert (unaware.keyring.index_key_id, unaware.keyring.next_index_key) == (new, None)


def test_the_switch_waits_for_every_process_to_have_read_of_the_rotation(
    store: Store, key_file: Path
) -> None:
    fill(store, people=5)
    before = time.monotonic()
    reindex.start(store, key_file)
    assert reindex.run(store, key_file, notice=1.5).retired is not None
    assert time.monotonic() - before >= 1.5


def test_after_the_switch_before_the_end_everything_is_found_and_resumed(
    store: Store, key_file: Path
) -> None:
    filled = fill(store, people=100)
    old = store.keyring.index_key_id
    new = reindex.start(store, key_file)
    report = reindex.Report(old, new)
    reindex._fill(store, report, 500, None)
    assert reindex._switch(store, report)  # killed here, before the key file moves on
    assert Keyring.load(key_file).index_key_id == old
    check_findable(store, filled)
    fresh = Store(store.engine, Keyring.load(key_file), key_file)
    check_findable(fresh, filled)
    with fresh.begin() as tx:
        assert tx.keyring.indexing_key_id == new
    assert reindex.pending(store) == new
    done = reindex.run(store, key_file, notice=0)
    assert (done.retired, done.mapped, done.swept) == (old, {}, {})
    assert Keyring.load(key_file).index_key_id == new
    check_findable(store, filled)


def test_an_index_its_row_cannot_account_for_stops_the_switch(store: Store, key_file: Path) -> None:
    filled = fill(store, people=60)
    old = store.keyring.index_key_id
    people = KIND_TABLES["person"].table
    with store.begin() as tx:
        [row_id] = tx.conn.execute(select(people.c.id).where(people.c.phone.is_not(None)).limit(1))
        tx.conn.execute(update(people).where(people.c.id == row_id[0]).values(phone_bidx="f" * 32))
    reindex.start(store, key_file)
    report = reindex.run(store, key_file, batch_size=25, notice=0)

    assert report.retired is None
    [unmatched] = report.unmatched
    assert (unmatched.table, unmatched.column, unmatched.row) == (
        "rec_person",
        "phone_bidx",
        str(row_id[0]),
    )
    assert report.unmapped == {"rec_person.phone_bidx": 1}
    assert not any(p.id_number in unmatched.reason for p in filled.people)
    with store.engine.connect() as conn:
        assert read_state(conn).in_force == old  # not switched: rows still under the old key
    check_findable(store, filled, by_phone=False)

    [broken] = [s.record for s in store.records("person") if s.id == row_id[0]]
    with store.begin() as tx:  # the steward's fix: the row indexed as it should be
        value = tx.blind_index(str(broken.phone))  # type: ignore[attr-defined]
        tx.conn.execute(update(people).where(people.c.id == row_id[0]).values(phone_bidx=value))
    resumed = reindex.run(store, key_file, notice=0)
    assert resumed.retired == old
    check_findable(store, filled)


@pytest.fixture
def copies(store: Store) -> Iterator[Table]:
    """A table of another package's kind: it keeps copies of records' ``link_key``."""
    table = Table(
        "test_link_copies",
        metadata,
        Column("id", String(8), primary_key=True),
        Column("link_key", String(64), nullable=False, info=blind_indexed()),
    )
    table.create(store.engine)
    try:
        yield table
    finally:
        table.drop(store.engine)
        metadata.remove(table)


def test_a_copy_of_an_index_moves_with_the_value_it_copies(
    store: Store, key_file: Path, copies: Table
) -> None:
    filled = fill(store, people=30)
    people = KIND_TABLES["person"].table
    with store.begin() as tx:
        links = tx.conn.execute(select(people.c.link_key).limit(3)).scalars().all()
        tx.conn.execute(
            copies.insert(), [{"id": f"c{n}", "link_key": k} for n, k in enumerate(links)]
        )
    old = store.keyring.index_key_id
    reindex.start(store, key_file)
    assert reindex.run(store, key_file, notice=0).retired == old
    with store.engine.connect() as conn:
        joined = conn.execute(
            select(func.count()).select_from(
                copies.join(people, copies.c.link_key == people.c.link_key)
            )
        ).scalar_one()
    assert joined >= 3
    check_findable(store, filled)

    # A copy of nothing any row holds has no new value: the next rotation will not switch.
    with store.begin() as tx:
        tx.conn.execute(copies.insert().values(id="orphan", link_key="0" * 32))
    reindex.start(store, key_file)
    report = reindex.run(store, key_file, notice=0)
    assert report.retired is None
    assert report.unmapped == {"test_link_copies.link_key": 1}


def test_a_second_rotation_waits_for_the_first_and_audit_search_spans_both(
    store: Store, key_file: Path
) -> None:
    fill(store, people=20)
    original = store.keyring.index_key_id
    searches = [search_for(store, ID_NUMBERS[2])]
    first = reindex.start(store, key_file)
    with pytest.raises(IndexRotationError, match=first):
        reindex.start(store, key_file)
    assert reindex.run(store, key_file, notice=0).retired == original
    searches.append(search_for(store, ID_NUMBERS[2]))
    second = reindex.start(store, key_file)
    assert reindex.run(store, key_file, notice=0).retired == first
    searches.append(search_for(store, ID_NUMBERS[2]))
    saved = Keyring.load(key_file)
    assert saved.index_key_id == second
    assert set(saved.retired_index_keys) == {original, first}
    assert set(searches) <= subject_seqs(store, ID_NUMBERS[2])
