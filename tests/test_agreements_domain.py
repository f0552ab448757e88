"""The plan calculator and the judgement of plans and settlements, in the collector's terms
(``arrears.domain.agreements``): schedules that add up, the policy's limits, and how a plan's
instalments are found paid, late or missed."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from arrears.domain.agreements import (
    Frequency,
    InstalmentState,
    Limits,
    ScheduledInstalment,
    add_periods,
    judge_plan,
    judge_settlement,
    plan_terms,
    settlement_amount,
)

LIMITS = Limits(
    max_instalments=6,
    min_instalment_minor=10000,
    frequencies=frozenset({Frequency.MONTHLY}),
    max_days_to_first=30,
    min_down_percent=Decimal(0),
    fee_percent=Decimal(0),
)
QUOTED = date(2026, 2, 3)


def usd(minor: int) -> str:
    return f"{minor / 100:.2f} USD"


def terms(balance: int, n: int | None = None, **kw: object):  # type: ignore[no-untyped-def]
    args = {"frequency": Frequency.MONTHLY, "first_on": date(2026, 2, 10), "down_minor": 0}
    args.update(kw)
    return plan_terms(
        balance_minor=balance, instalments=n, quoted_on=QUOTED, limits=LIMITS, fmt=usd, **args
    )  # type: ignore[arg-type]


def test_monthly_dates_keep_their_day_clamped_to_the_month() -> None:
    days = [add_periods(date(2026, 1, 31), Frequency.MONTHLY, k) for k in range(4)]
    assert days == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30)]
    assert add_periods(date(2026, 1, 31), Frequency.FORTNIGHTLY, 2) == date(2026, 2, 28)


def test_as_many_instalments_as_the_minimum_allows() -> None:
    assert len(terms(90000).schedule) == 6  # 6 x 150.00 (at most 6)
    assert [r.amount_minor for r in terms(35000).schedule] == [11666, 11666, 11668]
    small = terms(3455)  # 34.55 with a minimum of 100.00: one payment, beyond the minimum
    assert [r.amount_minor for r in small.schedule] == [3455]
    assert small.beyond == (
        "instalments of 34.55 USD: the policy's minimum instalment is 100.00 USD",
    )


def test_down_payment_first_then_the_instalments() -> None:
    t = terms(90000, 3, down_minor=15000)
    assert [(r.seq, r.due_on.isoformat(), r.amount_minor) for r in t.schedule] == [
        (0, "2026-02-10", 15000),
        (1, "2026-03-10", 25000),
        (2, "2026-04-10", 25000),
        (3, "2026-05-10", 25000),
    ]
    assert t.beyond == ()


def test_every_problem_and_every_limit_at_once() -> None:
    bad = terms(90000, 0, down_minor=-1, first_on=date(2026, 1, 1))
    assert len(bad.problems) == 3 and bad.schedule == ()
    far = terms(90000, 12, frequency=Frequency.WEEKLY, first_on=date(2026, 3, 31))
    assert len(far.beyond) == 4  # too many, too small, weekly, too far


@given(
    balance=st.integers(1, 10**9),
    n=st.integers(1, 60),
    down=st.integers(0, 10**6),
    fee=st.decimals(0, 20, places=2),
)
def test_a_schedule_adds_up_to_the_balance_and_the_fee(
    balance: int, n: int, down: int, fee: Decimal
) -> None:
    limits = Limits(60, 0, frozenset(Frequency), 365, Decimal(0), fee)
    t = plan_terms(
        balance_minor=balance, instalments=n, frequency=Frequency.MONTHLY,
        first_on=QUOTED, down_minor=down, quoted_on=QUOTED, limits=limits, fmt=usd,
    )  # fmt: skip
    if down >= balance:
        assert t.problems and not t.schedule
        return
    assert sum(r.amount_minor for r in t.schedule) == balance + t.fee_minor
    amounts = [r.amount_minor for r in t.schedule if r.seq > 0]
    assert len(amounts) == n and max(amounts) - min(amounts) < n  # even, to the cent
    assert [r.due_on for r in t.schedule] == sorted(r.due_on for r in t.schedule)


SCHEDULE = [
    ScheduledInstalment(1, date(2026, 2, 10), 30000),
    ScheduledInstalment(2, date(2026, 3, 10), 30000),
    ScheduledInstalment(3, date(2026, 4, 10), 30000),
]


def test_paid_late_within_grace_missed_and_broken() -> None:
    paid = [(date(2026, 2, 9), 30000)]
    on = judge_plan(SCHEDULE, paid, as_of=date(2026, 3, 12), grace_days=3, missed_to_break=1)
    assert [i.state for i in on.instalments] == [
        InstalmentState.PAID, InstalmentState.LATE, InstalmentState.DUE
    ]  # fmt: skip
    later = judge_plan(SCHEDULE, paid, as_of=date(2026, 3, 14), grace_days=3, missed_to_break=1)
    assert later.instalments[1].state is InstalmentState.MISSED
    assert later.instalments[1].found_on == later.broken_on == date(2026, 3, 14)
    lenient = judge_plan(SCHEDULE, paid, as_of=date(2026, 5, 1), grace_days=3, missed_to_break=2)
    assert lenient.broken_on == date(2026, 4, 14)  # the second missed breaks it


def test_paid_in_full_completes_it_unless_it_broke_first() -> None:
    paid = [(date(2026, 2, 9), 30000), (date(2026, 3, 12), 30000), (date(2026, 4, 13), 30000)]
    done = judge_plan(SCHEDULE, paid, as_of=date(2026, 5, 1), grace_days=3, missed_to_break=1)
    assert done.completed_on == date(2026, 4, 13) and done.broken_on is None
    late = [(date(2026, 2, 9), 30000), (date(2026, 4, 20), 60000)]
    broke = judge_plan(SCHEDULE, late, as_of=date(2026, 5, 1), grace_days=3, missed_to_break=1)
    assert broke.broken_on == date(2026, 3, 14) and broke.completed_on is None


@given(
    payments=st.lists(st.tuples(st.integers(0, 120), st.integers(1, 40000)), max_size=8),
    as_of=st.integers(0, 150),
)
def test_a_judgement_never_looks_past_its_day(payments: list[tuple[int, int]], as_of: int) -> None:
    start = date(2026, 2, 1)
    paid = [(start + timedelta(days=d), a) for d, a in payments]
    day = start + timedelta(days=as_of)
    full = judge_plan(SCHEDULE, paid, as_of=day, grace_days=3, missed_to_break=1)
    known = judge_plan(SCHEDULE, [p for p in paid if p[0] <= day], as_of=day, grace_days=3,
                       missed_to_break=1)  # fmt: skip
    assert full == known
    for item in full.instalments:
        assert item.paid_on is None or item.paid_on <= day
        assert item.found_on is None or item.found_on <= day


def test_settlement_amount_and_payment_by_the_expiry() -> None:
    assert settlement_amount(3455, Decimal(25)) == 2592  # 8.6375 off, rounded down: 8.63
    paid = [(date(2026, 2, 4), 1000), (date(2026, 2, 15), 2592), (date(2026, 2, 25), 5000)]
    found = judge_settlement(2592, paid, offered_on=date(2026, 2, 5),
                             expires_on=date(2026, 2, 20), as_of=date(2026, 3, 1))  # fmt: skip
    assert found.paid_on == date(2026, 2, 15)  # the payment before the offer does not count
    short = judge_settlement(3000, paid, offered_on=date(2026, 2, 5),
                             expires_on=date(2026, 2, 20), as_of=date(2026, 3, 1))  # fmt: skip
    assert short.paid_on is None and short.paid_minor == 2592
