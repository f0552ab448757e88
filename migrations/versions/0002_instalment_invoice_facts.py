"""Instalments repeat their invoice's issue date and dispute flag (the snapshot reads no invoice).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 15:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: One set-based statement (UPDATE ... FROM: PostgreSQL, and SQLite 3.33+).
BACKFILL = """
UPDATE instalment SET issue_date = v.issue_date, disputed = v.disputed
FROM invoice AS v WHERE v.id = instalment.invoice_id
"""


def upgrade() -> None:
    with op.batch_alter_table("instalment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("issue_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("disputed", sa.Boolean(), server_default="0", nullable=False))
    op.execute(BACKFILL)
    # SQLite rebuilds the table (env.py turns foreign keys off for that and checks them after)
    with op.batch_alter_table("instalment", schema=None) as batch_op:
        batch_op.alter_column("issue_date", existing_type=sa.Date(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("instalment", schema=None) as batch_op:
        batch_op.drop_column("disputed")
        batch_op.drop_column("issue_date")
