"""Promise outcomes: once a promise's date plus grace has passed, the daily cycle records on it
whether it was kept, partly kept or broken (``outcome``), what was paid towards it
(``kept_minor``, at most the amount) and the day it was found (``outcome_on``, the day after the
date plus grace). Promises made before stay without an outcome until the next run finds it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 15:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("promise") as batch_op:
        batch_op.add_column(sa.Column("outcome", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("kept_minor", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("outcome_on", sa.Date(), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_promise_outcome"), "outcome in ('kept', 'partial', 'broken')"
        )


def downgrade() -> None:
    with op.batch_alter_table("promise") as batch_op:
        batch_op.drop_constraint(op.f("ck_promise_outcome"), type_="check")
        batch_op.drop_column("outcome_on")
        batch_op.drop_column("kept_minor")
        batch_op.drop_column("outcome")
