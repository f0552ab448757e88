"""The cash forecast of a portfolio (``arrears forecast``) and its backtest.

A read model for every front end: the portfolio's whole ledger history and its promises, as the
KPIs read them (:func:`arrears.store.scoring.history.read_history`,
:func:`~arrears.store.scoring.history.read_promises`), forecast by the pure
:func:`arrears.kpi.forecast.forecast`. With a trained propensity model whose days-to-pay part
exists, each open invoice's timing is the model's prediction
(:func:`arrears.scoring.model.predict_days` on the invoice features as of the day); without one,
the book's own payment curve times every invoice (``method`` says which). The curve is the
default (``timing="curve"``): on the backtests of docs/kpi.md it measured better than the
model's timing (``timing="model"``), which is there to compare and to improve. Payment plans and
the running payment plans' unpaid instalments and the accepted settlements' amounts
(:mod:`arrears.services.arrangements.agreements`, :mod:`arrears.services.arrangements.settlements`)
are expected as
scheduled.

The backtest forecasts from past days (``origins``, a week apart) with what was known then and
compares each week with the payments the ledger holds for it, beside the naive baseline (the
trailing 13 weeks' average; the forecast's new invoices are blended with that average in
proportion to their share of each week, see :func:`arrears.kpi.forecast.blended`). A model is
used there only when it was trained on examples whose
outcomes all ended before the origin (else its knowledge of the future would flatter it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import polars as pl

from arrears.domain.actor import Actor, Permission
from arrears.domain.errors import InvalidInput, NotFound
from arrears.kpi import forecast as fc
from arrears.kpi.figures import converted
from arrears.scoring.frames import History, limits_of
from arrears.services.insight.reports import factors
from arrears.services.uow import SqlUnitOfWork
from arrears.store.portfolios import UnknownPortfolio
from arrears.store.scoring.history import read_debtors, read_history, read_promises

if TYPE_CHECKING:
    from arrears.scoring.model import Model

#: ``method`` of a forecast without a model's days to pay.
CURVE = "payment curve"
#: How the open invoices are timed: the book's payment curve (the default: it measured better,
#: docs/kpi.md) or the curve moved to each invoice's predicted days to pay.
CURVE_TIMING = "curve"
MODEL_TIMING = "model"
TIMINGS = (CURVE_TIMING, MODEL_TIMING)
MAX_WEEKS = 104
MAX_ORIGINS = 52


@dataclass(frozen=True, slots=True)
class Forecast:
    """``weeks``: :func:`arrears.kpi.forecast.forecast`'s rows (per currency and week, minor
    units), or, with ``in_currency``, one row per week in that currency; ``method``: the model
    (``model v3``) or :data:`CURVE`; ``notes``: what the forecast leaves out or assumed."""

    portfolio: str
    as_of: date
    weeks: int
    in_currency: str | None
    method: str
    rows: pl.DataFrame
    notes: tuple[str, ...] = ()


def _check(as_of: date, weeks: int, origins: int = 1, timing: str = "curve") -> None:
    problems = []
    if timing not in TIMINGS:
        problems.append(f"--timing {timing!r}: choose {' or '.join(TIMINGS)}")
    if not 1 <= weeks <= MAX_WEEKS:
        problems.append(f"--weeks {weeks}: give 1 to {MAX_WEEKS} weeks")
    if not 1 <= origins <= MAX_ORIGINS:
        problems.append(f"--origins {origins}: give 1 to {MAX_ORIGINS} days to forecast from")
    if problems:
        raise InvalidInput("; ".join(problems))


def _read(
    uow: SqlUnitOfWork, actor: Actor, portfolio: str
) -> tuple[History, pl.DataFrame, pl.DataFrame]:
    try:
        history = read_history(uow.engine, portfolio=portfolio)
        debtors = read_debtors(uow.engine, portfolio=portfolio)
        promises = read_promises(uow.engine, portfolio=portfolio)
    except UnknownPortfolio as exc:
        raise NotFound(str(exc)) from exc
    scheduled = _scheduled(uow, actor, portfolio, debtors)
    return replace(history, limits=limits_of(debtors)), promises, scheduled


#: What the plans and settlements schedule, with the days that say when each amount counts.
SCHEDULED: dict[str, pl.DataType] = {
    **fc.AGREEMENT_SCHEMA,
    "starts": pl.Date(),
    "ends": pl.Date(),
    "paid_on": pl.Date(),
}


def _scheduled(
    uow: SqlUnitOfWork, actor: Actor, portfolio: str, debtors: pl.DataFrame
) -> pl.DataFrame:
    """Every plan instalment and settlement amount ever scheduled (:data:`SCHEDULED`): it
    counts on a day when its agreement had started and not ended, and it was not paid yet."""
    from arrears.services.arrangements.agreements import list_plans  # noqa: PLC0415
    from arrears.services.arrangements.settlements import list_settlements  # noqa: PLC0415

    rows: list[dict[str, object]] = []
    for plan in list_plans(uow, actor, portfolio=portfolio, with_schedule=True):
        if plan.active_on is None:
            continue
        for entry in plan.schedule:
            rows.append(
                {
                    "debtor": plan.debtor,
                    "currency": plan.currency,
                    "on": entry["due_on"],
                    "amount_minor": int(entry["amount_minor"]),
                    "starts": plan.active_on,
                    "ends": plan.ended_on,
                    "paid_on": entry.get("paid_on"),
                }
            )
    for deal in list_settlements(uow, actor, portfolio=portfolio):
        if deal.accepted_on is None:
            continue
        rows.append(
            {
                "debtor": deal.debtor,
                "currency": deal.currency,
                "on": deal.expires_on,
                "amount_minor": deal.amount_minor,
                "starts": deal.accepted_on,
                "ends": deal.ended_on,
                "paid_on": deal.ended_on if deal.status == "paid" else None,
            }
        )
    frame = pl.DataFrame(
        rows,
        schema={"debtor": pl.String(), **{k: v for k, v in SCHEDULED.items() if k != "debtor_id"}},
    )
    ids = debtors.select("debtor_id", pl.col("debtor_external_id").alias("debtor"))
    return frame.join(ids, on="debtor").select(list(SCHEDULED))


def scheduled_on(scheduled: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """The amounts the agreements running at the end of ``as_of`` still expect."""
    return scheduled.filter(
        (pl.col("starts") <= as_of)
        & (pl.col("ends").is_null() | (pl.col("ends") > as_of))
        & (pl.col("paid_on").is_null() | (pl.col("paid_on") > as_of))
    ).select(list(fc.AGREEMENT_SCHEMA))


def _predicted_days(model: Model, history: History, as_of: date) -> pl.DataFrame:
    """``invoice_id``, ``days_to_pay`` of each invoice open on ``as_of``, by the model."""
    from arrears.scoring.features import debtor_features, invoice_features  # noqa: PLC0415
    from arrears.scoring.frames import view_at  # noqa: PLC0415
    from arrears.scoring.model import predict_days  # noqa: PLC0415 (scikit-learn: slow import)

    view = view_at(history, as_of)
    debtors = debtor_features(view)
    invoices = invoice_features(view, debtors=debtors)
    days = predict_days(model, invoices)
    return invoices.select("invoice_id").with_columns(
        pl.Series("days_to_pay", days, dtype=pl.Float64())
    )


def usable_model(model: Model | None, as_of: date | None = None) -> Model | None:
    """``model`` when it predicts days to pay (and, for a backtest from ``as_of``, learned only
    from outcomes that had ended by then); else ``None``."""
    if model is None or model.days is None:
        return None
    if as_of is not None:
        window = model.metadata.get("training_window") or {}
        try:
            last = date.fromisoformat(str(window["to"]))
        except (KeyError, ValueError):
            return None
        if last + timedelta(days=model.settings.window_days) >= as_of:
            return None
    return model


def method_of(model: Model | None) -> str:
    if model is None:
        return CURVE
    return f"model {model.metadata.get('version', '')}".strip() + " (days to pay)"


def _convert(
    rows: pl.DataFrame, amounts: tuple[str, ...], to: str | None, rated: Mapping[str, object]
) -> pl.DataFrame:
    if to is None:
        return rows
    keys = [c for c in rows.columns if c not in (*amounts, "currency")]
    try:
        return converted(rows, amounts, rated, to, keys).sort(keys)  # type: ignore[arg-type]
    except ValueError as exc:
        raise InvalidInput(f"--in {to}: arrears.toml's [rates]: {exc}") from None


def cash_forecast(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    as_of: date,
    weeks: int = fc.WEEKS,
    model: Model | None = None,
    timing: str = CURVE_TIMING,
    in_currency: str | None = None,
    rates: Mapping[str, Decimal] | None = None,
) -> Forecast:
    """Expected collections of ``portfolio`` per week for ``weeks`` weeks after ``as_of``.

    :class:`InvalidInput` for a number of weeks out of range or a currency without a rate;
    :class:`NotFound` for an unknown portfolio."""
    actor.require(Permission.READ, "see the cash forecast")
    _check(as_of, weeks, timing=timing)
    rated = factors(rates or {}, in_currency) if in_currency is not None else {}
    history, promises, scheduled = _read(uow, actor, portfolio)
    used = usable_model(model) if timing == MODEL_TIMING else None
    predicted = _predicted_days(used, history, as_of) if used is not None else None
    rows = fc.forecast(
        history.instalments,
        history.allocations,
        as_of,
        weeks,
        promises=promises,
        agreements=scheduled_on(scheduled, as_of),
        predicted_days=predicted,
    )
    notes: list[str] = []
    if timing == MODEL_TIMING and used is None:
        notes.append("no trained model with days to pay: the payment curve times every invoice")
    return Forecast(
        portfolio,
        as_of,
        weeks,
        in_currency,
        method_of(used),
        _convert(rows, fc.AMOUNTS, in_currency, rated),
        tuple(notes),
    )


@dataclass(frozen=True, slots=True)
class Backtest:
    """``weeks``: per origin, currency and week: ``expected``, ``naive``, ``actual``,
    ``error``, ``ape``, ``naive_ape``; ``by_origin`` and ``by_horizon``:
    :func:`arrears.kpi.forecast.accuracy` per origin (and currency) and per week ahead (its
    ``better`` says where the forecast beat the baseline; :func:`arrears.kpi.forecast.wins`
    lists those weeks); ``total``: over everything, per currency. Only weeks the ledger covers
    whole count."""

    portfolio: str
    as_of: date
    weeks: int
    origins: tuple[date, ...]
    observed: date
    in_currency: str | None
    method: str
    rows: pl.DataFrame
    by_origin: pl.DataFrame
    by_horizon: pl.DataFrame
    total: pl.DataFrame


def backtest(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    as_of: date,
    weeks: int = fc.WEEKS,
    origins: int = 1,
    model: Model | None = None,
    timing: str = CURVE_TIMING,
    in_currency: str | None = None,
    rates: Mapping[str, Decimal] | None = None,
) -> Backtest:
    """The forecasts made on ``as_of`` and the ``origins − 1`` days a week apart before it,
    each against the payments of the following weeks that the ledger holds whole.

    :class:`InvalidInput` when no week after ``as_of`` is complete in the ledger, for numbers
    out of range or a currency without a rate; :class:`NotFound` for an unknown portfolio."""
    actor.require(Permission.READ, "backtest the cash forecast")
    _check(as_of, weeks, origins, timing)
    rated = factors(rates or {}, in_currency) if in_currency is not None else {}
    history, promises, scheduled = _read(uow, actor, portfolio)
    observed = history.last_day
    if observed is None or observed < as_of + timedelta(days=7):
        raise InvalidInput(
            f"--as-of {as_of}: the ledger ends on {observed or 'no day'}, so no week after it is"
            " known yet; give a day at least a week before the last payment"
        )
    days = [as_of - timedelta(days=7 * k) for k in range(origins)][::-1]
    used = usable_model(model, days[0]) if timing == MODEL_TIMING else None
    frames = []
    for day in days:
        predicted = _predicted_days(used, history, day) if used is not None else None
        expected = fc.forecast(
            history.instalments,
            history.allocations,
            day,
            weeks,
            promises=promises,
            agreements=scheduled_on(scheduled, day),
            predicted_days=predicted,
        )
        naive = fc.naive_forecast(history.instalments, history.allocations, day, weeks)
        actual = fc.actual_collections(
            history.instalments, history.allocations, day, weeks, observed
        )
        joined = (
            actual.join(
                expected.select("currency", "week", "expected"),
                on=["currency", "week"],
                how="left",
            )
            .join(naive, on=["currency", "week"], how="left")
            .with_columns(pl.col("expected", "naive").fill_null(0))
            .filter(pl.col("complete"))
            .select(
                pl.lit(day).alias("origin"),
                "currency",
                "week",
                "start",
                "end",
                "expected",
                "naive",
                "actual",
            )
        )
        frames.append(joined)
    rows = pl.concat(frames)
    rows = _convert(rows, ("expected", "naive", "actual"), in_currency, rated)
    rows = fc.errors(
        rows.select("origin", "currency", "week", "start", "end", "expected", "naive", "actual")
    )
    return Backtest(
        portfolio,
        as_of,
        weeks,
        tuple(days),
        observed,
        in_currency,
        method_of(used),
        rows.sort("origin", "currency", "week"),
        fc.accuracy(rows, ["origin", "currency"]),
        fc.accuracy(rows, ["currency", "week"]),
        fc.accuracy(rows, ["currency"]),
    )
