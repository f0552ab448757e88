"""The debtor score's targets (issue 18 item 4), computed by hand on a tiny book.

One account (debtor 1, EUR) with three monthly statements of 100.00:

- S1 issued 2026-01-01, due 2026-01-26, paid in full 2026-01-20 (on time);
- S2 issued 2026-02-01, due 2026-02-26, 40.00 paid 2026-03-10, the rest 2026-04-05;
- S3 issued 2026-03-01, due 2026-03-26, never paid.

A second account (debtor 2) with one statement issued 2026-02-01 due 2026-02-26, paid
2026-03-20 (a payment reversed on 2026-03-25, paid again 2026-04-02).
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from arrears.scoring.examples import debtor_examples, example_days
from arrears.scoring.frames import HISTORY_ALLOCATION_SCHEMA, HISTORY_INSTALMENT_SCHEMA, History
from arrears.scoring.targets import Schedule, Target, TargetError, parse

D = date.fromisoformat


def book() -> History:
    instalments = pl.DataFrame(
        [
            (1, 1, 1, "EUR", D("2026-01-01"), D("2026-01-26"), 10_000, False, None),
            (2, 2, 1, "EUR", D("2026-02-01"), D("2026-02-26"), 10_000, False, None),
            (3, 3, 1, "EUR", D("2026-03-01"), D("2026-03-26"), 10_000, False, None),
            (4, 4, 2, "EUR", D("2026-02-01"), D("2026-02-26"), 10_000, False, None),
        ],
        schema=HISTORY_INSTALMENT_SCHEMA,
        orient="row",
    )
    allocations = pl.DataFrame(
        [
            (1, "payment", 10_000, D("2026-01-20"), None),
            (2, "payment", 4_000, D("2026-03-10"), None),
            (2, "payment", 6_000, D("2026-04-05"), None),
            (4, "payment", 10_000, D("2026-03-20"), D("2026-03-25")),
            (4, "payment", 10_000, D("2026-04-02"), None),
        ],
        schema=HISTORY_ALLOCATION_SCHEMA,
        orient="row",
    )
    return History(instalments, allocations)


def labels(target: Target, days: list[str], schedule: Schedule | None = None) -> dict:
    frame = debtor_examples(book(), [D(d) for d in days], target=target, schedule=schedule)
    return {
        (row["as_of"].isoformat(), row["debtor_id"]): row["paid"]
        for row in frame.iter_rows(named=True)
    }


def test_default_target_by_hand() -> None:
    # reaches 30 days past due within 45 days; the score's label is "did not"
    target = Target("default", window_days=45, days_past_due=30)
    got = labels(target, ["2026-01-15", "2026-02-15", "2026-03-01", "2026-03-20"])
    assert got == {
        # S1 paid before its due date; S2 (due 02-26) would be 30 dpd on 03-28, after 01-15+45
        ("2026-01-15", 1): True,
        # S2 is 30 dpd on 03-28 (within 02-15 + 45 = 04-01) and 60.00 still open then
        ("2026-02-15", 1): False,
        # debtor 2: 30 dpd on 03-28; its 03-20 payment was reversed on 03-25: still open
        ("2026-02-15", 2): False,
        ("2026-03-01", 1): False,
        ("2026-03-01", 2): False,
        # S2 and S3 open; S3 due 03-26 is 30 dpd on 04-25 (within 05-04), never paid
        ("2026-03-20", 1): False,
        # debtor 2's balance on 03-20 is zero (paid that day): no example
    }


def test_default_target_current_account_can_default() -> None:
    # on 01-15 debtor 1 owes only S1 (paid 01-20): with 30 dpd within 75 days, S2 (issued
    # after the day, due 02-26) is 30 dpd on 03-28 <= 03-31 with 60.00 open: a default
    target = Target("default", window_days=75, days_past_due=30)
    assert labels(target, ["2026-01-15"]) == {("2026-01-15", 1): False}
    # 40 dpd: 04-07, after the window; S2 was paid off 04-05 anyway
    target = Target("default", window_days=75, days_past_due=40)
    assert labels(target, ["2026-01-15"]) == {("2026-01-15", 1): True}


def test_cures_target_by_hand() -> None:
    target = Target("cures", window_days=30)
    got = labels(target, ["2026-01-15", "2026-03-01", "2026-03-20", "2026-04-01"])
    assert got == {
        # 01-15: nothing overdue, no example. 03-01: debtor 1 owes S2 (overdue) and S3 falls
        # due 03-26: S2 is paid off 04-05, after 03-31, so overdue every day: not cured
        ("2026-03-01", 1): False,
        # debtor 2 paid 03-20, but the payment was reversed by the window's end (03-31):
        # not paid off in the window
        ("2026-03-01", 2): False,
        # 03-20 (debtor 2's balance is zero that day: not overdue, no example)
        ("2026-03-20", 1): False,
        # 04-01: debtor 1 never pays S3: never cures; debtor 2 pays 04-02: cured
        ("2026-04-01", 1): False,
        ("2026-04-01", 2): True,
    }


def test_cures_when_the_arrears_clear_before_the_next_due_date() -> None:
    # 03-20: debtor 1 owes S2 (overdue) and S3 (due 03-26). With a 20-day window (to 04-09):
    # S3 is overdue from 03-27 and never paid: not cured. Without S3 it would cure on 04-05.
    history = book()
    history = History(history.instalments.filter(pl.col("instalment_id") != 3), history.allocations)
    frame = debtor_examples(history, [D("2026-03-20")], target=Target("cures", window_days=20))
    assert frame.select("debtor_id", "paid").rows() == [(1, True)]
    frame = debtor_examples(history, [D("2026-03-20")], target=Target("cures", window_days=15))
    assert frame.select("debtor_id", "paid").rows() == [(1, False)]


def test_pays_target_unchanged_and_statement_schedule() -> None:
    pays = Target("pays", window_days=30, share=0.5)
    days = [D("2026-02-01"), D("2026-02-15"), D("2026-03-01")]
    before = debtor_examples(book(), days, window_days=30, share=0.5)
    assert before.equals(debtor_examples(book(), days, target=pays))
    # 02-15, debtor 1: S2 (100.00) falls due in the window; 40.00 paid by 03-17: < 50 %
    got = {(r["as_of"], r["debtor_id"]): r["paid"] for r in before.iter_rows(named=True)}
    assert got[(D("2026-02-15"), 1)] is False
    # statements: each account only on the days it was issued an invoice
    schedule = Schedule(on="statements")
    history = book()
    days = example_days(history, D("2026-01-01"), D("2026-03-31"), schedule)
    assert days == [D("2026-01-01"), D("2026-02-01"), D("2026-03-01")]
    frame = debtor_examples(history, days, target=pays, schedule=schedule)
    assert frame.select("as_of", "debtor_id").rows() == [
        (D("2026-01-01"), 1),
        (D("2026-02-01"), 1),
        (D("2026-02-01"), 2),
        (D("2026-03-01"), 1),
    ]


def test_parse_reports_every_problem_at_once() -> None:
    target, schedule = parse(
        {"scoring.target": "default", "scoring.window_days": "60", "scoring.days_past_due": "30"}
    )
    assert target == Target("default", 60, 0.5, 30)
    assert schedule == Schedule(7, "")
    assert "reaches 30 days past due within 60 days" in target.text()
    with pytest.raises(TargetError) as caught:
        parse(
            {
                "scoring.target": "risk",
                "scoring.window_days": "0",
                "scoring.share": "150",
                "scoring.days_past_due": "x",
                "scoring.snapshot_every_days": "7.5",
                "scoring.snapshot_on": "mondays",
            },
            where="ws/arrears.toml",
        )
    message = str(caught.value)
    assert message.startswith("ws/arrears.toml: ")
    for key in (
        "scoring.target = 'risk'",
        "scoring.window_days = 0",
        "scoring.share = '150'",
        "scoring.days_past_due = 'x'",
        "scoring.snapshot_every_days = '7.5'",
        "scoring.snapshot_on = 'mondays'",
    ):
        assert key in message


def test_default_target_leaves_out_accounts_already_in_default() -> None:
    # 03-20: debtor 1's S2 (due 02-26) is 22 days past due: with 20 it is in default already
    # (nothing to predict), with 30 it is an example
    assert labels(Target("default", window_days=45, days_past_due=20), ["2026-03-20"]) == {}
    got = labels(Target("default", window_days=45, days_past_due=30), ["2026-03-20"])
    assert got == {("2026-03-20", 1): False}
