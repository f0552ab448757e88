"""Promises with several dated amounts and task queues (issue 15).

``promise_amount``: the dated amounts of a promise made of several (a promise of one amount has
none: its ``due_on`` and ``amount_minor`` are that amount); the promise row keeps the last date
and the total, what the cycle reads. ``user_queue``: the queues a collector works; the daily run
assigns each queue's unassigned tasks to its collectors. ``task.assigned_by``: who assigned the
task (``queue`` for the run by queue; a person's assignment, or unassignment, is never undone by
the run).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 19:55:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "promise_amount",
        sa.Column("promise_id", ID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_promise_amount_amount_positive")),
        sa.ForeignKeyConstraint(
            ["promise_id"], ["promise.id"], name=op.f("fk_promise_amount_promise_id_promise")
        ),
        sa.PrimaryKeyConstraint("promise_id", "seq", name=op.f("pk_promise_amount")),
    )
    op.create_table(
        "user_queue",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_user_queue_user_id_user")),
        sa.PrimaryKeyConstraint("user_id", "queue", name=op.f("pk_user_queue")),
    )
    op.add_column("task", sa.Column("assigned_by", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("task") as batch:
        batch.drop_column("assigned_by")
    op.drop_table("user_queue")
    op.drop_table("promise_amount")
