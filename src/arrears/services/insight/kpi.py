"""The collection KPIs of a portfolio over a period: DSO, CEI, bad debt, roll, cure and
promise-kept rates.

A read model for every front end: the portfolio's whole ledger history, as the propensity model
reads it (:func:`arrears.store.scoring.history.read_history`), its promises with the outcomes
the cycle recorded, and the debtors' attributes to group by, measured by the pure
:func:`arrears.kpi.summary.measures`. Amounts stay minor units of each currency, or of one
currency at the workspace's ``[rates]`` (as ``arrears aging --in``). Every figure is derived
from the ledger (and the promises' recorded outcomes) as of the days it needs; the roll and cure
rates read the month ends' states from the monthly snapshot (``arrears.store.kpi_snapshot``)
when it holds every month end they need, still valid: the same states, derived from the ledger
when it was written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import polars as pl

from arrears.domain.actor import Actor, Permission
from arrears.domain.errors import InvalidInput, NotFound
from arrears.domain.money import exponent, is_currency
from arrears.kpi import experiments
from arrears.kpi.aging import DEFAULT_EDGES
from arrears.kpi.channels import attributed, channel_figures
from arrears.kpi.figures import period_figures
from arrears.kpi.messages import message_rates
from arrears.kpi.operations import (
    COUNTS,
    NOBODY,
    collectors,
    cost_figures,
    cost_ratio,
    operation_figures,
    operation_rates,
)
from arrears.kpi.operations import RATES as OPERATION_RATES
from arrears.kpi.roll import month_ends
from arrears.kpi.summary import measures
from arrears.scoring.frames import History
from arrears.services.insight.reports import factors
from arrears.services.uow import SqlUnitOfWork
from arrears.store.kpi_reads import (
    read_calls,
    read_case_groups,
    read_commissions,
    read_contacts,
    read_plans,
    read_settlements,
)
from arrears.store.kpi_snapshot import (
    last_month_end,
    read_snapshot,
    valid_months,
    write_months,
)
from arrears.store.messages.measures import read_messages
from arrears.store.portfolios import UnknownPortfolio
from arrears.store.scoring.experiments import read_assignments
from arrears.store.scoring.history import read_debtors, read_history, read_promises

#: What the measures may be grouped by besides the currency: debtor attributes (today's), the
#: stage and agency of the debtor's case at the end of the day before the period
#: (:func:`arrears.store.kpi_reads.read_case_groups`), and the collector who worked the account
#: (:func:`arrears.kpi.operations.collectors`).
GROUPS: tuple[str, ...] = (
    "currency",
    "segment",
    "country",
    "region",
    "kind",
    "stage",
    "agency",
    "collector",
)
#: The group of a debtor without a case open at the period's start, and of a case not placed.
NO_CASE = "(no case)"
NO_AGENCY = "(not placed)"
#: The columns :func:`kpi_report` adds to the measures' headline, after theirs.
EXTRA: tuple[str, ...] = ("recovery", *COUNTS, *OPERATION_RATES, "cost", "cost_to_collect")


@dataclass(frozen=True, slots=True)
class Costs:
    """The workspace's ``[costs]`` (docs/kpi.md, "Cost to collect"): minor units of
    ``currency`` per message of each channel and per collector hour (``collector_hour``), and
    the minutes of a collector's time one logged call stands for."""

    currency: str
    per_unit: Mapping[str, Fraction]
    call_minutes: Fraction


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


#: The workspace settings of :class:`Costs`: one per message channel, then a collector's time.
COST_CHANNELS: tuple[str, ...] = ("email", "sms", "whatsapp", "letter")


def parse_costs(values: Mapping[str, str]) -> Costs | None:
    """The workspace's ``costs.*`` settings as :class:`Costs` (``None`` when
    ``costs.currency`` is empty: no cost configured). :class:`InvalidInput` names every amount
    that is not a number at or above zero, and a currency that is not one."""
    code = values.get("costs.currency", "").strip().upper()
    if not code:
        return None
    problems = []
    if not is_currency(code):
        problems.append(f"costs.currency = {code!r} is not an ISO 4217 currency")
    amounts: dict[str, Decimal] = {}
    for name in (*COST_CHANNELS, "collector_hour", "call_minutes"):
        text_ = values.get(f"costs.{name}", "0")
        try:
            amounts[name] = Decimal(text_.strip() or "0")
            if not amounts[name].is_finite() or amounts[name] < 0:
                raise ValueError
        except (ArithmeticError, ValueError):
            problems.append(f"costs.{name} = {text_!r}: give an amount of 0 or more, e.g. 0.05")
    if problems:
        raise InvalidInput("arrears.toml's [costs]: " + "; ".join(problems))
    unit = Fraction(10) ** exponent(code)
    per_unit = {name: Fraction(amounts[name]) * unit for name in (*COST_CHANNELS, "collector_hour")}
    return Costs(code, per_unit, Fraction(amounts["call_minutes"]))


@dataclass(slots=True)
class KpiInputs:
    """Everything :func:`kpi_reports` reads of a portfolio, read once and measured per
    grouping: the ledger's history, promises, debtors, calls, plans, settlements, agencies'
    commissions, messages sent (with costs) and the cases' stage and agency on a day."""

    history: History
    promises: pl.DataFrame
    debtors: pl.DataFrame
    calls: pl.DataFrame
    plans: pl.DataFrame
    settlements: pl.DataFrame
    sent: pl.DataFrame | None
    commissions: pl.DataFrame
    cases: dict[date, pl.DataFrame] = field(default_factory=dict)
    #: the month ends' states from the monthly snapshot, when every one the period needs is
    #: written and still valid (``arrears.store.kpi_snapshot``); else derived from the ledger
    states: pl.DataFrame | None = None


def _read_inputs(uow: SqlUnitOfWork, portfolio: str, costs: Costs | None) -> KpiInputs:
    try:
        return KpiInputs(
            read_history(uow.engine, portfolio=portfolio),
            read_promises(uow.engine, portfolio=portfolio),
            read_debtors(uow.engine, portfolio=portfolio),
            read_calls(uow.engine, portfolio=portfolio),
            read_plans(uow.engine, portfolio=portfolio),
            read_settlements(uow.engine, portfolio=portfolio),
            read_messages(uow.engine, portfolio=portfolio) if costs else None,
            read_commissions(uow.engine, portfolio=portfolio),
        )
    except UnknownPortfolio as exc:
        raise NotFound(str(exc)) from exc


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
    costs: Costs | None = None,
) -> KpiReport:
    """The measures of ``portfolio`` from ``start`` to ``end`` (both included), per ``by``
    (one of :data:`GROUPS`) and currency, or with every amount in ``in_currency`` at ``rates``.

    :class:`InvalidInput` for a period that ends before it starts, an unknown grouping or a
    currency without a rate; :class:`NotFound` for an unknown portfolio.
    """
    [report] = kpi_reports(
        uow,
        actor,
        portfolio=portfolio,
        start=start,
        end=end,
        by=(by,),
        edges=edges,
        in_currency=in_currency,
        rates=rates,
        costs=costs,
    ).values()
    return report


def kpi_reports(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    start: date,
    end: date,
    by: Sequence[str] = ("currency",),
    edges: tuple[int, ...] = DEFAULT_EDGES,
    in_currency: str | None = None,
    rates: Mapping[str, Decimal] | None = None,
    costs: Costs | None = None,
) -> dict[str, KpiReport]:
    """:func:`kpi_report` for each grouping of ``by`` (in its order), the portfolio read once
    (the ledger's history, promises, calls, ...: the reads are most of a report's time) and
    measured once per grouping. Errors as :func:`kpi_report`, every problem at once."""
    actor.require(Permission.READ, "see the collection KPIs")
    problems = _period_problems(start, end)
    problems.extend(f"--by {b!r}: choose one of {', '.join(GROUPS)}" for b in by if b not in GROUPS)
    _check(problems)
    rated = factors(rates or {}, in_currency) if in_currency is not None else None
    inputs = _read_inputs(uow, portfolio, costs)
    inputs.states = _snapshot(uow, portfolio, start, end)
    return {
        b: _report(uow, inputs, portfolio, start, end, b, edges, in_currency, rated, costs)
        for b in dict.fromkeys(by)
    }


@dataclass(frozen=True, slots=True)
class SnapshotWrite:
    """What :func:`write_snapshot` wrote: the month ends and the rows."""

    portfolio: str
    months: tuple[date, ...]
    rows: int


def write_snapshot(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    through: date,
    at: datetime,
    rebuild: bool = False,
) -> SnapshotWrite:
    """Write the KPIs' monthly snapshot (``arrears.store.kpi_snapshot``) from the ledger.

    ``rebuild``: every month end from the one before the portfolio's first invoice to the last
    one before
    ``through`` (``arrears kpi --rebuild-snapshot``); otherwise the last month end before
    ``through`` alone, when it is not written or no longer valid (the daily run: nothing to do
    on most days, one read of the ledger at a month's turn). :class:`NotFound` for an unknown
    portfolio."""
    actor.require(Permission.ADMINISTER, "write the KPIs' monthly snapshot")
    last = last_month_end(through)
    try:
        if not rebuild and valid_months(uow.engine, portfolio=portfolio, months=[last]):
            return SnapshotWrite(portfolio, (), 0)
        history = read_history(uow.engine, portfolio=portfolio)
        months = [last]
        if rebuild:
            if history.instalments.height == 0:
                return SnapshotWrite(portfolio, (), 0)
            first = history.instalments["issue_date"].min()
            assert isinstance(first, date)
            # from the end of the month before the first invoice: a period starting in
            # its month reads that month end too (nothing owed then)
            months = month_ends(last_month_end(first), last)
        rows = write_months(
            uow.engine,
            portfolio=portfolio,
            months=months,
            history=history,
            actor=actor.name,
            at=at,
        )
    except UnknownPortfolio as exc:
        raise NotFound(str(exc)) from exc
    return SnapshotWrite(portfolio, tuple(months), rows)


def _snapshot(uow: SqlUnitOfWork, portfolio: str, start: date, end: date) -> pl.DataFrame | None:
    """The monthly snapshot's rows of the month ends the roll rates need (the end of the month
    before ``start``, then each month end to ``end``), or ``None`` when one of them is not
    written or no longer what the ledger says."""
    lasts = month_ends(start, end)
    if not lasts:
        return None
    days = [lasts[0].replace(day=1) - timedelta(days=1), *lasts]
    if valid_months(uow.engine, portfolio=portfolio, months=days) != set(days):
        return None
    return read_snapshot(uow.engine, portfolio=portfolio, months=days, stage=False)


def _report(
    uow: SqlUnitOfWork,
    inputs: KpiInputs,
    portfolio: str,
    start: date,
    end: date,
    by: str,
    edges: tuple[int, ...],
    in_currency: str | None,
    rated: Mapping[str, Fraction] | None,
    costs: Costs | None,
) -> KpiReport:
    """The measures of one grouping over ``inputs``."""
    keys = () if by == "currency" else (by,)
    history, promises, debtors = inputs.history, inputs.promises, inputs.debtors
    plans, settlements, commissions = inputs.plans, inputs.settlements, inputs.commissions
    try:
        groups = _groups(uow, inputs, portfolio, by, start, end)
    except UnknownPortfolio as exc:
        raise NotFound(str(exc)) from exc
    home = debtors.select("debtor_id", "currency")
    calls = inputs.calls.join(home, on="debtor_id", how="inner")
    sent = None if inputs.sent is None else inputs.sent.join(home, on="debtor_id", how="inner")
    instalments = history.instalments
    states = inputs.states
    if groups is not None:
        on = [c for c in groups.columns if c != by]
        instalments, promises, calls, plans, settlements, commissions = (
            _grouped(frame, groups, by, on)
            for frame in (instalments, promises, calls, plans, settlements, commissions)
        )
        if sent is not None:
            sent = _grouped(sent, groups, by, on)
        if states is not None:
            states = _grouped(states, groups, by, on)
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
            states=states,
        )
        done = operation_figures(calls, plans, settlements, start, end, keys)
        cost = None
        if costs is not None and sent is not None:
            cost = cost_figures(
                sent,
                calls,
                commissions,
                start,
                end,
                keys,
                costs.per_unit,
                costs.currency,
                costs.call_minutes,
                rated,
                in_currency,
            )
    except ValueError as exc:
        raise InvalidInput(f"--in {in_currency}: arrears.toml's [rates]: {exc}") from None
    group = [*keys, "currency"]
    if in_currency is not None:
        done = (
            done.with_columns(pl.lit(in_currency).alias("currency"))
            .group_by(group, maintain_order=True)
            .agg(pl.col(*COUNTS).sum())
        )
    headline = result.headline.join(done, on=group, how="left", nulls_equal=True)
    if cost is not None:
        headline = headline.join(cost, on=group, how="left", nulls_equal=True).with_columns(
            pl.col("cost").fill_null(0)
        )
    else:
        headline = headline.with_columns(pl.lit(None, pl.Int64()).alias("cost"))
    available = pl.col("opening") + pl.col("sales")
    headline = (
        headline.with_columns(pl.col(*COUNTS).fill_null(0))
        .with_columns(
            pl.when(available > 0).then(pl.col("collected") / available).alias("recovery"),
            *operation_rates(),
        )
        .with_columns(cost_ratio())
        .select(*result.headline.columns, *EXTRA)
    )
    return KpiReport(
        portfolio,
        start,
        end,
        result.days,
        keys,
        edges,
        in_currency,
        headline,
        result.roll,
        result.matrix,
    )


def _groups(
    uow: SqlUnitOfWork,
    inputs: KpiInputs,
    portfolio: str,
    by: str,
    start: date,
    end: date,
) -> pl.DataFrame | None:
    """Each debtor's (and currency's, for a case's stage or agency) group; ``None`` by
    currency. The cases' groups are read once per day (stage and agency share them)."""
    if by == "currency":
        return None
    if by in ("stage", "agency"):
        on = start - timedelta(days=1)
        if on not in inputs.cases:
            inputs.cases[on] = read_case_groups(uow.engine, portfolio=portfolio, on=on)
        cases = inputs.cases[on]
        return cases.with_columns(pl.col("agency").fill_null(NO_AGENCY)).select(
            "debtor_id", "currency", by
        )
    if by == "collector":
        return collectors(inputs.calls, start, end)
    return inputs.debtors.select("debtor_id", by)


def _period_problems(start: date, end: date) -> list[str]:
    """The period's problem (``--from``, ``--to``) when it ends before it starts."""
    if end < start:
        return [f"--from {start} is after --to {end}; give a period that ends after it"]
    return []


def _check(problems: list[str]) -> None:
    """:class:`InvalidInput` with every problem at once, if there is one."""
    if problems:
        raise InvalidInput("; ".join(problems))


def _grouped(frame: pl.DataFrame, groups: pl.DataFrame, by: str, on: list[str]) -> pl.DataFrame:
    """``frame`` with each row's group (a debtor without one: :data:`NO_CASE` or
    :data:`~arrears.kpi.operations.NOBODY`)."""
    joined = frame.join(groups, on=on, how="left")
    missing = NO_CASE if by in ("stage", "agency") else NOBODY if by == "collector" else None
    return joined if missing is None else joined.with_columns(pl.col(by).fill_null(missing))


@dataclass(frozen=True, slots=True)
class ChannelReport:
    """``rows``: :func:`arrears.kpi.channels.channel_figures` of the payments collected from
    ``start`` to ``end``, per channel of the debtor's last contact before each and currency."""

    portfolio: str
    start: date
    end: date
    rows: pl.DataFrame


def channel_report(
    uow: SqlUnitOfWork, actor: Actor, *, portfolio: str, start: date, end: date
) -> ChannelReport:
    """Collected amounts and recovery by channel (docs/kpi.md, "Recovery by channel").

    :class:`InvalidInput` for a period that ends before it starts; :class:`NotFound` for an
    unknown portfolio."""
    actor.require(Permission.READ, "see the collection KPIs")
    _check(_period_problems(start, end))
    try:
        history = read_history(uow.engine, portfolio=portfolio)
        contacts = read_contacts(uow.engine, portfolio=portfolio)
    except UnknownPortfolio as exc:
        raise NotFound(str(exc)) from exc
    figures = period_figures(history.instalments, history.allocations, start, end)
    available = figures.select("currency", (pl.col("opening") + pl.col("sales")).alias("available"))
    payments = attributed(history.instalments, history.allocations, contacts, start, end)
    return ChannelReport(portfolio, start, end, channel_figures(payments, available))


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
    problems = _period_problems(start, end)
    if not 0 < detect < 1:
        problems.append(f"--detect {detect}: give a difference between 0 and 1, e.g. 0.05")
    _check(problems)
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
    _check(_period_problems(start, end))
    try:
        sent = read_messages(uow.engine, portfolio=portfolio)
    except UnknownPortfolio as exc:
        raise NotFound(str(exc)) from exc
    return MessageReport(portfolio, start, end, message_rates(sent, start, end))
