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
from arrears.services.arrangements.agreements import BROKEN_LOOKBACK_DAYS, _log
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
            _monitor_plans(conn, pid, as_of, note, done)
            _monitor_settlements(conn, pid, as_of, actor, at, note, who, done)
            done.offers_expired = _expire_offers(conn, pid, as_of, policy, note)
    except IntegrityError as exc:  # another run recorded the same change first
        raise Conflict(
            f"another run is following portfolio {portfolio!r}'s plans and settlements: "
            "run the day again once it has finished"
        ) from exc
    return done


def _judged(
    conn: Connection, pid: int, as_of: date, statuses: tuple[str, ...]
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The plans of ``statuses`` running on ``as_of`` judged in columns (two reads, one
    :func:`arrears.domain.agreements.judge_plans`): their stored schedule, the instalments and
    the plans judged."""
    stored = records.plan_schedule_frame(conn, pid, as_of, statuses)
    paid = records.plan_payment_frame(conn, pid, as_of, statuses)
    instalments, plans = rules.judge_plans(
        stored.select(list(rules.PLAN_SCHEDULE_SCHEMA)), paid, as_of=as_of
    )
    return stored, instalments, plans


def _monitor_plans(
    conn: Connection, pid: int, as_of: date, note: Callable[..., None], done: Monitored
) -> None:
    """Each running plan judged once, in columns; only what changed is written: an instalment
    paid or missed, a plan broken or completed (plan by plan, each plan's instalments first)."""
    stored, instalments, plans = _judged(conn, pid, as_of, ("active",))
    if stored.is_empty():
        return
    was = stored.select("plan_id", "seq", "was_status", "was_paid_on", "was_found_on")
    changed = (
        instalments.join(was, on=["plan_id", "seq"], how="left")
        .filter(
            pl.col("state").ne_missing(pl.col("was_status"))
            | pl.col("paid_on").ne_missing(pl.col("was_paid_on"))
            | pl.col("found_on").ne_missing(pl.col("was_found_on"))
        )
        .sort("plan_id", "seq")
    )
    ended = plans.filter(pl.col("broken_on").is_not_null() | pl.col("completed_on").is_not_null())
    ids = sorted(set(changed["plan_id"].to_list()) | set(ended["plan_id"].to_list()))
    if not ids:
        return
    rows = records.plans_by_id(conn, ids)
    missed = (
        instalments.filter(pl.col("state") == rules.InstalmentState.MISSED.value)
        .group_by("plan_id")
        .len()
    )
    missed_of = dict(zip(missed["plan_id"].to_list(), missed["len"].to_list(), strict=True))
    by_plan: dict[int, list[dict[str, Any]]] = {}
    for item in changed.iter_rows(named=True):
        by_plan.setdefault(int(item["plan_id"]), []).append(item)
    verdicts = {int(r["plan_id"]): r for r in ended.iter_rows(named=True)}
    paid_of = dict(zip(plans["plan_id"].to_list(), plans["paid_minor"].to_list(), strict=True))
    for plan_id in ids:
        row = rows[plan_id]
        for item in by_plan.get(plan_id, []):
            records.update_instalment(
                conn,
                plan_id,
                int(item["seq"]),
                status=item["state"],
                paid_on=item["paid_on"],
                found_on=item["found_on"],
            )
            payload = {
                "seq": int(item["seq"]),
                "due_on": item["due_on"].isoformat(),
                "amount_minor": int(item["amount_minor"]),
                "paid_on": None if item["paid_on"] is None else item["paid_on"].isoformat(),
                "found_on": None if item["found_on"] is None else item["found_on"].isoformat(),
            }
            state = rules.InstalmentState(item["state"])
            if state is rules.InstalmentState.PAID and item["was_status"] != "paid":
                note(
                    rules.PlanInstalmentPaid,
                    row,
                    "payment_plan",
                    payload,
                    f"plan.instalment_paid:{row['key']}:{item['seq']}",
                )
                done.instalments_paid += 1
            elif state is rules.InstalmentState.MISSED and item["was_status"] != "missed":
                note(
                    rules.PlanInstalmentMissed,
                    row,
                    "payment_plan",
                    payload,
                    f"plan.instalment_missed:{row['key']}:{item['seq']}",
                )
                done.instalments_missed += 1
        verdict = verdicts.get(plan_id)
        if verdict is None:
            continue
        broken = verdict["broken_on"] is not None
        status = "broken" if broken else "completed"
        ended_on = verdict["broken_on"] if broken else verdict["completed_on"]
        records.update_plan(conn, plan_id, status=status, ended_on=ended_on)
        payload = {
            "paid_minor": int(paid_of[plan_id]),
            "currency": row["currency"],
            "on": ended_on.isoformat(),
        }
        if broken:
            payload["missed"] = int(missed_of.get(plan_id, 0))
        kind = rules.PlanBroken if broken else rules.PlanCompleted
        note(kind, row, "payment_plan", payload, f"plan.{status}:{row['key']}")
        if broken:
            done.plans_broken += 1
        else:
            done.plans_completed += 1


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


def cycle_frame(
    engine: Engine, portfolio: str, as_of: date, *, monitored: bool = False
) -> pl.DataFrame:
    """The agreements that pause a case, for the engine
    (:data:`arrears.cycle.frames.AGREEMENT_SCHEMA`): each plan and settlement that started by
    ``as_of``, the first day it no longer pauses, and a broken plan's day. Judged on ``as_of``
    while it runs, in columns (so that ``arrears plan`` shows what ``run`` does); ``monitored``:
    :func:`monitor` has judged and recorded this very day (``arrears run``), so the stored
    states are the day's and nothing is judged twice."""
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
        verdicts: dict[int, tuple[date | None, date | None]] = {}
        if not monitored and any(r["ended_on"] is None or r["ended_on"] > as_of for r in plans):
            _, _, judged = _judged(conn, pid, as_of, ("active", "broken", "completed", "cancelled"))
            verdicts = {
                int(r["plan_id"]): (r["broken_on"], r["completed_on"])
                for r in judged.iter_rows(named=True)
                if r["broken_on"] is not None or r["completed_on"] is not None
            }
        for r in plans:
            ends, broken = r["ended_on"], r["ended_on"] if r["status"] == "broken" else None
            verdict = verdicts.get(int(r["id"]))
            if verdict is not None:
                ends = verdict[0] or verdict[1]
                broken = verdict[0]
            rows.append((int(r["debtor_id"]), str(r["currency"]), r["active_on"], ends, broken))
        settled = [
            r
            for r in records.settlements(
                conn, pid, statuses=("accepted", "paid", "lapsed"), ended_since=since
            )
            if r["accepted_on"] is not None and r["accepted_on"] <= as_of
        ]
        open_ = [r for r in settled if r["ended_on"] is None or r["ended_on"] > as_of]
        settlements_judged = {} if monitored else _settlement_judgements(conn, open_, as_of)
        for r in settled:
            ends = r["ended_on"]
            if r["ended_on"] is None or r["ended_on"] > as_of:
                verdict_s = settlements_judged.get(int(r["id"]))
                ends = (
                    max(verdict_s.paid_on, r["accepted_on"])
                    if verdict_s is not None and verdict_s.paid_on is not None
                    else r["expires_on"] + timedelta(days=1)
                )
            rows.append((int(r["debtor_id"]), str(r["currency"]), r["accepted_on"], ends, None))
    return pl.DataFrame(rows, schema=AGREEMENT_SCHEMA, orient="row")
