"""Reserved for the cycle's decide and commit at 1M (issue 20); a no-op until it is filled in.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 22:30:00.000000
"""

from __future__ import annotations

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
