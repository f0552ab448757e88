"""Disputes dated: ``disputed_on`` on invoices (and repeated on their instalments, as
``disputed`` is), the day arrears learnt of the dispute, so that what a past day knew can be
told from what came later (the snapshot and the propensity model's history read the flag as of
a day). Existing disputes stay undated (known since the invoice came in).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 03:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("invoice", sa.Column("disputed_on", sa.Date(), nullable=True))
    op.add_column("instalment", sa.Column("disputed_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("instalment") as batch_op:
        batch_op.drop_column("disputed_on")
    with op.batch_alter_table("invoice") as batch_op:
        batch_op.drop_column("disputed_on")
