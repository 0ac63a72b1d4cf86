"""the verification registry: the visitor's side of a visit, verification tasks

Visits kept before contract v2 get no side (NULL): the hub does not guess who went.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 06:19:40.202888
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "verification_tasks",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column(
            "record_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("link_key", sa.String(length=64), nullable=False),
        sa.Column("grid_code", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "done_by_visit", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("verification_tasks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_verification_tasks_grid_code"), ["grid_code"], unique=False
        )
        batch_op.create_index(
            "ix_verification_tasks_open", ["kind", "link_key", "done_at"], unique=False
        )

    with op.batch_alter_table("rec_visit", schema=None) as batch_op:
        batch_op.add_column(sa.Column("side", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rec_visit", schema=None) as batch_op:
        batch_op.drop_column("side")

    with op.batch_alter_table("verification_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_verification_tasks_open")
        batch_op.drop_index(batch_op.f("ix_verification_tasks_grid_code"))

    op.drop_table("verification_tasks")
