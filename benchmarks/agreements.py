"""Benchmark of what payment plans and settlements add to the daily cycle (issue 15), at the
issue's scale: 1M debtors, 5 % of them (50,000) in a plan.

    flock /tmp/arrears-bench.lock .venv/bin/python benchmarks/agreements.py [--debtors 1000000]
        [--share 0.05] [--instalments 6]

Synthetic, in memory (no store):

* decide's share: ``cycle.features`` joins the agreements (grouped per debtor and currency)
  with the promises' columns before their one attach onto the debtors' keys; timed as that
  attach on a 1M-row key frame, before the plans, with them, and with none (5 % of the debtors
  with a promise); compare with ``decide`` in docs/benchmarks.md;
* the follow-up's judgement of every plan (schedules of ``--instalments`` monthly
  instalments, three payments each): ``domain.agreements.judge_plans`` in columns, what
  ``monitor`` runs once a run after its two reads (and ``cycle_frame`` for a dry run),
  against ``judge_plan`` in a Python loop per plan, what both ran before (twice a run).

Best of 7 runs each (3 for the loop), and the CPU seconds of one (``time.process_time``: the
machine is shared). Prints the figures.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import polars as pl
from machine import describe

from arrears.cycle.features import KEY, _attach, _with_agreements
from arrears.cycle.frames import AGREEMENT_SCHEMA, CycleInput, empty
from arrears.domain.agreements import (
    PLAN_PAYMENT_SCHEMA,
    PLAN_SCHEDULE_SCHEMA,
    Frequency,
    ScheduledInstalment,
    add_periods,
    judge_plan,
    judge_plans,
)

AS_OF = date(2026, 11, 23)


def best(fn: object, times: int = 7) -> float:
    runs = []
    for _ in range(times):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        runs.append(time.perf_counter() - start)
    return min(runs)


def inputs(agreements: pl.DataFrame) -> CycleInput:
    frames = {name: pl.DataFrame() for name in CycleInput.__slots__}
    frames["agreements"] = agreements
    return CycleInput(**frames)


def features_step(keys: pl.DataFrame, promises: pl.DataFrame, data: CycleInput | None) -> None:
    """The promises' attach onto the debtors' keys: as before the plans (``data`` None), or with
    the agreements joined in first (what ``feature_table`` does now)."""
    if data is not None:
        promises = _with_agreements(promises, data, AS_OF)
    _attach(keys, promises, KEY)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--debtors", type=int, default=1_000_000)
    parser.add_argument("--share", type=float, default=0.05)
    parser.add_argument("--instalments", type=int, default=6)
    args = parser.parse_args()
    print(describe())
    rng = random.Random(1)
    n = args.debtors
    plans = int(n * args.share)
    keys = pl.DataFrame(
        {
            "debtor_id": pl.arange(0, n, eager=True).cast(pl.Int64()),
            "currency": ["USD"] * n,
        },
        schema={"debtor_id": pl.Int64(), "currency": pl.String()},
    )
    ids = rng.sample(range(n), plans)
    starts = [AS_OF - timedelta(days=rng.randrange(1, 200)) for _ in ids]
    agreements = pl.DataFrame(
        {
            "debtor_id": ids,
            "currency": ["USD"] * plans,
            "starts_on": starts,
            "ends_on": [s + timedelta(days=180) if rng.random() < 0.7 else None for s in starts],
            "broken_on": [s + timedelta(days=40) if rng.random() < 0.2 else None for s in starts],
        },
        schema=AGREEMENT_SCHEMA,
    )
    promised = rng.sample(range(n), plans)  # 5 % with a promise, as in the issue
    promises = pl.DataFrame(
        {
            "debtor_id": promised,
            "currency": ["USD"] * plans,
            "promise_open": [rng.random() < 0.5 for _ in promised],
            "_broken_on": [AS_OF - timedelta(days=rng.randrange(1, 90)) for _ in promised],
        },
        schema={
            "debtor_id": pl.Int64(),
            "currency": pl.String(),
            "promise_open": pl.Boolean(),
            "_broken_on": pl.Date(),
        },
    )
    before = best(lambda: features_step(keys, promises, None))
    with_plans = best(lambda: features_step(keys, promises, inputs(agreements)))
    without = best(lambda: features_step(keys, promises, inputs(empty(AGREEMENT_SCHEMA))))
    joined = best(lambda: _with_agreements(promises, inputs(agreements), AS_OF))
    print(f"{n:,} debtors, {plans:,} in a plan, {plans:,} with a promise")
    print(f"the agreements joined with the promises' columns alone: {joined * 1000:.1f} ms")
    print(
        f"decide's share (the promises' attach): {before * 1000:.0f} ms before the plans, "
        f"{with_plans * 1000:.0f} ms with them (+{(with_plans - before) * 1000:.0f} ms), "
        f"{without * 1000:.0f} ms with none (+{(without - before) * 1000:.0f} ms)"
    )

    schedules, payments = [], []
    schedule_rows, payment_rows = [], []
    for plan_id, start in enumerate(starts):
        first = start + timedelta(days=7)
        schedules.append(
            [
                ScheduledInstalment(k + 1, add_periods(first, Frequency.MONTHLY, k), 15000)
                for k in range(args.instalments)
            ]
        )
        payments.append(
            [(first + timedelta(days=30 * k + rng.randrange(-3, 6)), 15000) for k in range(3)]
        )
        schedule_rows += [(plan_id, i.seq, i.due_on, i.amount_minor, 3, 1) for i in schedules[-1]]
        payment_rows += [(plan_id, d, a) for d, a in payments[-1]]
    schedule = pl.DataFrame(schedule_rows, schema=PLAN_SCHEDULE_SCHEMA, orient="row")
    paid = pl.DataFrame(payment_rows, schema=PLAN_PAYMENT_SCHEMA, orient="row")

    def judge_all() -> None:
        for one, received in zip(schedules, payments, strict=True):
            judge_plan(one, received, as_of=AS_OF, grace_days=3, missed_to_break=1)

    def judge_columns() -> None:
        judge_plans(schedule, paid, as_of=AS_OF)

    looped, looped_cpu = best(judge_all, 3), cpu(judge_all)
    columns, columns_cpu = best(judge_columns, 7), cpu(judge_columns)
    print(
        f"judging every plan ({plans:,} plans, {args.instalments} instalments, 3 payments each):"
        f" judge_plan in a loop {looped:.2f} s ({looped_cpu:.2f} CPU s); judge_plans in columns"
        f" {columns:.3f} s ({columns_cpu:.3f} CPU s): {looped_cpu / max(columns_cpu, 1e-9):.0f}x"
        " less CPU; a run judges once (it judged twice before: monitor, then cycle_frame)"
    )


def cpu(fn: object) -> float:
    """The CPU seconds (this process, every thread) of one call."""
    start = time.process_time()
    fn()  # type: ignore[operator]
    return time.process_time() - start


if __name__ == "__main__":
    main()
