"""What the daily cycle does with payment plans and settlements.

:func:`monitor` follows them on the day of a run (``arrears run`` calls it before it decides):
each plan instalment paid or missed, a plan broken or completed, a settlement paid in full (the
rest written off, "settlement discount"), lapsed or expired; :func:`cycle_frame` gives the
engine the agreements that pause a case on a day (``CycleInput.agreements``). The judgement is
pure (:mod:`arrears.domain.agreements`), so a dry run (``arrears plan``) shows what a run does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from arrears.cycle.frames import AGREEMENT_SCHEMA
from arrears.domain import agreements as rules
from arrears.domain.activity import Activity
from arrears.domain.actor import Actor, Permission
from arrears.domain.errors import Conflict, NotFound
from arrears.domain.money import Money
from arrears.policy.model import PaymentPlans, Policy, Settlements
from arrears.services.agreements import BROKEN_LOOKBACK_DAYS, _log
from arrears.services.uow import SqlUnitOfWork
from arrears.store.agreements import records
from arrears.store.agreements.records import Owner
from arrears.store.ledger.write_offs import write_off
from arrears.store.portfolios import UnknownPortfolio, portfolio_id

# What the daily cycle does with them -------------------------------------------------------------


@dataclass
class Monitored:
    """What :func:`monitor` recorded on a day."""

    instalments_paid: int = 0
    instalments_missed: int = 0
    plans_broken: int = 0
    plans_completed: int = 0
    plans_expired: int = 0
    settlements_paid: int = 0
    settlements_lapsed: int = 0
    settlements_expired: int = 0
    offers_expired: int = 0


def _plan_judgements(
    conn: Connection,
    rows: list[dict[str, Any]],
    as_of: date,
    schedules: dict[int, list[dict[str, Any]]] | None = None,
) -> dict[int, rules.PlanJudgement]:
    """Each active plan of ``rows`` judged on ``as_of`` from its debtor's payments
    (``schedules``: their rows, when the caller read them)."""
    if not rows:
        return {}
    if schedules is None:
        schedules = records.schedule_rows(conn, [int(r["id"]) for r in rows])
    since = min(r["accepted_on"] for r in rows)
    paid = records.payments(
        conn, [(int(r["debtor_id"]), str(r["currency"])) for r in rows], since, as_of
    )
    judged = {}
    for r in rows:
        mine = [
            p
            for p in paid.get((int(r["debtor_id"]), str(r["currency"])), [])
            if p[0] >= r["accepted_on"]
        ]
        judged[int(r["id"])] = rules.judge_plan(
            records.scheduled(schedules[int(r["id"])]),
            mine,
            as_of=as_of,
            grace_days=int(r["grace_days"]),
            missed_to_break=int(r["missed_to_break"]),
        )
    return judged


def _settlement_judgements(
    conn: Connection, rows: list[dict[str, Any]], as_of: date
) -> dict[int, rules.SettlementJudgement]:
    if not rows:
        return {}
    since = min(r["offered_on"] for r in rows)
    paid = records.payments(
        conn, [(int(r["debtor_id"]), str(r["currency"])) for r in rows], since, as_of
    )
    return {
        int(r["id"]): rules.judge_settlement(
            int(r["amount_minor"]),
            paid.get((int(r["debtor_id"]), str(r["currency"])), []),
            offered_on=r["offered_on"],
            expires_on=r["expires_on"],
            as_of=as_of,
        )
        for r in rows
    }


def monitor(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    as_of: date,
    at: datetime,
    policy: Policy | None = None,
) -> Monitored:
    """Follow every plan and settlement on ``as_of`` (the daily cycle runs it before it
    decides): each plan instalment paid or missed, a plan broken or completed, a plan awaiting
    approval past its offer's expiry expired; a settlement paid in full by its expiry (the rest
    written off, "settlement discount"), lapsed, or expired unaccepted; the cycle's offers past
    their expiry expired (an offer without its own expiry stands ``policy``'s
    ``payment_plans.offer_expires_days`` or ``settlements.max_days``). Each change is recorded
    once (business keys), naming ``actor``."""
    actor.require(Permission.WORK, "follow the payment plans and settlements")
    done = Monitored()
    try:
        with uow:
            conn = uow.conn
            try:
                pid = portfolio_id(conn, portfolio)
            except UnknownPortfolio as exc:
                raise NotFound(str(exc)) from exc
            owners: dict[int, Owner] = {}

            def who(debtor_id: int) -> Owner:
                if debtor_id not in owners:
                    owners[debtor_id] = records.owner_by_id(conn, debtor_id)
                return owners[debtor_id]

            def note(
                kind: type[Activity],
                row: dict[str, Any],
                subject: str,
                payload: dict[str, Any],
                key: str,
            ) -> None:
                _log(
                    conn,
                    who(int(row["debtor_id"])),
                    kind,
                    actor=actor.name,
                    at=at,
                    subject_kind=subject,
                    subject_id=int(row["id"]),
                    payload=payload,
                    key=key,
                )

            for row in records.plans(conn, pid, statuses=("awaiting_approval",)):
                if as_of > row["expires_on"]:
                    ended = row["expires_on"] + timedelta(days=1)
                    records.update_plan(conn, int(row["id"]), status="expired", ended_on=ended)
                    note(
                        rules.PlanExpired,
                        row,
                        "payment_plan",
                        {"on": ended.isoformat()},
                        f"plan.expired:{row['key']}",
                    )
                    done.plans_expired += 1
            active = [
                r for r in records.plans(conn, pid, statuses=("active",)) if r["active_on"] <= as_of
            ]
            stored = records.schedule_rows(conn, [int(r["id"]) for r in active])
            judged = _plan_judgements(conn, active, as_of, stored)
            for row in active:
                plan_id, verdict = int(row["id"]), judged[int(row["id"])]
                before = {int(s["seq"]): s for s in stored[plan_id]}
                for item in verdict.instalments:
                    was = before[item.seq]
                    now = {
                        "status": item.state.value,
                        "paid_on": item.paid_on,
                        "found_on": item.found_on,
                    }
                    if all(was[k] == v for k, v in now.items()):
                        continue
                    records.update_instalment(conn, plan_id, item.seq, **now)
                    payload = {
                        "seq": item.seq,
                        "due_on": item.due_on.isoformat(),
                        "amount_minor": item.amount_minor,
                        "paid_on": None if item.paid_on is None else item.paid_on.isoformat(),
                        "found_on": None if item.found_on is None else item.found_on.isoformat(),
                    }
                    if item.state is rules.InstalmentState.PAID and was["status"] != "paid":
                        note(
                            rules.PlanInstalmentPaid,
                            row,
                            "payment_plan",
                            payload,
                            f"plan.instalment_paid:{row['key']}:{item.seq}",
                        )
                        done.instalments_paid += 1
                    elif item.state is rules.InstalmentState.MISSED and was["status"] != "missed":
                        note(
                            rules.PlanInstalmentMissed,
                            row,
                            "payment_plan",
                            payload,
                            f"plan.instalment_missed:{row['key']}:{item.seq}",
                        )
                        done.instalments_missed += 1
                summary = {"paid_minor": verdict.paid_minor, "currency": row["currency"]}
                if verdict.broken_on is not None:
                    records.update_plan(conn, plan_id, status="broken", ended_on=verdict.broken_on)
                    missed = sum(
                        i.state is rules.InstalmentState.MISSED for i in verdict.instalments
                    )
                    note(
                        rules.PlanBroken,
                        row,
                        "payment_plan",
                        summary | {"on": verdict.broken_on.isoformat(), "missed": missed},
                        f"plan.broken:{row['key']}",
                    )
                    done.plans_broken += 1
                elif verdict.completed_on is not None:
                    records.update_plan(
                        conn, plan_id, status="completed", ended_on=verdict.completed_on
                    )
                    note(
                        rules.PlanCompleted,
                        row,
                        "payment_plan",
                        summary | {"on": verdict.completed_on.isoformat()},
                        f"plan.completed:{row['key']}",
                    )
                    done.plans_completed += 1
            _monitor_settlements(conn, pid, as_of, actor, at, note, who, done)
            done.offers_expired = _expire_offers(conn, pid, as_of, policy, note)
    except IntegrityError as exc:  # another run recorded the same change first
        raise Conflict(
            f"another run is following portfolio {portfolio!r}'s plans and settlements: "
            "run the day again once it has finished"
        ) from exc
    return done


def _expire_offers(
    conn: Connection, pid: int, as_of: date, policy: Policy | None, note: Callable[..., None]
) -> int:
    """The cycle's open offers past their expiry become ``expired``, each with its
    ``offer.expired`` record; an offer made without an expiry gets the policy's (plans:
    ``payment_plans.offer_expires_days``, settlements: ``settlements.max_days``)."""
    plans = policy.payment_plans if policy is not None else PaymentPlans()
    settled = policy.settlements if policy is not None else Settlements()
    standing = {"payment_plan": plans.offer_expires_days, "settlement": settled.max_days}
    expired = 0
    for row in records.open_offers(conn, pid):
        ends = row["expires_on"]
        if ends is None:
            ends = row["made_on"] + timedelta(days=standing[str(row["kind"])])
            records.set_offer(conn, int(row["id"]), expires_on=ends)
        if ends >= as_of:
            continue
        records.set_offer(conn, int(row["id"]), status="expired")
        on = ends + timedelta(days=1)
        note(
            rules.OfferExpired,
            row,
            "offer",
            {
                "kind": row["kind"],
                "made_on": row["made_on"].isoformat(),
                "expires_on": ends.isoformat(),
                "on": on.isoformat(),
            },
            f"offer.expired:{row['key']}",
        )
        expired += 1
    return expired


def _monitor_settlements(
    conn: Connection,
    pid: int,
    as_of: date,
    actor: Actor,
    at: datetime,
    note: Callable[..., None],
    who: Callable[[int], Owner],
    done: Monitored,
) -> None:
    live = records.settlements(conn, pid, statuses=("awaiting_approval", "offered", "accepted"))
    for row in live:
        if row["status"] != "accepted" and as_of > row["expires_on"]:
            ended = row["expires_on"] + timedelta(days=1)
            records.update_settlement(conn, int(row["id"]), status="expired", ended_on=ended)
            note(
                rules.SettlementExpired,
                row,
                "settlement",
                {"on": ended.isoformat()},
                f"settlement.expired:{row['key']}",
            )
            done.settlements_expired += 1
    accepted = [r for r in live if r["status"] == "accepted" and r["accepted_on"] <= as_of]
    judged = _settlement_judgements(conn, accepted, as_of)
    for row in accepted:
        verdict = judged[int(row["id"])]
        code = str(row["currency"])
        if verdict.paid_on is not None:
            ended = max(verdict.paid_on, row["accepted_on"])
            owner = who(int(row["debtor_id"]))
            left = int(row["balance_minor"]) - int(row["amount_minor"])
            written = 0
            for number, open_minor in records.open_invoices(conn, owner, code, row["offered_on"]):
                if left - written <= 0:
                    break
                part = min(open_minor, left - written)
                write_off(
                    conn,
                    number,
                    portfolio=owner.portfolio,
                    amount=Money.from_minor(part, code),
                    on=ended,
                    reason=rules.SETTLEMENT_WRITE_OFF_REASON,
                    actor=actor.name,
                    at=at,
                )
                written += part
            records.update_settlement(
                conn, int(row["id"]), status="paid", ended_on=ended, written_off_minor=written
            )
            note(
                rules.SettlementPaid,
                row,
                "settlement",
                {
                    "on": ended.isoformat(),
                    "paid_minor": verdict.paid_minor,
                    "written_off_minor": written,
                    "currency": code,
                    "reason": rules.SETTLEMENT_WRITE_OFF_REASON,
                },
                f"settlement.paid:{row['key']}",
            )
            done.settlements_paid += 1
        elif as_of > row["expires_on"]:
            ended = row["expires_on"] + timedelta(days=1)
            records.update_settlement(conn, int(row["id"]), status="lapsed", ended_on=ended)
            note(
                rules.SettlementLapsed,
                row,
                "settlement",
                {"on": ended.isoformat(), "paid_minor": verdict.paid_minor, "currency": code},
                f"settlement.lapsed:{row['key']}",
            )
            done.settlements_lapsed += 1


def cycle_frame(engine: Engine, portfolio: str, as_of: date) -> pl.DataFrame:
    """The agreements that pause a case, for the engine
    (:data:`arrears.cycle.frames.AGREEMENT_SCHEMA`): each plan and settlement that started by
    ``as_of``, the first day it no longer pauses (judged on ``as_of`` while it runs, so that
    ``arrears plan`` shows what ``run`` does), and a broken plan's day."""
    rows: list[tuple[int, str, date, date | None, date | None]] = []
    since = as_of - timedelta(days=BROKEN_LOOKBACK_DAYS)
    with engine.connect() as conn:
        try:
            pid = portfolio_id(conn, portfolio)
        except UnknownPortfolio:
            return pl.DataFrame(schema=AGREEMENT_SCHEMA)
        plans = [
            r
            for r in records.plans(
                conn,
                pid,
                statuses=("active", "broken", "completed", "cancelled"),
                ended_since=since,
            )
            if r["active_on"] is not None and r["active_on"] <= as_of
        ]
        running = [r for r in plans if r["ended_on"] is None or r["ended_on"] > as_of]
        judged = _plan_judgements(conn, running, as_of)
        for r in plans:
            ends, broken = r["ended_on"], r["ended_on"] if r["status"] == "broken" else None
            verdict = judged.get(int(r["id"]))
            if verdict is not None and (verdict.broken_on or verdict.completed_on):
                ends = verdict.broken_on or verdict.completed_on
                broken = verdict.broken_on
            rows.append((int(r["debtor_id"]), str(r["currency"]), r["active_on"], ends, broken))
        settled = [
            r
            for r in records.settlements(
                conn, pid, statuses=("accepted", "paid", "lapsed"), ended_since=since
            )
            if r["accepted_on"] is not None and r["accepted_on"] <= as_of
        ]
        open_ = [r for r in settled if r["ended_on"] is None or r["ended_on"] > as_of]
        verdicts = _settlement_judgements(conn, open_, as_of)
        for r in settled:
            ends = r["ended_on"]
            verdict_s = verdicts.get(int(r["id"]))
            if verdict_s is not None:
                ends = (
                    max(verdict_s.paid_on, r["accepted_on"])
                    if verdict_s.paid_on is not None
                    else r["expires_on"] + timedelta(days=1)
                )
            rows.append((int(r["debtor_id"]), str(r["currency"]), r["accepted_on"], ends, None))
    return pl.DataFrame(rows, schema=AGREEMENT_SCHEMA, orient="row")
