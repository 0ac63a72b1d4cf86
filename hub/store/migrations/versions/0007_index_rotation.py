"""blind-index rotation: index_keys, index_map; audit entries found by the blind indexes
their filters hold

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 09:00:00.000000

The data step: each entry already in ``audit_log`` gets an ``audit_records`` row for every
``bidx:…`` value its filters hold (what ``hub.audit.search.search_terms`` writes at append
from now on), so subject access finds the searches for a number made before this revision.
The walk over the filters is copied here, not imported: a migration must keep doing what
it did when it was written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000
WIDTH = 128


def upgrade() -> None:
    op.create_table(
        "index_keys",
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_id"),
    )
    op.create_table(
        "index_map",
        sa.Column("old", sa.String(length=32), nullable=False),
        sa.Column("new", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("old"),
    )
    _index_audit_filters()


def _terms(event: dict[str, Any]) -> set[str]:
    found = set()
    for value in (event.get("filters") or {}).values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item.startswith("bidx:"):
                found.add(item.replace("\x00", "\ufffd")[:WIDTH])
    return found


def _index_audit_filters() -> None:
    conn = op.get_bind()
    log = sa.table("audit_log", sa.column("seq", sa.BigInteger()), sa.column("event", sa.Text()))
    records = sa.table(
        "audit_records", sa.column("record_id", sa.String()), sa.column("seq", sa.BigInteger())
    )
    after = 0
    while True:
        rows = conn.execute(
            sa.select(log.c.seq, log.c.event)
            .where(log.c.seq > after)
            .order_by(log.c.seq)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        after = rows[-1].seq
        wanted = {(term, row.seq) for row in rows for term in _terms(json.loads(row.event))}
        if wanted:
            there = conn.execute(
                sa.select(records.c.record_id, records.c.seq).where(
                    records.c.seq.between(rows[0].seq, after),
                    records.c.record_id.in_(sorted({term for term, _ in wanted})),
                )
            ).all()
            missing = wanted - {(r.record_id, r.seq) for r in there}
            if missing:
                conn.execute(
                    sa.insert(records), [{"record_id": t, "seq": s} for t, s in sorted(missing)]
                )


def downgrade() -> None:
    op.drop_table("index_map")
    op.drop_table("index_keys")
