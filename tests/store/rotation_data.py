"""A store filled with every kind of sealed value, and checks over all of them, shared by
the rotation tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from contracts import Person
from hub.auth.keys import SigningKeys
from hub.reference.world import generate
from hub.store import KIND_TABLES, QuarantinedRow, Store
from hub.store.rotation import sealed_tables
from tests.data import ID_NUMBERS, make_records


def fill(store: Store, people: int) -> dict[str, int]:
    """People of a generated world, one record of every kind, two quarantined rows, a
    signing key; returns the number of rows per kind."""
    world = generate(people=people, seed=13)
    persons = [Person.parse(p) for p in world.people]
    held = [
        QuarantinedRow(
            "police_db",
            "people",
            "person",
            f"Q{n}",
            {"GMSFHM": ID_NUMBERS[n]},
            [{"field": "id_number", "rule": "check_digit"}],
        )
        for n in range(2)
    ]
    with store.begin() as tx:
        tx.upsert("police_db", [(f"R{n}", p) for n, p in enumerate(persons)])
        tx.upsert("grid", list(make_records().items()))
        tx.quarantine("run-1", held, dt.datetime.now(dt.UTC))
    SigningKeys(store).active()
    return {kind: store.count(kind) for kind in KIND_TABLES}


def sealed_values(store: Store) -> list[tuple[str, str, Any, str]]:
    """Every sealed value: (table, column, primary key, ciphertext)."""
    found = []
    with store.engine.connect() as conn:
        for target in sealed_tables():
            key = target.table.c[target.key]
            for column in target.columns:
                query = select(key, target.table.c[column.name]).where(
                    target.table.c[column.name].is_not(None)
                )
                for row_key, value in conn.execute(query):
                    found.append((target.table.name, column.name, row_key, value))
    return found


def read_everything(store: Store) -> dict[str, int]:
    """Open every sealed value the way the hub does (records, quarantine, signing keys);
    raises if any does not; returns the records read per kind."""
    read = {kind: sum(1 for _ in store.records(kind)) for kind in KIND_TABLES}
    assert len(store.quarantined()) == 2
    keys = SigningKeys(store)
    assert keys.find(keys.active().kid) is not None
    return read
