"""The debtor's dispute attachments (issue 16 section 4): the dispute_attachment table.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 22:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "dispute_attachment",
        sa.Column("id", ID, nullable=False),
        sa.Column("dispute_id", ID, nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=200), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "media_type in ('application/pdf', 'image/jpeg', 'image/png')",
            name=op.f("ck_dispute_attachment_media_type"),
        ),
        sa.ForeignKeyConstraint(
            ["dispute_id"], ["dispute.id"], name=op.f("fk_dispute_attachment_dispute_id_dispute")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispute_attachment")),
        sa.UniqueConstraint("dispute_id", "sha256", name="uq_dispute_attachment_file"),
    )


def downgrade() -> None:
    op.drop_table("dispute_attachment")
