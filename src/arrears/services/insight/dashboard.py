"""The manager's dashboard (``/dashboard``): the headline KPIs, the aging, the roll matrix and
the cash forecast of a portfolio, and the accounts behind an aging bucket.

A read model over the same use cases as the commands, so the page and ``arrears kpi``,
``arrears aging --by bucket`` and ``arrears forecast`` never disagree:
:func:`arrears.services.insight.kpi.kpi_reports` (the portfolio read once, measured for the headline
and by stage, agency and collector), :func:`arrears.services.insight.reports.aging_report` and
:func:`arrears.services.insight.forecast.cash_forecast`. Managers, administrators and auditors see
it;
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
from arrears.services.insight.forecast import Forecast, cash_forecast
from arrears.services.insight.kpi import NO_AGENCY, NO_CASE, Costs, KpiReport, kpi_reports
from arrears.services.insight.reports import AgingReport, aging_report
from arrears.services.uow import SqlUnitOfWork

if TYPE_CHECKING:
    from arrears.scoring.model import Model

__all__ = ["NO_AGENCY", "NO_CASE"]  # the groups of recovery_by (defined with kpi_report's)

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
    #: :func:`recovery_by` stage and by agency
    by_stage: pl.DataFrame
    by_agency: pl.DataFrame
    by_collector: pl.DataFrame


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
    costs: Costs | None = None,
) -> Dashboard:
    """The dashboard of ``portfolio`` for the period ``start`` to ``end``.

    :class:`NotAllowed` for a collector (or any role but manager, admin and auditor);
    :class:`InvalidInput` for a period that ends before it starts or a currency without a rate;
    :class:`NotFound` for an unknown portfolio."""
    _require(actor, "see the manager's dashboard")
    # one read of the portfolio, measured four times: the headline, then by stage, agency and
    # collector (the reads are most of a report's time)
    reports = kpi_reports(
        uow,
        actor,
        portfolio=portfolio,
        start=start,
        end=end,
        by=("currency", *RECOVERY_GROUPS),
        edges=edges,
        in_currency=in_currency,
        rates=rates,
        costs=costs,
    )
    kpis = reports["currency"]
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
    stage, agency, collector = (_recovery(reports[key], key) for key in RECOVERY_GROUPS)
    return Dashboard(
        portfolio, start, end, in_currency, kpis, aging, forecast, stage, agency, collector
    )


#: The columns of :func:`recovery_by`'s frames after the group and the currency.
RECOVERY = ("opening", "sales", "collected", "closing", "recovery", "cure_rate")
#: What :func:`recovery_by` groups by, in the page's order.
RECOVERY_GROUPS = ("stage", "agency", "collector")


def recovery_by(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    start: date,
    end: date,
    in_currency: str | None = None,
    rates: Mapping[str, Decimal] | None = None,
    edges: tuple[int, ...] = DEFAULT_EDGES,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Recovery by the stage of each debtor's case and by the agency it was placed with, both
    as they were at the end of the day before ``start`` (a debtor without a case open then is
    :data:`NO_CASE`), and by the collector who worked the account
    (:func:`arrears.kpi.operations.collectors`): per group and currency, the period's
    ``opening`` receivables, credit ``sales``, ``collected``, ``closing``, ``recovery`` =
    collected / (opening + sales) (null when both are 0) and the ``cure_rate``: the headline of
    ``arrears kpi --by stage|agency|collector``."""
    _require(actor, "see the manager's dashboard")
    reports = kpi_reports(
        uow,
        actor,
        portfolio=portfolio,
        start=start,
        end=end,
        by=RECOVERY_GROUPS,
        edges=edges,
        in_currency=in_currency,
        rates=rates,
    )
    stage, agency, collector = (_recovery(reports[key], key) for key in RECOVERY_GROUPS)
    return stage, agency, collector


def _recovery(report: KpiReport, key: str) -> pl.DataFrame:
    return report.headline.select(key, "currency", *RECOVERY)


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
