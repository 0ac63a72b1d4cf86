"""grid and beat registry: grid_registry, grid_beats, grid_registry_info

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-04 18:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "grid_registry",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("grid_type", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("community_code", sa.String(length=12), nullable=False),
        sa.Column("beat_code", sa.String(length=64), nullable=False),
        sa.Column("workers", sa.JSON(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_index(
        "ix_grid_registry_community_code", "grid_registry", ["community_code"], unique=False
    )
    op.create_index("ix_grid_registry_beat_code", "grid_registry", ["beat_code"], unique=False)
    op.create_table(
        "grid_beats",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("station", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "grid_registry_info",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("structure", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("grid_registry_info")
    op.drop_table("grid_beats")
    op.drop_index("ix_grid_registry_beat_code", table_name="grid_registry")
    op.drop_index("ix_grid_registry_community_code", table_name="grid_registry")
    op.drop_table("grid_registry")
