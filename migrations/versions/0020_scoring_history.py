"""Reserved for scores stored by the run and scoring history features (issue 18); a no-op until it is filled in.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 19:55:00.000000
"""

from __future__ import annotations

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
