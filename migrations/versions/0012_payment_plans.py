"""Payment plans and settlements (issue 15): ``payment_plan`` with its schedule
(``plan_instalment``) and ``settlement``. A plan accepted within the policy's limits (or approved
by a manager) pauses the debtor's case while in good standing; the cycle marks each instalment
paid or missed, and the plan broken or completed. A settlement accepted and paid by its expiry
has the rest of the debt written off ("settlement discount").

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 17:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "payment_plan",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("portfolio_id", ID, nullable=False),
        sa.Column("debtor_id", ID, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("balance_minor", sa.BigInteger(), nullable=False),
        sa.Column("down_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("instalments", sa.Integer(), nullable=False),
        sa.Column("frequency", sa.String(16), nullable=False),
        sa.Column("first_on", sa.Date(), nullable=False),
        sa.Column("accepted_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("active_on", sa.Date(), nullable=True),
        sa.Column("approved_by", sa.String(200), nullable=True),
        sa.Column("beyond", sa.JSON(), nullable=False),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("missed_to_break", sa.Integer(), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status in ('awaiting_approval', 'active', 'broken', 'completed', 'expired', "
            "'cancelled')",
            name=op.f("ck_payment_plan_status"),
        ),
        sa.CheckConstraint(
            "frequency in ('weekly', 'fortnightly', 'monthly')",
            name=op.f("ck_payment_plan_frequency"),
        ),
        sa.CheckConstraint(
            "balance_minor > 0 and down_minor >= 0 and fee_minor >= 0",
            name=op.f("ck_payment_plan_amounts"),
        ),
        sa.CheckConstraint("instalments >= 1", name=op.f("ck_payment_plan_instalments")),
        sa.ForeignKeyConstraint(
            ["debtor_id"], ["debtor.id"], name=op.f("fk_payment_plan_debtor_id_debtor")
        ),
        sa.ForeignKeyConstraint(
            ["portfolio_id"], ["portfolio.id"], name=op.f("fk_payment_plan_portfolio_id_portfolio")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_plan")),
        sa.UniqueConstraint("key", name=op.f("uq_payment_plan_key")),
    )
    op.create_index("ix_payment_plan_debtor", "payment_plan", ["debtor_id", "currency"])
    op.create_table(
        "plan_instalment",
        sa.Column("plan_id", ID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), server_default="due", nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=True),
        sa.Column("found_on", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "status in ('due', 'late', 'paid', 'missed')", name=op.f("ck_plan_instalment_status")
        ),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_plan_instalment_amount_positive")),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["payment_plan.id"], name=op.f("fk_plan_instalment_plan_id_payment_plan")
        ),
        sa.PrimaryKeyConstraint("plan_id", "seq", name=op.f("pk_plan_instalment")),
    )
    op.create_table(
        "settlement",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("portfolio_id", ID, nullable=False),
        sa.Column("debtor_id", ID, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("balance_minor", sa.BigInteger(), nullable=False),
        sa.Column("discount", sa.String(12), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("offered_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("accepted_on", sa.Date(), nullable=True),
        sa.Column("approved_by", sa.String(200), nullable=True),
        sa.Column("beyond", sa.JSON(), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("written_off_minor", sa.BigInteger(), nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status in ('awaiting_approval', 'offered', 'accepted', 'paid', 'lapsed', 'expired')",
            name=op.f("ck_settlement_status"),
        ),
        sa.CheckConstraint(
            "amount_minor > 0 and amount_minor <= balance_minor",
            name=op.f("ck_settlement_amounts"),
        ),
        sa.CheckConstraint(
            "expires_on >= offered_on", name=op.f("ck_settlement_expires_after_offer")
        ),
        sa.ForeignKeyConstraint(
            ["debtor_id"], ["debtor.id"], name=op.f("fk_settlement_debtor_id_debtor")
        ),
        sa.ForeignKeyConstraint(
            ["portfolio_id"], ["portfolio.id"], name=op.f("fk_settlement_portfolio_id_portfolio")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement")),
        sa.UniqueConstraint("key", name=op.f("uq_settlement_key")),
    )
    op.create_index("ix_settlement_debtor", "settlement", ["debtor_id", "currency"])


def downgrade() -> None:
    op.drop_index("ix_settlement_debtor", table_name="settlement")
    op.drop_table("settlement")
    op.drop_table("plan_instalment")
    op.drop_index("ix_payment_plan_debtor", table_name="payment_plan")
    op.drop_table("payment_plan")
