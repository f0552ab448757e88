"""Reserved for the debtor's dispute attachments (issue 16 section 4); a no-op until it is filled in.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 22:30:00.000000
"""

from __future__ import annotations

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
