"""Reserved for promises with several dated amounts and task queues (issue 15); a no-op until it is filled in.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 19:55:00.000000
"""

from __future__ import annotations

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
