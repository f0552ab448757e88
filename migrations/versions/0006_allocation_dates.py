"""Allocations indexed by date: the snapshot's point-in-time correction (allocations dated after
the day, or reversed after it) reads them through these indexes instead of scanning the table.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 02:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

REVERSED = sa.text("reversed_on IS NOT NULL")


def upgrade() -> None:
    op.create_index("ix_allocation_allocated_on", "allocation", ["allocated_on"])
    op.create_index(
        "ix_allocation_reversed_on",
        "allocation",
        ["reversed_on"],
        postgresql_where=REVERSED,
        sqlite_where=REVERSED,
    )


def downgrade() -> None:
    op.drop_index("ix_allocation_reversed_on", table_name="allocation")
    op.drop_index("ix_allocation_allocated_on", table_name="allocation")
