"""the plain code columns of record tables indexed with id

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 09:00:00.000000

A page of a scope (``grid_code = ? ORDER BY id LIMIT 100``) read the one-column index on
``grid_code`` and then, on PostgreSQL, sorted every row of the grid: its cost grew with the
grid. Each one-column index ``ix_rec_<kind>_<name>_code`` becomes (``<name>_code``, ``id``).
The indexes are found in the database, not taken from today's contracts: a migration must
keep doing what it did when it was written.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _code_indexes(columns: int) -> list[tuple[str, str, str]]:
    """(table, index, column) of each record table's code index of ``columns`` columns."""
    inspector = sa.inspect(op.get_bind())
    found = []
    for table in inspector.get_table_names():
        if not table.startswith("rec_"):
            continue
        for index in inspector.get_indexes(table):
            names = index["column_names"]
            column = names[0] if names else None
            if (
                len(names) == columns
                and isinstance(column, str)
                and column.endswith("_code")
                and index["name"] == f"ix_{table}_{column}"
                and not index["unique"]
            ):
                found.append((table, index["name"], column))
    return found


def upgrade() -> None:
    for table, index, column in _code_indexes(1):
        op.drop_index(index, table_name=table)
        op.create_index(index, table, [column, "id"])


def downgrade() -> None:
    for table, index, column in _code_indexes(2):
        op.drop_index(index, table_name=table)
        op.create_index(index, table, [column])
