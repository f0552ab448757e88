"""Proving the contact rules held, and the consent a debtor gives again (docs/contact-rules.md).

:func:`compliance_report` is the read model of ``arrears compliance report``: the contacts
made in a period (messages at the time they were sent, contacts logged by hand) by rule pack
and channel, the deferrals and blocks the rules decided, and every contact that broke a rule
at the time it was made, judged by the consent then in force. :func:`grant_consent` is the one
way to lift a debtor's own refusal; :func:`call_task` and :func:`may_call` ask the guard, with
the current time, whether a collector may call a task's debtor now (``arrears call start``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import polars as pl

from arrears.contact.audit import audit
from arrears.contact.frames import ATTEMPT_SCHEMA
from arrears.contact.guard import guard, local_now
from arrears.contact.model import Pack
from arrears.domain.actor import Actor, Permission
from arrears.domain.errors import Conflict, InvalidInput, NotFound
from arrears.domain.ledger import Channel
from arrears.services.uow import SqlUnitOfWork
from arrears.store.cycle.read import read_cycle_input
from arrears.store.loading import contact_points
from arrears.store.messages.compliance import call_task as read_call_task
from arrears.store.messages.compliance import read_compliance
from arrears.store.portfolios import portfolio_id


@dataclass(frozen=True, slots=True)
class ComplianceReport:
    """``contacts``: every contact of the period with its verdict (``at``, ``debtor``,
    ``channel``, ``source``, ``pack``, ``rule``, ``violation``...); ``by_channel``: contacts
    and violations by pack, channel and source; ``rules``: deferred and blocked steps by rule;
    ``violations``: the contacts that broke a rule."""

    portfolio: str
    first: date
    last: date
    contacts: pl.DataFrame
    by_channel: pl.DataFrame
    rules: pl.DataFrame
    violations: pl.DataFrame


def compliance_report(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    first: date,
    last: date,
    packs: dict[str, Pack],
) -> ComplianceReport:
    """The contacts made from ``first`` to ``last`` (both included), judged by ``packs``."""
    actor.require(Permission.READ, "read the compliance report")
    if first > last:
        raise InvalidInput(f"--from {first} is after --to {last}")
    data = read_compliance(uow.engine, portfolio=portfolio, start=first, end=last)
    checked = audit(
        data.contacts, data.debtors, data.points, data.consent_history, data.history, packs
    )
    names = data.debtors.select("debtor_id", pl.col("debtor_external_id").alias("debtor"))
    checked = checked.join(names, on="debtor_id", how="left").drop("debtor_id")
    by_channel = (
        checked.group_by("pack", "channel", "source")
        .agg(pl.len().alias("contacts"), pl.col("violation").sum().alias("violations"))
        .sort("pack", "channel", "source")
    )
    rules = (
        data.rule_outcomes.with_columns(
            pl.when(pl.col("status") == "blocked")
            .then(pl.lit("blocked"))
            .otherwise(pl.lit("deferred"))
            .alias("outcome")
        )
        .group_by("rule", "outcome")
        .agg(pl.col("steps").sum())
        .sort("rule", "outcome")
    )
    violations = checked.filter(pl.col("violation"))
    return ComplianceReport(portfolio, first, last, checked, by_channel, rules, violations)


def grant_consent(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    debtor: str,
    channel: str,
    reason: str,
    at: datetime,
) -> int:
    """The debtor ``debtor`` (external id) gave consent to ``channel`` again (``reason``: how,
    kept in the ``consent.granted`` record): ``granted`` on every valid contact point of the
    channel's kind. Returns how many contact points changed."""
    actor.require(Permission.WORK, "record a consent")
    names = [c.value for c in Channel]
    if channel not in names:
        raise InvalidInput(f"--channel {channel!r}: one of {', '.join(names)}")
    if not reason.strip():
        raise InvalidInput("--reason: say how the debtor gave consent again")
    with uow:
        return contact_points.grant(
            uow.conn, portfolio=portfolio_id(uow.conn, portfolio), debtor_external_id=debtor,
            channel=channel, reason=reason.strip(), actor=actor.name, at=at,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class CallTask:
    """An open call task: its id, its debtor (store id) and the debtor's portfolio (code)."""

    task_id: int
    debtor_id: int
    portfolio: str


@dataclass(frozen=True, slots=True)
class CallVerdict:
    """The guard's answer: ``allowed``, else the ``rule`` and ``reason`` and, when the rules
    allow it later, the next allowed time (``next_local``, the debtor's local time)."""

    allowed: bool
    pack: str
    rule: str | None
    reason: str | None
    next_local: datetime | None


def call_task(uow: SqlUnitOfWork, actor: Actor, task_id: int) -> CallTask:
    """The open call task ``task_id`` (:class:`NotFound`; :class:`Conflict` when it is not an
    open call task)."""
    actor.require(Permission.WORK, "start a call")
    with uow:
        row = read_call_task(uow.conn, task_id)
    if row is None:
        raise NotFound(f"no task {task_id}")
    if row.kind != "call" or row.status != "open":
        raise Conflict(f"task {task_id} is not an open call task ({row.kind}, {row.status})")
    return CallTask(task_id, int(row.debtor_id), str(row.portfolio))


def may_call(
    uow: SqlUnitOfWork, actor: Actor, task: CallTask, *, at: datetime, packs: dict[str, Pack]
) -> CallVerdict:
    """May the task's debtor be called at ``at``? The contact rules of ``packs`` with the
    debtor's consents and contact history as of that day."""
    actor.require(Permission.WORK, "start a call")
    data = read_cycle_input(  # the debtor's rows only, through its indexes
        uow.engine,
        portfolio=task.portfolio,
        as_of=at.date(),
        reopen_within_days=0,
        debtor_ids=[task.debtor_id],
    )
    data = data.for_debtors(pl.Series([task.debtor_id]))
    attempt = pl.DataFrame(
        {
            "attempt_id": [task.task_id],
            "debtor_id": [task.debtor_id],
            "channel": ["call"],
            "planned_local": local_now(at, data.debtors),
            "priority": [1],
            "fallback": [[]],
            "legal_threat": [False],
            "days_past_due": [0],
            "validation_notice": [False],
        }
    ).cast(ATTEMPT_SCHEMA)  # type: ignore[arg-type]
    verdict = guard(attempt, data.debtors, data.consents, data.history, packs).row(0, named=True)
    return CallVerdict(
        allowed=verdict["decision"] == "allow",
        pack=str(verdict["pack"]),
        rule=verdict["rule"],
        reason=verdict["reason"],
        next_local=verdict["send_local"] if verdict["send_at"] else None,
    )
