"""The chronological backtest: train on the older part of the history, test on the newer.

The split is by invoice: the oldest ``train_share`` of invoices by issue day are the training
part; the cutoff is the issue day of the first test invoice. Invoice examples (each invoice at
its issue day) issued before the cutoff train, the others test. Debtor examples (snapshot days)
train when their outcome window ends before the cutoff and test when their day is on or after it.

Reported next to two baselines: the debtor's own past late rate over the last year, and the
rules score (:mod:`arrears.scoring.rules`).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl
from sklearn.metrics import brier_score_loss, roc_auc_score

from arrears.scoring.examples import debtor_examples, invoice_examples, snapshot_days
from arrears.scoring.frames import History
from arrears.scoring.model import (
    Model,
    NotEnoughHistory,
    Settings,
    fit_debtor,
    fit_invoice,
    predict_days,
    predict_late,
    predict_pay,
)
from arrears.scoring.rules import naive_days_to_pay, rules_days_to_pay, rules_score

Array = np.ndarray[Any, Any]


def auc(y: Array, p: Array) -> float | None:
    return float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None


def calibration_table(y: Array, p: Array, bins: int = 10) -> list[dict[str, Any]]:
    """Predictions in equal-width bins of 0.1: count, mean score, observed rate."""
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        mine = index == b
        if mine.any():
            rows.append(
                {
                    "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                    "n": int(mine.sum()),
                    "mean_score": round(float(p[mine].mean()), 4),
                    "observed": round(float(y[mine].mean()), 4),
                }
            )
    return rows


def lift_table(y: Array, p: Array, deciles: int = 10) -> list[dict[str, Any]]:
    """Deciles by score (highest first): rate, lift over the base rate, cumulative capture."""
    order = np.argsort(-p, kind="stable")
    parts = np.array_split(order, deciles)
    base = y.mean() if len(y) else 0.0
    total = y.sum()
    rows, captured = [], 0.0
    for i, part in enumerate(parts, 1):
        if len(part) == 0:
            continue
        rate = float(y[part].mean())
        captured += float(y[part].sum())
        rows.append(
            {
                "decile": i,
                "n": len(part),
                "rate": round(rate, 4),
                "lift": round(rate / base, 3) if base else None,
                "capture": round(captured / total, 4) if total else None,
            }
        )
    return rows


def _scores(y: Array, p: Array, threshold: float = 0.5) -> dict[str, Any]:
    a = auc(y, p)
    return {
        "auc": None if a is None else round(a, 4),
        "brier": round(float(brier_score_loss(y, np.clip(p, 0, 1))), 4),
        "accuracy": round(float(((p >= threshold) == (y == 1)).mean()), 4),
    }


def cutoff_day(history: History, train_share: float = 0.8) -> date:
    """The issue day of the first invoice after the oldest ``train_share`` of them."""
    days = history.instalments.group_by("invoice_id").agg(pl.col("issue_date").min())
    ordered = days.sort("issue_date", "invoice_id")["issue_date"]
    if ordered.is_empty():
        raise NotEnoughHistory("no history: nothing was ever invoiced")
    day = ordered[min(int(train_share * len(ordered)), len(ordered) - 1)]
    assert isinstance(day, date)
    return day


def backtest(
    history: History, *, train_share: float = 0.8, settings: Settings | None = None
) -> dict[str, Any]:
    """The backtest report (a JSON-able dict): ``invoice`` (paid late at issue, days late),
    ``debtor`` (the propensity score), each with its baselines; a section whose history is too
    short holds ``{"error": ...}``."""
    s = settings or Settings()
    cut = cutoff_day(history, train_share)
    report: dict[str, Any] = {"cutoff": cut.isoformat(), "train_share": train_share}
    report["invoice"] = _invoice_section(history, cut)
    report["debtor"] = _debtor_section(history, cut, s)
    return report


def _invoice_section(history: History, cut: date) -> dict[str, Any]:
    examples = invoice_examples(history)
    train = examples.filter(pl.col("issue_date") < cut)
    test = examples.filter(pl.col("issue_date") >= cut)
    try:
        clf, reg = fit_invoice(train)
    except NotEnoughHistory as exc:
        return {"error": str(exc)}
    model = Model(None, clf, reg, {})
    y = test["late"].to_numpy().astype(np.int64)
    p = predict_late(model, test)
    prior = float(train["late"].cast(pl.Float64()).mean() or 0.0)  # type: ignore[arg-type]
    past = test["late_rate_365d"].fill_null(prior).to_numpy()
    rules = 1.0 - rules_score(test).to_numpy()
    term = test["days_to_due"].to_numpy()
    truth = test["days_late"].to_numpy()
    late = truth > 0
    predicted = {
        "model": predict_days(model, test),
        "naive (paid on the due date)": naive_days_to_pay(test).to_numpy(),
        "rules (due date + past average days late)": rules_days_to_pay(test).to_numpy(),
    }
    days = {}
    for name, d in predicted.items():
        err = np.abs(np.clip(d - term, 0, None) - truth)
        days[name] = {
            "mae_days_late_all": round(float(err.mean()), 3),
            "mae_days_late_late_only": round(float(err[late].mean()), 3) if late.any() else None,
            "mae_days_to_pay_all": round(
                float(np.abs(d - test["days_to_pay"].to_numpy()).mean()), 3
            ),
        }
    return {
        "train": train.height,
        "test": test.height,
        "late_rate_test": round(float(y.mean()), 4),
        "paid_late": {
            "model": {**_scores(y, p), "calibration": calibration_table(y, p)},
            "past late rate": _scores(y, past),
            "rules": _scores(y, rules),
        },
        "days": days,
    }


def _debtor_section(history: History, cut: date, s: Settings) -> dict[str, Any]:
    first, last = history.first_day, history.last_day
    assert first is not None and last is not None
    days = snapshot_days(
        first + timedelta(days=s.window_days),
        last - timedelta(days=s.window_days),
        s.snapshot_every_days,
    )
    examples = debtor_examples(history, days, window_days=s.window_days, share=s.share)
    if examples.is_empty():
        return {"error": "no debtor was ever overdue on a snapshot day"}
    train = examples.filter(pl.col("as_of") + timedelta(days=s.window_days) < cut)
    test = examples.filter(pl.col("as_of") >= cut)
    try:
        debtor, reference = fit_debtor(train)
    except NotEnoughHistory as exc:
        return {"error": str(exc)}
    if test.is_empty():
        return {"error": "no debtor example after the cutoff"}
    model = Model(debtor, None, None, reference)
    y = test["paid"].to_numpy().astype(np.int64)
    p = predict_pay(model, test)
    past = 1.0 - test["late_rate_365d"].fill_null(0.5).to_numpy()
    rules = rules_score(test).to_numpy()
    return {
        "train": train.height,
        "test": test.height,
        "paid_rate_test": round(float(y.mean()), 4),
        "model": {
            **_scores(y, p),
            "calibration": calibration_table(y, p),
            "lift": lift_table(y, p),
        },
        "past late rate": {**_scores(y, past), "lift": lift_table(y, past)},
        "rules": {**_scores(y, rules), "lift": lift_table(y, rules)},
    }
