"""``domain.agreements.judge_plans`` (columns, every plan at once) gives what ``judge_plan``
(one plan) gives, on random plans and payments."""

from __future__ import annotations

import random
from datetime import date, timedelta

import polars as pl

from arrears.domain.agreements import (
    PLAN_PAYMENT_SCHEMA,
    PLAN_SCHEDULE_SCHEMA,
    ScheduledInstalment,
    judge_plan,
    judge_plans,
)


def test_the_columns_judge_every_plan_as_judge_plan_does() -> None:
    rng = random.Random(15)
    start = date(2026, 1, 1)
    schedule_rows, payment_rows, expected = [], [], {}
    for plan_id in range(1, 400):
        count = rng.randint(1, 6)
        first = start + timedelta(days=rng.randrange(0, 60))
        items = [
            ScheduledInstalment(k, first + timedelta(days=30 * k), rng.choice([100, 250, 999]))
            for k in range(0 if rng.random() < 0.3 else 1, count + 1)
        ]
        grace, to_break = rng.randint(0, 5), rng.randint(1, 3)
        paid = [
            (first + timedelta(days=rng.randrange(-5, 200)), rng.choice([50, 100, 250, 999, 3000]))
            for _ in range(rng.randint(0, 6))
        ]
        expected[plan_id] = (items, paid, grace, to_break)
        schedule_rows += [
            (plan_id, i.seq, i.due_on, i.amount_minor, grace, to_break) for i in items
        ]
        payment_rows += [(plan_id, d, a) for d, a in paid]
    schedule = pl.DataFrame(schedule_rows, schema=PLAN_SCHEDULE_SCHEMA, orient="row")
    payments = pl.DataFrame(payment_rows, schema=PLAN_PAYMENT_SCHEMA, orient="row")
    days = (20, 45, 75, 130, 200, 400)
    for as_of in (start + timedelta(days=n) for n in days):
        instalments, plans = judge_plans(schedule, payments, as_of=as_of)
        by_plan = {r["plan_id"]: r for r in plans.iter_rows(named=True)}
        assert len(by_plan) == len(expected)
        for plan_id, (items, paid, grace, to_break) in expected.items():
            one = judge_plan(items, paid, as_of=as_of, grace_days=grace, missed_to_break=to_break)
            row = by_plan[plan_id]
            assert (row["broken_on"], row["completed_on"], row["paid_minor"]) == (
                one.broken_on,
                one.completed_on,
                one.paid_minor,
            ), plan_id
            mine = instalments.filter(pl.col("plan_id") == plan_id).iter_rows(named=True)
            assert [
                (r["seq"], r["due_on"], r["amount_minor"], r["state"], r["paid_on"], r["found_on"])
                for r in mine
            ] == [
                (i.seq, i.due_on, i.amount_minor, i.state.value, i.paid_on, i.found_on)
                for i in one.instalments
            ], plan_id
