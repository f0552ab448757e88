"""Disputes as a workflow (issue 15): the dispute and dispute_invoice tables.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 19:55:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "dispute",
        sa.Column("id", ID, nullable=False),
        sa.Column("key", sa.String(length=600), nullable=False),
        sa.Column("portfolio_id", ID, nullable=False),
        sa.Column("debtor_id", ID, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("opened_by", sa.String(length=200), nullable=False),
        sa.Column("resolved_on", sa.Date(), nullable=True),
        sa.Column("resolved_by", sa.String(length=200), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status in ('open', 'upheld', 'rejected', 'closed')", name=op.f("ck_dispute_status")
        ),
        sa.CheckConstraint(
            "reason in ('wrong_amount', 'not_received', 'quality', 'already_paid', 'other', "
            "'from_erp')",
            name=op.f("ck_dispute_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["debtor_id"], ["debtor.id"], name=op.f("fk_dispute_debtor_id_debtor")
        ),
        sa.ForeignKeyConstraint(
            ["portfolio_id"], ["portfolio.id"], name=op.f("fk_dispute_portfolio_id_portfolio")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispute")),
        sa.UniqueConstraint("key", name=op.f("uq_dispute_key")),
    )
    op.create_index("ix_dispute_debtor", "dispute", ["debtor_id", "status"], unique=False)
    op.create_table(
        "dispute_invoice",
        sa.Column("dispute_id", ID, nullable=False),
        sa.Column("invoice_id", ID, nullable=False),
        sa.Column("open_minor", sa.BigInteger(), nullable=False),
        sa.Column("credit_minor", sa.BigInteger(), nullable=True),
        sa.Column("credit_note", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["dispute_id"], ["dispute.id"], name=op.f("fk_dispute_invoice_dispute_id_dispute")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoice.id"], name=op.f("fk_dispute_invoice_invoice_id_invoice")
        ),
        sa.PrimaryKeyConstraint("dispute_id", "invoice_id", name=op.f("pk_dispute_invoice")),
    )
    op.create_index("ix_dispute_invoice_invoice", "dispute_invoice", ["invoice_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_dispute_invoice_invoice", table_name="dispute_invoice")
    op.drop_table("dispute_invoice")
    op.drop_index("ix_dispute_debtor", table_name="dispute")
    op.drop_table("dispute")
