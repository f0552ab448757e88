"""The daily cycle's rules score (``rules_score_frame``, five features straight from the
cycle's frames) equals the rules score of the full feature table (``score_frame(None, ...)``),
row for row and bit for bit, on random portfolios: several currencies, disputes, instalments
issued after the day, settled ones late and on time, debtors without history."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from arrears.cycle.frames import SETTLED_SCHEMA, CycleInput
from arrears.scoring.model import score_frame
from arrears.scoring.rules import rules_score_frame
from arrears.services.cycle import _rules_scores
from arrears.store.cycle.snapshot import INSTALMENT_SCHEMA

DAY = date(2026, 3, 15)


def portfolio(seed: int, n: int = 400) -> CycleInput:
    rng = np.random.default_rng(seed)
    m = n * 4
    issue = [DAY - timedelta(days=int(x)) for x in rng.integers(-20, 400, m)]
    due = [
        i + timedelta(days=int(t)) for i, t in zip(issue, rng.choice([0, 30, 60], m), strict=True)
    ]
    amount = rng.integers(1, 10_000, m)
    kind = rng.random(m)
    open_ = np.where(kind < 0.4, 0, np.where(kind < 0.6, amount // 2, amount))
    inst = pl.DataFrame(
        {
            "instalment_id": np.arange(1, m + 1),
            "invoice_id": np.arange(1, m + 1),
            "debtor_id": rng.integers(1, n + 1, m),
            "debtor_external_id": "x",
            "portfolio": "p",
            "currency": rng.choice(["EUR", "USD", "GBP"], m, p=[0.7, 0.2, 0.1]),
            "issue_date": issue,
            "due_date": due,
            "amount_minor": amount,
            "open_minor": open_,
            "disputed": rng.random(m) < 0.05,
            "segment": None,
        },
        schema=INSTALMENT_SCHEMA,
    )
    # settled: the paid instalments, settled some days around their due date (some after DAY)
    paid = inst.filter(pl.col("open_minor") == 0)
    shift = pl.Series(rng.integers(-10, 90, paid.height)).cast(pl.Int32)
    settled = (
        paid.with_columns((pl.col("due_date") + pl.duration(days=shift)).alias("settled_on"))
        .filter(pl.col("settled_on") > DAY - timedelta(days=365))
        .select(list(SETTLED_SCHEMA))
    )
    others = ("debtors", "last_payments", "promises", "holds", "contacts", "last_contacts")
    more = ("cases", "steps_done", "approvals")
    unused = {name: pl.DataFrame() for name in (*others, *more)}
    return CycleInput(instalments=inst, settled=settled, **unused)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_cycles_rules_score_equals_the_full_feature_tables(seed: int) -> None:
    data = portfolio(seed)
    full = score_frame(None, data, DAY, with_reasons=False, days_to_pay=False)
    fast = _rules_scores(rules_score_frame, data, DAY)
    assert fast.height > 100
    assert_frame_equal(fast, full.select(fast.columns), check_exact=True)
