"""Reserved for payment plans and settlements (issue 15); a no-op until it is filled in.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 17:10:00.000000
"""

from __future__ import annotations

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
