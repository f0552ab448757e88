"""The day's stored scores carry the model version that made them (issue 18): ``arrears run``
stores every scored debtor's score of the day beside ``arrears model score``'s, and a day may
hold the scores of more than one version (a promotion during the day), each written
idempotently on (portfolio, day, debtor, currency, version).

Rows stored before this revision get their ``source`` (``model v3``, ``rules``) as version.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 19:55:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_KEY = ["portfolio_id", "as_of", "debtor_id", "currency"]


def upgrade() -> None:
    with op.batch_alter_table("debtor_score", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.String(length=200), nullable=True))
    op.execute("UPDATE debtor_score SET version = source")
    with op.batch_alter_table("debtor_score", schema=None) as batch_op:
        batch_op.alter_column("version", existing_type=sa.String(length=200), nullable=False)
        batch_op.drop_constraint(op.f("pk_debtor_score"), type_="primary")
        batch_op.create_primary_key(op.f("pk_debtor_score"), [*_KEY, "version"])


def downgrade() -> None:
    # one row per day, debtor and currency again: the last version scored of each
    op.execute(
        "DELETE FROM debtor_score WHERE EXISTS (SELECT 1 FROM debtor_score later "
        "WHERE later.portfolio_id = debtor_score.portfolio_id "
        "AND later.as_of = debtor_score.as_of AND later.debtor_id = debtor_score.debtor_id "
        "AND later.currency = debtor_score.currency AND (later.scored_at > debtor_score.scored_at "
        "OR (later.scored_at = debtor_score.scored_at AND later.version > debtor_score.version)))"
    )
    with op.batch_alter_table("debtor_score", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("pk_debtor_score"), type_="primary")
        batch_op.create_primary_key(op.f("pk_debtor_score"), _KEY)
        batch_op.drop_column("version")
