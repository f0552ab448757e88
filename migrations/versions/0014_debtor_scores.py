"""The day's propensity scores (issue 18): one row per debtor, currency and day, written by
``arrears model score`` for the worklist, the KPIs, the cash forecast and monitoring to read;
kept for ``arrears.store.scoring.scores.RETENTION_DAYS`` days (docs/scoring.md).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 17:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "debtor_score",
        sa.Column("portfolio_id", ID, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("debtor_id", ID, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("band", sa.String(length=1), nullable=False),
        sa.Column("expected_days_to_pay", sa.Float(), nullable=True),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("band in ('A', 'B', 'C', 'D', 'E')", name=op.f("ck_debtor_score_band")),
        sa.ForeignKeyConstraint(
            ["portfolio_id"],
            ["portfolio.id"],
            name=op.f("fk_debtor_score_portfolio_id_portfolio"),
        ),
        sa.ForeignKeyConstraint(
            ["debtor_id"], ["debtor.id"], name=op.f("fk_debtor_score_debtor_id_debtor")
        ),
        sa.PrimaryKeyConstraint(
            "portfolio_id", "as_of", "debtor_id", "currency", name=op.f("pk_debtor_score")
        ),
    )
    op.create_index(
        "ix_debtor_score_debtor_id", "debtor_score", ["debtor_id", "as_of"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_debtor_score_debtor_id", table_name="debtor_score")
    op.drop_table("debtor_score")
