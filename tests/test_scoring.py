"""Propensity to pay on a small synthetic history: no leakage, rules fallback, a trained model."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from arrears.scoring import NotEnoughHistory, Settings, train
from arrears.scoring.examples import debtor_examples, invoice_examples
from arrears.scoring.features import debtor_features, invoice_features
from arrears.scoring.frames import (
    HISTORY_ALLOCATION_SCHEMA,
    HISTORY_INSTALMENT_SCHEMA,
    History,
    issue_view,
    view_at,
)
from arrears.scoring.model import score_view

START = date(2024, 1, 1)


def synthetic(debtors: int = 40, months: int = 18, seed: int = 1) -> History:
    """Debtors with a fixed habit: good ones pay near the due date, bad ones weeks late."""
    rng = random.Random(seed)
    inst, alloc = [], []
    next_id = 1
    for d in range(1, debtors + 1):
        slow = d % 3 == 0
        for m in range(months):
            issue = START + timedelta(days=30 * m + d % 3)
            due = issue + timedelta(days=30)
            amount = rng.randrange(10_000, 200_000)
            disputed = rng.random() < 0.05
            inst.append((next_id, next_id, d, "EUR", issue, due, amount, disputed, None))
            delay = rng.randrange(20, 90) if slow else rng.randrange(-10, 8)
            paid = due + timedelta(days=delay)
            if paid <= START + timedelta(days=30 * months):
                alloc.append((next_id, "payment", amount, paid, None))
            next_id += 1
    return History(
        pl.DataFrame(inst, schema=HISTORY_INSTALMENT_SCHEMA, orient="row"),
        pl.DataFrame(alloc, schema=HISTORY_ALLOCATION_SCHEMA, orient="row"),
    )


def _features(history: History, day: date) -> list[pl.DataFrame]:
    view = view_at(history, day)
    issued = history.instalments.filter(pl.col("issue_date") == day)["invoice_id"]
    return [
        debtor_features(view),
        invoice_features(view),
        invoice_features(issue_view(history, day), issued),
    ]


@pytest.mark.parametrize("day", [date(2024, 6, 15), date(2024, 11, 3)])
def test_records_dated_after_a_snapshot_change_none_of_its_features(day: date) -> None:
    history = synthetic()
    before = _features(history, day)
    later_inst = pl.col("issue_date") > day
    later_alloc = pl.col("allocated_on") > day
    # every invoice issued by the day and not disputed gets a dispute learnt of after it
    raised = ~later_inst & ~pl.col("disputed")
    changed = History(
        history.instalments.with_columns(
            pl.when(later_inst).then(pl.col("amount_minor") * 3).otherwise(pl.col("amount_minor")),
            pl.when(later_inst | raised).then(~pl.col("disputed")).otherwise(pl.col("disputed")),
            pl.when(raised)
            .then(pl.lit(day + timedelta(days=3)))
            .otherwise(pl.col("disputed_on"))
            .alias("disputed_on"),
            pl.when(later_inst)
            .then(pl.col("due_date") + timedelta(days=5))
            .otherwise(pl.col("due_date")),
        ),
        pl.concat(
            [
                history.allocations.with_columns(
                    # later payments move, and earlier ones are reversed after the day
                    pl.when(later_alloc)
                    .then(pl.col("allocated_on") + timedelta(days=11))
                    .otherwise(pl.col("allocated_on")),
                    pl.when(later_alloc)
                    .then(None)
                    .otherwise(pl.lit(day + timedelta(days=1)))
                    .alias("reversed_on"),
                ),
                pl.DataFrame(  # a payment dated after the day to an instalment open on it
                    [(1, "payment", 1, day + timedelta(days=1), None)],
                    schema=HISTORY_ALLOCATION_SCHEMA,
                    orient="row",
                ),
            ]
        ),
    )
    after = _features(changed, day)
    for a, b in zip(before, after, strict=True):
        assert a.equals(b)
    # the dispute history of the settled instalments is among the features compared
    assert before[0]["disputed_share_365d"].fill_null(0).sum() > 0
    assert before[0]["avg_days_to_settle_undisputed"].drop_nulls().len() > 0
    assert not history.allocations.equals(changed.allocations)
    # and the disputes raised after the day reached open invoices: they are seen from then on
    assert changed.instalments["disputed"].sum() > history.instalments["disputed"].sum()
    later = _features(changed, day + timedelta(days=3))
    assert (
        later[0]["disputed_open"].sum()
        > _features(history, day + timedelta(days=3))[0]["disputed_open"].sum()
    )


def test_examples_have_outcomes_after_the_day() -> None:
    history = synthetic(debtors=12, months=8)
    days = [date(2024, 4, 1), date(2024, 5, 1)]
    debtors = debtor_examples(history, days, window_days=30, share=0.5)
    assert set(debtors["as_of"].unique()) <= set(days)
    assert (debtors["due_minor"] > 0).all()
    # every account owing something due in the window is an example, current ones too
    assert (debtors["overdue_minor"] == 0).any() and (debtors["overdue_minor"] > 0).any()
    invoices = invoice_examples(history)
    assert invoices["at_issue"].all()
    assert (invoices["as_of"] == invoices["issue_date"]).all()
    assert (invoices["days_to_pay"].drop_nulls() >= -10).all()


def test_too_little_history_falls_back_to_the_rules() -> None:
    history = synthetic(debtors=3, months=3)
    with pytest.raises(NotEnoughHistory, match="rules score is used"):
        train(history, START, date(2024, 3, 1))
    scored = score_view(None, view_at(history, date(2024, 3, 20)))
    assert scored.height > 0
    assert (scored["source"] == "rules").all()
    assert scored["score"].is_between(0.02, 0.98).all()
    assert all(len(r) > 0 for r in scored["reasons"])


def test_a_trained_model_ranks_slow_payers_last_and_explains() -> None:
    history = synthetic()
    model = train(history, date(2024, 3, 1), date(2025, 3, 1), Settings(snapshot_every_days=14))
    scored = score_view(model, view_at(history, date(2025, 4, 20)))
    assert (scored["source"].str.starts_with("model")).all()
    slow = scored.filter(pl.col("debtor_id") % 3 == 0)["score"].mean()
    fast = scored.filter(pl.col("debtor_id") % 3 != 0)["score"].mean()
    assert isinstance(slow, float) and isinstance(fast, float)
    assert slow < fast
    assert (scored["expected_recovery_minor"] >= 0).all()
    assert scored["expected_days_to_pay"].drop_nulls().min() >= 0  # type: ignore[operator]
    assert all(len(r) > 0 for r in scored["reasons"])
    # the slow payers' scores are explained by features, in words (a prompt one may be
    # "typical"): what it does and how much that moves its score
    slow_reasons = scored.filter(pl.col("debtor_id") % 3 == 0)["reasons"]
    assert all("the score by" in r[0] and "=" not in r[0] for r in slow_reasons)


def test_days_to_pay_is_scored_only_when_asked_and_the_rest_is_unchanged() -> None:
    history = synthetic()
    view = view_at(history, date(2025, 4, 20))
    model = train(history, date(2024, 3, 1), date(2025, 3, 1), Settings(snapshot_every_days=14))
    for m in (None, model):
        full = score_view(m, view, with_reasons=False)
        lean = score_view(m, view, with_reasons=False, days_to_pay=False)
        assert full["expected_days_to_pay"].null_count() < full.height
        assert lean["expected_days_to_pay"].null_count() == lean.height
        assert full.drop("expected_days_to_pay").equals(lean.drop("expected_days_to_pay"))


def test_the_cycle_scores_days_to_pay_only_for_a_policy_that_reads_it(tmp_path: Path) -> None:
    from arrears.services.cycle import load_compiled

    b2b = Path(__file__).parents[1] / "examples" / "policies" / "b2b.yaml"
    assert not load_compiled(b2b).reads("expected_days_to_pay")
    assert load_compiled(b2b).reads("days_past_due")
    text = b2b.read_text().replace(
        "segments:", "segments:\n  - name: slow_to_pay\n    when: expected_days_to_pay > 60", 1
    )
    (tmp_path / "slow.yaml").write_text(text)
    assert load_compiled(tmp_path / "slow.yaml").reads("expected_days_to_pay")


def test_a_credit_limit_is_learnt_from_when_it_tells_who_pays() -> None:
    """Issue 18: where the debtors file gives credit limits, the model learns from the limit and
    its use. Debtors near their limit pay late four times in five, the others rarely; each
    instalment is drawn apart, so the payment history is a noisy witness and the utilisation an
    exact one."""
    from arrears.scoring.frames import LIMIT_SCHEMA
    from arrears.scoring.model import predict_pay

    rng = random.Random(5)
    inst, alloc, limits = [], [], []
    next_id = 1
    for d in range(1, 61):
        tight = d % 2 == 0
        limits.append((d, "EUR", 150_000 if tight else 5_000_000))
        for m in range(18):
            issue = START + timedelta(days=30 * m + d % 5)
            due = issue + timedelta(days=30)
            amount = rng.randrange(60_000, 120_000)
            inst.append((next_id, next_id, d, "EUR", issue, due, amount, False, None))
            late = rng.random() < (0.8 if tight else 0.05)
            paid = due + timedelta(days=rng.randrange(40, 90) if late else rng.randrange(-5, 3))
            if paid <= START + timedelta(days=30 * 18):
                alloc.append((next_id, "payment", amount, paid, None))
            next_id += 1
    history = History(
        pl.DataFrame(inst, schema=HISTORY_INSTALMENT_SCHEMA, orient="row"),
        pl.DataFrame(alloc, schema=HISTORY_ALLOCATION_SCHEMA, orient="row"),
        pl.DataFrame(limits, schema=LIMIT_SCHEMA, orient="row"),
    )
    model = train(history, date(2024, 3, 1), date(2025, 3, 1), Settings(snapshot_every_days=14))
    assert model.metadata["examples"]["debtor_with_credit_limit"] > 0
    debtors = debtor_features(view_at(history, date(2025, 4, 20)))
    assert debtors["utilisation"].null_count() == 0

    def scored(limit: int) -> float:
        moved = debtors.with_columns(
            (pl.col("open_minor") / limit).alias("utilisation"),
            pl.lit(float(limit)).log1p().alias("log_credit_limit"),
        )
        return float(predict_pay(model, moved).mean())

    # the same debtors, histories unchanged: near a tight limit they are scored lower
    tight, loose = scored(150_000), scored(5_000_000)
    assert tight < loose - 0.05, (tight, loose)
