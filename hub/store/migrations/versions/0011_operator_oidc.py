"""operators may sign in through an OpenID Connect provider: operators.oidc_issuer and
oidc_subject (unique together), password_hash nullable (an account may have no password),
and operator_sign_ins, the sign-ins sent to the provider and not yet back

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 18:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("operators") as batch:
        batch.alter_column("password_hash", existing_type=sa.String(length=256), nullable=True)
        batch.add_column(sa.Column("oidc_issuer", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("oidc_subject", sa.String(length=255), nullable=True))
    op.create_index("uq_operators_oidc", "operators", ["oidc_issuer", "oidc_subject"], unique=True)
    op.create_table(
        "operator_sign_ins",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2048), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("state_hash"),
    )
    op.create_index(
        "ix_operator_sign_ins_created_at", "operator_sign_ins", ["created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_operator_sign_ins_created_at", table_name="operator_sign_ins")
    op.drop_table("operator_sign_ins")
    op.drop_index("uq_operators_oidc", table_name="operators")
    # An account without a password gets one no password matches (not an argon2 hash).
    op.execute("UPDATE operators SET password_hash = '!' WHERE password_hash IS NULL")
    with op.batch_alter_table("operators") as batch:
        batch.drop_column("oidc_subject")
        batch.drop_column("oidc_issuer")
        batch.alter_column("password_hash", existing_type=sa.String(length=256), nullable=False)
