"""The collection KPIs of a portfolio over a period: DSO, CEI, bad debt, roll, cure and
promise-kept rates.

A read model for every front end: the portfolio's whole ledger history, as the propensity model
reads it (:func:`arrears.store.scoring.history.read_history`), its promises with the outcomes
the cycle recorded, and the debtors' attributes to group by, measured by the pure
:func:`arrears.kpi.summary.measures`. Amounts stay minor units of each currency, or of one
currency at the workspace's ``[rates]`` (as ``arrears aging --in``). No table of snapshots is
kept: every figure is derived from the ledger (and the promises' recorded outcomes) as of the
days it needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import polars as pl

from arrears.domain.actor import Actor, Permission
from arrears.domain.errors import InvalidInput, NotFound
from arrears.kpi import experiments
from arrears.kpi.aging import DEFAULT_EDGES
from arrears.kpi.messages import message_rates
from arrears.kpi.summary import measures
from arrears.services.reports import factors
from arrears.services.uow import SqlUnitOfWork
from arrears.store.messages.measures import read_messages
from arrears.store.portfolios import UnknownPortfolio
from arrears.store.scoring.experiments import read_assignments
from arrears.store.scoring.history import read_debtors, read_history, read_promises

#: What the measures may be grouped by besides the currency: debtor attributes.
GROUPS: tuple[str, ...] = ("currency", "segment", "country", "region", "kind")


@dataclass(frozen=True, slots=True)
class KpiReport:
    """``headline``, ``roll`` and ``matrix``: :class:`arrears.kpi.summary.Measures`' frames,
    grouped by ``keys`` (empty: by currency only) and currency (``in_currency`` when given)."""

    portfolio: str
    start: date
    end: date
    days: int
    keys: tuple[str, ...]
    edges: tuple[int, ...]
    in_currency: str | None
    headline: pl.DataFrame
    roll: pl.DataFrame
    matrix: pl.DataFrame


def kpi_report(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    start: date,
    end: date,
    by: str = "currency",
    edges: tuple[int, ...] = DEFAULT_EDGES,
    in_currency: str | None = None,
    rates: Mapping[str, Decimal] | None = None,
) -> KpiReport:
    """The measures of ``portfolio`` from ``start`` to ``end`` (both included), per ``by``
    (one of :data:`GROUPS`) and currency, or with every amount in ``in_currency`` at ``rates``.

    :class:`InvalidInput` for a period that ends before it starts, an unknown grouping or a
    currency without a rate; :class:`NotFound` for an unknown portfolio.
    """
    actor.require(Permission.READ, "see the collection KPIs")
    problems = []
    if end < start:
        problems.append(f"--from {start} is after --to {end}; give a period that ends after it")
    if by not in GROUPS:
        problems.append(f"--by {by!r}: choose one of {', '.join(GROUPS)}")
    if problems:
        raise InvalidInput("; ".join(problems))
    rated = factors(rates or {}, in_currency) if in_currency is not None else None
    keys = () if by == "currency" else (by,)
    try:
        history = read_history(uow.engine, portfolio=portfolio)
        promises = read_promises(uow.engine, portfolio=portfolio)
        instalments = history.instalments
        if keys:
            debtors = read_debtors(uow.engine, portfolio=portfolio).select("debtor_id", *keys)
            instalments = instalments.join(debtors, on="debtor_id", how="left")
            promises = promises.join(debtors, on="debtor_id", how="left")
    except UnknownPortfolio as exc:
        raise NotFound(str(exc)) from exc
    try:
        result = measures(
            instalments,
            history.allocations,
            start,
            end,
            edges,
            keys,
            rated,
            in_currency,
            promises=promises,
        )
    except ValueError as exc:
        raise InvalidInput(f"--in {in_currency}: arrears.toml's [rates]: {exc}") from None
    return KpiReport(
        portfolio,
        start,
        end,
        result.days,
        keys,
        edges,
        in_currency,
        result.headline,
        result.roll,
        result.matrix,
    )


@dataclass(frozen=True, slots=True)
class ExperimentReport:
    """``arms``: :func:`arrears.kpi.experiments.arm_rates` (per experiment, currency and arm);
    ``comparison``: :func:`arrears.kpi.experiments.comparison` (per experiment, currency and
    measure), for the debtors first assigned from ``start`` to ``end``, followed to ``end``."""

    portfolio: str
    start: date
    end: date
    in_currency: str | None
    detect: float
    arms: pl.DataFrame
    comparison: pl.DataFrame


def experiment_report(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    start: date,
    end: date,
    detect: float = 0.05,
    edges: tuple[int, ...] = DEFAULT_EDGES,
    in_currency: str | None = None,
    rates: Mapping[str, Decimal] | None = None,
) -> ExperimentReport:
    """Each experiment's arms compared over the debtors assigned from ``start`` to ``end``.

    :class:`InvalidInput` for a period that ends before it starts, a difference to detect
    outside (0, 1) or a currency without a rate; :class:`NotFound` for an unknown portfolio.
    """
    actor.require(Permission.READ, "see the experiments' results")
    problems = []
    if end < start:
        problems.append(f"--from {start} is after --to {end}; give a period that ends after it")
    if not 0 < detect < 1:
        problems.append(f"--detect {detect}: give a difference between 0 and 1, e.g. 0.05")
    if problems:
        raise InvalidInput("; ".join(problems))
    rated = factors(rates or {}, in_currency) if in_currency is not None else None
    try:
        history = read_history(uow.engine, portfolio=portfolio)
        assignments = read_assignments(uow.engine, portfolio=portfolio)
    except UnknownPortfolio as exc:
        raise NotFound(str(exc)) from exc
    assigned = experiments.first_assignments(assignments, start, end)
    outcomes = experiments.debtor_outcomes(
        assigned, history.instalments, history.allocations, end, edges
    )
    if rated is not None and in_currency is not None:
        try:
            outcomes = experiments.converted_outcomes(outcomes, rated, in_currency)
        except ValueError as exc:
            raise InvalidInput(f"--in {in_currency}: arrears.toml's [rates]: {exc}") from None
    arms = experiments.arm_rates(outcomes)
    return ExperimentReport(
        portfolio,
        start,
        end,
        in_currency,
        detect,
        arms,
        experiments.comparison(arms, detect=detect),
    )


@dataclass(frozen=True, slots=True)
class MessageReport:
    """``rates``: :func:`arrears.kpi.messages.message_rates` of the messages sent from
    ``start`` to ``end``."""

    portfolio: str
    start: date
    end: date
    rates: pl.DataFrame


def message_report(
    uow: SqlUnitOfWork, actor: Actor, *, portfolio: str, start: date, end: date
) -> MessageReport:
    """Messages sent, delivered, bounced and opened by channel, and the contact rate.

    :class:`InvalidInput` for a period that ends before it starts; :class:`NotFound` for an
    unknown portfolio."""
    actor.require(Permission.READ, "see the messages' delivery figures")
    if end < start:
        raise InvalidInput(f"--from {start} is after --to {end}; give a period that ends after it")
    try:
        sent = read_messages(uow.engine, portfolio=portfolio)
    except UnknownPortfolio as exc:
        raise NotFound(str(exc)) from exc
    return MessageReport(portfolio, start, end, message_rates(sent, start, end))
