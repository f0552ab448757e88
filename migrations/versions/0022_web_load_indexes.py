"""The web pages at 1M on PostgreSQL (issue 16 section 7): indexes for the worklist and the
account page.

``ix_task_worklist``: the open call tasks of a portfolio by score, so that the worklist's best
50 are read by walking the index from the top instead of sorting every open task;
``ix_task_debtor``: a debtor's tasks (the account page's "may I call now?" finds the debtor's
open call task), which were found by scanning the portfolio's open tasks.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 22:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

OPEN_CALL = "kind = 'call' AND status = 'open'"


def upgrade() -> None:
    op.create_index(
        "ix_task_worklist",
        "task",
        ["portfolio_id", "score"],
        unique=False,
        postgresql_where=sa.text(OPEN_CALL),
        sqlite_where=sa.text(OPEN_CALL),
    )
    op.create_index("ix_task_debtor", "task", ["debtor_id", "status"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_task_debtor", table_name="task")
    op.drop_index("ix_task_worklist", table_name="task")
