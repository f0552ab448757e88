"""Reserved for the web pages at 1M on PostgreSQL (issue 16 section 7); a no-op until it is filled in.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 22:30:00.000000
"""

from __future__ import annotations

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
