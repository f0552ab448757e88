"""Payment plans and settlements: the calculator, the policy's limits, and how each is judged.

Pure (standard library only), in integer minor units; time is an argument (``as_of``).

**A payment plan** spreads what a debtor owes in one currency (the open balance, plus the
policy's fee) over a down payment and ``instalments`` amounts at a frequency from a first date:

- the down payment (if any) is due on the first date, and the instalments one period after
  another from the next period on; without a down payment the first instalment is due on the
  first date;
- each instalment is the remainder divided evenly, rounded down to the minor unit; the last one
  takes what rounding left over (so the schedule sums to the total exactly).

:func:`plan_terms` computes the schedule and says, every problem at once, what is invalid
(``problems``) and what is beyond the policy's limits (``beyond``: it needs a manager's
approval). :func:`judge_plan` follows it as of a day: each instalment is *paid* once the
debtor's payments since the plan started cover it and every one before it (payments allocate
to the invoices as usual; the plan only counts them), *late* within the grace days after its
date, *missed* after the grace (found the day after); the plan is *broken* on the day its
``missed_to_break``-th instalment is found missed, *completed* the day its last one is paid.

**A settlement** accepts ``amount`` (the balance less a discount) in full payment if paid by
its expiry date: :func:`settlement_amount` and :func:`judge_settlement`.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from enum import StrEnum
from typing import ClassVar

import polars as pl

from arrears.domain.activity import Activity


class Frequency(StrEnum):
    WEEKLY = "weekly"
    FORTNIGHTLY = "fortnightly"
    MONTHLY = "monthly"


class PlanStatus(StrEnum):
    """A payment plan's states (stored as these words: ``payment_plan.status``)."""

    AWAITING_APPROVAL = "awaiting_approval"  # beyond the policy's limits: a manager approves
    ACTIVE = "active"
    BROKEN = "broken"
    COMPLETED = "completed"
    EXPIRED = "expired"  # not approved before its offer expired
    CANCELLED = "cancelled"


#: The plans that still stand (one per debtor and currency at most).
LIVE_PLAN_STATUSES = (PlanStatus.ACTIVE, PlanStatus.AWAITING_APPROVAL)


class SettlementStatus(StrEnum):
    """A settlement's states (stored as these words: ``settlement.status``)."""

    AWAITING_APPROVAL = "awaiting_approval"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    PAID = "paid"
    LAPSED = "lapsed"  # accepted, not paid in full by its expiry
    EXPIRED = "expired"  # never accepted


#: The settlements a debtor may still take or is paying.
LIVE_SETTLEMENT_STATUSES = (SettlementStatus.OFFERED, SettlementStatus.ACCEPTED)


def least_down_minor(balance_minor: int, percent: Decimal) -> int:
    """The smallest down payment ``percent`` of ``balance_minor`` asks, rounded up to the
    minor unit (0: none asked)."""
    if not percent:
        return 0
    return int((Decimal(balance_minor) * percent / 100).to_integral_value(rounding=ROUND_UP))


def add_periods(first: date, frequency: Frequency, periods: int) -> date:
    """``first`` moved ``periods`` periods on (a monthly date keeps its day, clamped to the
    month's last day: 31 January, 28 February, 31 March)."""
    if frequency is Frequency.WEEKLY:
        return first + timedelta(weeks=periods)
    if frequency is Frequency.FORTNIGHTLY:
        return first + timedelta(weeks=2 * periods)
    year, month = divmod(first.month - 1 + periods, 12)
    year += first.year
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(first.day, last))


@dataclass(frozen=True, slots=True)
class Limits:
    """The policy's limits for a plan a collector may agree alone (amounts in minor units of
    the debt's currency; ``min_instalment_minor`` 0: none)."""

    max_instalments: int
    min_instalment_minor: int
    frequencies: frozenset[Frequency]
    max_days_to_first: int
    min_down_percent: Decimal
    fee_percent: Decimal


@dataclass(frozen=True, slots=True)
class ScheduledInstalment:
    """One row of a plan's schedule; ``seq`` 0 is the down payment."""

    seq: int
    due_on: date
    amount_minor: int


@dataclass(frozen=True, slots=True)
class PlanTerms:
    """A plan's terms as computed: the schedule, and what is wrong with or beyond the limits."""

    balance_minor: int
    down_minor: int
    fee_minor: int
    schedule: tuple[ScheduledInstalment, ...]
    problems: tuple[str, ...]  # invalid: nothing can be agreed
    beyond: tuple[str, ...]  # beyond the policy's limits: a manager must approve

    @property
    def total_minor(self) -> int:
        return self.balance_minor + self.fee_minor


def default_instalments(remaining_minor: int, limits: Limits) -> int:
    """The most instalments the limits allow on ``remaining_minor``: at most
    ``max_instalments``, each at least the minimum instalment (at least 1)."""
    if limits.min_instalment_minor <= 0:
        return limits.max_instalments
    return max(1, min(limits.max_instalments, remaining_minor // limits.min_instalment_minor))


def plan_terms(
    *,
    balance_minor: int,
    instalments: int | None,
    frequency: Frequency,
    first_on: date,
    down_minor: int,
    quoted_on: date,
    limits: Limits,
    fmt: Callable[[int], str],
) -> PlanTerms:
    """The schedule of a plan on ``balance_minor`` quoted on ``quoted_on`` (``instalments``
    ``None``: :func:`default_instalments`), with every problem and every limit it goes beyond.
    ``fmt`` writes an amount in minor units for the messages."""
    problems: list[str] = []
    beyond: list[str] = []
    if balance_minor <= 0:
        problems.append("nothing is owed in this currency: there is nothing to plan")
    if down_minor < 0:
        problems.append(f"the down payment must not be negative, not {fmt(down_minor)}")
    elif balance_minor > 0 and down_minor >= balance_minor:
        problems.append(
            f"the down payment {fmt(down_minor)} covers the whole balance {fmt(balance_minor)}: "
            "take it as a payment, not a plan"
        )
    if first_on < quoted_on:
        problems.append(f"the first date {first_on} is before the day of the quote {quoted_on}")
    if instalments is not None and not 1 <= instalments <= 360:
        problems.append(f"the number of instalments must be 1 to 360, not {instalments}")
    financed = max(balance_minor - max(down_minor, 0), 0)
    fee_minor = int(
        (Decimal(financed) * limits.fee_percent / 100).to_integral_value(rounding=ROUND_DOWN)
    )
    remaining = financed + fee_minor
    count = instalments if instalments is not None else default_instalments(remaining, limits)
    if problems or count < 1 or remaining <= 0:
        return PlanTerms(balance_minor, down_minor, fee_minor, (), tuple(problems), ())
    base = remaining // count
    rows: list[ScheduledInstalment] = []
    if down_minor > 0:
        rows.append(ScheduledInstalment(0, first_on, down_minor))
    start = 1 if down_minor > 0 else 0
    for n in range(1, count + 1):
        amount = base if n < count else remaining - base * (count - 1)
        rows.append(ScheduledInstalment(n, add_periods(first_on, frequency, start + n - 1), amount))
    if count > limits.max_instalments:
        beyond.append(f"{count} instalments: the policy allows at most {limits.max_instalments}")
    if limits.min_instalment_minor > 0 and base < limits.min_instalment_minor:
        beyond.append(
            f"instalments of {fmt(base)}: the policy's minimum instalment is "
            f"{fmt(limits.min_instalment_minor)}"
        )
    if frequency not in limits.frequencies:
        allowed = ", ".join(sorted(limits.frequencies))
        beyond.append(f"a {frequency} plan: the policy allows {allowed}")
    if (first_on - quoted_on).days > limits.max_days_to_first:
        beyond.append(
            f"the first date is {(first_on - quoted_on).days} days away: the policy allows "
            f"at most {limits.max_days_to_first}"
        )
    least_down = int(
        (Decimal(balance_minor) * limits.min_down_percent / 100).to_integral_value(
            rounding=ROUND_DOWN
        )
    )
    if down_minor < least_down:
        beyond.append(
            f"a down payment of {fmt(down_minor)}: the policy asks at least "
            f"{limits.min_down_percent} % ({fmt(least_down)})"
        )
    return PlanTerms(balance_minor, down_minor, fee_minor, tuple(rows), (), tuple(beyond))


# Following a plan --------------------------------------------------------------------------------


class InstalmentState(StrEnum):
    DUE = "due"  # not yet due, not yet paid
    LATE = "late"  # its date passed, still within the grace days
    PAID = "paid"
    MISSED = "missed"  # not paid by its date plus grace (found the day after)


@dataclass(frozen=True, slots=True)
class JudgedInstalment:
    seq: int
    due_on: date
    amount_minor: int
    state: InstalmentState
    paid_on: date | None  # the day the payments covered it (and every one before it)
    found_on: date | None  # missed: the day after its date plus grace


@dataclass(frozen=True, slots=True)
class PlanJudgement:
    instalments: tuple[JudgedInstalment, ...]
    broken_on: date | None  # the day its missed_to_break-th instalment was found missed
    completed_on: date | None  # the day its last instalment was paid (not after broken_on)
    paid_minor: int  # what was paid towards it by as_of


def _covered_on(payments: Sequence[tuple[date, int]], target: int) -> date | None:
    """The day the running total of ``payments`` (sorted by day) reaches ``target``."""
    total = 0
    for day, amount in payments:
        total += amount
        if total >= target:
            return day
    return None


def judge_plan(
    schedule: Sequence[ScheduledInstalment],
    payments: Sequence[tuple[date, int]],
    *,
    as_of: date,
    grace_days: int,
    missed_to_break: int,
) -> PlanJudgement:
    """The plan's state on ``as_of``, from the debtor's payments in its currency since it
    started (``(received_on, amount_minor)``; those after ``as_of`` are ignored)."""
    paid = sorted((d, a) for d, a in payments if d <= as_of)
    judged: list[JudgedInstalment] = []
    cumulative = 0
    missed = 0
    broken_on: date | None = None
    for row in sorted(schedule, key=lambda r: r.seq):
        cumulative += row.amount_minor
        paid_on = _covered_on(paid, cumulative)
        deadline = row.due_on + timedelta(days=grace_days)
        found_on: date | None = None
        if paid_on is not None and paid_on <= deadline:
            state = InstalmentState.PAID
        elif as_of > deadline:
            state, found_on = InstalmentState.MISSED, deadline + timedelta(days=1)
            missed += 1
            if missed == missed_to_break and broken_on is None:
                broken_on = found_on
        elif as_of > row.due_on:
            state = InstalmentState.LATE
        else:
            state = InstalmentState.DUE
        judged.append(
            JudgedInstalment(row.seq, row.due_on, row.amount_minor, state, paid_on, found_on)
        )
    last_paid = _covered_on(paid, cumulative) if judged else None
    completed_on = last_paid
    if completed_on is not None and broken_on is not None and completed_on >= broken_on:
        completed_on = None
    # paid in full after it broke: it stays broken (the case closes when paid)
    return PlanJudgement(tuple(judged), broken_on, completed_on, sum(a for _, a in paid))


#: Columns of :func:`judge_plans`' schedule: every instalment of the plans to judge, with its
#: plan's grace and the missed instalments that break it.
PLAN_SCHEDULE_SCHEMA: dict[str, pl.DataType] = {
    "plan_id": pl.Int64(),
    "seq": pl.Int32(),
    "due_on": pl.Date(),
    "amount_minor": pl.Int64(),
    "grace_days": pl.Int32(),
    "missed_to_break": pl.Int32(),
}
#: Columns of :func:`judge_plans`' payments: each plan's payments since it was accepted.
PLAN_PAYMENT_SCHEMA: dict[str, pl.DataType] = {
    "plan_id": pl.Int64(),
    "received_on": pl.Date(),
    "amount_minor": pl.Int64(),
}


def judge_plans(
    schedule: pl.DataFrame, payments: pl.DataFrame, *, as_of: date
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """:func:`judge_plan` for every plan at once, in columns: the same judgement, without a
    Python loop per plan (50,000 plans in a few hundred milliseconds).

    ``schedule``: :data:`PLAN_SCHEDULE_SCHEMA`; ``payments``: :data:`PLAN_PAYMENT_SCHEMA`
    (those after ``as_of`` are ignored). Returns the instalments (``plan_id``, ``seq``,
    ``due_on``, ``amount_minor``, ``state``, ``paid_on``, ``found_on``) and the plans
    (``plan_id``, ``broken_on``, ``completed_on``, ``paid_minor``; every plan of
    ``schedule``)."""
    # the running total of each plan's payments at the end of each day
    paid = (
        payments.lazy()
        .filter(pl.col("received_on") <= as_of)
        .group_by("plan_id", "received_on")
        .agg(pl.col("amount_minor").sum().alias("day_minor"))
        .sort("plan_id", "received_on")
        .with_columns(pl.col("day_minor").cum_sum().over("plan_id").alias("paid_total"))
        .sort("paid_total")
    )
    deadline = pl.col("due_on") + pl.duration(days=pl.col("grace_days"))
    judged = (
        schedule.lazy()
        .sort("plan_id", "seq")
        .with_columns(pl.col("amount_minor").cum_sum().over("plan_id").alias("target"))
        .sort("target")
        # the first day the running total covered this instalment and every one before it
        .join_asof(
            paid.select("plan_id", "paid_total", pl.col("received_on").alias("paid_on")),
            left_on="target",
            right_on="paid_total",
            by="plan_id",
            strategy="forward",
            check_sortedness=False,  # sorted on the keys above; polars cannot check with `by`
        )
        .sort("plan_id", "seq")
        .with_columns(deadline.alias("_deadline"))
        .with_columns(
            pl.when(pl.col("paid_on").is_not_null() & (pl.col("paid_on") <= pl.col("_deadline")))
            .then(pl.lit(InstalmentState.PAID.value))
            .when(pl.lit(as_of) > pl.col("_deadline"))
            .then(pl.lit(InstalmentState.MISSED.value))
            .when(pl.lit(as_of) > pl.col("due_on"))
            .then(pl.lit(InstalmentState.LATE.value))
            .otherwise(pl.lit(InstalmentState.DUE.value))
            .alias("state")
        )
        .with_columns(
            pl.when(pl.col("state") == InstalmentState.MISSED.value)
            .then(pl.col("_deadline") + timedelta(days=1))
            .alias("found_on"),
            (pl.col("state") == InstalmentState.MISSED.value)
            .cast(pl.Int32())
            .cum_sum()
            .over("plan_id")
            .alias("_missed"),
        )
        .collect()
    )
    plans = (
        judged.lazy()
        .group_by("plan_id")
        .agg(
            pl.col("found_on")
            .filter(pl.col("_missed") == pl.col("missed_to_break"))
            .first()
            .alias("broken_on"),
            pl.col("paid_on").last().alias("_last_paid"),
        )
        .join(
            payments.lazy()
            .filter(pl.col("received_on") <= as_of)
            .group_by("plan_id")
            .agg(pl.col("amount_minor").sum().alias("paid_minor")),
            on="plan_id",
            how="left",
        )
        .with_columns(
            pl.when(
                pl.col("broken_on").is_not_null() & (pl.col("_last_paid") >= pl.col("broken_on"))
            )
            .then(pl.lit(None, pl.Date()))
            .otherwise(pl.col("_last_paid"))
            .alias("completed_on"),
            pl.col("paid_minor").fill_null(0),
        )
        .select("plan_id", "broken_on", "completed_on", "paid_minor")
        .sort("plan_id")
        .collect()
    )
    instalments = judged.select(
        "plan_id", "seq", "due_on", "amount_minor", "state", "paid_on", "found_on"
    )
    return instalments, plans


# Settlements -------------------------------------------------------------------------------------


def settlement_amount(balance_minor: int, discount_percent: Decimal) -> int:
    """What the debtor pays to settle ``balance_minor`` at ``discount_percent`` off: the
    discount is rounded down to the minor unit (the creditor never gives more than offered)."""
    discount = (Decimal(balance_minor) * discount_percent / 100).to_integral_value(
        rounding=ROUND_DOWN
    )
    return balance_minor - int(discount)


@dataclass(frozen=True, slots=True)
class SettlementJudgement:
    paid_on: date | None  # the day the payments since the offer reached the amount, by expiry
    paid_minor: int


def judge_settlement(
    amount_minor: int,
    payments: Sequence[tuple[date, int]],
    *,
    offered_on: date,
    expires_on: date,
    as_of: date,
) -> SettlementJudgement:
    """Whether the payments from the offer's day to its expiry (and ``as_of``) reached the
    settlement amount, and on which day."""
    window = sorted((d, a) for d, a in payments if offered_on <= d <= min(expires_on, as_of))
    return SettlementJudgement(_covered_on(window, amount_minor), sum(a for _, a in window))


#: The reason of the write-off that closes a settlement paid in full.
SETTLEMENT_WRITE_OFF_REASON = "settlement discount"


# Activity kinds (stable names; payloads documented in docs/agreements.md) -----------------------


@dataclass(frozen=True, slots=True)
class PlanAccepted(Activity):
    kind: ClassVar[str] = "plan.accepted"


@dataclass(frozen=True, slots=True)
class PlanAwaitingApproval(Activity):
    kind: ClassVar[str] = "plan.awaiting_approval"


@dataclass(frozen=True, slots=True)
class PlanApproved(Activity):
    kind: ClassVar[str] = "plan.approved"


@dataclass(frozen=True, slots=True)
class PlanInstalmentPaid(Activity):
    kind: ClassVar[str] = "plan.instalment_paid"


@dataclass(frozen=True, slots=True)
class PlanInstalmentMissed(Activity):
    kind: ClassVar[str] = "plan.instalment_missed"


@dataclass(frozen=True, slots=True)
class PlanBroken(Activity):
    kind: ClassVar[str] = "plan.broken"


@dataclass(frozen=True, slots=True)
class PlanCompleted(Activity):
    kind: ClassVar[str] = "plan.completed"


@dataclass(frozen=True, slots=True)
class PlanExpired(Activity):
    kind: ClassVar[str] = "plan.expired"


@dataclass(frozen=True, slots=True)
class OfferExpired(Activity):
    """A plan or settlement offer the cycle made, past its expiry unanswered; payload
    ``{"kind", "made_on", "expires_on", "on"}``."""

    kind: ClassVar[str] = "offer.expired"


@dataclass(frozen=True, slots=True)
class PlanCancelled(Activity):
    kind: ClassVar[str] = "plan.cancelled"


@dataclass(frozen=True, slots=True)
class SettlementOffered(Activity):
    kind: ClassVar[str] = "settlement.offered"


@dataclass(frozen=True, slots=True)
class SettlementApproved(Activity):
    kind: ClassVar[str] = "settlement.approved"


@dataclass(frozen=True, slots=True)
class SettlementAccepted(Activity):
    kind: ClassVar[str] = "settlement.accepted"


@dataclass(frozen=True, slots=True)
class SettlementPaid(Activity):
    kind: ClassVar[str] = "settlement.paid"


@dataclass(frozen=True, slots=True)
class SettlementLapsed(Activity):
    kind: ClassVar[str] = "settlement.lapsed"


@dataclass(frozen=True, slots=True)
class SettlementExpired(Activity):
    kind: ClassVar[str] = "settlement.expired"
