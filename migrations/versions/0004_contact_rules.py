"""Contact rules: a step can be blocked by a rule (case_step.rule), messages and calls carry the
earliest time the rules allow (outbox.send_at, task.not_before) and the pack that cleared them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 17:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case_step", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rule", sa.String(length=100), nullable=True))
        batch_op.drop_constraint(op.f("ck_case_step_status"), type_="check")
        batch_op.create_check_constraint("status", "status in ('executed', 'skipped', 'blocked')")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("send_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("rule_pack", sa.String(length=32), nullable=True))
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.add_column(sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.drop_column("not_before")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("rule_pack")
        batch_op.drop_column("send_at")
    op.execute("DELETE FROM case_step WHERE status = 'blocked'")
    with op.batch_alter_table("case_step", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_case_step_status"), type_="check")
        batch_op.create_check_constraint("status", "status in ('executed', 'skipped')")
        batch_op.drop_column("rule")
