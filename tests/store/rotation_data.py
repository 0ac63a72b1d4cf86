"""A store filled with every kind of sealed value, and checks over all of them, shared by
the rotation tests."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import String, Text, func, select

from contracts import Person
from hub.auth.keys import SigningKeys
from hub.events.subscriptions import secret_of
from hub.reference.world import generate
from hub.store import KIND_TABLES, QuarantinedRow, Store
from hub.store.rotation import sealed_tables
from hub.store.tables import (
    metadata,
    review_queue,
    review_record_context,
    subscription_secret_context,
    subscriptions,
)
from tests.data import ID_NUMBERS, make_records

SECRET = "whsec_" + "A" * 43
QUEUED = {"house_code": "H1", "occupant_count": 11}


def fill(store: Store, people: int) -> dict[str, int]:
    """People of a generated world, one record of every kind, two quarantined rows, a
    signing key, a webhook subscription's secret and a submission waiting for review;
    returns the number of rows per kind."""
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
        now = dt.datetime.now(dt.UTC)
        tx.conn.execute(
            subscriptions.insert().values(
                id="sub_1", client_id="cl_grid", url="https://grid.example/hook", events=[],
                filter={}, purpose="网格服务", created_at=now,
                secret=store.seal(SECRET, subscription_secret_context("sub_1")),
            )
        )  # fmt: skip
        tx.conn.execute(
            review_queue.insert().values(
                kind="house", source_key="HR1", submitter="cl_grid", submitter_subject="cl_grid",
                purpose="网格服务", status="pending", submitted_at=now,
                link_key=store.blind_index("H1"), facets={},
                record=store.seal(
                    json.dumps(QUEUED), review_record_context("house", "cl_grid", "HR1")
                ),
            )
        )  # fmt: skip
    SigningKeys(store).active()
    return {kind: store.count(kind) for kind in KIND_TABLES}


def sealed_values(store: Store) -> list[tuple[str, str, Any, str]]:
    """Every sealed value: (table, column, primary key, ciphertext)."""
    found = []
    with store.engine.connect() as conn:
        for target in sealed_tables():
            key = target.table.c[target.key]
            for name, _ in target.columns:
                query = select(key, target.table.c[name]).where(target.table.c[name].is_not(None))
                for row_key, value in conn.execute(query):
                    found.append((target.table.name, name, row_key, value))
    return found


def read_everything(store: Store) -> dict[str, int]:
    """Open every sealed value the way the hub does (records, quarantine, signing keys);
    raises if any does not; returns the records read per kind."""
    read = {kind: sum(1 for _ in store.records(kind)) for kind in KIND_TABLES}
    assert len(store.quarantined()) == 2
    keys = SigningKeys(store)
    assert keys.find(keys.active().kid) is not None
    with store.engine.connect() as conn:
        [sealed_secret] = conn.execute(select(subscriptions.c.secret)).scalars()
        [sealed_record] = conn.execute(select(review_queue.c.record)).scalars()
    assert secret_of(store, "sub_1", sealed_secret) == SECRET
    context = review_record_context("house", "cl_grid", "HR1")
    assert json.loads(store.unseal(sealed_record, context)) == QUEUED
    return read


def under_key(store: Store, kid: str) -> list[str]:
    """Every text column of every table holding a value that looks sealed under ``kid``:
    found by content, not by the declarations the rotation goes by."""
    found = []
    with store.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for column in table.columns:
                if not isinstance(column.type, String | Text):
                    continue
                query = select(func.count()).where(column.like(f"{kid}.%"))
                if conn.execute(query).scalar_one():
                    found.append(f"{table.name}.{column.name}")
    return found
