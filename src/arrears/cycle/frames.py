"""The frames the daily cycle reads and writes: the contract between the store and the engine.

The engine (:func:`arrears.cycle.decide.decide`) is a pure function from a :class:`CycleInput`
(the portfolio as of a date, as Polars frames), a compiled policy and ``as_of`` to a
:class:`Decisions`. The store reads a :class:`CycleInput` (``arrears.store.cycle.read``) and
commits a :class:`Decisions` (``arrears.store.cycle.write``). Money is in integer minor units;
dates are ``pl.Date``.

A collection case is one debtor's episode of delinquency in one currency. Its natural key is
``(debtor_id, currency, opened_on)``: the engine names a case it opens by that key (its
``case_id`` is null until the store has written it), and every step's idempotency key is built
from it, so the same decision always gets the same key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from arrears.contact.frames import CONSENT_SCHEMA, HISTORY_SCHEMA

S = pl.String()
D = pl.Date()
I64 = pl.Int64()
I32 = pl.Int32()
B = pl.Boolean()

#: Instalments fully settled on or before ``as_of``, settled in the 365 days before it.
#: ``settled_on``: the date of the last allocation (payment, credit note or write-off) that
#: brought the instalment to zero, counting only allocations dated on or before ``as_of`` and
#: not reversed on or before ``as_of``.
SETTLED_SCHEMA: dict[str, pl.DataType] = {
    "instalment_id": I64,
    "debtor_id": I64,
    "currency": S,
    "due_date": D,
    "settled_on": D,
}

#: The last payment of each debtor and currency received on or before ``as_of`` (not reversed as
#: of ``as_of``); one row per (debtor_id, currency) that ever paid. On a tie of dates, the
#: largest payment.
LAST_PAYMENT_SCHEMA: dict[str, pl.DataType] = {
    "debtor_id": I64,
    "currency": S,
    "last_payment_on": D,
    "last_payment_minor": I64,
}

#: Promises to pay made in the 365 days up to ``as_of`` (``made_on <= as_of``), not cancelled.
#: ``paid_minor``: the debtor's payments in the promise's currency received between ``made_on``
#: and ``min(due_on + grace_days, as_of)`` inclusive, not reversed as of ``as_of``.
PROMISE_SCHEMA: dict[str, pl.DataType] = {
    "promise_id": I64,
    "debtor_id": I64,
    "currency": S,
    "made_on": D,
    "due_on": D,
    "amount_minor": I64,
    "grace_days": I32,
    "paid_minor": I64,
}

#: Manual holds in force on ``as_of``: ``starts_on <= as_of < ends_on`` and not released on or
#: before ``as_of``.
HOLD_SCHEMA: dict[str, pl.DataType] = {
    "hold_id": I64,
    "debtor_id": I64,
    "starts_on": D,
    "ends_on": D,
    "reason": S,
}

#: Contact attempts (any channel, by the cycle or by hand) in the 30 days up to ``as_of``
#: (``as_of - 29 <= occurred_on <= as_of``). ``channel``: email, sms, whatsapp, call, letter.
CONTACT_SCHEMA: dict[str, pl.DataType] = {
    "debtor_id": I64,
    "channel": S,
    "occurred_on": D,
    "outcome": S,
}

#: The last contact attempt of each debtor on or before ``as_of`` (one row per debtor).
LAST_CONTACT_SCHEMA: dict[str, pl.DataType] = {
    "debtor_id": I64,
    "last_contact_on": D,
    "last_contact_outcome": S,
}

#: Cases the engine must know: every case open on ``as_of`` and every case closed as cured in
#: the policy's reopen window (``closed_on >= as_of - reopen_within_days``), as they stand
#: after the last run (``opened_on <= as_of``). ``stage_floor``: a stage a ``move_stage`` step
#: raised the case to (the case stays at least that severe until it closes).
CASE_SCHEMA: dict[str, pl.DataType] = {
    "case_id": I64,
    "debtor_id": I64,
    "currency": S,
    "opened_on": D,
    "closed_on": D,
    "close_reason": S,
    "stage": S,
    "stage_entered_on": D,
    "stage_floor": S,
    "segment": S,
    "arm": S,
    "agency": S,
    "paused_by": S,
    "paused_until": D,
    "awaiting_approval": S,
}

#: Propensity to pay per debtor and currency (arrears.scoring.score_frame: a trained model's,
#: else the transparent rules score). Empty: the score features are null.
SCORE_SCHEMA: dict[str, pl.DataType] = {
    "debtor_id": I64,
    "currency": S,
    "score": pl.Float64(),
    "expected_recovery_minor": I64,
    "expected_days_to_pay": pl.Float64(),
}

#: What one unit of each currency is worth in a common unit of the workspace's choosing (its
#: ``[rates]`` table), in billionths (1.08 -> 1,080,000,000): the ``*_ref`` features, which rank
#: and compare balances across currencies. A currency without a row has no ``*_ref`` value;
#: nothing else is ever converted.
RATE_SCHEMA: dict[str, pl.DataType] = {"currency": S, "rate_nano": I64}
#: Decimal digits of a rate (``rate_nano`` is the rate x 10 ** RATE_DIGITS).
RATE_DIGITS = 9
#: The ECB reference rate by the day it took effect (the workspace's ``reference_rates.csv``),
#: for the EU late-payment interest: ``rate_micro`` is the rate in millionths of a percent
#: (2.15 % -> 2_150_000). Empty: the policy's ``reference_rate`` applies to every invoice.
REFERENCE_RATE_SCHEMA: dict[str, pl.DataType] = {"from": pl.Date(), "rate_micro": I64}

#: Steps already recorded (executed or skipped) for the cases in the case frame.
STEP_DONE_SCHEMA: dict[str, pl.DataType] = {
    "case_id": I64,
    "step_id": S,
    "occurrence": I32,
    "status": S,
    "on": D,
}

#: Payment plans and settlements that pause a case (``arrears.services.arrangements.agreements``):
#: from
#: ``starts_on`` until the day before ``ends_on`` (null: still running); ``broken_on``: the day a
#: plan was found broken (the policy's ``on_broken_promise`` steps run from it).
AGREEMENT_SCHEMA: dict[str, pl.DataType] = {
    "debtor_id": I64,
    "currency": S,
    "starts_on": D,
    "ends_on": D,
    "broken_on": D,
}

#: Approvals a person gave for a case to enter a stage that needs one.
APPROVAL_SCHEMA: dict[str, pl.DataType] = {
    "case_id": I64,
    "stage": S,
    "approved_on": D,
}


@dataclass(frozen=True, slots=True)
class CycleInput:
    """Everything the engine reads, as of ``as_of``, for one portfolio (or a subset of debtors).

    ``instalments`` and ``debtors`` are the snapshot's frames
    (``arrears.store.cycle.snapshot``); the others follow the schemas above. Every frame may
    hold more debtors than ``debtors`` (the engine ignores rows of debtors it was not given).
    """

    instalments: pl.DataFrame
    debtors: pl.DataFrame
    settled: pl.DataFrame
    last_payments: pl.DataFrame
    promises: pl.DataFrame
    holds: pl.DataFrame
    contacts: pl.DataFrame
    last_contacts: pl.DataFrame
    cases: pl.DataFrame
    steps_done: pl.DataFrame
    approvals: pl.DataFrame
    #: Consent per debtor and channel, for the contact rules (arrears.contact.frames).
    consents: pl.DataFrame = field(default_factory=lambda: empty(CONSENT_SCHEMA))
    #: Contact history with times (attempts, conversations, validation notices), 30 days.
    history: pl.DataFrame = field(default_factory=lambda: empty(HISTORY_SCHEMA))
    #: Propensity to pay (SCORE_SCHEMA); computed by the scoring job, not read from the store.
    scores: pl.DataFrame = field(default_factory=lambda: empty(SCORE_SCHEMA))
    #: Rates to a common unit (RATE_SCHEMA), from the workspace; empty: no ``*_ref`` values.
    rates: pl.DataFrame = field(default_factory=lambda: empty(RATE_SCHEMA))
    #: The dated reference rates (REFERENCE_RATE_SCHEMA), from the workspace.
    reference_rates: pl.DataFrame = field(default_factory=lambda: empty(REFERENCE_RATE_SCHEMA))
    #: Payment plans and settlements (AGREEMENT_SCHEMA), from
    #: arrears.services.arrangements.agreements.
    agreements: pl.DataFrame = field(default_factory=lambda: empty(AGREEMENT_SCHEMA))

    def for_debtors(self, debtor_ids: pl.Series) -> CycleInput:
        """The same input restricted to some debtors (a partition of the portfolio)."""
        ids = debtor_ids.implode()
        case_ids = self.cases.filter(pl.col("debtor_id").is_in(ids))["case_id"].implode()

        def by_debtor(frame: pl.DataFrame) -> pl.DataFrame:
            return frame.filter(pl.col("debtor_id").is_in(ids))

        def by_case(frame: pl.DataFrame) -> pl.DataFrame:
            return frame.filter(pl.col("case_id").is_in(case_ids))

        return CycleInput(
            instalments=by_debtor(self.instalments),
            debtors=by_debtor(self.debtors),
            settled=by_debtor(self.settled),
            last_payments=by_debtor(self.last_payments),
            promises=by_debtor(self.promises),
            holds=by_debtor(self.holds),
            contacts=by_debtor(self.contacts),
            last_contacts=by_debtor(self.last_contacts),
            cases=by_debtor(self.cases),
            steps_done=by_case(self.steps_done),
            approvals=by_case(self.approvals),
            consents=by_debtor(self.consents),
            history=by_debtor(self.history),
            scores=by_debtor(self.scores),
            rates=self.rates,
            reference_rates=self.reference_rates,
            agreements=by_debtor(self.agreements),
        )


def empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


#: What the engine decided for each (debtor, currency) it considered: one row per case that is
#: opened, reopened, kept, moved or closed. ``change``: open | reopen | stay | stage | close.
#: ``case_id`` is null for a case opened by this decision. ``awaiting_approval``: a stage the
#: case would enter if a person approved it (the case stays in ``stage`` meanwhile).
#: ``paused_by``: promise | plan | dispute | hold (null: not paused); ``paused_until``: the day the
#: pause ends on its own (null: open-ended, e.g. a dispute).
CASE_DECISION_SCHEMA: dict[str, pl.DataType] = {
    "case_id": I64,
    "debtor_id": I64,
    "currency": S,
    "opened_on": D,
    "change": S,
    "stage_before": S,
    "stage": S,
    "stage_entered_on": D,
    "stage_floor": S,
    "segment": S,
    "arm": S,
    "agency": S,
    "awaiting_approval": S,
    "paused_by": S,
    "paused_until": D,
    "close_reason": S,
    "overdue_minor": I64,
    "balance_minor": I64,
    "days_past_due": I32,
    "priority": pl.Float64(),
}

#: One row per step occurrence the engine executes or records as skipped or blocked on ``as_of``.
#: ``status``: executed | skipped | blocked (by a contact rule: ``rule`` is its id);
#: ``reason``: why. ``send_at``: for a message or a call, the earliest time the contact rules
#: allow it (UTC); ``channel`` is the channel it will use (a fallback if the planned one was
#: blocked); ``rule_pack``: the contact-rule pack that applied.
#: ``key``: the idempotency key ``case:<debtor_id>:<currency>:<opened_on>:<step_id>:<occurrence>``.
#: (unique within one store; what the store writes are the business keys of the step's effects,
#: ``arrears.cycle.effects``: ``cycle:<portfolio>:<debtor external id>:...``).
#: ``params``: the step's parameters as JSON text (template, fallback, offer terms...).
#: ``amount_minor``: the amount of a late fee (null for other actions).
STEP_DECISION_SCHEMA: dict[str, pl.DataType] = {
    "case_id": I64,
    "debtor_id": I64,
    "currency": S,
    "opened_on": D,
    "step_id": S,
    "occurrence": I32,
    "action": S,
    "channel": S,
    "due_on": D,
    "status": S,
    "reason": S,
    "key": S,
    "params": S,
    "task_priority": I32,
    "priority": pl.Float64(),
    "amount_minor": I64,
    "send_at": pl.Datetime("us", "UTC"),
    "rule": S,
    "rule_pack": S,
}


#: The promises whose date plus grace has passed (``found_on``: the day after it), with their
#: ``outcome``: kept (paid in full), partial (``kept_minor`` of ``amount_minor`` paid) or
#: broken (nothing paid). The store records it on the promise, once.
PROMISE_OUTCOME_SCHEMA: dict[str, pl.DataType] = {
    "promise_id": I64,
    "debtor_id": I64,
    "currency": S,
    "made_on": D,
    "due_on": D,
    "amount_minor": I64,
    "paid_minor": I64,
    "kept_minor": I64,
    "outcome": S,
    "found_on": D,
}


@dataclass(frozen=True, slots=True)
class Decisions:
    """The engine's output for one ``as_of``.

    ``features``: one row per (debtor_id, currency) with an open balance or a case, every
    catalogue feature (money features in major units as ``pl.Decimal``, never floats), plus
    ``segment``, ``stage``, ``arm`` and ``priority``.
    ``cases``: :data:`CASE_DECISION_SCHEMA`. ``steps``: :data:`STEP_DECISION_SCHEMA`.
    ``plan``: with ``explain=True`` only, every step occurrence of the case's current cadence
    with its status (executed, skipped, done, pending, paused, condition_false) and reason.
    """

    features: pl.DataFrame
    cases: pl.DataFrame
    steps: pl.DataFrame
    plan: pl.DataFrame | None = None
    #: :data:`PROMISE_OUTCOME_SCHEMA`: the outcomes of the promises that have come to term.
    promises: pl.DataFrame = field(default_factory=lambda: empty(PROMISE_OUTCOME_SCHEMA))
