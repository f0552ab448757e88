"""The KPIs' compact monthly snapshot (issue 17 item 2): each debtor's state at each month end,
per currency (balance, overdue balance, days past due of the oldest open instalment, the month's
write-offs, the case's stage), and one row per month end written with the ledger's watermark
then, so that a month changed since is known (``arrears.store.kpi_snapshot``).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 22:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "kpi_monthly_snapshot",
        sa.Column("portfolio_id", _ID, nullable=False),
        sa.Column("month_end", sa.Date(), nullable=False),
        sa.Column("debtor_id", _ID, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("balance_minor", sa.BigInteger(), nullable=False),
        sa.Column("overdue_minor", sa.BigInteger(), nullable=False),
        sa.Column("oldest_days", sa.Integer(), nullable=True),
        sa.Column("written_off_minor", sa.BigInteger(), nullable=False),
        sa.Column("stage", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["portfolio_id"],
            ["portfolio.id"],
            name=op.f("fk_kpi_monthly_snapshot_portfolio_id_portfolio"),
        ),
        sa.ForeignKeyConstraint(
            ["debtor_id"], ["debtor.id"], name=op.f("fk_kpi_monthly_snapshot_debtor_id_debtor")
        ),
        sa.PrimaryKeyConstraint(
            "portfolio_id",
            "month_end",
            "debtor_id",
            "currency",
            name=op.f("pk_kpi_monthly_snapshot"),
        ),
    )
    op.create_table(
        "kpi_snapshot_month",
        sa.Column("portfolio_id", _ID, nullable=False),
        sa.Column("month_end", sa.Date(), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("instalment_max_id", sa.BigInteger(), nullable=False),
        sa.Column("allocation_max_id", sa.BigInteger(), nullable=False),
        sa.Column("instalments", sa.BigInteger(), nullable=False),
        sa.Column("reversals", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["portfolio_id"],
            ["portfolio.id"],
            name=op.f("fk_kpi_snapshot_month_portfolio_id_portfolio"),
        ),
        sa.PrimaryKeyConstraint("portfolio_id", "month_end", name=op.f("pk_kpi_snapshot_month")),
    )


def downgrade() -> None:
    op.drop_table("kpi_snapshot_month")
    op.drop_table("kpi_monthly_snapshot")
