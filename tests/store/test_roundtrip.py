from __future__ import annotations

import datetime as dt
import json

import pytest
from pydantic import TypeAdapter
from sqlalchemy import select
from typing_extensions import TypedDict

from contracts import CONTRACTS, Person, Record, untyped
from hub.store import Store, StoredRecord
from hub.store.codec import decode_values
from hub.store.query import Filter, select_records
from hub.store.store import kind_table
from policies import RowScope
from tests.conftest import SUITES
from tests.data import ID_NUMBERS


@pytest.fixture(params=SUITES)
def crypto(request: pytest.FixtureRequest) -> str:
    """Every test of this module under each crypto suite (``tests.conftest``)."""
    return str(request.param)


def people_where(store: Store, **equals: object) -> list[StoredRecord]:
    everything = RowScope(unrestricted=True, any_of=(), all_of=())
    filters = [Filter(name, "eq", value) for name, value in equals.items()]
    return select_records(store, "person", everything, filters)


def test_every_kind_round_trips(store: Store, records: dict[str, Record]) -> None:
    assert set(records) == set(CONTRACTS)
    with store.begin() as tx:
        counts = tx.upsert("police_db", [(f"src-{kind}", r) for kind, r in records.items()])
    assert counts.inserted == len(records)
    for kind, record in records.items():
        stored = store.get(kind, "police_db", f"src-{kind}")
        assert stored is not None
        assert stored.record.model_dump() == record.model_dump()
        assert stored.provenance.contract_version == record.version
        assert stored.provenance.first_seen.tzinfo is not None


def test_datetimes_keep_the_instant(store: Store, records: dict[str, Record]) -> None:
    incident = records["incident"]
    with store.begin() as tx:
        tx.upsert("grid", [("e1", incident)])
    stored = store.get("incident", "grid", "e1")
    assert stored is not None
    assert stored.record.reported_at == incident.reported_at  # type: ignore[attr-defined]
    assert stored.record.reported_at.utcoffset() == dt.timedelta(0)  # type: ignore[attr-defined]


def test_upsert_is_idempotent_and_tracks_changes(store: Store, records: dict[str, Record]) -> None:
    person = records["person"]
    with store.begin() as tx:
        first = tx.upsert("police_db", [("p1", person)])
    with store.begin() as tx:
        again = tx.upsert("police_db", [("p1", person)])
    moved = person.model_copy(update={"phone": "13900001111"})
    with store.begin() as tx:
        changed = tx.upsert("police_db", [("p1", moved)])
    assert (first.inserted, again.unchanged, changed.updated) == (1, 1, 1)
    assert store.count("person") == 1
    stored = store.get("person", "police_db", "p1")
    assert stored is not None
    assert stored.record.phone == "13900001111"  # type: ignore[attr-defined]
    assert stored.provenance.last_updated >= stored.provenance.first_seen


def test_failed_transaction_writes_nothing(store: Store, records: dict[str, Record]) -> None:
    def crash_before_commit() -> None:
        with store.begin() as tx:
            tx.upsert("police_db", [("p1", records["person"])])
            raise RuntimeError("crash between batch and commit")

    with pytest.raises(RuntimeError):
        crash_before_commit()
    assert store.count("person") == 0


def test_equality_on_encrypted_fields_goes_through_the_blind_index(
    store: Store, records: dict[str, Record]
) -> None:
    person = records["person"]
    other = Person.parse(
        {
            **person.model_dump(mode="json"),
            "id_number": ID_NUMBERS[2],
            "birth_date": "2012-03-15",
            "phone": None,
        }
    )
    with store.begin() as tx:
        tx.upsert("police_db", [("p1", person), ("p2", other)])
    found = people_where(store, id_number=ID_NUMBERS[0].lower())
    assert [s.provenance.source_key for s in found] == ["p1"]
    assert [s.provenance.source_key for s in people_where(store, phone="13812345678")] == ["p1"]
    assert len(people_where(store, grid_code="G320104001")) == 2
    with pytest.raises(ValueError, match="police_tags"):
        people_where(store, police_tags="重点关注")


def test_same_natural_key_from_two_sources_is_linked(
    store: Store, records: dict[str, Record]
) -> None:
    person = records["person"]
    grid_view = person.model_copy(update={"phone": "13700002222", "police_tags": []})
    with store.begin() as tx:
        tx.upsert("police_db", [("PD-9", person)])
        tx.upsert("grid_platform", [("g-17", grid_view)])
    linked = store.linked(person)
    assert sorted(s.provenance.source_system for s in linked) == ["grid_platform", "police_db"]


def test_reading_back_types_each_field_as_a_lax_validation_of_the_row_would(
    store: Store, records: dict[str, Record]
) -> None:
    """``decode_values`` re-types field by field, skipping what is already of its type;
    the result, values and their types, is what one lax validation of the whole row
    against the contract's types (constraints removed) gives."""
    with store.begin() as tx:
        tx.upsert("police_db", [(f"src-{kind}", r) for kind, r in records.items()])
    for kind in records:
        kt = kind_table(kind)
        names = [c.name for c in kt.fields]
        fields = {n: untyped(i.annotation) for n, i in kt.model.model_fields.items()}
        whole = TypeAdapter(TypedDict(f"{kind}Row", fields, total=False))  # type: ignore[operator]
        with store.engine.connect() as conn:
            row = conn.execute(select(kt.table)).one()
        raw = {
            n: json.loads(store.unseal(row._mapping[n], f"{kind}.{n}"))
            if kt.column(n).encrypted and row._mapping[n] is not None
            else row._mapping[n]
            for n in names
        }
        expected = whole.validate_python(raw)
        read = decode_values(kt, row, store.keyring, names)
        assert read == expected, kind
        assert {n: type(v) for n, v in read.items()} == {n: type(v) for n, v in expected.items()}, (
            kind
        )
