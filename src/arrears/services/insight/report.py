"""The monthly collections report (``arrears report --month``): the month's KPIs against the
previous month's, the aging trend of the last six month ends, the month's roll matrix, the
figures by segment, the messages by channel, the calls, agreements and cost to collect, the
experiments (debtors assigned in the month) and the cash forecast's backtest, rendered as
one self-contained HTML page by the pure :func:`arrears.kpi.report.render_html`.

The figures are those of :func:`arrears.services.insight.kpi.kpi_report` and
:func:`arrears.services.insight.kpi.experiment_report` for the same periods: the report and
``arrears kpi`` never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import polars as pl

from arrears.domain.actor import Actor, Permission
from arrears.domain.errors import InvalidInput, NotFound
from arrears.kpi.aging import DEFAULT_EDGES
from arrears.kpi.report import (
    ReportInput,
    aging_trend,
    month_bounds,
    previous_month,
    render_html,
)
from arrears.services.insight.forecast import backtest
from arrears.services.insight.kpi import (
    Costs,
    KpiReport,
    channel_report,
    experiment_report,
    kpi_report,
    kpi_reports,
    message_report,
)
from arrears.services.uow import SqlUnitOfWork
from arrears.store.portfolios import UnknownPortfolio
from arrears.store.scoring.history import read_history

#: Month ends shown in the aging trend, the report's month last.
TREND_MONTHS = 6
#: The backtest's forecasts: made on the day before the month and each of the three weeks
#: before it (``arrears forecast backtest --as-of <that day> --origins 4``).
BACKTEST_ORIGINS = 4


@dataclass(frozen=True, slots=True)
class MonthlyReport:
    """The report's ``html`` (and ``pdf`` when asked for) and what it shows (``data``)."""

    portfolio: str
    start: date
    end: date
    html: str
    data: ReportInput
    pdf: bytes | None = None


def parse_month(text: str) -> tuple[int, int]:
    """``2026-11`` as (2026, 11); :class:`InvalidInput` otherwise."""
    try:
        year, month = (int(part) for part in text.strip().split("-"))
        date(year, month, 1)
    except ValueError:
        raise InvalidInput(f"--month {text!r} is not a month; write it as YYYY-MM") from None
    return year, month


def monthly_report(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    year: int,
    month: int,
    locale: str,
    edges: tuple[int, ...] = DEFAULT_EDGES,
    in_currency: str | None = None,
    rates: Mapping[str, Decimal] | None = None,
    pdf: bool = False,
    costs: Costs | None = None,
) -> MonthlyReport:
    """The report of ``portfolio`` for the month, in the language of ``locale``.

    :class:`NotFound` for an unknown portfolio; :class:`InvalidInput` for a currency without a
    rate."""
    actor.require(Permission.READ, "see the monthly collections report")
    start, end = month_bounds(year, month)
    pstart, pend = previous_month(start)

    def kpis(first: date, last: date, by: str = "currency") -> KpiReport:
        return kpi_report(
            uow,
            actor,
            portfolio=portfolio,
            start=first,
            end=last,
            by=by,
            edges=edges,
            in_currency=in_currency,
            rates=rates,
            costs=costs,
        )

    # the month by currency and by segment from one read of the portfolio
    reports = kpi_reports(
        uow,
        actor,
        portfolio=portfolio,
        start=start,
        end=end,
        by=("currency", "segment"),
        edges=edges,
        in_currency=in_currency,
        rates=rates,
        costs=costs,
    )
    current, previous, segments = reports["currency"], kpis(pstart, pend), reports["segment"]
    tested = experiment_report(
        uow,
        actor,
        portfolio=portfolio,
        start=start,
        end=end,
        edges=edges,
        in_currency=in_currency,
        rates=rates,
    )
    sent = message_report(uow, actor, portfolio=portfolio, start=start, end=end)
    by_channel = channel_report(uow, actor, portfolio=portfolio, start=start, end=end).rows
    ends = [end]
    while len(ends) < TREND_MONTHS:
        ends.insert(0, previous_month(ends[0].replace(day=1))[1])
    try:
        history = read_history(uow.engine, portfolio=portfolio)
    except UnknownPortfolio as exc:
        raise NotFound(str(exc)) from exc
    trend = aging_trend(history.instalments, history.allocations, ends, edges)
    try:
        tried = backtest(
            uow,
            actor,
            portfolio=portfolio,
            as_of=start - timedelta(days=1),
            origins=BACKTEST_ORIGINS,
            in_currency=in_currency,
            rates=rates,
        )
        judged: pl.DataFrame | None = tried.by_horizon
    except InvalidInput:
        judged = None  # no week after the forecasts is whole in the ledger yet
    data = ReportInput(
        portfolio,
        start,
        end,
        pstart,
        pend,
        current.headline,
        previous.headline,
        current.matrix,
        segments.headline,
        trend,
        edges,
        tested.comparison,
        tested.arms,
        sent.rates,
        judged,
        by_channel,
    )
    from arrears.kpi.report_pdf import render_pdf  # noqa: PLC0415 (fpdf: ~0.25 s to import)

    printed = render_pdf(data, locale) if pdf else None
    return MonthlyReport(portfolio, start, end, render_html(data, locale), data, printed)
