"""Reserved for the compact monthly snapshot the KPIs read (issue 17 section 2); a no-op until it is filled in.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 22:30:00.000000
"""

from __future__ import annotations

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
