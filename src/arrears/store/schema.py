"""The ledger's tables (SQLAlchemy Core).

Amounts are integer minor units (``*_minor``) with the currency beside them; no floats. Invariants
live in the database too: positive amounts, open balances within ``[0, amount]``, unique external
ids per portfolio, foreign keys, and an append-only ``activity`` table (triggers in the migration).

``instalment`` repeats its invoice's portfolio, debtor, currency, issue date and dispute flag so
that the whole-portfolio snapshot is one table scan, with no invoice join (see ``docs/store.md``);
every writer keeps them in step and ``arrears.store.ledger.reconcile`` checks it.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

ID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite needs INTEGER for rowid aliases
MINOR = BigInteger


def _timestamps() -> list[Column[object]]:
    return [
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
    ]


portfolio = Table(
    "portfolio",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("base_currency", String(3), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

import_batch = Table(
    "import_batch",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("file_name", Text, nullable=False),
    Column("file_sha256", String(64), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("created", Integer, nullable=False),
    Column("updated", Integer, nullable=False),
    Column("unchanged", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("imported_at", DateTime(timezone=True), nullable=False),
)

debtor = Table(
    "debtor",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("portfolio_id", ID, ForeignKey("portfolio.id"), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("name", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("country", String(2), nullable=False),
    Column("region", String(100)),
    Column("timezone", String(64), nullable=False),
    Column("language", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("credit_limit_minor", MINOR),
    Column("credit_status", String(16), nullable=False, server_default="active"),
    Column("do_not_contact", Boolean, nullable=False, server_default="0"),
    Column("bankrupt", Boolean, nullable=False, server_default="0"),
    Column("deceased", Boolean, nullable=False, server_default="0"),
    Column("legal_representative", Boolean, nullable=False, server_default="0"),
    Column("tags", JSON, nullable=False),
    Column("attributes", JSON, nullable=False),
    Column("row_hash", String(64), nullable=False),
    Column("import_batch_id", ID, ForeignKey("import_batch.id")),
    *_timestamps(),
    UniqueConstraint("portfolio_id", "external_id", name="uq_debtor_external_id"),
    CheckConstraint("kind in ('person', 'company')", name="kind"),
    CheckConstraint("credit_status in ('active', 'on_hold', 'closed')", name="credit_status"),
    CheckConstraint("credit_limit_minor is null or credit_limit_minor >= 0", name="credit_limit"),
)

contact_point = Table(
    "contact_point",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("debtor_id", ID, ForeignKey("debtor.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("value", Text, nullable=False),
    Column("is_primary", Boolean, nullable=False, server_default="1"),
    Column("status", String(16), nullable=False, server_default="valid"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("debtor_id", "kind", "value", name="uq_contact_point_value"),
    CheckConstraint("kind in ('email', 'phone', 'postal')", name="kind"),
    CheckConstraint("status in ('valid', 'bad')", name="status"),
)

consent = Table(
    "consent",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column(
        "contact_point_id", ID, ForeignKey("contact_point.id", ondelete="CASCADE"), nullable=False
    ),
    Column("channel", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("source", String(64), nullable=False),
    UniqueConstraint("contact_point_id", "channel", name="uq_consent_channel"),
    CheckConstraint("channel in ('email', 'sms', 'whatsapp', 'call', 'letter')", name="channel"),
    CheckConstraint("status in ('granted', 'denied', 'unknown')", name="status"),
)

# Every consent ever in force (migration 0008): one row per insert of ``consent`` and per change
# of its status, written by the database's own triggers (no writer can forget it); the compliance
# report judges each contact by the consent in force when it was made.
consent_history = Table(
    "consent_history",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column(
        "contact_point_id", ID, ForeignKey("contact_point.id", ondelete="CASCADE"), nullable=False
    ),
    Column("channel", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("source", String(64), nullable=False),
)
Index(
    "ix_consent_history_point",
    consent_history.c.contact_point_id,
    consent_history.c.channel,
    consent_history.c.recorded_at,
)

invoice = Table(
    "invoice",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("portfolio_id", ID, ForeignKey("portfolio.id"), nullable=False),
    Column("debtor_id", ID, ForeignKey("debtor.id"), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("number", String(200), nullable=False),
    Column("issue_date", Date, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", MINOR, nullable=False),
    Column("status", String(16), nullable=False, server_default="open"),
    Column("disputed", Boolean, nullable=False, server_default="0"),
    Column("reference", Text),
    Column("row_hash", String(64), nullable=False),
    Column("import_batch_id", ID, ForeignKey("import_batch.id")),
    *_timestamps(),
    # the day arrears learnt of the dispute (a re-import that set ``disputed``); null: disputed
    # since before the invoice came in (a first load), or not disputed
    Column("disputed_on", Date),
    UniqueConstraint("portfolio_id", "external_id", name="uq_invoice_external_id"),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
    CheckConstraint("status in ('open', 'paid', 'written_off')", name="status"),
    postgresql_with={"fillfactor": 70},  # room for HOT updates of status (migration 0027)
)

instalment = Table(
    "instalment",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("invoice_id", ID, ForeignKey("invoice.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("portfolio_id", ID, ForeignKey("portfolio.id"), nullable=False),
    Column("debtor_id", ID, ForeignKey("debtor.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("issue_date", Date, nullable=False),  # the invoice's
    Column("disputed", Boolean, nullable=False, server_default="0"),  # the invoice's
    Column("due_date", Date, nullable=False),
    Column("amount_minor", MINOR, nullable=False),
    Column("open_minor", MINOR, nullable=False),
    Column("disputed_on", Date),  # the invoice's
    UniqueConstraint("invoice_id", "seq", name="uq_instalment_seq"),
    CheckConstraint("seq >= 1", name="seq"),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
    CheckConstraint("open_minor >= 0 and open_minor <= amount_minor", name="open_within_amount"),
    postgresql_with={"fillfactor": 70},  # room for HOT updates of open_minor (migration 0027)
)
Index("ix_instalment_debtor_due", instalment.c.debtor_id, instalment.c.due_date)

payment = Table(
    "payment",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("portfolio_id", ID, ForeignKey("portfolio.id"), nullable=False),
    Column("debtor_id", ID, ForeignKey("debtor.id"), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("received_on", Date, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", MINOR, nullable=False),
    Column("unallocated_minor", MINOR, nullable=False),
    Column("method", String(64)),
    Column("reference", Text),
    Column("status", String(16), nullable=False, server_default="posted"),
    Column("reversed_on", Date),
    Column("reversal_reason", Text),
    Column("row_hash", String(64), nullable=False),
    Column("import_batch_id", ID, ForeignKey("import_batch.id")),
    *_timestamps(),
    UniqueConstraint("portfolio_id", "external_id", name="uq_payment_external_id"),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
    CheckConstraint(
        "unallocated_minor >= 0 and unallocated_minor <= amount_minor", name="unallocated"
    ),
    CheckConstraint("status in ('posted', 'reversed')", name="status"),
)
Index("ix_payment_debtor", payment.c.debtor_id, payment.c.received_on)

credit_note = Table(
    "credit_note",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("portfolio_id", ID, ForeignKey("portfolio.id"), nullable=False),
    Column("debtor_id", ID, ForeignKey("debtor.id"), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("issued_on", Date, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", MINOR, nullable=False),
    Column("unallocated_minor", MINOR, nullable=False),
    Column("invoice_id", ID, ForeignKey("invoice.id")),
    Column("reason", Text),
    Column("row_hash", String(64), nullable=False),
    Column("import_batch_id", ID, ForeignKey("import_batch.id")),
    *_timestamps(),
    UniqueConstraint("portfolio_id", "external_id", name="uq_credit_note_external_id"),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
    CheckConstraint(
        "unallocated_minor >= 0 and unallocated_minor <= amount_minor", name="unallocated"
    ),
)

write_off = Table(
    "write_off",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("portfolio_id", ID, ForeignKey("portfolio.id"), nullable=False),
    Column("debtor_id", ID, ForeignKey("debtor.id"), nullable=False),
    Column("invoice_id", ID, ForeignKey("invoice.id"), nullable=False),
    Column("effective_on", Date, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", MINOR, nullable=False),
    Column("reason", Text, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
)

allocation = Table(
    "allocation",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("source_kind", String(16), nullable=False),
    Column("source_id", ID, nullable=False),
    Column("instalment_id", ID, ForeignKey("instalment.id"), nullable=False),
    Column("debtor_id", ID, ForeignKey("debtor.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", MINOR, nullable=False),
    Column("allocated_on", Date, nullable=False),
    Column("reversed", Boolean, nullable=False, server_default="0"),
    Column("reversed_on", Date),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
    CheckConstraint("reversed = (reversed_on is not null)", name="reversal_dated"),
    CheckConstraint("source_kind in ('payment', 'credit_note', 'write_off')", name="source_kind"),
)
Index("ix_allocation_source", allocation.c.source_kind, allocation.c.source_id)
Index("ix_allocation_instalment", allocation.c.instalment_id)
# The snapshot's point-in-time correction looks for allocations dated after a day or reversed
# after it: for today's date there are none, and these two indexes find that without a scan.
Index("ix_allocation_allocated_on", allocation.c.allocated_on)
Index(
    "ix_allocation_reversed_on",
    allocation.c.reversed_on,
    postgresql_where=allocation.c.reversed_on.is_not(None),
    sqlite_where=allocation.c.reversed_on.is_not(None),
)

activity = Table(
    "activity",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("portfolio_id", ID, ForeignKey("portfolio.id")),
    Column("debtor_id", ID, ForeignKey("debtor.id")),
    Column("subject_kind", String(32), nullable=False),
    Column("subject_id", String(200), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("idempotency_key", String(200), unique=True),
)
Index("ix_activity_debtor", activity.c.debtor_id, activity.c.occurred_at)
Index("ix_activity_kind", activity.c.kind, activity.c.occurred_at)


# The daily collection cycle (migration 0003; see docs/cycle-store.md) -------------------------

collection_case = Table(
    "collection_case",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("portfolio_id", ID, ForeignKey("portfolio.id"), nullable=False),
    Column("debtor_id", ID, ForeignKey("debtor.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("opened_on", Date, nullable=False),
    Column("closed_on", Date),
    Column("close_reason", String(64)),
    Column("stage", String(64), nullable=False),
    Column("stage_entered_on", Date, nullable=False),
    Column("stage_floor", String(64)),
    Column("segment", String(64), nullable=False),
    Column("arm", String(64)),
    Column("agency", String(64)),
    Column("awaiting_approval", String(64)),
    Column("paused_by", String(16)),
    Column("paused_until", Date),
    Column("policy", String(64), nullable=False),
    Column("updated_on", Date, nullable=False),
    UniqueConstraint("debtor_id", "currency", "opened_on", name="uq_collection_case_natural"),
)
Index("ix_collection_case_portfolio", collection_case.c.portfolio_id, collection_case.c.closed_on)

case_step = Table(
    "case_step",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("case_id", ID, ForeignKey("collection_case.id"), nullable=False),
    Column("step_id", String(64), nullable=False),
    Column("occurrence", Integer, nullable=False),
    Column("action", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text),
    Column("rule", String(100)),  # the contact rule that blocked it (status 'blocked')
    Column("due_on", Date, nullable=False),
    Column("done_on", Date, nullable=False),
    Column("key", String(300), nullable=False, unique=True),
    UniqueConstraint("case_id", "step_id", "occurrence", name="uq_case_step_occurrence"),
    CheckConstraint("status in ('executed', 'skipped', 'blocked')", name="status"),
)

approval = Table(
    "approval",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("case_id", ID, ForeignKey("collection_case.id"), nullable=False),
    Column("stage", String(64), nullable=False),
    Column("approved_on", Date, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("case_id", "stage", name="uq_approval_stage"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("key", String(300), nullable=False, unique=True),
    Column("portfolio_id", ID, ForeignKey("portfolio.id"), nullable=False),
    Column("debtor_id", ID, ForeignKey("debtor.id"), nullable=False),
    Column("case_id", ID, ForeignKey("collection_case.id")),
    Column("channel", String(16), nullable=False),
    Column("template", String(200)),
    Column("params", JSON, nullable=False),
    Column("created_on", Date, nullable=False),
    Column("status", String(16), nullable=False, server_default="queued"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("send_at", DateTime(timezone=True)),  # not before: the contact rules' window
    Column("rule_pack", String(32)),  # the contact-rule pack that cleared it
    Column("created_at", DateTime(timezone=True), nullable=False),
    # The channels (migration 0005; see docs/channels.md): queued -> claimed -> sending ->
    # sent | failed | blocked; a retry or a deferral goes back to queued with next_attempt_at.
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("claimed_by", String(100)),
    Column("claimed_at", DateTime(timezone=True)),
    Column("sent_at", DateTime(timezone=True)),
    Column("provider_ref", Text),
    Column("last_error", Text),
    Column("rule", String(100)),  # the contact rule that blocked it at send time
)
Index("ix_outbox_debtor", outbox.c.debtor_id, outbox.c.created_on)
Index("ix_outbox_due", outbox.c.status, outbox.c.next_attempt_at)

task = Table(
    "task",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("key", String(300), nullable=False, unique=True),
    Column("portfolio_id", ID, ForeignKey("portfolio.id"), nullable=False),
    Column("debtor_id", ID, ForeignKey("debtor.id"), nullable=False),
    Column("case_id", ID, ForeignKey("collection_case.id")),
    Column("kind", String(16), nullable=False),
    Column("step_id", String(64)),
    Column("task_priority", Integer, nullable=False),
    Column("score", Float, nullable=False),  # an ordering score (worklist priority), not money
    Column("queue", String(64)),
    Column("collector", String(200)),
    Column("status", String(16), nullable=False, server_default="open"),
    Column("created_on", Date, nullable=False),
    Column("closed_on", Date),
    Column("note", Text),
    Column("not_before", DateTime(timezone=True)),  # a call: the contact rules' window
    # who assigned it: "queue" for the run by queue, else a person (migration 0018)
    Column("assigned_by", String(200)),
    CheckConstraint("kind in ('call', 'approval', 'notify', 'write_off')", name="kind"),
    CheckConstraint("status in ('open', 'done', 'cancelled')", name="status"),
)
Index("ix_task_open", task.c.portfolio_id, task.c.status)
# The worklist's best tasks by walking the index from the top; a debtor's tasks (migration 0022)
Index(
    "ix_task_worklist",
    task.c.portfolio_id,
    task.c.score,
    postgresql_where=(task.c.kind == "call") & (task.c.status == "open"),
    sqlite_where=(task.c.kind == "call") & (task.c.status == "open"),
)
Index("ix_task_debtor", task.c.debtor_id, task.c.status)

promise = Table(
    "promise",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("portfolio_id", ID, ForeignKey("portfolio.id"), nullable=False),
    Column("debtor_id", ID, ForeignKey("debtor.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", MINOR, nullable=False),
    Column("made_on", Date, nullable=False),
    Column("due_on", Date, nullable=False),
    Column("grace_days", Integer, nullable=False, server_default="0"),
    Column("status", String(16), nullable=False, server_default="open"),
    Column("cancelled_on", Date),
    Column("note", Text),
    Column("actor", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # recorded by the cycle once the date plus grace has passed (migration 0010)
    Column("outcome", String(16)),  # kept | partial | broken
    Column("kept_minor", MINOR),  # what was paid towards it (at most the amount)
    Column("outcome_on", Date),  # the day it was found: the day after the date plus grace
    CheckConstraint("outcome in ('kept', 'partial', 'broken')", name="outcome"),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
    CheckConstraint("(status = 'cancelled') = (cancelled_on is not null)", name="cancel_dated"),
    CheckConstraint("due_on >= made_on", name="due_after_made"),
    CheckConstraint("grace_days >= 0", name="grace_days"),
    CheckConstraint("status in ('open', 'cancelled')", name="status"),
)
Index("ix_promise_debtor", promise.c.debtor_id, promise.c.made_on)

#: The dated amounts of a promise of several (migration 0018); the promise keeps the last date
#: and the total. A promise of one amount has no rows here.
promise_amount = Table(
    "promise_amount",
    metadata,
    Column("promise_id", ID, ForeignKey("promise.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("due_on", Date, nullable=False),
    Column("amount_minor", MINOR, nullable=False),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
)

hold = Table(
    "hold",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("portfolio_id", ID, ForeignKey("portfolio.id"), nullable=False),
    Column("debtor_id", ID, ForeignKey("debtor.id"), nullable=False),
    Column("starts_on", Date, nullable=False),
    Column("ends_on", Date, nullable=False),
    Column("reason", Text, nullable=False),
    Column("released_on", Date),
    Column("actor", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("ends_on > starts_on", name="ends_after_start"),
)
Index("ix_hold_debtor", hold.c.debtor_id, hold.c.starts_on)

offer = Table(
    "offer",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("key", String(300), nullable=False, unique=True),
    Column("case_id", ID, ForeignKey("collection_case.id"), nullable=False),
    Column("debtor_id", ID, ForeignKey("debtor.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("terms", JSON, nullable=False),
    Column("made_on", Date, nullable=False),
    Column("expires_on", Date),
    Column("status", String(16), nullable=False, server_default="open"),
    CheckConstraint("kind in ('payment_plan', 'settlement')", name="kind"),
)

# Payment plans and settlements agreed with a debtor (migration 0012; see docs/agreements.md) ---

payment_plan = Table(
    "payment_plan",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    # plan:<portfolio>:<debtor>:<currency>:<accepted_on>: one plan a day per debt
    Column("key", String(300), nullable=False, unique=True),
    Column("portfolio_id", ID, ForeignKey("portfolio.id"), nullable=False),
    Column("debtor_id", ID, ForeignKey("debtor.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(20), nullable=False),
    Column("balance_minor", MINOR, nullable=False),  # the open balance when it was accepted
    Column("down_minor", MINOR, nullable=False, server_default="0"),
    Column("fee_minor", MINOR, nullable=False, server_default="0"),
    Column("instalments", Integer, nullable=False),
    Column("frequency", String(16), nullable=False),
    Column("first_on", Date, nullable=False),
    Column("accepted_on", Date, nullable=False),
    Column("expires_on", Date, nullable=False),  # awaiting approval: until this day at most
    Column("active_on", Date),  # the day it started to pause the case (accepted or approved)
    Column("approved_by", String(200)),
    Column("beyond", JSON, nullable=False),  # the policy's limits it goes beyond
    Column("grace_days", Integer, nullable=False),
    Column("missed_to_break", Integer, nullable=False),
    Column("ended_on", Date),  # broken, completed, expired or cancelled on
    Column("actor", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(
        "status in ('awaiting_approval', 'active', 'broken', 'completed', 'expired', 'cancelled')",
        name="status",
    ),
    CheckConstraint("frequency in ('weekly', 'fortnightly', 'monthly')", name="frequency"),
    CheckConstraint("balance_minor > 0 and down_minor >= 0 and fee_minor >= 0", name="amounts"),
    CheckConstraint("instalments >= 1", name="instalments"),
)
Index("ix_payment_plan_debtor", payment_plan.c.debtor_id, payment_plan.c.currency)

plan_instalment = Table(
    "plan_instalment",
    metadata,
    Column("plan_id", ID, ForeignKey("payment_plan.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),  # 0: the down payment
    Column("due_on", Date, nullable=False),
    Column("amount_minor", MINOR, nullable=False),
    Column("status", String(16), nullable=False, server_default="due"),
    Column("paid_on", Date),
    Column("found_on", Date),  # missed: the day after its date plus grace
    CheckConstraint("status in ('due', 'late', 'paid', 'missed')", name="status"),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
)

settlement = Table(
    "settlement",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    # settlement:<portfolio>:<debtor>:<currency>:<offered_on>
    Column("key", String(300), nullable=False, unique=True),
    Column("portfolio_id", ID, ForeignKey("portfolio.id"), nullable=False),
    Column("debtor_id", ID, ForeignKey("debtor.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(20), nullable=False),
    Column("balance_minor", MINOR, nullable=False),
    Column("discount", String(12), nullable=False),  # percent, decimal text ("15", "12.5")
    Column("amount_minor", MINOR, nullable=False),  # what settles the debt
    Column("offered_on", Date, nullable=False),
    Column("expires_on", Date, nullable=False),
    Column("accepted_on", Date),
    Column("approved_by", String(200)),
    Column("beyond", JSON, nullable=False),
    Column("ended_on", Date),  # paid, lapsed or expired on
    Column("written_off_minor", MINOR),
    Column("actor", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(
        "status in ('awaiting_approval', 'offered', 'accepted', 'paid', 'lapsed', 'expired')",
        name="status",
    ),
    CheckConstraint("amount_minor > 0 and amount_minor <= balance_minor", name="amounts"),
    CheckConstraint("expires_on >= offered_on", name="expires_after_offer"),
)
Index("ix_settlement_debtor", settlement.c.debtor_id, settlement.c.currency)

cycle_run = Table(
    "cycle_run",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("portfolio_id", ID, ForeignKey("portfolio.id"), nullable=False),
    Column("as_of", Date, nullable=False),
    Column("policy", String(64), nullable=False),
    Column("policy_sha256", String(64), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Column("summary", JSON, nullable=False),
    UniqueConstraint("portfolio_id", "as_of", "policy_sha256", name="uq_cycle_run_policy"),
)


# Users of the web application (migration 0009; see docs/web.md) -------------------------------

user = Table(
    "user",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", Text, nullable=False),
    # login rate limiting: consecutive failed logins, and the last one
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    Column("last_failed_at", DateTime(timezone=True)),
    Column("created_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("role in ('admin', 'manager', 'collector', 'auditor')", name="role"),
)

#: The queues a collector works (migration 0018): the daily run assigns each queue's unassigned
#: open tasks to its collectors, the least loaded first.
user_queue = Table(
    "user_queue",
    metadata,
    Column("user_id", ID, ForeignKey("user.id"), primary_key=True),
    Column("queue", String(64), primary_key=True),
)

#: API tokens of machine clients (``Authorization: Bearer ...``): only the SHA-256 of the token is
#: kept; a token acts as ``token:<name>`` with its role until it expires or is revoked.
api_token = Table(
    "api_token",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("expires_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Column("created_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("role in ('admin', 'manager', 'collector', 'auditor')", name="role"),
)


# Write-off approval and agency placements (migration 0013; see docs/agreements.md) -------------

#: A proposal to write off a debtor's open balance in a currency (or one invoice's): posted at once
#: within the proposer's limit, otherwise ``pending`` until a manager approves (``posted``) or
#: refuses it (``refused``: nothing posts).
write_off_proposal = Table(
    "write_off_proposal",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("key", String(300), nullable=False, unique=True),
    Column("portfolio_id", ID, ForeignKey("portfolio.id"), nullable=False),
    Column("debtor_id", ID, ForeignKey("debtor.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("invoice_id", ID, ForeignKey("invoice.id")),  # null: every open invoice
    Column("amount_minor", MINOR, nullable=False),
    Column("reason", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("proposed_by", String(200), nullable=False),
    Column("proposed_on", Date, nullable=False),
    Column("decided_by", String(200)),
    Column("decided_on", Date),
    Column("decision_note", Text),
    Column("posted_minor", MINOR, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("status in ('pending', 'posted', 'refused')", name="status"),
)
Index("ix_write_off_proposal_debtor", write_off_proposal.c.debtor_id, write_off_proposal.c.status)

#: A collection agency and its terms: commission flat, by stage or by age of the debt at
#: placement (``terms``: JSON), and after how many days without payment a case is recalled.
agency = Table(
    "agency",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("terms", JSON, nullable=False),
    Column("recall_after_days", Integer),
    Column("created_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

#: A debtor's balance in a currency placed with an agency, until it is recalled.
placement = Table(
    "placement",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("key", String(300), nullable=False, unique=True),
    Column("agency_id", ID, ForeignKey("agency.id"), nullable=False),
    Column("portfolio_id", ID, ForeignKey("portfolio.id"), nullable=False),
    Column("debtor_id", ID, ForeignKey("debtor.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("case_id", ID, ForeignKey("collection_case.id")),
    Column("placed_on", Date, nullable=False),
    Column("placed_by", String(200), nullable=False),
    Column("amount_minor", MINOR, nullable=False),  # the open balance placed
    Column("days_past_due", Integer, nullable=False),
    Column("stage", String(64)),
    Column("commission_percent", String(16), nullable=False),  # decimal text
    Column("credit_before", String(16), nullable=False),
    Column("recalled_on", Date),
    Column("recalled_by", String(200)),
    Column("recall_reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
Index("ix_placement_debtor", placement.c.debtor_id, placement.c.currency)

#: One line of an agency's remittance file: money the agency collected, posted as a payment.
agency_remittance = Table(
    "agency_remittance",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("agency_id", ID, ForeignKey("agency.id"), nullable=False),
    Column("placement_id", ID, ForeignKey("placement.id"), nullable=False),
    Column("reference", String(200), nullable=False),
    Column("payment_id", ID, ForeignKey("payment.id"), nullable=False),
    Column("collected_on", Date, nullable=False),
    Column("amount_minor", MINOR, nullable=False),
    Column("commission_minor", MINOR, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("agency_id", "reference", name="uq_agency_remittance_reference"),
)


# Disputes (migration 0017; see docs/agreements.md and arrears.domain.disputes) ----------------

#: A debtor's objection to one or more invoices of one currency, until it is resolved.
dispute = Table(
    "dispute",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    # dispute:<portfolio>:<debtor>:<first invoice>:<opened_on> (from_erp: dispute:erp:...)
    Column("key", String(600), nullable=False, unique=True),
    Column("portfolio_id", ID, ForeignKey("portfolio.id"), nullable=False),
    Column("debtor_id", ID, ForeignKey("debtor.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(12), nullable=False),
    Column("reason", String(20), nullable=False),
    Column("note", Text),
    Column("owner", String(200)),  # who resolves it
    Column("due_on", Date),  # to be resolved by
    Column("opened_on", Date, nullable=False),
    Column("opened_by", String(200), nullable=False),
    Column("resolved_on", Date),
    Column("resolved_by", String(200)),
    Column("resolution", Text),  # the note of the resolution
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("status in ('open', 'upheld', 'rejected', 'closed')", name="status"),
    CheckConstraint(
        "reason in ('wrong_amount', 'not_received', 'quality', 'already_paid', 'other', "
        "'from_erp')",
        name="reason",
    ),
)
Index("ix_dispute_debtor", dispute.c.debtor_id, dispute.c.status)

#: The invoices of a dispute; ``credit_minor``: the credit note an upheld dispute posted on it.
dispute_invoice = Table(
    "dispute_invoice",
    metadata,
    Column("dispute_id", ID, ForeignKey("dispute.id"), primary_key=True),
    Column("invoice_id", ID, ForeignKey("invoice.id"), primary_key=True),
    Column("open_minor", MINOR, nullable=False),  # the invoice's open amount when disputed
    Column("credit_minor", MINOR),
    Column("credit_note", String(200)),  # the credit note's external id
)
Index("ix_dispute_invoice_invoice", dispute_invoice.c.invoice_id)

#: A file a debtor sent with a dispute (migration 0023): PDF, JPEG or PNG by its content,
#: at most ``web.attachment_max_bytes``; ``sha256`` of ``content`` (hex).
dispute_attachment = Table(
    "dispute_attachment",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("dispute_id", ID, ForeignKey("dispute.id"), nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("media_type", String(100), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("uploaded_by", String(200), nullable=False),
    Column("uploaded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("dispute_id", "sha256", name="uq_dispute_attachment_file"),
    CheckConstraint(
        "media_type in ('application/pdf', 'image/jpeg', 'image/png')", name="media_type"
    ),
)


# The day's propensity scores (migration 0014; see docs/scoring.md) ----------------------------

#: One row per debtor, currency and day scored (``arrears model score``); older than
#: ``arrears.store.scoring.scores.RETENTION_DAYS`` days are deleted when a day is written.
debtor_score = Table(
    "debtor_score",
    metadata,
    Column("portfolio_id", ID, ForeignKey("portfolio.id"), primary_key=True),
    Column("as_of", Date, primary_key=True),
    Column("debtor_id", ID, ForeignKey("debtor.id"), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("score", Float, nullable=False),
    Column("band", String(1), nullable=False),
    Column("expected_days_to_pay", Float),
    Column("source", String(200), nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("scored_at", DateTime(timezone=True), nullable=False),
    Column("version", String(200), primary_key=True),  # 0020: v3, rules
    CheckConstraint("band in ('A', 'B', 'C', 'D', 'E')", name="band"),
)
Index("ix_debtor_score_debtor_id", debtor_score.c.debtor_id, debtor_score.c.as_of)


# Outbound webhooks (migration 0019; see docs/web.md, "Outbound webhooks") ---------------------

#: A client's URL that receives the portfolio's events, signed with its ``secret``; ``cursor``:
#: the last activity record turned into deliveries for it (the log is append-only).
webhook_endpoint = Table(
    "webhook_endpoint",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("portfolio_id", ID, ForeignKey("portfolio.id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("url", Text, nullable=False),
    Column("secret", String(200), nullable=False),
    Column("events", JSON, nullable=False),  # the event names it receives
    Column("cursor", ID, nullable=False, server_default="0"),
    Column("created_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("removed_at", DateTime(timezone=True)),
    UniqueConstraint("portfolio_id", "name", name="uq_webhook_endpoint_name"),
)

#: One event for one endpoint: its body (signed and sent as is on every attempt), its state.
webhook_delivery = Table(
    "webhook_delivery",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("endpoint_id", ID, ForeignKey("webhook_endpoint.id"), nullable=False),
    Column("activity_id", ID, ForeignKey("activity.id"), nullable=False),
    Column("event", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_status", Integer),  # the HTTP status of the last attempt (null: no answer)
    Column("last_error", Text),
    Column("delivered_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("endpoint_id", "activity_id", name="uq_webhook_delivery_event"),
    CheckConstraint("status in ('pending', 'delivered', 'failed')", name="status"),
)
Index("ix_webhook_delivery_due", webhook_delivery.c.status, webhook_delivery.c.next_attempt_at)

#: Every attempt to deliver: the delivery log.
webhook_attempt = Table(
    "webhook_attempt",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("delivery_id", ID, ForeignKey("webhook_delivery.id"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("attempted_at", DateTime(timezone=True), nullable=False),
    Column("status", Integer),  # the HTTP status answered (null: no answer)
    Column("error", Text),
    Column("milliseconds", Integer, nullable=False),
    UniqueConstraint("delivery_id", "attempt", name="uq_webhook_attempt"),
)


# The KPIs' monthly snapshot (migration 0024; see docs/kpi.md, "The monthly snapshot") --------

#: Each debtor's state at a month end, per currency (``arrears.store.kpi_snapshot``): what the
#: roll and cure rates read instead of the whole ledger. Rows where the debtor owed something or
#: had a write-off allocated in the month; ``oldest_days`` null when nothing was open.
kpi_monthly_snapshot = Table(
    "kpi_monthly_snapshot",
    metadata,
    Column("portfolio_id", ID, ForeignKey("portfolio.id"), primary_key=True),
    Column("month_end", Date, primary_key=True),
    Column("debtor_id", ID, ForeignKey("debtor.id"), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("balance_minor", MINOR, nullable=False),
    Column("overdue_minor", MINOR, nullable=False),
    Column("oldest_days", Integer),
    Column("written_off_minor", MINOR, nullable=False),
    Column("stage", String(64)),
)

#: One row per month end written: what the ledger held then (``arrears.store.kpi_snapshot``
#: checks that nothing dated on or before the month end changed since).
kpi_snapshot_month = Table(
    "kpi_snapshot_month",
    metadata,
    Column("portfolio_id", ID, ForeignKey("portfolio.id"), primary_key=True),
    Column("month_end", Date, primary_key=True),
    Column("written_at", DateTime(timezone=True), nullable=False),
    Column("instalment_max_id", MINOR, nullable=False),
    Column("allocation_max_id", MINOR, nullable=False),
    Column("instalments", MINOR, nullable=False),
    Column("reversals", MINOR, nullable=False),
)
