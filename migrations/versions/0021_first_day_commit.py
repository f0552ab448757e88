"""Reserved for the first day's commit at 1M (issue 20); a no-op until it is filled in.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 19:55:00.000000
"""

from __future__ import annotations

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
