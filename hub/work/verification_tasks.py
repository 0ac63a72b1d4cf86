"""Verification tasks (核查任务): what residents declared of themselves (自主申报, a 秦淮e家
export) waits for a grid worker or an officer to verify it at the door.

A task is opened in the transaction that stores the declared record: ``admit_rows`` calls
``declared`` for a stream marked ``self_declared``, and any other door that admits a record
needing a visit (an accepted grid submission) calls it in its own admitting transaction.
It is closed in the transaction that records a visit of the same real thing (same
``link_key``, whichever source's copy was visited) made at or after the task was opened: a
visit from before the declaration does not verify it. A real thing has one open task at a
time; declaring it again while its task is open opens none.

Nothing here imports the sharing service: ``admit_rows`` sits below it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

from sqlalchemy import select, update

from contracts import VERIFIED_KINDS, Record
from hub.store import Transaction
from hub.store.tables import verification_tasks

Reason = Literal["self_declared", "submitted"]
"""Why a record must be verified: 自主申报, or a grid submission accepted into the record."""


def declared(
    tx: Transaction,
    source_system: str,
    records: Sequence[tuple[str, Record]],
    at: dt.datetime,
    reason: Reason = "self_declared",
) -> int:
    """Open a task for each of ``records`` (source key, record), just stored by
    ``source_system`` in ``tx``, of a kind verified door to door and with no task open for
    the same real thing; returns how many were opened."""
    by_kind: dict[str, list[tuple[str, Record]]] = {}
    for key, record in records:
        if record.kind in VERIFIED_KINDS:
            by_kind.setdefault(record.kind, []).append((key, record))
    t = verification_tasks
    opened = 0
    for kind, batch in by_kind.items():
        located = tx.located(kind, source_system, [key for key, _ in batch])
        links = sorted({link for _, link in located.values()})
        query = select(t.c.link_key).where(
            t.c.kind == kind, t.c.link_key.in_(links), t.c.done_at.is_(None)
        )
        already = set(tx.conn.execute(query).scalars())
        rows = []
        for key, record in batch:
            record_id, link = located[key]
            if link in already:
                continue
            already.add(link)
            rows.append(
                {
                    "kind": kind,
                    "record_id": record_id,
                    "link_key": link,
                    "grid_code": record.model_dump(include={"grid_code"})["grid_code"],
                    "reason": reason,
                    "created_at": at,
                }
            )
        if rows:
            tx.conn.execute(t.insert(), rows)
            opened += len(rows)
    return opened


def close(
    tx: Transaction,
    kind: str,
    link_key: str,
    visit_id: int,
    visited_at: dt.datetime,
    at: dt.datetime,
) -> int:
    """Close, as of ``at``, the open tasks of the real thing ``kind``/``link_key`` that the
    visit ``visit_id`` (made at ``visited_at``) verifies; returns how many."""
    t = verification_tasks
    done = tx.conn.execute(
        update(t)
        .where(
            t.c.kind == kind,
            t.c.link_key == link_key,
            t.c.done_at.is_(None),
            t.c.created_at <= visited_at,
        )
        .values(done_at=at, done_by_visit=visit_id)
    )
    return int(done.rowcount)
