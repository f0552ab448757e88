"""Reports over a portfolio: the aging of its open receivables as of a day.

Read models for every front end: the store's snapshot as of the day
(:func:`arrears.store.cycle.snapshot.read_snapshot`) aged by the pure
:func:`arrears.kpi.aging.aging`, in minor units of each currency (the front end turns them into
amounts), or converted into one currency at the workspace's ``[rates]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

import polars as pl

from arrears.domain.actor import Actor, Permission
from arrears.domain.errors import InvalidInput, NotFound
from arrears.domain.money import exponent
from arrears.kpi.aging import DEFAULT_EDGES, By, aging, converted, top
from arrears.services.uow import SqlUnitOfWork
from arrears.store.cycle.snapshot import read_snapshot
from arrears.store.portfolios import UnknownPortfolio


@dataclass(frozen=True, slots=True)
class AgingReport:
    """``rows``: :func:`arrears.kpi.aging.aging`'s report (amounts in minor units, one
    ``currency`` column); ``in_currency``: every amount converted into it (else each row in its
    own currency)."""

    portfolio: str
    as_of: date
    edges: tuple[int, ...]
    in_currency: str | None
    rows: pl.DataFrame


def factors(rates: Mapping[str, Decimal], to: str) -> dict[str, Fraction]:
    """What one minor unit of each rated currency is worth in minor units of ``to``, from the
    workspace's ``[rates]`` (each currency's value in a common unit); :class:`InvalidInput`
    when ``to`` has no rate."""
    if to not in rates:
        raise InvalidInput(
            f"--in {to}: arrears.toml's [rates] gives no rate for {to}"
            f" (rated: {', '.join(sorted(rates)) or 'none'}); see docs/configuration.md"
        )
    target = Fraction(rates[to])
    return {
        code: Fraction(rate) / target * 10 ** (exponent(to) - exponent(code))
        for code, rate in rates.items()
    }


def aging_report(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    as_of: date,
    edges: tuple[int, ...] = DEFAULT_EDGES,
    by: By = "total",
    currency: str | None = None,
    in_currency: str | None = None,
    rates: Mapping[str, Decimal] | None = None,
    top_n: int | None = None,
) -> AgingReport:
    """The open receivables of ``portfolio`` by days past due on ``as_of``, in ``edges``'
    buckets, one row per ``by``; only ``currency`` if given; every amount in ``in_currency``
    at ``rates`` if given; only the ``top_n`` largest rows per currency if given."""
    actor.require(Permission.READ, "see the aging report")
    rated = factors(rates or {}, in_currency) if in_currency is not None else {}
    try:
        # invoice numbers are read only for the report that lists them
        snapshot = read_snapshot(
            uow.engine, portfolio=portfolio, as_of=as_of, invoice_labels=by == "invoice"
        )
    except UnknownPortfolio as exc:
        raise NotFound(str(exc)) from exc
    rows = aging(snapshot.instalments, as_of, edges, by=by, currency=currency)
    if in_currency is not None:
        try:
            rows = converted(rows, rated, in_currency, edges)
        except ValueError as exc:
            raise InvalidInput(f"--in {in_currency}: arrears.toml's [rates]: {exc}") from None
    if top_n is not None:
        rows = top(rows, top_n)
    return AgingReport(portfolio, as_of, edges, in_currency, rows)
