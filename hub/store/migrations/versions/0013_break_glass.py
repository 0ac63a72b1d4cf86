"""break-glass sessions: break_glass_sessions

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 19:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "break_glass_sessions",
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=256), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("opened_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.Column("approved_by", sa.String(length=256), nullable=True),
        sa.Column("approved_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("session_id"),
    )
    op.create_index(
        "ix_break_glass_sessions_client_id", "break_glass_sessions", ["client_id"], unique=False
    )
    op.create_index(
        "ix_break_glass_sessions_opened_at", "break_glass_sessions", ["opened_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_break_glass_sessions_opened_at", table_name="break_glass_sessions")
    op.drop_index("ix_break_glass_sessions_client_id", table_name="break_glass_sessions")
    op.drop_table("break_glass_sessions")
