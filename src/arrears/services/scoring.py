"""The propensity-to-pay model's reads of the store: the history it learns from, and one
debtor's score as of a day.

Training, evaluating and storing models are :mod:`arrears.scoring` (pure, on the frames these
return) and :mod:`arrears.scoring.registry` (files in the workspace); front ends call those with
what these functions read.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

import polars as pl

from arrears.domain.actor import Actor, Permission
from arrears.domain.errors import InvalidInput, NotFound
from arrears.scoring.frames import History, limits_of
from arrears.services.uow import SqlUnitOfWork
from arrears.store.cycle.read import read_cycle_input
from arrears.store.portfolios import UnknownPortfolio
from arrears.store.scoring.history import read_debtors, read_history

if TYPE_CHECKING:
    from arrears.scoring.model import Model


@dataclass(frozen=True, slots=True)
class DebtorScores:
    """``scores``: one row per currency the debtor owes in on ``as_of``
    (:func:`arrears.scoring.model.score_frame`: ``score``, ``expected_recovery_minor``,
    ``expected_days_to_pay``, ``source`` (model or rules) and ``reasons``)."""

    debtor: str
    portfolio: str
    as_of: date
    scores: pl.DataFrame


def scoring_history(uow: SqlUnitOfWork, actor: Actor, *, portfolio: str) -> History:
    """The whole history of ``portfolio`` the models learn from; :class:`InvalidInput` when it
    has none."""
    actor.require(Permission.READ, "read the scoring history")
    try:
        history = read_history(uow.engine, portfolio=portfolio)
        # the credit limits of the debtors file, for the lender features (as they stand)
        limits = limits_of(read_debtors(uow.engine, portfolio=portfolio))
    except UnknownPortfolio as exc:
        raise NotFound(str(exc)) from exc
    history = replace(history, limits=limits)
    if history.instalments.is_empty():
        raise InvalidInput(
            f"portfolio {portfolio} has no history: import invoices and payments first"
        )
    return history


def score_debtor(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    debtor: str,
    as_of: date,
    model: Model | None,
) -> DebtorScores:
    """``debtor``'s scores on ``as_of`` with ``model`` (``None``: the rules score), with their
    reasons; :class:`NotFound` for an unknown debtor, :class:`InvalidInput` when it owes
    nothing that day."""
    from arrears.scoring import score_frame  # noqa: PLC0415  (scikit-learn: seconds to import)

    actor.require(Permission.READ, "score a debtor")
    try:
        data = read_cycle_input(uow.engine, portfolio=portfolio, as_of=as_of, reopen_within_days=30)
    except UnknownPortfolio as exc:
        raise NotFound(str(exc)) from exc
    ids = data.debtors.filter(pl.col("debtor_external_id") == debtor)["debtor_id"]
    if ids.is_empty():
        raise NotFound(f"unknown debtor {debtor!r} in portfolio {portfolio}")
    scored = score_frame(model, data.for_debtors(ids), as_of)
    if scored.is_empty():
        raise InvalidInput(f"debtor {debtor!r} owes nothing on {as_of}: no score")
    return DebtorScores(debtor, portfolio, as_of, scored)


@dataclass(frozen=True, slots=True)
class PortfolioScores:
    """``scores``: one row per debtor and currency with an open balance (current or overdue) on
    ``as_of``: ``debtor`` (its id as imported), ``currency``, ``score``, ``source`` (``model
    vN`` or ``rules``), ``days_past_due`` and ``open_minor``; least likely to pay first."""

    portfolio: str
    as_of: date
    scores: pl.DataFrame


def score_portfolio(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    as_of: date,
    model: Model | None,
    top: int | None = None,
) -> PortfolioScores:
    """Every debtor's score on ``as_of`` with ``model`` (``None``: the rules score), ordered by
    score ascending (then debtor, currency); the first ``top`` rows when given. The scores are
    those ``score_debtor`` and the daily cycle give each debtor that day."""
    from arrears.scoring.features import debtor_features  # noqa: PLC0415  (scikit-learn)
    from arrears.scoring.frames import view_from_cycle_input  # noqa: PLC0415
    from arrears.scoring.model import score_view  # noqa: PLC0415

    actor.require(Permission.READ, "score the portfolio")
    if top is not None and top < 1:
        raise InvalidInput(f"top must be at least 1, not {top}")
    try:
        data = read_cycle_input(uow.engine, portfolio=portfolio, as_of=as_of, reopen_within_days=30)
    except UnknownPortfolio as exc:
        raise NotFound(str(exc)) from exc
    view = view_from_cycle_input(data, as_of)
    scored = score_view(model, view, with_reasons=False, days_to_pay=False)
    balances = debtor_features(view, rules_only=True).select(
        "debtor_id",
        "currency",
        pl.col("days_past_due").cast(pl.Int64()),
        pl.col("open_minor").cast(pl.Int64()),
    )
    names = data.debtors.select("debtor_id", pl.col("debtor_external_id").alias("debtor"))
    scores = (
        scored.select("debtor_id", "currency", "score", "source")
        .join(balances, on=["debtor_id", "currency"], how="left")
        .join(names, on="debtor_id", how="left")
        .sort("score", "debtor", "currency")
        .select("debtor", "currency", "score", "source", "days_past_due", "open_minor")
    )
    if top is not None:
        scores = scores.head(top)
    return PortfolioScores(portfolio, as_of, scores)
