"""work orders kept by the hub (contract v2); the copies sources held, moved aside

``rec_work_order`` is rebuilt for contract v2 (order type, priority, related record, SLA
times, a history of steps naming org and person). Its v1 rows, each source's copy of an
order, are not orders the hub can vouch for (their histories name no step and no org, and
may break the v2 loop), so they move whole, ids kept, to ``work_orders_v1``. The new
table's ids continue after theirs, so that ``work_order/<id>`` in an audit entry and a
partner's id of a v1 copy never come to name a new order.

Downgrade: the v1 copies move back; the orders kept under v2 have no v1 form and go.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "rec_work_order"
ARCHIVE = "work_orders_v1"
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)
PROVENANCE = (
    "id",
    "source_system",
    "source_key",
    "link_key",
    "contract_version",
    "first_seen",
    "last_updated",
    "content_hash",
)
V1_FIELDS = (
    "order_id",
    "incident_id",
    "issuing_org",
    "receiving_org",
    "assignee",
    "instruction",
    "due_at",
    "status",
    "history",
    "feedback",
    "grid_code",
    "beat_code",
)


def _provenance(*, autoincrement: bool) -> list[sa.Column[object]]:
    return [
        sa.Column("id", ID, autoincrement=autoincrement, nullable=False),
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("source_key", sa.String(length=256), nullable=False),
        sa.Column("link_key", sa.String(length=64), nullable=False),
        sa.Column("contract_version", sa.Integer(), nullable=False),
        sa.Column("first_seen", WHEN, nullable=False),
        sa.Column("last_updated", WHEN, nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
    ]


def _v1_fields() -> list[sa.Column[object]]:
    return [
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("incident_id", sa.Text(), nullable=True),
        sa.Column("issuing_org", sa.Text(), nullable=False),
        sa.Column("receiving_org", sa.Text(), nullable=False),
        sa.Column("assignee", sa.Text(), nullable=True),
        sa.Column("instruction", sa.Text(), nullable=False),
        sa.Column("due_at", WHEN, nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("history", sa.JSON(), nullable=True),
        sa.Column("feedback", sa.Text(), nullable=True),
        sa.Column("grid_code", sa.Text(), nullable=False),
        sa.Column("beat_code", sa.Text(), nullable=False),
    ]


def _v2_fields() -> list[sa.Column[object]]:
    return [
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("order_type", sa.Text(), nullable=False),
        sa.Column("priority", sa.Text(), nullable=True),
        sa.Column("related_kind", sa.Text(), nullable=True),
        sa.Column("related_key", sa.Text(), nullable=True),
        sa.Column("issuing_org", sa.Text(), nullable=False),
        sa.Column("receiving_org", sa.Text(), nullable=False),
        sa.Column("assignee", sa.Text(), nullable=True),
        sa.Column("instruction", sa.Text(), nullable=False),
        sa.Column("dispatched_at", WHEN, nullable=False),
        sa.Column("accept_by", WHEN, nullable=False),
        sa.Column("due_at", WHEN, nullable=False),
        sa.Column("deadline", WHEN, nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("feedback", sa.Text(), nullable=True),
        sa.Column("grid_code", sa.Text(), nullable=False),
        sa.Column("beat_code", sa.Text(), nullable=False),
    ]


def _create_orders(fields: list[sa.Column[object]], *, keep_ids: bool) -> None:
    """The kind table as ``hub.store.tables`` makes it; with ``keep_ids``, ids are never
    reused on SQLite either (AUTOINCREMENT), so they may be made to continue."""
    op.create_table(
        TABLE,
        *_provenance(autoincrement=True),
        *fields,
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_system", "source_key", name="uq_rec_work_order_source"),
        sqlite_autoincrement=keep_ids,
    )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        for column in ("beat_code", "grid_code", "last_updated", "link_key"):
            batch_op.create_index(batch_op.f(f"ix_rec_work_order_{column}"), [column])


def _drop_orders() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        for column in ("link_key", "last_updated", "grid_code", "beat_code"):
            batch_op.drop_index(batch_op.f(f"ix_rec_work_order_{column}"))
    op.drop_table(TABLE)


def _move(source: str, target: str) -> None:
    columns = ", ".join((*PROVENANCE, *V1_FIELDS))
    op.execute(f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {source}")  # noqa: S608


def _continue_ids_after(table: str) -> None:
    """The next id of ``rec_work_order`` comes after every id ``table`` holds."""
    bind = op.get_bind()
    highest = bind.execute(sa.text(f"SELECT max(id) FROM {table}")).scalar()  # noqa: S608
    if highest is None:
        return
    if bind.dialect.name == "postgresql":
        sequence = "pg_get_serial_sequence('rec_work_order', 'id')"
        bind.execute(sa.text(f"SELECT setval({sequence}, :highest)"), {"highest": highest})
    else:
        bind.execute(
            sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES ('rec_work_order', :highest)"),
            {"highest": highest},
        )


def upgrade() -> None:
    op.create_table(
        ARCHIVE,
        *_provenance(autoincrement=False),
        *_v1_fields(),
        sa.PrimaryKeyConstraint("id"),
    )
    _move(TABLE, ARCHIVE)
    _drop_orders()
    _create_orders(_v2_fields(), keep_ids=True)
    _continue_ids_after(ARCHIVE)


def downgrade() -> None:
    _drop_orders()
    _create_orders(_v1_fields(), keep_ids=False)
    _move(ARCHIVE, TABLE)
    if op.get_bind().dialect.name == "postgresql":
        _continue_ids_after(TABLE)
    op.drop_table(ARCHIVE)
