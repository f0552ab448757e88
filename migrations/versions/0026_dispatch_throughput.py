"""Reserved for dispatch throughput (issue 19); a no-op until it is filled in.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 22:30:00.000000
"""

from __future__ import annotations

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
