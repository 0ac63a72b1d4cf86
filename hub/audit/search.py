"""Audit search in SQL: every filter is an indexed column, paging is keyset on ``seq``.

At append the event's ``client_id``, ``kind``, ``purpose``, ``request_id``, ``action`` and
``outcome`` are copied into columns of ``audit_log`` (same INSERT), and each record id it
names into ``audit_records`` (same transaction), with each blind index its filters hold
(``bidx:<digest>``, a sealed value searched for): "who searched for this ID number" is a
look-up of the number's index, under every index key the log was written with. Those
copies are not hashed and not evidence: the entry is the canonical event text, and search
decodes that text for what it returns. A copy that disagrees with its event (written by
hand in SQL) can hide an entry from a search or show it under a wrong filter; ``hub audit
verify`` checks the events.

A column holds at most ``WIDTH`` characters, NUL as U+FFFD (PostgreSQL text holds no NUL,
and a B-tree key must stay small): a value longer than that, or with a NUL, is looked up
by its column form and then compared in full against the decoded events, so a search
matches exactly what comparing the events in Python would.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Select, false, select

from hub.audit.entry import AuditEntry, AuditEvent, iso_utc
from hub.store.tables import AUDIT_INDEXED, audit_log, audit_records

WIDTH = 128
"""Characters an indexed copy keeps (the columns are ``String(128)``)."""


def column_value(value: str) -> str:
    """``value`` as an indexed column holds it."""
    return value.replace("\x00", "\ufffd")[:WIDTH]


def indexed_columns(event: AuditEvent) -> dict[str, str | None]:
    """The ``audit_log`` columns copied from ``event``, for the entry's INSERT."""
    values = {name: getattr(event, name) for name in AUDIT_INDEXED}
    return {name: None if v is None else column_value(v) for name, v in values.items()}


BLIND_INDEX_PREFIX = "bidx:"
"""How an event's filters name a sealed value: by its blind index (``hub.sharing``)."""


def search_terms(event: AuditEvent) -> set[str]:
    """What an entry is found by in ``audit_records``: the record ids it names and the
    blind indexes (``bidx:…``) its filters hold, at the top level or in a list."""
    terms = set(event.record_ids)
    for value in event.filters.values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item.startswith(BLIND_INDEX_PREFIX):
                terms.add(item)
    return terms


def record_rows(seq: int, event: AuditEvent) -> list[dict[str, object]]:
    """The ``audit_records`` rows of the entry at ``seq``: one per distinct search term."""
    return [
        {"record_id": r, "seq": seq} for r in sorted({column_value(r) for r in search_terms(event)})
    ]


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Entries matching every filter given (None: no filter on it)."""

    client_id: str | None = None
    kind: str | None = None
    purpose: str | None = None
    request_id: str | None = None
    action: str | None = None
    outcome: str | None = None
    record_ids: tuple[str, ...] | None = None
    """Entries naming any of these (``kind/<database id>``, or ``bidx:<digest>`` for a
    sealed value their filters name); an empty tuple matches none."""
    since: dt.datetime | None = None
    """At or after (aware)."""
    until: dt.datetime | None = None
    """Before (aware)."""
    after_seq: int | None = None
    """Keyset paging: entries past this one in the order asked (the last ``seq`` seen)."""
    newest_first: bool = False
    limit: int = 100

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError("limit must be at least 1")
        for moment in (self.since, self.until):
            if moment is not None and moment.tzinfo is None:
                raise ValueError("naive datetime refused: audit times are aware UTC")

    def described(self) -> dict[str, Any]:
        """The query as an audit event's ``filters``: what was given, times in ISO UTC."""
        described: dict[str, Any] = {}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if value is None or (item.name == "newest_first" and not value):
                continue
            if isinstance(value, dt.datetime):
                value = iso_utc(value)
            elif isinstance(value, tuple):
                value = list(value)
            described[item.name] = value
        return described

    def matches(self, event: AuditEvent) -> bool:
        """The event-side reading of the filters (all but time and paging)."""
        for name in AUDIT_INDEXED:
            wanted = getattr(self, name)
            if wanted is not None and getattr(event, name) != wanted:
                return False
        return self.record_ids is None or not set(self.record_ids).isdisjoint(search_terms(event))

    def _inexact(self) -> bool:
        """Whether some value differs from its column form, so SQL alone over-matches."""
        given = [getattr(self, name) for name in AUDIT_INDEXED]
        given += list(self.record_ids or ())
        return any(v is not None and column_value(v) != v for v in given)


def _select(query: AuditQuery, after: int | None) -> Select[Any]:
    t = audit_log
    sql = select(t.c.seq, t.c.at, t.c.event, t.c.hash)
    for name in AUDIT_INDEXED:
        value = getattr(query, name)
        if value is not None:
            sql = sql.where(t.c[name] == column_value(value))
    if query.record_ids is not None:
        ids = sorted({column_value(r) for r in query.record_ids})
        if not ids:
            sql = sql.where(false())
        elif len(ids) == 1:
            sql = sql.join(audit_records, audit_records.c.seq == t.c.seq).where(
                audit_records.c.record_id == ids[0]
            )
        else:
            named = select(audit_records.c.seq).where(audit_records.c.record_id.in_(ids))
            sql = sql.where(t.c.seq.in_(named))
    if query.since is not None:
        sql = sql.where(t.c.at >= query.since)
    if query.until is not None:
        sql = sql.where(t.c.at < query.until)
    if after is not None:
        sql = sql.where(t.c.seq < after if query.newest_first else t.c.seq > after)
    return sql.order_by(t.c.seq.desc() if query.newest_first else t.c.seq)


def search_entries(
    engine: Engine,
    query: AuditQuery,
    decode: Callable[[Any], AuditEntry],
    *,
    chunk: int = 1000,
) -> list[AuditEntry]:
    """Up to ``query.limit`` entries, by ``seq`` in the order asked; ``decode`` turns a row
    (``seq``, ``at``, ``event``, ``hash``) into its entry. One SELECT, unless a value has
    to be compared in full (then ``chunk`` rows a round)."""
    inexact = query._inexact()
    found: list[AuditEntry] = []
    after = query.after_seq
    with engine.connect() as conn:
        while len(found) < query.limit:
            size = chunk if inexact else query.limit - len(found)
            rows = conn.execute(_select(query, after).limit(size)).all()
            for row in rows:
                entry = decode(row)
                if not inexact or query.matches(entry.event):
                    found.append(entry)
                    if len(found) == query.limit:
                        break
            if len(rows) < size:
                break
            after = rows[-1].seq
    return found
