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
