"""The chronological backtest: train on the older part of the history, test on the newer.

The split is by invoice: the oldest ``train_share`` of invoices by issue day are the training
part; the cutoff is the issue day of the first test invoice. Invoice examples (each invoice at
its issue day) issued before the cutoff train, the others test. Debtor examples (snapshot days)
train when their outcome window ends before the cutoff and test when their day is on or after it.

Reported next to baselines: the debtor's own past late rate over the last year, the rules score
(:mod:`arrears.scoring.rules`) and, for the debtor score, days past due alone.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl
from sklearn.metrics import brier_score_loss, roc_auc_score
from threadpoolctl import threadpool_limits

from arrears.scoring.examples import debtor_examples, example_days, invoice_examples
from arrears.scoring.features import INVOICE_FEATURES
from arrears.scoring.frames import History, sample_debtors
from arrears.scoring.model import (
    MIN_EXAMPLES,
    Model,
    NotEnoughHistory,
    Settings,
    fit_debtor,
    fit_invoice,
    fit_late,
    fit_matrix,
    matrix,
    predict_days,
    predict_late,
    predict_pay,
    regressor,
)
from arrears.scoring.rules import naive_days_to_pay, rules_days_to_pay, rules_score
from arrears.scoring.targets import Schedule, Target

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
    """AUC, Brier, and at ``threshold``: accuracy, precision and recall of the positive class."""
    a = auc(y, p)
    flagged = p >= threshold
    return {
        "auc": None if a is None else round(a, 4),
        "brier": round(float(brier_score_loss(y, np.clip(p, 0, 1))), 4),
        "accuracy": round(float((flagged == (y == 1)).mean()), 4),
        "precision": round(float(y[flagged].mean()), 4) if flagged.any() else None,
        "recall": round(float(flagged[y == 1].mean()), 4) if y.any() else None,
    }


def best_threshold(y: Array, p: Array) -> float:
    """The threshold in 0.05..0.95 (steps of 0.01) with the highest accuracy (the lowest on
    a tie: the grid is scanned upwards)."""
    grid = np.round(np.arange(0.05, 0.951, 0.01), 2)
    accuracy = [float(((p >= t) == (y == 1)).mean()) for t in grid]
    return float(grid[int(np.argmax(accuracy))])


def tail_threshold(train: pl.DataFrame, tail_share: float = 0.2) -> dict[str, Any]:
    """The paid-late decision threshold chosen on the training period only: the classifier is
    fitted on its older ``1 - tail_share`` and the threshold maximises accuracy on the newest
    ``tail_share`` of its invoices (a chronological validation tail)."""
    days = train.sort("issue_date", "invoice_id")["issue_date"]
    split = days[min(int((1 - tail_share) * len(days)), len(days) - 1)]
    older = train.filter(pl.col("issue_date") < split)
    tail = train.filter(pl.col("issue_date") >= split)
    clf = fit_late(older)
    y = tail["late"].to_numpy().astype(np.int64)
    p = predict_late(Model(None, clf, None, {}), tail)
    threshold = best_threshold(y, p)
    return {
        "threshold": threshold,
        "validation_from": split.isoformat() if isinstance(split, date) else str(split),
        "validation_invoices": tail.height,
        "validation_accuracy": round(float(((p >= threshold) == (y == 1)).mean()), 4),
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
    history: History,
    *,
    train_share: float = 0.8,
    settings: Settings | None = None,
    target: Target | None = None,
    schedule: Schedule | None = None,
    invoices: bool = True,
) -> dict[str, Any]:
    """The backtest report (a JSON-able dict), on the debtors training would sample
    (``settings.max_debtors``; ``sample`` says how many): ``invoice`` (paid late at issue,
    days late), ``debtor`` (the propensity score), each with its baselines; a section whose
    history is too short holds ``{"error": ...}``.

    ``target`` (default: ``pays`` with the settings' window and share) is what the debtor
    score predicts, ``schedule`` when its examples are taken (default: every
    ``snapshot_every_days``); ``invoices=False`` leaves the invoice section out."""
    s = settings or Settings()
    target = target or Target("pays", s.window_days, s.share)
    schedule = schedule or Schedule(s.snapshot_every_days)
    history, debtors, sampled = sample_debtors(history, s.max_debtors)
    cut = cutoff_day(history, train_share)
    report: dict[str, Any] = {
        "cutoff": cut.isoformat(),
        "train_share": train_share,
        "sample": {"debtors": debtors, "sampled_debtors": sampled, "max_debtors": s.max_debtors},
    }
    if invoices:
        report["invoice"] = _invoice_section(history, cut)
    report["debtor"] = _debtor_section(history, cut, target, schedule)
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
    try:
        tuned = tail_threshold(train)
        tuned.update(_scores(y, p, tuned["threshold"]))
        del tuned["auc"], tuned["brier"]
    except NotEnoughHistory as exc:
        tuned = {"error": str(exc)}
    prior = float(train["late"].cast(pl.Float64()).mean() or 0.0)  # type: ignore[arg-type]
    past = test["late_rate_365d"].fill_null(prior).to_numpy()
    rules = 1.0 - rules_score(test).to_numpy()
    term = test["days_to_due"].to_numpy()
    # Days late are known for the invoices settled by the end of the history only.
    truth = test["days_late"].fill_null(np.nan).to_numpy()
    settled = ~np.isnan(truth)
    late = settled & (np.nan_to_num(truth) > 0)
    to_pay = test["days_to_pay"].fill_null(np.nan).to_numpy()
    predicted = {
        "model": predict_days(model, test),
        "naive (paid on the due date)": naive_days_to_pay(test).to_numpy(),
        "rules (due date + past average days late)": rules_days_to_pay(test).to_numpy(),
    }
    days: dict[str, dict[str, Any]] = {}
    for name, d in predicted.items():
        err = np.abs(np.clip(d - term, 0, None) - truth)
        days[name] = {
            "mae_days_late_all": round(float(err[settled].mean()), 3) if settled.any() else None,
            "mae_days_late_late_only": round(float(err[late].mean()), 3) if late.any() else None,
            "mae_days_to_pay_all": (
                round(float(np.abs(d - to_pay)[settled].mean()), 3) if settled.any() else None
            ),
        }
    days["model trained on late invoices only (as published; told which are late)"] = (
        _late_only_days(train, test, late)
    )
    return {
        "train": train.height,
        "test": test.height,
        "settled_test": int(settled.sum()),
        "late_rate_test": round(float(y.mean()), 4),
        "paid_late": {
            "model": {
                **_scores(y, p),
                "threshold_from_training": tuned,
                "calibration": calibration_table(y, p),
            },
            "past late rate": _scores(y, past),
            "rules": _scores(y, rules),
        },
        "days": days,
    }


def _late_only_days(train: pl.DataFrame, test: pl.DataFrame, late: Array) -> dict[str, Any]:
    """The published comparison: a days-late regressor trained on the late training invoices
    only and scored on the late test invoices only (it is told which invoices are late, so it
    is a measure of the regressor alone, not a forecast)."""
    known = train.filter(pl.col("late") & pl.col("days_late").is_not_null())
    out: dict[str, Any] = dict.fromkeys(
        ("mae_days_late_all", "mae_days_late_late_only", "mae_days_to_pay_all")
    )
    if known.height < MIN_EXAMPLES or not late.any():
        return out
    names = list(INVOICE_FEATURES)
    with threadpool_limits(1):
        reg = regressor(known.height).fit(fit_matrix(known, names), known["days_late"].to_numpy())
    mine = test.filter(pl.Series(late))
    predicted = np.clip(reg.predict(matrix(mine, names)), 0, None)
    out["mae_days_late_late_only"] = round(
        float(np.abs(predicted - mine["days_late"].to_numpy()).mean()), 3
    )
    return out


def _debtor_section(
    history: History, cut: date, target: Target, schedule: Schedule
) -> dict[str, Any]:
    first, last = history.first_day, history.last_day
    assert first is not None and last is not None
    window = target.window_days
    days = example_days(
        history, first + timedelta(days=window), last - timedelta(days=window), schedule
    )
    examples = debtor_examples(history, days, target=target, schedule=schedule)
    if examples.is_empty():
        return {"error": "no debtor owed anything due within the window on a snapshot day"}
    # trained on the examples whose outcome was known before the cutoff
    train = examples.filter(pl.col("as_of") + timedelta(days=window) < cut)
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
    # the simplest ranking a collector uses: the more days past due, the less likely to pay
    dpd = 1.0 - np.clip(test["days_past_due"].fill_null(0).to_numpy(), 0, 365) / 365.0
    current = (test["overdue_minor"] == 0).to_numpy()
    return {
        "target": target.to_dict(),
        "schedule": schedule.to_dict(),
        "train": train.height,
        "test": test.height,
        "test_current": int(current.sum()),
        "paid_rate_test": round(float(y.mean()), 4),
        "model": {
            **_scores(y, p),
            "auc_95": None if (ci := auc_interval(y, p)) is None else list(ci),
            "calibration": calibration_table(y, p),
            "lift": lift_table(y, p),
        },
        "past late rate": {**_scores(y, past), "lift": lift_table(y, past)},
        "rules": {**_scores(y, rules), "lift": lift_table(y, rules)},
        "days past due": {
            **_scores(y, dpd),
            "auc_95": None if (ci := auc_interval(y, dpd)) is None else list(ci),
            "lift": lift_table(y, dpd),
        },
    }


#: Bootstrap resamples of the validation AUC's interval.
BOOTSTRAP = 200


def auc_interval(
    y: Array, p: Array, *, resamples: int = BOOTSTRAP, seed: int = 7
) -> tuple[float, float] | None:
    """The 95 % bootstrap interval of the AUC (resampling the validation rows, ``seed``-fixed:
    the same data give the same interval); ``None`` when a resample cannot be ranked."""
    if not 0 < y.sum() < len(y):
        return None
    rng = np.random.default_rng(seed)
    n = len(y)
    values = []
    for _ in range(resamples):
        pick = rng.integers(0, n, n)
        a = auc(y[pick], p[pick])
        if a is not None:
            values.append(a)
    if not values:
        return None
    low, high = np.percentile(values, [2.5, 97.5])
    return round(float(low), 4), round(float(high), 4)


def validate_debtor(
    examples: pl.DataFrame, s: Settings, share: float = 0.8, *, target: Target | None = None
) -> dict[str, Any]:
    """A version's validation metrics: the debtor score refitted on the examples of the oldest
    ``share`` of the snapshot days whose outcome was known before the first validation day
    (their day + ``window_days`` before it), and measured on the examples of the newest
    snapshot days (held out, later in time). AUC with its bootstrap interval, Brier, the paid
    rate, and days past due alone as a baseline; ``{"error": ...}`` when too short.
    ``target``: what the examples' ``paid`` means (its window; default: the settings')."""
    if examples.is_empty():
        return {"error": "no debtor examples"}
    window = target.window_days if target is not None else s.window_days
    days = examples["as_of"].unique().sort()
    cut = days[min(int(share * len(days)), len(days) - 1)]
    assert isinstance(cut, date)
    train = examples.filter(pl.col("as_of") + timedelta(days=window) < cut)
    test = examples.filter(pl.col("as_of") >= cut)
    try:
        debtor, reference = fit_debtor(train)
    except NotEnoughHistory as exc:
        return {"error": str(exc)}
    y = test["paid"].to_numpy().astype(np.int64)
    if not 0 < y.sum() < len(y):
        return {"error": "the held-out days have a single outcome: no AUC"}
    p = predict_pay(Model(debtor, None, None, reference), test)
    a = auc(y, p)
    interval = auc_interval(y, p)
    dpd = 1.0 - np.clip(test["days_past_due"].fill_null(0).to_numpy(), 0, 365) / 365.0
    baseline = auc(y, dpd)
    return {
        "split": "chronological",
        "validation_from": cut.isoformat(),
        "train": train.height,
        "validation": test.height,
        "paid_rate": round(float(y.mean()), 4),
        "auc": None if a is None else round(a, 4),
        "auc_95": None if interval is None else list(interval),
        "brier": round(float(brier_score_loss(y, np.clip(p, 0, 1))), 4),
        "auc_days_past_due": None if baseline is None else round(baseline, 4),
    }
