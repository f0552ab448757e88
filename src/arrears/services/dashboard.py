"""The manager's dashboard (``/dashboard``): the headline KPIs, the aging, the roll matrix and
the cash forecast of a portfolio, and the accounts behind an aging bucket.

A read model over the same use cases as the commands, so the page and ``arrears kpi``,
``arrears aging --by bucket`` and ``arrears forecast`` never disagree:
:func:`arrears.services.kpi.kpi_report`, :func:`arrears.services.reports.aging_report` and
:func:`arrears.services.forecast.cash_forecast`. Managers, administrators and auditors see it;
a collector's role is refused (:class:`NotAllowed`): the dashboard is about the whole team's
accounts, the collector's pages are the worklist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

import polars as pl

from arrears.domain.actor import Actor, Role
from arrears.domain.errors import InvalidInput, NotAllowed
from arrears.kpi.aging import DEFAULT_EDGES, bucket_labels
from arrears.services.forecast import Forecast, cash_forecast
from arrears.services.kpi import KpiReport, kpi_report
from arrears.services.reports import AgingReport, aging_report
from arrears.services.uow import SqlUnitOfWork

if TYPE_CHECKING:
    from arrears.scoring.model import Model

#: The roles that see the dashboard.
ROLES = frozenset({Role.ADMIN, Role.MANAGER, Role.AUDITOR})


def _require(actor: Actor, doing: str) -> None:
    if actor.role not in ROLES:
        raise NotAllowed(f"{actor.name} ({actor.role}) may not {doing}")


@dataclass(frozen=True, slots=True)
class Dashboard:
    """What the page shows: ``kpis`` (``start`` to ``end``), ``aging`` (by bucket on
    ``end``) and ``forecast`` (13 weeks after ``end``), per currency or all in
    ``in_currency``."""

    portfolio: str
    start: date
    end: date
    in_currency: str | None
    kpis: KpiReport
    aging: AgingReport
    forecast: Forecast


def dashboard(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    start: date,
    end: date,
    in_currency: str | None = None,
    rates: Mapping[str, Decimal] | None = None,
    model: Model | None = None,
    edges: tuple[int, ...] = DEFAULT_EDGES,
) -> Dashboard:
    """The dashboard of ``portfolio`` for the period ``start`` to ``end``.

    :class:`NotAllowed` for a collector (or any role but manager, admin and auditor);
    :class:`InvalidInput` for a period that ends before it starts or a currency without a rate;
    :class:`NotFound` for an unknown portfolio."""
    _require(actor, "see the manager's dashboard")
    kpis = kpi_report(
        uow,
        actor,
        portfolio=portfolio,
        start=start,
        end=end,
        edges=edges,
        in_currency=in_currency,
        rates=rates,
    )
    aging = aging_report(
        uow,
        actor,
        portfolio=portfolio,
        as_of=end,
        edges=edges,
        by="bucket",
        in_currency=in_currency,
        rates=rates,
    )
    forecast = cash_forecast(
        uow,
        actor,
        portfolio=portfolio,
        as_of=end,
        model=model,
        in_currency=in_currency,
        rates=rates,
    )
    return Dashboard(portfolio, start, end, in_currency, kpis, aging, forecast)


@dataclass(frozen=True, slots=True)
class BucketAccounts:
    """``rows``: the debtors with an amount in ``bucket`` on ``as_of`` (aging by debtor:
    ``debtor_external_id``, ``currency``, ``amount`` in the bucket, ``total`` open,
    ``oldest_days_past_due``), largest amount first."""

    portfolio: str
    as_of: date
    bucket: str
    in_currency: str | None
    rows: pl.DataFrame


def bucket_accounts(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    as_of: date,
    bucket: str,
    currency: str | None = None,
    in_currency: str | None = None,
    rates: Mapping[str, Decimal] | None = None,
    edges: tuple[int, ...] = DEFAULT_EDGES,
) -> BucketAccounts:
    """The accounts behind one bar of the dashboard's aging: every debtor owing something in
    ``bucket`` on ``as_of`` (only ``currency`` when given).

    :class:`InvalidInput` for a bucket that is not one of the edges' labels."""
    _require(actor, "see the manager's dashboard")
    labels = bucket_labels(edges)
    if bucket not in labels:
        raise InvalidInput(f"bucket {bucket!r}: choose one of {', '.join(labels)}")
    report = aging_report(
        uow,
        actor,
        portfolio=portfolio,
        as_of=as_of,
        edges=edges,
        by="debtor",
        currency=currency,
        in_currency=in_currency,
        rates=rates,
    )
    rows = (
        report.rows.filter(pl.col(bucket) > 0)
        .select(
            "debtor_external_id",
            "currency",
            pl.col(bucket).alias("amount"),
            "total",
            "oldest_days_past_due",
        )
        .sort(["amount", "debtor_external_id"], descending=[True, False])
    )
    return BucketAccounts(portfolio, as_of, bucket, in_currency, rows)
