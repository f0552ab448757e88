"""Reserved for the first load at 1M (issue 20); a no-op until it is filled in.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 17:10:00.000000
"""

from __future__ import annotations

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
