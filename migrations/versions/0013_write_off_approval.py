"""Reserved for write-off approval and agency placements (issue 15); a no-op until it is filled in.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 17:10:00.000000
"""

from __future__ import annotations

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
