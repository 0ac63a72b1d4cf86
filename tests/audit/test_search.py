"""Audit search in SQL on both backends: every filter, alone and together, selects exactly
the entries that comparing the decoded events in Python selects; keyset paging walks them
either way without a gap or a repeat; the indexed copies commit with their entry."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from hub.audit import AuditEntry, AuditEvent, AuditLog, AuditQuery
from hub.audit.log import _entry
from hub.store import Store
from hub.store.tables import audit_log, audit_records

KEY = Ed25519PrivateKey.generate()
LONG = "长" * 200  # beyond an indexed column's 128 characters
ODD = {
    "client_id": ["grid", "police", "analyst", None],
    "kind": ["person", "house", "incident", None],
    "purpose": ["网格服务", "案件办理", LONG, f"{LONG}+", "with\x00nul", None],
    "request_id": ["req-a", "req-b", None],
    "action": ["records.query", "records.read", "token.issued", "audit.search"],
    "outcome": ["allowed", "denied", "error"],
}
RECORDS = ["person/1", "person/2", "house/7", "incident/3", f"person/{'9' * 200}"]
START = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def _event(rng: random.Random) -> AuditEvent:
    values = {name: rng.choice(choices) for name, choices in ODD.items()}
    records = rng.sample(RECORDS, rng.randint(0, 3))
    return AuditEvent(**values, record_ids=records + records[:1])  # one named twice


@pytest.fixture
def log(store: Store) -> AuditLog:
    rng = random.Random(8)  # noqa: S311  (a reproducible test log)
    ticks = iter(range(10**6))
    log = AuditLog(
        store, KEY, clock=lambda: START + dt.timedelta(minutes=next(ticks)), checkpoint_every=50
    )
    for _ in range(240):
        log.append(_event(rng))
    return log


def _everything(log: AuditLog) -> list[AuditEntry]:
    with log.engine.connect() as conn:
        rows = conn.execute(select(audit_log).order_by(audit_log.c.seq)).all()
    return [_entry(row) for row in rows]


def _python(entries: list[AuditEntry], query: AuditQuery) -> list[int]:
    """The search as the hub did it before: decode every event, compare in Python."""
    picked = [
        e.seq
        for e in entries
        if query.matches(e.event)
        and (query.since is None or e.at >= query.since)
        and (query.until is None or e.at < query.until)
    ]
    return picked[::-1] if query.newest_first else picked


QUERIES: list[dict[str, Any]] = [
    *({name: value} for name, choices in ODD.items() for value in choices if value is not None),
    *({"record_ids": (r,)} for r in RECORDS),
    {"record_ids": ("person/1", "house/7")},
    {"record_ids": ("person/404",)},
    {"record_ids": ()},
    {"client_id": "grid", "kind": "person", "outcome": "allowed"},
    {"client_id": "police", "record_ids": ("person/2",), "action": "records.read"},
    {"purpose": LONG, "client_id": "grid"},
    {"since": START + dt.timedelta(minutes=30), "until": START + dt.timedelta(minutes=90)},
    {"since": START + dt.timedelta(minutes=100), "kind": "house", "request_id": "req-a"},
    {"client_id": "nobody"},
    {},
]


@pytest.mark.parametrize("newest_first", [False, True])
def test_every_filter_selects_what_the_python_filter_selected(
    log: AuditLog, newest_first: bool
) -> None:
    entries = _everything(log)
    for filters in QUERIES:
        query = AuditQuery(**filters, newest_first=newest_first, limit=10**6)
        assert [e.seq for e in log.find(query, chunk=7)] == _python(entries, query), filters
        few = AuditQuery(**filters, newest_first=newest_first, limit=3)
        assert [e.seq for e in log.find(few)] == _python(entries, query)[:3], filters


@pytest.mark.parametrize("newest_first", [False, True])
def test_keyset_pages_walk_every_match_once(log: AuditLog, newest_first: bool) -> None:
    for filters in ({}, {"client_id": "grid"}, {"record_ids": ("person/1",)}, {"purpose": LONG}):
        whole = [
            e.seq for e in log.find(AuditQuery(**filters, newest_first=newest_first, limit=10**6))
        ]
        walked: list[int] = []
        after = None
        while True:
            page = log.find(
                AuditQuery(**filters, newest_first=newest_first, after_seq=after, limit=9)
            )
            walked += [e.seq for e in page]
            if len(page) < 9:
                break
            after = page[-1].seq
        assert walked == whole, filters


def test_the_old_keyword_search_still_answers(log: AuditLog) -> None:
    entries = _everything(log)
    found = log.search(client_id="grid", kind="person", record_id="person/1", limit=1000)
    expected = AuditQuery(client_id="grid", kind="person", record_ids=("person/1",))
    assert [e.seq for e in found] == _python(entries, expected)
    newest = log.search(action="records.read", newest_first=True, limit=5)
    assert [e.seq for e in newest] == _python(entries, AuditQuery(action="records.read"))[::-1][:5]


def test_indexed_copies_are_written_with_the_entry_and_not_hashed(
    log: AuditLog, store: Store
) -> None:
    assert log.verify().ok  # the hash covers the event text only, as before
    with store.engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(audit_records)).scalar_one()
        named = conn.execute(select(audit_records.c.record_id, audit_records.c.seq)).all()
    assert all(len(r.record_id) <= 128 for r in named)

    def failing_change() -> None:
        with store.begin() as tx:
            log.append(AuditEvent(action="records.read", outcome="allowed", record_ids=["x/1"]), tx)
            raise RuntimeError("the change fails")

    with pytest.raises(RuntimeError):
        failing_change()
    with store.engine.connect() as conn:
        after = conn.execute(select(func.count()).select_from(audit_records)).scalar_one()
        row = conn.execute(select(audit_log).order_by(audit_log.c.seq.desc()).limit(1)).one()
    assert after == before
    assert row.seq == 240
    assert row.purpose in (None, *(p[:128].replace("\x00", "\ufffd") for p in ODD["purpose"] if p))
