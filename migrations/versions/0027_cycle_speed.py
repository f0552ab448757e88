"""PostgreSQL: ``instalment`` and ``invoice`` keep 30 % of each page free (``fillfactor = 70``),
so the open-balance and status ``UPDATE``s of a payments import can be HOT updates (no new index
entries); SQLite has no such setting. Pages written before keep their fill until rewritten.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 22:30:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

TABLES = ("instalment", "invoice")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} SET (fillfactor = 70)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
