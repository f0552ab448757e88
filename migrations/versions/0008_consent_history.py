"""Consent history: ``consent_history`` keeps every consent ever in force (a row per insert of
``consent`` and per change of its status), written by triggers in the database itself so that
no writer (import, opt-out link, inbound reply, web) can forget it. The compliance report judges
each contact by the consent in force when it was made. Existing consents are copied in as they
stand (their ``recorded_at`` and ``source``): what came before them is not known.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 11:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_COLUMNS = "contact_point_id, channel, status, recorded_at, source"

# PostgreSQL: statement-level triggers over the transition tables, so a bulk COPY or
# UPDATE ... FROM of a large import writes its history in one INSERT ... SELECT.
_PG_TRIGGERS = f"""
CREATE FUNCTION consent_history_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO consent_history ({_COLUMNS}) SELECT {_COLUMNS} FROM new_rows;
    RETURN NULL;
END $$;
CREATE FUNCTION consent_history_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO consent_history ({_COLUMNS})
    SELECT n.contact_point_id, n.channel, n.status, n.recorded_at, n.source
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.status IS DISTINCT FROM o.status;
    RETURN NULL;
END $$;
CREATE TRIGGER consent_history_insert AFTER INSERT ON consent
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION consent_history_inserted();
CREATE TRIGGER consent_history_update AFTER UPDATE ON consent
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION consent_history_updated();
"""

_SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER consent_history_insert AFTER INSERT ON consent BEGIN
        INSERT INTO consent_history ({_COLUMNS}) VALUES
        (NEW.contact_point_id, NEW.channel, NEW.status, NEW.recorded_at, NEW.source); END""",
    f"""CREATE TRIGGER consent_history_update AFTER UPDATE ON consent
        WHEN NEW.status IS NOT OLD.status BEGIN
        INSERT INTO consent_history ({_COLUMNS}) VALUES
        (NEW.contact_point_id, NEW.channel, NEW.status, NEW.recorded_at, NEW.source); END""",
)


def upgrade() -> None:
    op.create_table(
        "consent_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("contact_point_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_point_id"],
            ["contact_point.id"],
            name=op.f("fk_consent_history_contact_point_id_contact_point"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_history")),
    )  # fmt: skip
    with op.batch_alter_table("consent_history", schema=None) as batch_op:
        batch_op.create_index(
            "ix_consent_history_point",
            ["contact_point_id", "channel", "recorded_at"],
            unique=False,
        )
    op.execute(f"INSERT INTO consent_history ({_COLUMNS}) SELECT {_COLUMNS} FROM consent")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_TRIGGERS)
    else:
        for trigger in _SQLITE_TRIGGERS:
            op.execute(trigger)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS consent_history_insert ON consent")
        op.execute("DROP TRIGGER IF EXISTS consent_history_update ON consent")
        op.execute("DROP FUNCTION IF EXISTS consent_history_inserted()")
        op.execute("DROP FUNCTION IF EXISTS consent_history_updated()")
    else:
        op.execute("DROP TRIGGER IF EXISTS consent_history_insert")
        op.execute("DROP TRIGGER IF EXISTS consent_history_update")
    with op.batch_alter_table("consent_history", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_history_point")
    op.drop_table("consent_history")
