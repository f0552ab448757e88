"""The daily cycle as a use case: read the portfolio as of a day, decide, and (``run``) commit.

``plan_cycle`` changes nothing; ``run_cycle`` commits the decisions in one transaction
(``arrears.store.cycle.write``). Both call the same pure function
(:func:`arrears.cycle.decide.decide`), so a plan shows exactly what a run would do.

Both take the unit of work and the :class:`~arrears.domain.actor.Actor` who runs the cycle:
``cli:USER`` from ``arrears run``, ``system:cycle`` (:func:`arrears.domain.actor.system`) from a
scheduler. Every activity record the run writes (``case.*``, ``step.*``, a late fee's invoice)
names that actor. The cycle reads over the unit of work's engine (ADBC, outside any
transaction) and commits in one transaction of its own there, because that transaction must
take the portfolio's cycle lock as it begins (:class:`arrears.store.cycle.write.CycleBusy`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
from sqlalchemy import Engine

from arrears.channels.templates import check_template, shipped_root
from arrears.cycle.compiled import CompiledPolicy, compile_policy
from arrears.cycle.decide import decide
from arrears.cycle.frames import (
    RATE_DIGITS,
    RATE_SCHEMA,
    REFERENCE_RATE_SCHEMA,
    SCORE_SCHEMA,
    CycleInput,
    Decisions,
)
from arrears.domain.actor import Actor, Permission
from arrears.domain.errors import Conflict, InvalidInput, NotFound
from arrears.policy.check import Templates
from arrears.policy.loading import load_policy
from arrears.services.casework.accounts import debtor_row_id
from arrears.services.casework.queues import assign_queue_tasks
from arrears.services.insight.scoring import run_scores, with_scoring_history
from arrears.services.uow import SqlUnitOfWork
from arrears.store.cycle.attributes import with_attributes
from arrears.store.cycle.read import read_cycle_input
from arrears.store.cycle.write import RunSummary, commit_decisions
from arrears.store.ledger.balances import ConcurrentChange
from arrears.store.portfolios import UnknownPortfolio
from arrears.store.scoring.history import read_disputes

__all__ = [
    "CycleSummary",
    "PolicyProblems",
    "ReferenceRateProblems",
    "RunSummary",
    "Timings",
    "UnknownDebtor",
    "load_compiled",
    "plan_cycle",
    "rate_frame",
    "read_reference_rates",
    "run_cycle",
    "stale_reference_rate",
    "summarize",
    "unrated",
]

if TYPE_CHECKING:
    from arrears.scoring.model import Model


class PolicyProblems(InvalidInput):
    """The policy file has problems; ``arrears policy check`` lists them with their places."""


def load_compiled(path: Path) -> CompiledPolicy:
    """Load, check and compile a policy file; :class:`PolicyProblems` if it does not pass."""
    policy, problems = load_policy(path, Templates(check_template, shipped_root()))
    if policy is None or problems:
        first = problems[0] if problems else None
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise PolicyProblems(
            f"{path} does not pass 'arrears policy check'{more}: {first}"
            if first
            else f"{path} is not a valid policy"
        )
    return compile_policy(policy, path.read_text(encoding="utf-8"))


class ReferenceRateProblems(InvalidInput):
    """The workspace's ``reference_rates.csv`` has problems; the message lists every one with
    its ``file:line``."""


def read_reference_rates(path: Path | None) -> pl.DataFrame:
    """The dated reference rates of ``path`` (``REFERENCE_RATE_SCHEMA``), one read; an empty
    frame when ``path`` is ``None`` or does not exist (the policy's ``reference_rate`` applies).
    :class:`ReferenceRateProblems` with every problem of the file at once (``file:line``)."""
    if path is None or not path.exists():
        return pl.DataFrame(schema=REFERENCE_RATE_SCHEMA)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReferenceRateProblems(f"{path}: cannot be read ({exc})") from None
    problems: list[str] = []
    days: list[date] = []
    micros: list[int] = []
    rows = [
        (number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")  # blank lines and comments
    ]
    header = [c.strip().lower() for c in rows[0][1].split(",")] if rows else []
    if not rows:
        problems.append(f"{path}:1: no header; expected 'from,rate' and one line per rate")
    elif header != ["from", "rate"]:
        problems.append(f"{path}:{rows[0][0]}: the header must be 'from,rate', not {rows[0][1]!r}")
    for number, line in rows[1:]:
        where = f"{path}:{number}"
        cells = [c.strip() for c in line.split(",")]
        if len(cells) != 2:
            problems.append(f"{where}: expected 2 columns (from,rate), found {len(cells)}")
            continue
        day: date | None = None
        try:
            day = date.fromisoformat(cells[0])
        except ValueError:
            problems.append(f"{where}: from {cells[0]!r} is not a date (YYYY-MM-DD)")
        micro: int | None = None
        try:
            rate = Decimal(cells[1])
            if not rate.is_finite() or not Decimal(-10) <= rate <= Decimal(100):
                raise ValueError
            if rate.as_tuple().exponent < -6:  # type: ignore[operator]
                problems.append(f"{where}: rate {cells[1]!r} has more than 6 decimals")
            else:
                micro = int(rate.scaleb(6))
        except (ArithmeticError, ValueError):
            problems.append(
                f"{where}: rate {cells[1]!r} is not a percentage between -10 and 100 (e.g. 2.15)"
            )
        if day is not None and days and day <= days[-1]:
            problems.append(f"{where}: from {day} is not after the previous line's {days[-1]}")
            continue
        if day is not None and micro is not None:
            days.append(day)
            micros.append(micro)
    if not problems and not days:
        problems.append(f"{path}: no rates (one line per rate: from,rate, e.g. 2025-07-01,2.15)")
    if problems:
        more = "s" if len(problems) > 1 else ""
        raise ReferenceRateProblems(
            f"{path}: {len(problems)} problem{more}:\n" + "\n".join(problems)
        )
    return pl.DataFrame({"from": days, "rate_micro": micros}, schema=REFERENCE_RATE_SCHEMA)


@dataclass
class Timings:
    read: float = 0.0
    score: float = 0.0
    decide: float = 0.0
    commit: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)


def _read(
    engine: Engine, portfolio: str, as_of: date, policy: CompiledPolicy, debtor: str | None = None
) -> CycleInput:
    """The cycle's input of the portfolio, or of one ``debtor`` only (an external id; read
    through its indexes, so that explaining one debtor does not read the portfolio)."""
    try:
        ids = None
        if debtor is not None:
            with engine.connect() as conn:
                found = debtor_row_id(conn, portfolio, debtor)
            if found is None:
                raise UnknownDebtor(debtor, portfolio)
            ids = [found]
        return read_cycle_input(
            engine,
            portfolio=portfolio,
            as_of=as_of,
            reopen_within_days=policy.policy.reopen_within_days,
            promise_grace_days=policy.policy.promise_grace_days,
            debtor_ids=ids,
        )
    except UnknownPortfolio as exc:
        raise NotFound(str(exc)) from exc


def _with_agreements(
    data: CycleInput, engine: Engine, portfolio: str, as_of: date, *, monitored: bool = False
) -> CycleInput:
    """``data`` with the payment plans and settlements that pause cases (issue 15);
    ``monitored``: the run's monitor judged them on ``as_of`` already (judged once a run)."""
    from arrears.services.arrangements.agreement_monitor import cycle_frame  # noqa: PLC0415

    return replace(data, agreements=cycle_frame(engine, portfolio, as_of, monitored=monitored))


def plan_cycle(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    as_of: date,
    policy: CompiledPolicy,
    debtor: str | None = None,
    timings: Timings | None = None,
    model: Model | None = None,
    rates: Mapping[str, Decimal] | None = None,
    reference_rates: Path | None = None,
) -> Decisions:
    """What ``run`` would decide on ``as_of``; with ``debtor`` (an external id), only for that
    debtor and with the full plan of its steps and its score's reasons (for ``explain``).
    ``model``: the propensity model that scores the debtors, the workspace's as
    :func:`arrears.scoring.registry.load` finds it (``None``: the transparent rules score).
    ``rates``: the workspace's ``[rates]`` (currency -> value in the common unit) for the
    ``*_ref`` features. ``reference_rates``: the workspace's ``reference_rates.csv`` (read and
    checked here, :func:`read_reference_rates`; absent: the policy's ``reference_rate``).
    Changes nothing. :class:`NotFound` for an unknown portfolio or debtor."""
    actor.require(Permission.READ, "plan the cycle")
    decisions, _ = _plan(
        uow, portfolio, as_of, policy, debtor, timings, model, rates, reference_rates
    )
    return decisions


def _plan(
    uow: SqlUnitOfWork,
    portfolio: str,
    as_of: date,
    policy: CompiledPolicy,
    debtor: str | None,
    timings: Timings | None,
    model: Model | None,
    rates: Mapping[str, Decimal] | None,
    reference_rates: Path | None = None,
    *,
    monitored: bool = False,
) -> tuple[Decisions, pl.DataFrame]:
    """The decisions, and the debtors read (``debtor_id``, ``debtor_external_id``): the commit
    names its keys' debtors from them instead of reading them again."""
    table = read_reference_rates(reference_rates)  # before the store: a bad file fails fast
    start = time.perf_counter()
    data = replace(
        _with_agreements(
            _read(uow.engine, portfolio, as_of, policy, debtor),
            uow.engine,
            portfolio,
            as_of,
            monitored=monitored,
        ),
        rates=rate_frame(rates or {}),
        reference_rates=table,
    )
    if debtor is not None:
        ids = data.debtors.filter(pl.col("debtor_external_id") == debtor)["debtor_id"]
        if ids.is_empty():
            raise UnknownDebtor(debtor, portfolio)
        data = data.for_debtors(ids)
    read = time.perf_counter()
    # one debtor explained: its own dispute records, not the portfolio's
    one = None if debtor is None else int(data.debtors["debtor_id"][0])
    # expected days to pay scores every open invoice: only when the policy reads it or a
    # debtor is explained (about 40 % of a trained model's score of 1M debtors)
    days = debtor is not None or policy.reads("expected_days_to_pay")
    scored: pl.DataFrame | None = None
    if model is None and not days:
        # the rules score alone, from its five features: without the model's module
        # (scikit-learn takes seconds to import) and a tenth of the feature work at 1M
        from arrears.scoring.rules import rules_score_frame  # noqa: PLC0415

        data = replace(data, scores=_rules_scores(rules_score_frame, data, as_of))
    else:
        # scikit-learn takes seconds to import: only the commands that score pay for it
        # (every `arrears` command imports this module: dispatch, import, aging...)
        from arrears.scoring.model import score_frame  # noqa: PLC0415

        scored = score_frame(
            model, data, as_of, with_reasons=debtor is not None, days_to_pay=days,
            disputes=read_disputes(uow.engine, portfolio=portfolio, debtor_id=one),
        )  # fmt: skip
        data = replace(data, scores=scored.select(list(SCORE_SCHEMA)))
    # the scoring history features the policy's conditions read (issue 18)
    data = with_scoring_history(uow.engine, portfolio, data, as_of, policy.reads)
    # the debtor attributes (attr_<name>) its conditions read (issue 18)
    conditions = [*policy.stage_conditions, *policy.segment_conditions, *policy.step_conditions]
    names = {
        n for e in (*conditions, policy.priority) if e is not None for n in e.meta.root_names()
    }
    if any(n.startswith("attr_") for n in names):
        data = replace(data, debtors=with_attributes(data.debtors, uow.engine, names))
    scoring = time.perf_counter()
    decisions = decide(data, policy, as_of, explain=debtor is not None)
    if debtor is not None and scored is not None:
        why = scored.select(
            "debtor_id",
            "currency",
            pl.col("source").alias("score_source"),
            pl.col("reasons").alias("score_reasons"),
        )
        features = decisions.features.join(why, on=["debtor_id", "currency"], how="left")
        decisions = replace(decisions, features=features)
    if timings is not None:
        timings.read = read - start
        timings.score = scoring - read
        timings.decide = time.perf_counter() - scoring
        timings.rows = {"instalments": data.instalments.height, "debtors": data.debtors.height}
    return decisions, data.debtors.select("debtor_id", "debtor_external_id")


def _rules_scores(
    score: Callable[[pl.DataFrame, pl.DataFrame, date], pl.DataFrame],
    data: CycleInput,
    as_of: date,
) -> pl.DataFrame:
    """The rules score as the engine's score frame (``SCORE_SCHEMA``): what ``score_frame(None,
    ...)`` gives without reasons or days to pay."""
    return score(data.instalments, data.settled, as_of).select(
        "debtor_id",
        "currency",
        "score",
        (pl.col("score") * pl.col("overdue_minor"))
        .round(0)
        .cast(pl.Int64())
        .alias("expected_recovery_minor"),
        pl.lit(None, pl.Float64()).alias("expected_days_to_pay"),
    )


def run_cycle(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    as_of: date,
    policy: CompiledPolicy,
    at: datetime,
    timings: Timings | None = None,
    model: Model | None = None,
    rates: Mapping[str, Decimal] | None = None,
    reference_rates: Path | None = None,
) -> tuple[Decisions, RunSummary]:
    """Decide for ``as_of`` and commit the decisions in one transaction whose activity records
    name ``actor`` (``model``, ``rates``, ``reference_rates``: see :func:`plan_cycle`).
    :class:`Conflict` when another run is writing, the cases changed since they were read, or
    the cycle already ran for a later day."""
    actor.require(Permission.ADMINISTER, "run the cycle")
    timings = timings if timings is not None else Timings()
    from arrears.services.arrangements.agreement_monitor import monitor  # noqa: PLC0415

    # plans, settlements, the cycle's offers (issue 15)
    monitor(uow, actor, portfolio=portfolio, as_of=as_of, at=at, policy=policy.policy)
    decisions, debtors = _plan(
        uow, portfolio, as_of, policy, None, timings, model, rates, reference_rates,
        monitored=True,
    )  # fmt: skip
    start = time.perf_counter()
    # A case that stays (the engine compared it with the stored case and found nothing to
    # change) needs no writing: leave it out, so a day's commit is proportional to its changes.
    changes = Decisions(
        features=decisions.features,
        cases=decisions.cases.filter(pl.col("change") != "stay"),
        steps=decisions.steps,
        promises=decisions.promises,
    )
    try:
        summary = commit_decisions(
            uow.engine,
            portfolio=portfolio,
            as_of=as_of,
            policy_name=policy.policy.policy,
            policy_sha256=policy.sha256,
            decisions=changes,
            actor=actor.name,
            at=at,
            debtors=debtors,
            # the day's scores in the same transaction (issue 18)
            also=run_scores(actor, portfolio, as_of, decisions.features, model, at),
        )
    except ConcurrentChange as exc:
        raise Conflict(str(exc)) from exc
    # each queue's waiting tasks to its collectors, the least loaded first (issue 15)
    assign_queue_tasks(uow, actor, portfolio=portfolio, on=as_of, at=at)
    _record_followups(uow, actor, portfolio, as_of, policy, at)
    timings.commit = time.perf_counter() - start
    # the KPIs' monthly snapshot of the month that ended before as_of (issue 17): written at a
    # month's turn, or again when the ledger changed under it; nothing on other days
    from arrears.services.insight.kpi import write_snapshot  # noqa: PLC0415

    write_snapshot(uow, actor, portfolio=portfolio, through=as_of, at=at)
    return decisions, summary


def _record_followups(
    uow: SqlUnitOfWork,
    actor: Actor,
    portfolio: str,
    as_of: date,
    policy: CompiledPolicy,
    at: datetime,
) -> None:
    """What the day's steps decided beyond the case, recorded the same day (issue 15): the
    ``propose_write_off`` tasks become write-off proposals (waiting for approval above the
    policy's limits: ``arrears write-off list``), and the cases a ``place_with_agency`` or
    ``recall_from_agency`` step marked become placements or recalls (``arrears agency
    placements``). Both are idempotent: a day run again records nothing new."""
    from arrears.services.arrangements.agencies import record_cycle_placements  # noqa: PLC0415
    from arrears.services.arrangements.write_offs import limits_from, propose_from_cycle  # noqa: PLC0415

    propose_from_cycle(
        uow, actor, portfolio=portfolio, on=as_of, limits=limits_from(policy.policy), at=at
    )
    record_cycle_placements(uow, actor, portfolio=portfolio, on=as_of, at=at)


@dataclass(frozen=True, slots=True)
class CycleSummary:
    """A day's decisions in figures (what ``plan`` and ``run`` print).

    ``cases``: the open cases by segment, stage and currency (``cases``, ``overdue_minor``,
    ``paused``, ``awaiting_approval``); ``steps``: the steps by action, channel and status
    (``steps``); ``changes``: the case changes by kind (open, reopen, stage, close, update,
    stay). For a run, ``changes`` and ``steps`` are what it committed: none when another run
    had already committed that day's decisions."""

    cases: pl.DataFrame
    steps: pl.DataFrame
    changes: dict[str, int]


def summarize(decisions: Decisions, written: RunSummary | None = None) -> CycleSummary:
    """``plan``'s decisions in figures, or (``written``) what ``run`` committed."""
    live = decisions.cases.filter(pl.col("change") != "close")
    cases = (
        live.group_by("segment", "stage", "currency")
        .agg(
            pl.len().alias("cases"),
            pl.col("overdue_minor").sum().alias("overdue_minor"),
            pl.col("paused_by").is_not_null().sum().alias("paused"),
            pl.col("awaiting_approval").is_not_null().sum().alias("awaiting_approval"),
        )
        .sort("currency", "stage", "segment")
    )
    steps = (
        decisions.steps.group_by("action", "channel", "status")
        .agg(pl.len().alias("steps"))
        .sort("action", "channel", "status", nulls_last=True)
    )
    if written is None:
        counts = decisions.cases.group_by("change").len()
        return CycleSummary(cases, steps, {row[0]: row[1] for row in counts.iter_rows()})
    committed = {
        "open": written.cases_opened,
        "reopen": written.cases_reopened,
        "stage": written.stage_changes,
        "close": written.cases_closed,
        "update": written.cases_updated,
    }
    changes = {change: n for change, n in committed.items() if n}
    return CycleSummary(cases, steps if written.written else steps.clear(), changes)


def rate_frame(rates: Mapping[str, Decimal]) -> pl.DataFrame:
    """The workspace's ``[rates]`` as the engine's rate frame (``RATE_SCHEMA``: billionths)."""
    nanos = [int(rate.scaleb(RATE_DIGITS)) for rate in rates.values()]
    return pl.DataFrame({"currency": list(rates), "rate_nano": nanos}, schema=RATE_SCHEMA)


def unrated(
    decisions: Decisions, policy: CompiledPolicy, rates: Mapping[str, Decimal]
) -> list[str]:
    """The currencies of cases whose priority falls back to their own currency: the policy
    ranks with a ``*_ref`` feature, the open cases are in more than one currency and the
    workspace gives that one no rate."""
    if not any(policy.reads(f) for f in ("overdue_balance_ref", "expected_recovery_ref")):
        return []
    seen = {c for c in decisions.cases.filter(pl.col("change") != "close")["currency"] if c}
    return sorted(c for c in seen if c not in rates) if len(seen) > 1 else []


def stale_reference_rate(path: Path | None, as_of: date, policy: CompiledPolicy) -> str | None:
    """A warning when the policy charges the EU late-payment interest and the workspace's
    ``reference_rates.csv`` has no rate for the half-year ``as_of`` falls in: invoices falling
    due in it are charged at the file's last rate, which the central bank may have changed.
    ``None`` when nothing is stale (or the policy charges no such fee, or there is no file:
    the policy's ``reference_rate`` applies, as documented)."""
    charged = any(
        getattr(step, "fee", None) == "eu_late_payment"
        for cadence in policy.policy.cadences
        for step in cadence.steps
    )
    if not charged:
        return None
    table = read_reference_rates(path)
    if table.is_empty():
        return None
    half_year = date(as_of.year, 1 if as_of.month <= 6 else 7, 1)
    last = table["from"].max()
    if not isinstance(last, date) or last >= half_year:
        return None
    return (
        f"{path}: its last reference rate applies from {last.isoformat()}; invoices falling due "
        f"from {half_year.isoformat()} are charged the EU late-payment interest at that rate: "
        f"add the central bank's rate in force on {half_year.isoformat()} (a line "
        f"'{half_year.isoformat()},RATE'; the same rate again if it did not change)"
    )


class UnknownDebtor(NotFound):
    def __init__(self, debtor: str, portfolio: str) -> None:
        super().__init__(f"no debtor {debtor!r} in portfolio {portfolio!r}")
