"""records' lifecycle: inactive records, full reads, and their history

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 19:00:00.000000

Each record table gains ``inactive_since`` / ``inactive_reason`` / ``inactive_run`` (a
record its source deleted, marked 注销 / 迁出, or no longer lists), ``source_stream`` and
``seen_read`` (the full-refresh stream listing it, and its last read that did);
``sync_state`` gains ``read_id`` (the full read under way); ``record_lifecycle`` keeps every
change of a record's lifecycle. The record tables are found in the database, not taken
from today's contracts. Every record stays active: nothing is known of it yet.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("inactive_since", "inactive_reason", "inactive_run", "source_stream", "seen_read")


def _record_tables() -> list[str]:
    names = sa.inspect(op.get_bind()).get_table_names()
    return sorted(name for name in names if name.startswith("rec_"))


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("inactive_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("inactive_reason", sa.String(length=64), nullable=True),
        sa.Column("inactive_run", sa.String(length=64), nullable=True),
        sa.Column("source_stream", sa.String(length=128), nullable=True),
        sa.Column("seen_read", sa.String(length=64), nullable=True),
    ]


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    for table in _record_tables():
        with op.batch_alter_table(table) as batch:
            for column in _columns():
                batch.add_column(column)
    with op.batch_alter_table("sync_state") as batch:
        batch.add_column(sa.Column("read_id", sa.String(length=64), nullable=True))
    op.create_table(
        "record_lifecycle",
        sa.Column("id", _id(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column(
            "record_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("stream", sa.String(length=128), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_record_lifecycle_record", "record_lifecycle", ["kind", "record_id"])


def downgrade() -> None:
    op.drop_index("ix_record_lifecycle_record", table_name="record_lifecycle")
    op.drop_table("record_lifecycle")
    with op.batch_alter_table("sync_state") as batch:
        batch.drop_column("read_id")
    for table in _record_tables():
        with op.batch_alter_table(table) as batch:
            for name in COLUMNS:
                batch.drop_column(name)
