"""The activity log's record types: one typed record per kind, with a stable name.

Each record has a UTC time, an actor, the debtor it concerns (when there is one), the subject
(what kind of thing and its id) and a JSON-able payload. The store writes them append-only, in the
same transaction as the change they describe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class Activity:
    kind: ClassVar[str] = "activity"
    occurred_at: datetime
    actor: str
    portfolio: str
    debtor: str | None
    subject_kind: str
    subject_id: str
    payload: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None or self.occurred_at.utcoffset() != UTC.utcoffset(None):
            raise ValueError("activity times are UTC and timezone-aware")


# Stable names. New kinds are added, never renamed.
@dataclass(frozen=True, slots=True)
class DebtorCreated(Activity):
    kind: ClassVar[str] = "debtor.created"


@dataclass(frozen=True, slots=True)
class DebtorUpdated(Activity):
    kind: ClassVar[str] = "debtor.updated"


@dataclass(frozen=True, slots=True)
class InvoiceCreated(Activity):
    kind: ClassVar[str] = "invoice.created"


@dataclass(frozen=True, slots=True)
class InvoiceUpdated(Activity):
    kind: ClassVar[str] = "invoice.updated"


@dataclass(frozen=True, slots=True)
class PaymentPosted(Activity):
    kind: ClassVar[str] = "payment.posted"


@dataclass(frozen=True, slots=True)
class PaymentUpdated(Activity):
    kind: ClassVar[str] = "payment.updated"


@dataclass(frozen=True, slots=True)
class PaymentReversed(Activity):
    kind: ClassVar[str] = "payment.reversed"


@dataclass(frozen=True, slots=True)
class CreditNoteIssued(Activity):
    kind: ClassVar[str] = "credit_note.issued"


@dataclass(frozen=True, slots=True)
class WriteOffPosted(Activity):
    kind: ClassVar[str] = "write_off.posted"


@dataclass(frozen=True, slots=True)
class ImportApplied(Activity):
    kind: ClassVar[str] = "import.applied"


@dataclass(frozen=True, slots=True)
class PortfolioCreated(Activity):
    kind: ClassVar[str] = "portfolio.created"


@dataclass(frozen=True, slots=True)
class CreditApplied(Activity):
    """A debtor's unallocated credit (payments, credit notes) applied to open instalments."""

    kind: ClassVar[str] = "credit.applied"


@dataclass(frozen=True, slots=True)
class CreditNoteUpdated(Activity):
    """A credit note changed by a re-import."""

    kind: ClassVar[str] = "credit_note.updated"


# The collection cycle's manual use cases (arrears.store.cycle.collection). The cycle itself writes
# case.opened, case.reopened, case.stage_changed, case.closed, case.updated, step.executed and
# step.skipped set-based (arrears.store.cycle.write).
@dataclass(frozen=True, slots=True)
class PromiseMade(Activity):
    kind: ClassVar[str] = "promise.made"


@dataclass(frozen=True, slots=True)
class PromiseCancelled(Activity):
    kind: ClassVar[str] = "promise.cancelled"


# A promise come to term: the cycle (set-based, arrears.store.cycle.write) records its outcome
# once its date plus grace has passed; payload {"promise_id", "outcome", "currency",
# "amount_minor", "paid_minor", "kept_minor", "kept_percent", "made_on", "due_on", "found_on"}.
@dataclass(frozen=True, slots=True)
class PromiseKept(Activity):
    kind: ClassVar[str] = "promise.kept"


@dataclass(frozen=True, slots=True)
class PromisePartlyKept(Activity):
    kind: ClassVar[str] = "promise.partial"


@dataclass(frozen=True, slots=True)
class PromiseBroken(Activity):
    kind: ClassVar[str] = "promise.broken"


@dataclass(frozen=True, slots=True)
class HoldAdded(Activity):
    kind: ClassVar[str] = "hold.added"


@dataclass(frozen=True, slots=True)
class HoldReleased(Activity):
    kind: ClassVar[str] = "hold.released"


@dataclass(frozen=True, slots=True)
class ContactLogged(Activity):
    """A contact attempt made by hand; payload ``{"channel", "outcome", "on", "note"}``."""

    kind: ClassVar[str] = "contact"


@dataclass(frozen=True, slots=True)
class StageApproved(Activity):
    kind: ClassVar[str] = "stage.approved"


@dataclass(frozen=True, slots=True)
class TaskClosed(Activity):
    kind: ClassVar[str] = "task.closed"


@dataclass(frozen=True, slots=True)
class TaskAssigned(Activity):
    """A task given to a collector; payload ``{"from", "to", "on"}`` (None: nobody)."""

    kind: ClassVar[str] = "task.assigned"


@dataclass(frozen=True, slots=True)
class TaskRescheduled(Activity):
    """A call outcome (no answer) leaves the task open for later; payload
    ``{"not_before", "note", "on"}``."""

    kind: ClassVar[str] = "task.rescheduled"


KINDS: dict[str, type[Activity]] = {
    cls.kind: cls
    for cls in (
        DebtorCreated,
        DebtorUpdated,
        InvoiceCreated,
        InvoiceUpdated,
        PaymentPosted,
        PaymentUpdated,
        PaymentReversed,
        CreditNoteIssued,
        WriteOffPosted,
        ImportApplied,
        PortfolioCreated,
        CreditApplied,
        CreditNoteUpdated,
        PromiseMade,
        PromiseCancelled,
        PromiseKept,
        PromisePartlyKept,
        PromiseBroken,
        HoldAdded,
        HoldReleased,
        ContactLogged,
        StageApproved,
        TaskClosed,
        TaskAssigned,
        TaskRescheduled,
    )
}
