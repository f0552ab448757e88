"""The columnar allocation gives the same allocations as the reference rule, payment by payment."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.domain.allocation import AllocationRule, OpenInstalment, allocate
from arrears.store.ledger.payment_allocation import by_rule

DAY0 = date(2026, 1, 1)

instalment_st = st.tuples(
    st.integers(0, 2),  # debtor
    st.sampled_from(["USD", "EUR"]),
    st.integers(0, 60),  # due offset
    st.integers(0, 5),  # issue offset
    st.integers(1, 3),  # seq
    st.integers(0, 5_000),  # open
)
payment_st = st.tuples(
    st.integers(0, 2), st.sampled_from(["USD", "EUR"]), st.integers(0, 90), st.integers(1, 8_000)
)


def _reference(instalments, payments, rule):  # type: ignore[no-untyped-def]
    """Apply ``allocate`` payment by payment in date order, carrying open balances forward."""
    open_by = {(i["invoice"], i["seq"]): i["open_minor"] for i in instalments}
    result = set()
    for p in sorted(payments, key=lambda p: (p["received_on"], p["external_id"])):
        mine = [
            OpenInstalment(i["invoice"], i["seq"], i["due_date"], i["issue_date"], open_by[key])
            for i in instalments
            if (i["debtor_id"], i["currency"]) == (p["debtor_id"], p["currency"])
            and open_by[key := (i["invoice"], i["seq"])] > 0
        ]
        for a in allocate(p["amount"], mine, rule=rule).applied:
            open_by[(a.invoice, a.seq)] -= a.amount_minor
            result.add((p["source_id"], a.invoice, a.seq, a.amount_minor))
    return result


@settings(max_examples=300, deadline=None)
@given(
    st.lists(instalment_st, max_size=12),
    st.lists(payment_st, max_size=8),
    st.sampled_from([AllocationRule.OLDEST_DUE_FIRST, AllocationRule.NEWEST_DUE_FIRST]),
)
def test_columnar_allocation_matches_the_reference_rule(raw_inst, raw_pay, rule) -> None:  # type: ignore[no-untyped-def]
    instalments = [
        {
            "instalment_id": n,
            "debtor_id": d,
            "currency": cur,
            "due_date": DAY0 + timedelta(days=due),
            "issue_date": DAY0 + timedelta(days=issue),
            "invoice": f"INV{n:03d}",
            "seq": seq,
            "open_minor": open_minor,
        }
        for n, (d, cur, due, issue, seq, open_minor) in enumerate(raw_inst)
    ]
    payments = [
        {
            "source_id": n,
            "debtor_id": d,
            "currency": cur,
            "received_on": DAY0 + timedelta(days=day),
            "external_id": f"P{n:03d}",
            "amount": amount,
        }
        for n, (d, cur, day, amount) in enumerate(raw_pay)
    ]
    inst_frame = pl.DataFrame(
        instalments,
        schema={
            "instalment_id": pl.Int64,
            "debtor_id": pl.Int64,
            "currency": pl.String,
            "due_date": pl.Date,
            "issue_date": pl.Date,
            "invoice": pl.String,
            "seq": pl.Int64,
            "open_minor": pl.Int64,
        },
    )
    pay_frame = pl.DataFrame(
        payments,
        schema={
            "source_id": pl.Int64,
            "debtor_id": pl.Int64,
            "currency": pl.String,
            "received_on": pl.Date,
            "external_id": pl.String,
            "amount": pl.Int64,
        },
    )
    pieces = by_rule(pay_frame, inst_frame, rule)
    by_id = {i["instalment_id"]: i for i in instalments}
    got = {
        (
            r["source_id"],
            by_id[r["instalment_id"]]["invoice"],
            by_id[r["instalment_id"]]["seq"],
            r["amount"],
        )
        for r in pieces.to_dicts()
    }
    assert got == _reference(instalments, payments, rule)
    # and the invariants, stated directly
    per_payment = pieces.group_by("source_id").agg(pl.col("amount").sum())
    for row in per_payment.to_dicts():
        assert row["amount"] <= payments[row["source_id"]]["amount"]
    per_inst = pieces.group_by("instalment_id").agg(pl.col("amount").sum())
    for row in per_inst.to_dicts():
        assert row["amount"] <= by_id[row["instalment_id"]]["open_minor"]


def test_oldest_due_first_fills_in_due_order_and_keeps_the_rest_as_credit() -> None:
    instalments = pl.DataFrame(
        {
            "instalment_id": [1, 2, 3],
            "debtor_id": [7, 7, 7],
            "currency": ["USD"] * 3,
            "due_date": [date(2026, 3, 1), date(2026, 1, 1), date(2026, 2, 1)],
            "issue_date": [date(2026, 1, 1)] * 3,
            "invoice": ["C", "A", "B"],
            "seq": [1, 1, 1],
            "open_minor": [100, 100, 100],
        }
    )
    payments = pl.DataFrame(
        {
            "source_id": [10, 11],
            "debtor_id": [7, 7],
            "currency": ["USD", "USD"],
            "received_on": [date(2026, 1, 5), date(2026, 1, 9)],
            "external_id": ["P1", "P2"],
            "amount": [150, 500],
        }
    )
    pieces = by_rule(payments, instalments, AllocationRule.OLDEST_DUE_FIRST).sort(
        "source_id", "instalment_id"
    )
    assert pieces.rows() == [(10, 2, 100), (10, 3, 50), (11, 1, 100), (11, 3, 50)]
