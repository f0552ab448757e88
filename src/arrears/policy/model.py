"""The policy file's structure (Pydantic models); its JSON Schema is ``arrears policy schema``.

A policy names its aging buckets, its ordered stages (the most severe matching stage wins; a
``clear`` stage is mandatory), its ordered segments (first match wins; a default segment without
condition is mandatory), the cadences of steps per segment and stage, experiments
(champion/challenger) and the worklist priority. See ``docs/policy.md``.
"""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_\-]*$", max_length=64)]
Condition = Annotated[str, Field(min_length=1, description="A condition over the features.")]


class Anchor(StrEnum):
    DUE_DATE = "due_date"
    CASE_OPENED = "case_opened"
    STAGE_ENTERED = "stage_entered"


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    LETTER = "letter"


class Repeat(_Strict):
    every: Annotated[int, Field(ge=1, description="Days between repetitions.")]
    times: Annotated[int, Field(ge=1, le=100, description="Repetitions after the first.")]


class _Step(_Strict):
    id: Name
    offset: Annotated[int, Field(ge=-365, le=3650)] = 0
    anchor: Anchor = Anchor.DUE_DATE
    when: Condition | None = None
    repeat: Repeat | None = None


class Send(_Step):
    action: Literal["send"]
    channel: Channel
    template: Annotated[str, Field(min_length=1)]
    fallback: list[Channel] = Field(
        [], description="Channels to try, in order, if the contact rules block this one."
    )
    legal_threat: bool = Field(
        False, description="The message mentions legal action (refused on time-barred debts)."
    )
    validation_notice: bool = Field(
        False, description="This message is the debt validation notice (US Regulation F)."
    )


class CallTask(_Step):
    action: Literal["call_task"]
    priority: Annotated[int, Field(ge=1, le=5)] = 3
    queue: str | None = None


class CreditHold(_Step):
    action: Literal["credit_hold"]


class CreditRelease(_Step):
    action: Literal["credit_release"]


class MoveStage(_Step):
    action: Literal["move_stage"]
    to: Name


class PaymentPlanOffer(_Step):
    action: Literal["payment_plan_offer"]
    instalments: Annotated[int, Field(ge=2, le=60)]
    min_instalment: Annotated[Decimal, Field(gt=0)]
    annual_interest: Annotated[Decimal, Field(ge=0, le=100)] = Decimal(0)
    template: str | None = None


class SettlementOffer(_Step):
    action: Literal["settlement_offer"]
    max_discount: Annotated[Decimal, Field(gt=0, lt=100, description="Percent.")]
    expires_after_days: Annotated[int, Field(ge=1, le=365)] = 14
    template: str | None = None


class LateFee(_Step):
    action: Literal["late_fee"]
    fee: Literal["fixed", "percentage", "eu_late_payment"]
    amount: Annotated[Decimal, Field(gt=0)] | None = None
    rate: Annotated[Decimal, Field(gt=0, le=100)] | None = None
    consumers: Literal["none", "fixed", "percentage"] = Field(
        "none",
        description="eu_late_payment is for business debtors (kind company) only: what a "
        "person is charged instead, none (the default), fixed (`amount`) or percentage "
        "(`rate`).",
    )


class PlaceWithAgency(_Step):
    action: Literal["place_with_agency"]
    agency: Name


class RecallFromAgency(_Step):
    action: Literal["recall_from_agency"]
    agency: Name


class ProposeWriteOff(_Step):
    action: Literal["propose_write_off"]


class NotifyOwner(_Step):
    action: Literal["notify_owner"]
    message: str | None = None


Step = Annotated[
    Send
    | CallTask
    | CreditHold
    | CreditRelease
    | MoveStage
    | PaymentPlanOffer
    | SettlementOffer
    | LateFee
    | PlaceWithAgency
    | RecallFromAgency
    | ProposeWriteOff
    | NotifyOwner,
    Field(discriminator="action"),
]


class Stage(_Strict):
    name: Name
    when: Condition | None = Field(None, description="Entry condition; none only for 'clear'.")
    approval: bool = Field(False, description="A person must approve entering this stage.")
    description: str | None = None


class Segment(_Strict):
    name: Name
    when: Condition | None = Field(None, description="None: the default segment (matches all).")
    description: str | None = None


class Cadence(_Strict):
    segment: Literal["*"] | Name | list[Name] = Field(
        "*", description="Segment name(s), or '*' for all."
    )
    stage: Name
    steps: list[Step]


class Experiment(_Strict):
    name: Name
    segment: Name
    stage: Name
    share: Annotated[Decimal, Field(gt=0, lt=1, description="Share of debtors in the challenger.")]
    steps: list[Step]


class Onboarding(_Strict):
    """What the cycle does with a case that opens straight into an escalation stage (an imported
    backlog on its first run): see :mod:`arrears.policy.onboarding`."""

    escalations: Literal["approve", "proceed"] = Field(
        "approve",
        description="approve: a case that opens straight into an escalation stage (agency, "
        "legal, write-off) waits in the stage before it until a person approves it (arrears "
        "approve); proceed: it enters the stage at once.",
    )
    stages: list[Name] | None = Field(
        None,
        description="The escalation stages. Default: the first stage whose steps place the "
        "case with an agency or propose a write-off, and every more severe stage.",
    )


class PaymentPlans(_Strict):
    """The limits of a payment plan a collector may agree alone (``arrears payment-plan``);
    beyond them a manager approves it. Amounts are in the debt's currency."""

    max_instalments: Annotated[int, Field(ge=1, le=360)] = 12
    min_instalment: Annotated[Decimal, Field(ge=0)] = Field(
        default=Decimal(0), description="The smallest instalment (0: no minimum)."
    )
    frequencies: list[Literal["weekly", "fortnightly", "monthly"]] = Field(
        default=["monthly"], min_length=1, description="Frequencies a collector may agree."
    )
    max_days_to_first: Annotated[int, Field(ge=0, le=365)] = Field(
        default=31, description="The first date at most this many days after the quote."
    )
    min_down_payment: Annotated[Decimal, Field(ge=0, le=100)] = Field(
        default=Decimal(0), description="Percent of the balance paid down at least."
    )
    fee: Annotated[Decimal, Field(ge=0, le=100)] = Field(
        default=Decimal(0),
        description="Percent of the amount financed added as a fee (posted as an invoice due "
        "on the last instalment's date).",
    )
    grace_days: Annotated[int, Field(ge=0, le=60)] = Field(
        default=3, description="Days after an instalment's date before it counts as missed."
    )
    missed_to_break: Annotated[int, Field(ge=1, le=12)] = Field(
        default=1, description="Missed instalments that break the plan."
    )
    offer_expires_days: Annotated[int, Field(ge=1, le=90)] = Field(
        default=7, description="Days a plan waiting for a manager's approval stands."
    )


class Settlements(_Strict):
    """The limits of a settlement a collector may offer alone (``arrears settlement``)."""

    max_discount: Annotated[Decimal, Field(ge=0, lt=100)] = Field(
        default=Decimal(0),
        description="Percent off the balance (0: every discount needs approval).",
    )
    max_days: Annotated[int, Field(ge=1, le=365)] = Field(
        default=30, description="Days from the offer to its expiry at most."
    )


class Disputes(_Strict):
    """What an open dispute takes out of collection (``arrears dispute``, docs/agreements.md)."""

    pause: Literal["invoices", "case"] = Field(
        "invoices",
        description="invoices: only the disputed invoices leave collection (their amounts and "
        "days are out of the case's balance and days past due; a case owing nothing else is "
        "paused); case: one disputed invoice pauses the debtor's whole case.",
    )


class Policy(_Strict):
    policy: Name = Field(description="The policy's name.")
    description: str | None = None
    language: Literal["en", "es"] = "en"
    buckets: list[Annotated[int, Field(gt=0)]] = [30, 60, 90, 120]
    cure_tolerance: Annotated[Decimal, Field(ge=0)] = Decimal(0)
    catch_up_days: Annotated[int, Field(ge=0, le=365)] = 7
    reopen_within_days: Annotated[int, Field(ge=0, le=365)] = Field(
        30,
        description="A debtor who falls behind again within this many days of being cured "
        "reopens the same case (its steps are not repeated); later, a new case opens.",
    )
    promise_grace_days: Annotated[int, Field(ge=0, le=60)] = Field(
        3, description="Days after a promise's date before it counts as broken."
    )
    on_broken_promise: list[Step] = Field(
        [],
        description="Steps run when a promise to pay is broken or only partly kept (found on "
        "the day after its date plus grace): `offset` counts from that day (1: the next day); "
        "no anchor, no repeat. For example a call task at priority 1 the next day.",
    )
    payment_plans: PaymentPlans = Field(
        default=PaymentPlans(),
        description="Payment plans: the calculator's limits, grace and when a plan breaks "
        "(docs/agreements.md). A broken plan runs the on_broken_promise steps.",
    )
    settlements: Settlements = Field(
        default=Settlements(),
        description="Settlements: the largest discount and expiry a collector may offer.",
    )
    disputes: Disputes = Field(
        default=Disputes(pause="invoices"),
        description="Disputes: whether an open dispute takes only its invoices out of collection "
        "(the default) or pauses the whole case.",
    )
    reference_rate: Annotated[Decimal, Field(ge=-10, le=100)] = Field(
        Decimal(0),
        description="Reference interest rate (percent a year) for the EU late-payment fee: "
        "interest is this rate plus 8 points; set it to the central bank's current rate.",
    )
    write_off_limits: dict[
        Literal["admin", "manager", "collector"],
        dict[Annotated[str, Field(pattern=r"^[A-Z]{3}$")], Annotated[Decimal, Field(ge=0)]],
    ] = Field(
        {},
        description="What each role may write off at once, per currency (e.g. {collector: "
        "{USD: 100}}); above it a write-off waits for a manager's approval. A role not listed: "
        "admin and manager without limit, collector (and the cycle) nothing.",
    )
    agency_recall_after_days: Annotated[int, Field(ge=1, le=3650)] | None = Field(
        None,
        description="Recall a placement after this many days without a payment (arrears agency "
        "recall --by-rule); an agency's own --recall-after wins.",
    )
    stages: list[Stage]
    segments: list[Segment]
    cadences: list[Cadence] = []
    experiments: list[Experiment] = []
    onboarding: Onboarding = Field(
        default_factory=lambda: Onboarding(escalations="approve", stages=None),
        description="Cases opening straight into an escalation stage (an imported backlog): "
        "whether they wait for a person's approval (the default) or proceed.",
    )
    priority: Condition = Field(
        "coalesce(expected_recovery_ref, overdue_balance_ref * (1 + days_past_due / 30), "
        "expected_recovery, overdue_balance * (1 + days_past_due / 30))",
        description="Orders the collectors' worklist: by default the expected recovery (score x "
        "overdue balance), else the overdue balance weighted by age; in the common unit of the "
        "workspace's [rates] where the currency has a rate, so that currencies compare.",
    )
    send_time: time = Field(
        time(9, 0),
        description="Local time (in each debtor's time zone) the cycle plans messages and calls "
        "for; the contact rules move them into the next allowed window if needed.",
    )
    contact_rules: dict[str, dict[str, Any]] = Field(
        {},
        description="Overrides of the contact-rule packs' parameters: {pack: {parameter: "
        "value}} (see docs/contact-rules.md; `arrears policy rules FILE` shows the result).",
    )
