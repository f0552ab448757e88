"""Reserved for scoring inputs and targets (issue 18); a no-op until it is filled in.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 22:30:00.000000
"""

from __future__ import annotations

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
