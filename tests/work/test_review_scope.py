"""A reviewer's row scope compiled into SQL over the review queue's clear facets selects
exactly the submissions ``policies.admits`` admits, on each backend."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from contracts import Record, contract
from hub.store import Store
from hub.store.tables import review_queue
from hub.work.queue import facet_fields, facets_of, queue_scope
from policies import Match, RowScope, admits
from tests.data import make_records

SCOPES = [
    RowScope(True, (), ()),
    RowScope(False, (), ()),
    RowScope(False, (Match("beat_code", "in", ("B32010401",)),), ()),
    RowScope(False, (Match("beat_code", "in", ("B9", "B32010402")),), ()),
    RowScope(False, (Match("grid_code", "prefix", ("G320104",)),), ()),
    RowScope(False, (Match("grid_code", "prefix", ("g320104",)),), ()),
    RowScope(
        False,
        (Match("beat_code", "in", ("B0",)), Match("grid_code", "in", ("G320104002",))),
        (),
    ),
    RowScope(True, (), (Match("household_type", "in", ("流动", "境外")),)),
    RowScope(True, (), (Match("occupant_count", "in", (3, 11)),)),
    RowScope(True, (), (Match("use", "in", ("群租",)),)),
    RowScope(True, (), (Match("name", "in", ("张伟",)),)),
]
"""Scopes as policies compile them: by beat, grid prefix (case-sensitive), several
jurisdictions, value conditions on text, enum and integer fields, and one on a field the
queue seals (``name``: it admits nothing in SQL, where ``admits`` would; the loader
refuses such a rule in a review grant, this is the closed door behind it)."""


def _variants() -> list[Record]:
    base = make_records()
    person, house = base["person"].model_dump(), base["house"].model_dump()
    rows: list[tuple[str, dict[str, Any]]] = [
        ("person", person),
        ("person", person | {"grid_code": "G320104002", "beat_code": "B32010402"}),
        ("person", person | {"household_type": "流动", "grid_code": "G320106001"}),
        ("house", house),
        ("house", house | {"use": "群租", "occupant_count": 11, "beat_code": "B0"}),
        ("house", house | {"occupant_count": 30, "grid_code": "G3201040011"}),
    ]
    return [contract(kind).parse(values) for kind, values in rows]


@pytest.mark.parametrize("kind", ["person", "house"])
def test_the_sql_scope_and_admits_agree(store: Store, kind: str) -> None:
    records = [r for r in _variants() if r.kind == kind]
    now = dt.datetime.now(dt.UTC)
    ids: dict[int, Record] = {}
    with store.begin() as tx:
        for n, record in enumerate(records):
            ids[n + 1] = record
            tx.conn.execute(
                review_queue.insert().values(
                    id=n + 1,
                    kind=kind,
                    source_key=f"K{n}",
                    submitter="c",
                    submitter_subject="c",
                    purpose="p",
                    status="pending",
                    submitted_at=now,
                    link_key="l",
                    facets=facets_of(record),
                    record="sealed",
                )
            )
    answers = []
    for scope in SCOPES:
        if any(m.field not in contract(kind).model_fields for m in scope.any_of + scope.all_of):
            continue
        query = select(review_queue.c.id).where(queue_scope(kind, scope))
        with store.engine.connect() as conn:
            found = set(conn.execute(query).scalars())
        sealed = any(m.field not in facet_fields(kind) for m in scope.any_of + scope.all_of)
        expected = (
            set()
            if sealed
            else {i for i, record in ids.items() if admits(scope, record.model_dump())}
        )
        assert found == expected, scope
        answers.append(frozenset(found))
    assert len(set(answers)) >= 4  # the scopes tell the variants apart
