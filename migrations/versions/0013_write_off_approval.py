"""Write-off approval and agency placements (issue 15, section 6): write-off proposals (pending,
posted or refused), agencies and their terms, placements, and the agencies' remittances.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 17:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "write_off_proposal",
        sa.Column("id", ID, nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("portfolio_id", ID, nullable=False),
        sa.Column("debtor_id", ID, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("invoice_id", ID, nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("proposed_by", sa.String(length=200), nullable=False),
        sa.Column("proposed_on", sa.Date(), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("posted_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status in ('pending', 'posted', 'refused')",
            name=op.f("ck_write_off_proposal_status"),
        ),
        sa.ForeignKeyConstraint(
            ["debtor_id"], ["debtor.id"], name=op.f("fk_write_off_proposal_debtor_id_debtor")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoice.id"], name=op.f("fk_write_off_proposal_invoice_id_invoice")
        ),
        sa.ForeignKeyConstraint(
            ["portfolio_id"],
            ["portfolio.id"],
            name=op.f("fk_write_off_proposal_portfolio_id_portfolio"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_write_off_proposal")),
        sa.UniqueConstraint("key", name=op.f("uq_write_off_proposal_key")),
    )
    op.create_index(
        "ix_write_off_proposal_debtor", "write_off_proposal", ["debtor_id", "status"], unique=False
    )
    op.create_table(
        "agency",
        sa.Column("id", ID, nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("recall_after_days", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agency")),
        sa.UniqueConstraint("code", name=op.f("uq_agency_code")),
    )
    op.create_table(
        "placement",
        sa.Column("id", ID, nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("agency_id", ID, nullable=False),
        sa.Column("portfolio_id", ID, nullable=False),
        sa.Column("debtor_id", ID, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("case_id", ID, nullable=True),
        sa.Column("placed_on", sa.Date(), nullable=False),
        sa.Column("placed_by", sa.String(length=200), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("days_past_due", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=64), nullable=True),
        sa.Column("commission_percent", sa.String(length=16), nullable=False),
        sa.Column("credit_before", sa.String(length=16), nullable=False),
        sa.Column("recalled_on", sa.Date(), nullable=True),
        sa.Column("recalled_by", sa.String(length=200), nullable=True),
        sa.Column("recall_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_placement_agency_id_agency")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["collection_case.id"], name=op.f("fk_placement_case_id_collection_case")
        ),
        sa.ForeignKeyConstraint(
            ["debtor_id"], ["debtor.id"], name=op.f("fk_placement_debtor_id_debtor")
        ),
        sa.ForeignKeyConstraint(
            ["portfolio_id"], ["portfolio.id"], name=op.f("fk_placement_portfolio_id_portfolio")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_placement")),
        sa.UniqueConstraint("key", name=op.f("uq_placement_key")),
    )
    op.create_index("ix_placement_debtor", "placement", ["debtor_id", "currency"], unique=False)
    op.create_table(
        "agency_remittance",
        sa.Column("id", ID, nullable=False),
        sa.Column("agency_id", ID, nullable=False),
        sa.Column("placement_id", ID, nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("payment_id", ID, nullable=False),
        sa.Column("collected_on", sa.Date(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("commission_minor", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_agency_remittance_agency_id_agency")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payment.id"], name=op.f("fk_agency_remittance_payment_id_payment")
        ),
        sa.ForeignKeyConstraint(
            ["placement_id"],
            ["placement.id"],
            name=op.f("fk_agency_remittance_placement_id_placement"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agency_remittance")),
        sa.UniqueConstraint("agency_id", "reference", name=op.f("uq_agency_remittance_reference")),
    )


def downgrade() -> None:
    op.drop_table("agency_remittance")
    op.drop_table("placement")
    op.drop_table("agency")
    op.drop_index("ix_write_off_proposal_debtor", table_name="write_off_proposal")
    op.drop_table("write_off_proposal")
