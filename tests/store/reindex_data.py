"""A store holding every kind of blind index, and the checks an index rotation must pass,
shared by the rotation tests (store level and the killed CLI)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from contracts import Person
from hub.audit import AuditEvent, AuditLog
from hub.reference.world import generate
from hub.sharing.auditing import subject_by_id_number
from hub.sharing.ids import RecordIds
from hub.store import KIND_TABLES, QuarantinedRow, Store, Transaction
from hub.store.query import Filter, select_records
from hub.store.reindex import indexed_tables
from hub.store.tables import review_queue, verification_tasks, work_orders_v1
from hub.work import verification_tasks as verification
from hub.work.queue import ReviewQueue
from policies import RowScope
from tests.data import ID_NUMBERS, make_records

EVERY_ROW = RowScope(True, (), ())
PARTNERS = ("grid-platform", "police-app")


@dataclass(frozen=True)
class Filled:
    people: list[Person]
    """Each held twice: by the police (keys ``R<n>``), by the grid keyed by its ID number."""
    ids: dict[tuple[str, int], str]
    """Each partner's record id of each police person record, as given before."""
    pseudonyms: dict[str, bytes]


def fill(store: Store, people: int) -> Filled:
    """People of a generated world from two sources (one keyed by the sealed ID number,
    the first fifty of its records declared, so a verification task keeps a copy of their
    ``link_key``), one record of every kind, two quarantined rows keyed by sealed ID
    numbers, a pending submission, a v1 work order, and an audit entry of a search for
    the first person's number."""
    persons = [Person.parse(p) for p in generate(people=people, seed=13).people]
    held = [
        QuarantinedRow(
            "grid",
            "people",
            "person",
            "",
            {"GMSFHM": ID_NUMBERS[n], "XM": "王芳"},
            [{"field": "birth_date", "rule": "required"}],
        )
        for n in (1, 2)
    ]
    with store.begin() as tx:
        tx.upsert("police_db", [(f"R{n}", p) for n, p in enumerate(persons)])
        declared = [(tx.seal_source_key(p.id_number), p) for p in persons]
        tx.upsert("grid", declared)
        assert verification.declared(tx, "grid", declared[:50], dt.datetime.now(dt.UTC)) > 0
        tx.upsert("grid", list(make_records().items()))
        keyed = [_keyed(q, tx.seal_source_key(str(q.row["GMSFHM"]))) for q in held]
        tx.quarantine("run-1", keyed, dt.datetime.now(dt.UTC))
        _queue_and_keep_old_orders(store, tx)
    search_for(store, persons[0].id_number)
    return Filled(persons, partner_ids(store), pseudonym_keys(store))


SUBMITTED = Person.parse(
    make_records()["person"].model_dump() | {"id_number": ID_NUMBERS[2], "birth_date": "2012-03-15"}
)
"""A person a partner submitted for review, whom no source holds."""
OLD_ORDER = "WO-2025-0001"


def _queue_and_keep_old_orders(store: Store, tx: Transaction) -> None:
    """A pending submission (its ``link_key`` of a record not stored) and a work order
    as contract v1 kept it (its ``link_key`` beside its ``order_id``)."""
    now = dt.datetime.now(dt.UTC)
    queued = {"record": SUBMITTED, "submitter": "grid-platform", "subject": "网格员"}
    ReviewQueue(store).add(tx.conn, source_key="S-1", purpose="网格服务", at=now, **queued)
    order = {
        "id": 1,
        "source_system": "police_db",
        "source_key": "W1",
        "link_key": tx.link_key(OLD_ORDER),
        "contract_version": 1,
        "first_seen": now,
        "last_updated": now,
        "content_hash": "0" * 64,
        "order_id": OLD_ORDER,
        "issuing_org": "派出所",
        "receiving_org": "网格站",
        "instruction": "sealed long ago",
        "due_at": now,
        "status": "已派发",
        "grid_code": "G320104001",
        "beat_code": "B32010401",
    }
    tx.conn.execute(work_orders_v1.insert().values(order))


def _keyed(entry: QuarantinedRow, key: str) -> QuarantinedRow:
    return QuarantinedRow(
        entry.source_system, entry.stream, entry.kind, key, entry.row, entry.failures
    )


def search_for(store: Store, id_number: str) -> int:
    """An entry like the one a partner's query by ``id_number`` that found nothing leaves:
    the number only as its blind index, no record named. Returns its seq."""
    event = AuditEvent(
        action="records.query",
        outcome="allowed",
        client_id="grid-platform",
        kind="person",
        filters={"id_number__eq": f"bidx:{store.blind_index(id_number)}"},
    )
    return AuditLog.for_store(store).append(event)


def partner_ids(store: Store) -> dict[tuple[str, int], str]:
    ids = RecordIds(store)
    return {
        (partner, record.id): ids.encode(partner, "person", record.id)
        for record in store.records("person", "police_db")
        for partner in PARTNERS
    }


def pseudonym_keys(store: Store) -> dict[str, bytes]:
    return {partner: store.partner_key(partner, "pseudonym") for partner in PARTNERS}


def index_values(store: Store) -> list[tuple[str, str, Any, str]]:
    """Every value of every blind-index column: (table, column, row key, value)."""
    found = []
    with store.engine.connect() as conn:
        for target in indexed_tables():
            for column, _spec in target.columns:
                query = select(target.key, column).where(column.is_not(None))
                for key, value in conn.execute(query):
                    found.append((target.table.name, column.name, key, value))
    return found


def check_findable(store: Store, filled: Filled, *, by_phone: bool = True) -> None:
    """Every person found by ID number (and phone) through the query layer, both sources'
    copies linked by one ``link_key``; the visit's ``record_key_bidx`` is its person's
    ``link_key``; the house found by its owner's number; partners' ids unchanged."""
    for person in filled.people:
        found = select_records(
            store, "person", EVERY_ROW, [Filter("id_number", "eq", person.id_number)]
        )
        assert sorted(s.provenance.source_system for s in found) == ["grid", "police_db"]
        linked = store.linked_by_key("person", person.natural_key())
        assert {s.id for s in linked} == {s.id for s in found}
        if by_phone and person.phone is not None:
            phoned = select_records(
                store, "person", EVERY_ROW, [Filter("phone", "eq", person.phone)]
            )
            assert {s.id for s in found} <= {s.id for s in phoned}
    with store.engine.connect() as conn:
        people = KIND_TABLES["person"].table
        links = {
            row.source_system: row.link_key
            for row in conn.execute(
                select(people.c.source_system, people.c.link_key).where(
                    people.c.id.in_([s.id for s in store.linked_by_key("person", ID_NUMBERS[0])])
                )
            )
        }
        visits = KIND_TABLES["visit"].table
        [record_key] = conn.execute(select(visits.c.record_key_bidx)).scalars().all()
        tasks = verification_tasks
        copied = tasks.join(people, people.c.id == tasks.c.record_id)
        pairs = conn.execute(select(tasks.c.link_key, people.c.link_key).select_from(copied)).all()
        assert pairs
        assert all(task == record for task, record in pairs)
        [queued] = conn.execute(select(review_queue.c.link_key)).scalars().all()
        [kept] = conn.execute(select(work_orders_v1.c.link_key)).scalars().all()
    assert queued == store.link_key(SUBMITTED.natural_key())
    assert kept == store.link_key(OLD_ORDER)
    assert set(links.values()) == {record_key}
    [house] = select_records(
        store, "house", EVERY_ROW, [Filter("owner_id_number", "eq", ID_NUMBERS[1])]
    )
    assert house.record.house_code == make_records()["house"].house_code  # type: ignore[attr-defined]
    now = partner_ids(store)
    assert {key: now[key] for key in filled.ids} == filled.ids
    assert pseudonym_keys(store) == filled.pseudonyms


def subject_seqs(store: Store, id_number: str) -> set[int]:
    """What subject access by ID number finds (it appends its own entry, like the CLI)."""
    found = subject_by_id_number(
        store, AuditLog.for_store(store), "cli:test", id_number, limit=1000
    )
    return {entry.seq for entry in found}
