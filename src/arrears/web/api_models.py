"""The REST API's request and response bodies (``/api/v1``, docs/web.md): what a machine client
sends and reads, with the OpenAPI schema FastAPI derives from them.

Amounts are decimal strings in the currency's major unit (``"125.50"``), never floats; a request
body with an unknown field is refused (422) like any other problem, every problem at once."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Amount = Decimal


#: An id as the ledger keeps it: printable, no control characters.
ID = r"^[^\x00-\x1f\x7f]+$"


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# Reads -----------------------------------------------------------------------------------------


class Debtor(BaseModel):
    id: str = Field(description="The debtor's external id.")
    name: str
    kind: str = Field(description="person or company")
    country: str
    language: str
    currency: str
    do_not_contact: bool


class AccountCurrency(BaseModel):
    """The explain view's key figures of one currency of the debtor on ``as_of``."""

    currency: str
    segment: str
    stage: str = Field(description="The collection stage (clear: nothing overdue).")
    stage_rule: str
    case: str = Field(description="What the cycle decides for the case (no case: none).")
    opened_on: date | None
    awaiting_approval: str | None
    arm: str | None = Field(description="The experiment arm, if any.")
    paused_by: str | None
    paused_until: date | None
    priority: float
    score: float | None
    score_reasons: list[str]
    figures: dict[str, str | int | float | bool | None] = Field(
        description="Every feature the engine computed (money as decimal strings)."
    )


class Account(BaseModel):
    debtor: Debtor
    as_of: date
    policy: str | None = Field(description="The policy explained (null: the workspace has none).")
    currencies: list[AccountCurrency]


class Task(BaseModel):
    task_id: int
    score: float
    task_priority: int
    created_on: date
    debtor: str
    name: str
    currency: str | None
    stage: str | None
    overdue: str | None = Field(description="The overdue amount, as a decimal string.")
    queue: str | None
    collector: str | None
    step_id: str | None
    flags: list[str]
    not_before: str | None = Field(description="The contact rules' earliest time to call (UTC).")


class Worklist(BaseModel):
    tasks: list[Task]
    page: int = Field(1, description="This page's number (from 1).")
    next_page: int | None = Field(None, description="The next page's number; null on the last.")


class ActivityItem(BaseModel):
    id: int | None = Field(None, description="The record's id: a page's cursor.")
    occurred_at: datetime
    kind: str
    actor: str = Field(description="Who did it: user:NAME, token:NAME, cli:NAME, system:JOB...")
    portfolio: str | None
    debtor: str | None
    subject_kind: str
    subject_id: str
    payload: object


class ActivityList(BaseModel):
    activity: list[ActivityItem]
    next_cursor: int | None = Field(
        None, description="Pass it as cursor= for the next (older) page; null on the last page."
    )


class Aging(BaseModel):
    portfolio: str
    as_of: date
    edges: list[int]
    in_currency: str | None
    buckets: list[str] = Field(description="The bucket columns of each row, in order.")
    rows: list[dict[str, str | int | float | None]] = Field(
        description="One row per group: its keys, currency, count, each bucket's amount, total "
        "(amounts as decimal strings in the row's currency), share (of the currency's total)."
    )


# Writes ----------------------------------------------------------------------------------------


class PaymentIn(_Request):
    external_id: str = Field(
        min_length=1,
        max_length=100,
        pattern=ID,
        description="The payment's own id: posting it again changes nothing.",
    )
    debtor: str = Field(min_length=1, max_length=100, pattern=ID)
    received_on: date
    amount: Amount = Field(gt=0, description='Decimal string, e.g. "125.50".')
    currency: str = Field(min_length=3, max_length=3)
    invoice: str | None = Field(None, description="Apply to this invoice only.")
    method: str | None = Field(None, max_length=50)
    reference: str | None = Field(None, max_length=200)


class Applied(BaseModel):
    invoice: str
    seq: int
    amount: str


class PaymentOut(BaseModel):
    payment: str
    changed: bool = Field(description="false: this payment was recorded before; nothing changed.")
    applied: list[Applied]
    unallocated: str
    currency: str


class PromiseIn(_Request):
    debtor: str = Field(min_length=1, max_length=100, pattern=ID)
    amount: Amount = Field(gt=0)
    currency: str | None = Field(None, min_length=3, max_length=3, description="Default: the "
                                 "debtor's currency.")  # fmt: skip
    due_on: date
    made_on: date | None = Field(None, description="Default: today.")
    grace_days: int = Field(0, ge=0)
    note: str | None = Field(None, max_length=1000)


class PromiseOut(BaseModel):
    promise_id: int
    debtor: str
    amount: str
    currency: str
    due_on: date


class HoldIn(_Request):
    debtor: str = Field(min_length=1, max_length=100, pattern=ID)
    starts_on: date | None = Field(None, description="Default: today.")
    ends_on: date = Field(description="The first day collection resumes.")
    reason: str = Field(min_length=1, max_length=500)


class HoldOut(BaseModel):
    hold_id: int
    debtor: str
    starts_on: date
    ends_on: date


class ContactIn(_Request):
    debtor: str = Field(min_length=1, max_length=100, pattern=ID)
    channel: str = Field(description="call, email, sms, whatsapp, letter...")
    outcome: str = Field(min_length=1, max_length=50, description="right_party, no_answer, "
                         "wrong_number, refused, promise, or your own word.")  # fmt: skip
    on: date | None = Field(None, description="Default: today.")
    note: str | None = Field(None, max_length=1000)


class ContactOut(BaseModel):
    debtor: str
    channel: str
    outcome: str
    on: date
    changed: bool = Field(description="false: this very contact was logged before.")
    closed_tasks: list[int]
    rescheduled_tasks: list[int]


class WriteOffIn(_Request):
    invoice: str = Field(min_length=1, max_length=100, pattern=ID)
    amount: Amount | None = Field(None, gt=0, description="Default: the whole open balance.")
    on: date | None = Field(None, description="Default: today.")
    reason: str = Field(min_length=1, max_length=500)


class WriteOffOut(BaseModel):
    invoice: str
    amount: str
    currency: str
    changed: bool


# Lists (portfolio-wide, a page at a time) -------------------------------------------------------


class _Page(BaseModel):
    next_cursor: int | None = Field(
        None, description="Pass it as cursor= for the next (older) page; null on the last page."
    )


class Invoice(BaseModel):
    id: str = Field(description="The invoice's external id.")
    number: str
    debtor: str
    issue_date: date
    currency: str
    amount: str
    open: str = Field(description="What is left open of it, as a decimal string.")
    status: str = Field(description="open, paid or written_off")
    disputed: bool
    oldest_due: date | None = Field(description="The due date of its oldest open instalment.")


class InvoiceList(_Page):
    invoices: list[Invoice]


class PaymentItem(BaseModel):
    id: str = Field(description="The payment's external id.")
    debtor: str
    received_on: date
    currency: str
    amount: str
    unallocated: str
    method: str | None
    reference: str | None
    status: str = Field(description="posted or reversed")
    reversed_on: date | None


class PaymentList(_Page):
    payments: list[PaymentItem]


class Case(BaseModel):
    debtor: str
    currency: str
    opened_on: date
    closed_on: date | None
    close_reason: str | None
    stage: str
    stage_entered_on: date
    segment: str
    arm: str | None
    agency: str | None
    awaiting_approval: str | None = Field(description="The stage awaiting a manager's approval.")
    paused_by: str | None = Field(description="hold, promise, plan, settlement, dispute...")
    paused_until: date | None


class CaseList(_Page):
    cases: list[Case]


class Promise(BaseModel):
    id: int
    debtor: str
    currency: str
    amount: str
    made_on: date
    due_on: date
    grace_days: int
    status: str = Field(description="open or cancelled")
    outcome: str | None = Field(description="kept, partial or broken, once the cycle found it.")
    kept: str | None = Field(description="What was paid towards it, once found.")
    outcome_on: date | None


class Plan(BaseModel):
    id: int
    debtor: str
    currency: str
    status: str = Field(
        description="awaiting_approval, active, broken, completed, expired or cancelled"
    )
    balance: str
    down: str
    fee: str
    instalments: int
    frequency: str
    accepted_on: date
    expires_on: date
    active_on: date | None
    approved_by: str | None
    ended_on: date | None
    beyond: list[str] = Field(description="The policy's limits it goes beyond.")


class Settlement(BaseModel):
    id: int
    debtor: str
    currency: str
    status: str = Field(description="awaiting_approval, offered, accepted, paid, lapsed, expired")
    balance: str
    discount: str = Field(description="Percent, a decimal string.")
    amount: str = Field(description="What settles the debt.")
    offered_on: date
    expires_on: date
    accepted_on: date | None
    approved_by: str | None
    ended_on: date | None
    written_off: str | None
    beyond: list[str]


class _Numbered(BaseModel):
    page: int = Field(1, description="This page's number (from 1).")
    next_page: int | None = Field(None, description="The next page's number; null on the last.")


class PromiseList(_Numbered):
    promises: list[Promise]


class PlanList(_Numbered):
    plans: list[Plan]


class SettlementList(_Numbered):
    settlements: list[Settlement]


# Agreement writes -------------------------------------------------------------------------------


class PlanIn(_Request):
    debtor: str = Field(min_length=1, max_length=100, pattern=ID)
    currency: str | None = Field(None, min_length=3, max_length=3)
    instalments: int | None = Field(None, ge=1, le=120, description="Default: as many as the "
                                    "policy allows.")  # fmt: skip
    frequency: Literal["weekly", "fortnightly", "monthly"] = "monthly"
    first_on: date | None = Field(None, description="The first instalment's day.")
    down: Amount = Field(Decimal(0), ge=0, description="A down payment, decimal string.")
    on: date | None = Field(None, description="The day it is accepted. Default: today.")


class PlanOut(BaseModel):
    plan: Plan
    changed: bool


class ChangeIn(_Request):
    on: date | None = Field(None, description="Default: today.")


class CancelIn(_Request):
    on: date | None = Field(None, description="Default: today.")
    reason: str = Field(min_length=1, max_length=500)


class PlanChange(BaseModel):
    id: int
    status: str
    changed: bool


class SettlementIn(_Request):
    debtor: str = Field(min_length=1, max_length=100, pattern=ID)
    currency: str | None = Field(None, min_length=3, max_length=3)
    discount: Amount = Field(ge=0, lt=100, description="Percent off the open balance.")
    expires_on: date
    on: date | None = Field(None, description="Default: today.")


class SettlementOut(BaseModel):
    settlement: Settlement
    changed: bool


class PromiseCancelled(BaseModel):
    id: int
    changed: bool


class ReversalIn(_Request):
    on: date | None = Field(None, description="Default: today.")
    reason: str = Field(min_length=1, max_length=500)
