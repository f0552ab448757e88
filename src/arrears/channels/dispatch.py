"""Sending the outbox: claim due messages, ask the contact rules again with the current time,
render, send through the channel's adapter, record every step. See docs/channels.md.

At most once: a row moves ``claimed -> sending`` in a committed transaction before the provider
is called and ``sending -> sent`` after it answers. A worker that dies before ``sending`` leaves a
claimed row, which goes back to the queue when its lease ends (it was never sent). One that dies
between the two leaves ``sending``: the outcome is unknown, so the row is sent again only through
an adapter whose provider deduplicates by the stable idempotency key (``Channel.dedup``: the SMTP
Message-ID, the HTTP Idempotency-Key, the file name); otherwise it is marked failed for a person
to look at, never resent blindly.
"""

from __future__ import annotations

import functools
import os
import random
import socket
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, create_engine

from arrears.channels.base import (
    Account,
    Attachment,
    Channel,
    ChannelSettings,
    Message,
    PermanentFailure,
    TemporaryFailure,
    factories,
    idempotency_key,
    opt_out_url,
    payment_url,
    require_secret,
)
from arrears.channels.letter import labels, letter_pdf
from arrears.channels.notices import with_notices
from arrears.channels.ratelimit import TokenBucket, parse_limit
from arrears.channels.templates import (
    TemplateBroken,
    TemplateMissing,
    recheck,
    render,
    safe_line,
)
from arrears.channels.whatsapp import approved, extra, render_params
from arrears.contact.frames import ATTEMPT_SCHEMA
from arrears.contact.guard import guard, local_now
from arrears.contact.model import Pack
from arrears.domain.ledger import CONTACT_KIND_OF_CHANNEL, SENT_CHANNELS
from arrears.domain.money import MoneyError, exponent
from arrears.store.messages import outbox as store

#: The contact point kind each channel sends to (the domain's one map).
POINT_KIND: dict[str, str] = {str(c): str(CONTACT_KIND_OF_CHANNEL[c]) for c in SENT_CHANNELS}
SENDABLE = tuple(POINT_KIND)
#: WhatsApp's customer service window: free text is allowed for this long after the debtor's
#: last message to us; outside it, only an approved template.
WHATSAPP_SESSION = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Options:
    batch_size: int = 100
    max_attempts: int = 5
    backoff_seconds: float = 60.0
    backoff_max_seconds: float = 6 * 3600.0
    lease_seconds: float = 300.0
    #: how long the contact rules' verdicts on a batch hold: a message is sent only if the
    #: rules allow it at the start and at the end of this interval, and a batch still sending
    #: when it is over gives the rest back (they are judged again)
    verdict_seconds: float = 60.0


def backoff(attempt: int, options: Options, rng: random.Random) -> timedelta:
    """Exponential backoff with jitter: ``base * 2**(attempt-1)``, capped, times U(0.5, 1.5)."""
    delay = min(options.backoff_seconds * 2 ** max(attempt - 1, 0), options.backoff_max_seconds)
    return timedelta(seconds=delay * rng.uniform(0.5, 1.5))


#: Why a contact rule holds a message, by the rule id's suffix (``<pack>.<suffix>``), in words
#: for the dispatch summary; a cap (``<id>``) not listed here is a frequency cap.
WHY = {
    "holiday": "a public holiday",
    "closed-day": "a closed day of the week",
    "hours": "outside the allowed hours",
    "no-window": "no allowed time within 14 days",
    "one-channel-week": "another channel was used this week",
    "opt-out": "the debtor opted out of the channel",
    "consent-required": "no consent for the channel",
    "no-contact-point": "no usable address for the channel",
    "deceased": "the debtor is deceased",
    "do-not-contact": "the debtor is marked do-not-contact",
    "bankrupt": "the debtor is bankrupt",
    "legal-representative": "the debtor has a legal representative",
    "cease-communication": "the debtor asked to cease communication",
    "breathing-space": "the debtor is in a breathing space",
    "no-timezone": "the debtor's time zone is unknown",
    "validation-notice": "the validation notice must come first",
    "time-barred": "a legal threat on a time-barred debt",
    "conversation-quiet": "a telephone conversation in the last days",
    "dispute": "an invoice is disputed",
}


def why(outcome: str, rule: str, *, retry: bool = False) -> str:
    """The words for what held a message (``outcome``: held, blocked, failed) by ``rule``."""
    if outcome == "failed":
        return "could not be sent (the message's last_error says why)"
    if retry:
        return "waiting to be tried again after a temporary failure"
    if not rule:
        return "planned for later"
    suffix = rule.partition(".")[2] or rule
    return WHY.get(suffix, "a frequency cap" if suffix.endswith("cap") else suffix)


@dataclass
class Report:
    """What a dispatch did: ``counts`` by outcome (sent, deferred, blocked...) and ``held``:
    the messages not sent, ``(outcome, rule)`` -> messages, where ``outcome`` is ``blocked`` or
    ``failed`` (this run) or ``held`` (queued for later: deferred by the rules, in this run or by
    the cycle, or planned for later; :meth:`Dispatcher.held`)."""

    counts: Counter[str] = field(default_factory=Counter)
    held: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: when the first held message of an ``(outcome, rule)`` is due
    due: dict[tuple[str, str], datetime] = field(default_factory=dict)

    def add(self, what: str, n: int = 1) -> None:
        self.counts[what] += n

    def hold(self, outcome: str, rule: str, n: int = 1, due: datetime | None = None) -> None:
        self.held[(outcome, rule)] += n
        if due is not None:
            self.due[(outcome, rule)] = min(due, self.due.get((outcome, rule), due))

    def not_sent(self) -> list[dict[str, Any]]:
        """One row per outcome and rule: ``outcome``, ``rule``, ``why``, ``messages`` and
        ``next``: when the first of them is due (UTC, ISO; ``""`` for blocked and failed)."""
        order = {"held": 0, "blocked": 1, "failed": 2}
        rows = []
        for (outcome, rule), n in sorted(self.held.items(), key=lambda i: (order[i[0][0]], i[0])):
            retry = outcome == "held" and rule == "retry"
            rows.append(
                {
                    "outcome": outcome,
                    "rule": "" if retry else rule,
                    "why": why(outcome, rule, retry=retry),
                    "messages": n,
                    "next": _iso(self.due.get((outcome, rule))),
                }
            )
        return rows

    def __str__(self) -> str:
        keys = ("sent", "deferred", "blocked", "retry", "fallback", "failed", "reconciled")
        return ", ".join(f"{k} {self.counts[k]}" for k in keys)


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        settings: ChannelSettings,
        *,
        portfolio: str,
        packs: dict[str, Pack],
        template_roots: list[Path],
        options: Options | None = None,
        actor: str = "dispatch",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        adapters: dict[str, Channel] | None = None,
        worker: str | None = None,
        rng: random.Random | None = None,
        until: datetime | None = None,
        today: date | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        lease_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        dispute_pause: str = "invoices",
    ) -> None:
        """``clock``: the time a message leaves (the real clock; a test injects its own). The
        contact rules judge every message at that time, never at its planned ``send_at``: a
        late message goes only when the rules allow it now, else it is deferred to the
        debtor's next allowed time. ``until``: claim only messages due by then (``arrears
        dispatch --as-of DAY``: the end of that day). ``lease_clock``: the real clock the
        claims' leases run on, whatever ``clock`` says (a rerun of a killed catch-up can take
        its rows back). ``monotonic`` and ``sleep`` pace the per-provider rate limits
        (``<adapter>.rate``); a ``ValueError`` names a rate setting that is not a number.
        ``dispute_pause``: the policy's ``disputes.pause``: ``invoices`` (a message waits only
        when everything its debtor owes is disputed; the disputed invoices are left out of the
        message) or ``case`` (any open dispute holds every message to its debtor)."""
        require_secret(settings)  # links nobody can verify are not sent (MissingSecret)
        pid = store.portfolio_id(engine, portfolio)
        if pid is None:
            raise LookupError(f"no portfolio {portfolio!r}")
        self.engine = engine
        self.reader = _guard_reader(engine)
        self.settings = settings
        self.portfolio = portfolio
        self.pid = pid
        self.packs = packs
        self.roots = template_roots
        self.options = options or Options()
        self.actor = actor
        self.clock = clock
        self.adapters: dict[str, Channel] = dict(adapters or {})
        self.worker = worker or worker_id()
        self.rng = rng or random.Random()
        self.until = until
        self.lease_clock = lease_clock
        self.fresh_until: datetime | None = None  # when the current batch's verdicts expire
        self.today = today  # the day of days past due (default: the clock's UTC date)
        self.dispute_pause = dispute_pause
        self.buckets: dict[str, TokenBucket] = {}
        #: records that wait for the next transaction (:meth:`later`)
        self.pending: list[Callable[[Connection], Any]] = []
        self.in_batch = False  # the template files were looked at when the batch began
        for key in sorted(k for k in settings.values if k.endswith(".rate")):
            name = key.removesuffix(".rate")
            limit = parse_limit(name, settings.get(key), settings.get(f"{name}.burst"))
            if limit is not None:
                self.buckets[name] = TokenBucket(*limit, clock=monotonic, sleep=sleep)

    # adapters ---------------------------------------------------------------------------------

    def adapter(self, channel: str) -> Channel:
        if channel not in self.adapters:
            name = self.settings.get(f"channels.{channel}") or "file"
            found = factories()
            if name not in found:
                raise LookupError(f"channels.{channel} = {name!r}: no such adapter")
            self.adapters[channel] = found[name](self.settings)
        return self.adapters[channel]

    def bucket(self, channel: str) -> TokenBucket | None:
        """The rate limit of the channel's adapter (``<adapter>.rate``), if any."""
        return self.buckets.get(self.settings.get(f"channels.{channel}") or "file")

    def pace(self, channel: str) -> None:
        """Wait for the rate limit of the channel's adapter (``<adapter>.rate``), if any."""
        bucket = self.bucket(channel)
        if bucket is not None:
            bucket.take()

    def close(self) -> None:
        for a in self.adapters.values():
            a.close()

    # the loop ---------------------------------------------------------------------------------

    def run(self, stop: Callable[[], bool] = lambda: False) -> Report:
        """Send every message due now, batch after batch, until none is due (or ``stop()``)."""
        report = Report()
        self.reconcile(report)
        while not stop():
            now = self.clock()
            batch = store.claim(
                self.engine,
                portfolio=self.pid,
                now=now if self.until is None else min(now, self.until),
                limit=self.options.batch_size,
                worker=self.worker,
                lease_start=self.lease_clock(),
            )
            if not batch:
                break
            self.process(batch, report, stop)
        return report

    def held(self, report: Report) -> None:
        """Add to ``report`` the queued messages whose time has not come (one aggregate query):
        deferred by the contact rules (in this run, an earlier one or the cycle), waiting for a
        retry, or planned for later, by rule."""
        now = self.clock()
        after = now if self.until is None else min(now, self.until)
        for rule, retry, n, due in store.held(self.engine, portfolio=self.pid, after=after):
            report.hold("held", "retry" if retry else rule, n, due)

    def reconcile(self, report: Report) -> None:
        """Rows a dead worker left behind: ``claimed`` back to the queue; ``sending`` resent
        only where the provider deduplicates, else failed (outcome unknown). Leases are judged
        on the real clock (``lease_clock``)."""
        now = self.clock()
        real, lease = self.lease_clock(), self.options.lease_seconds
        report.add(
            "released",
            store.release_expired_claims(self.engine, portfolio=self.pid, now=real, lease=lease),
        )
        for row in store.stale_sending(self.engine, portfolio=self.pid, now=real, lease=lease):
            dedup = row.channel in SENDABLE and getattr(self.adapter(row.channel), "dedup", False)
            change: dict[str, Any] = (
                {
                    "payload": {"resend": True, "why": "the provider deduplicates the resend"},
                    "status": "queued",
                    "next_attempt_at": now,
                    "claimed_by": None,
                    "claimed_at": None,
                }
                if dedup
                else {
                    "payload": {"resend": False, "why": "outcome unknown after a crash"},
                    "status": "failed",
                    "last_error": "outcome unknown: the worker stopped during the provider "
                    "call; not resent (no provider deduplication)",
                }
            )
            with self.transaction() as conn:
                ok = store.transition(
                    conn,
                    row,
                    expect="sending",
                    event="reconciled",
                    at=now,
                    actor=self.actor,
                    **change,
                )
            if ok:
                report.add("reconciled")

    def process(
        self, batch: list[store.OutboxRow], report: Report, stop: Callable[[], bool]
    ) -> None:
        """Judge, render and send a claimed batch. Each message takes one transaction: its
        ``sending`` is committed together with what the messages before it left to record
        (the previous one's ``sent``, the batch's ``blocked`` and ``deferred``), and the batch's
        last records are committed at its end, before the next claim and before the rules read
        what was sent."""
        now = self.clock()
        recheck()  # the template files are looked at for edits once a batch
        recipients = store.read_recipients(
            self.reader, sorted({r.debtor_id for r in batch}), self.today or now.date()
        )
        self.in_batch = True
        try:
            self._judge_and_send(batch, recipients, report, stop)
        finally:
            self.in_batch = False
            self.flush()

    def _judge_and_send(
        self,
        rows: list[store.OutboxRow],
        recipients: dict[int, dict[str, Any]],
        report: Report,
        stop: Callable[[], bool],
    ) -> None:
        """The contact rules on ``rows``, then every message rendered (``prepare``), then
        sent one after the other (``send``); rows whose verdicts are too old by the time they
        would leave (a slow provider, a rate limit) are judged again, now. Rendering the batch
        before sending it keeps a message's window between the provider's answer and the
        commit of its ``sent`` as short as before: no rendering in it."""
        paced_id: int | None = None  # the row that has had its turn at the rate limit
        while rows:
            now = self.clock()
            verdicts = self.verdicts(rows, recipients, now)
            self.fresh_until = now + timedelta(seconds=self.options.verdict_seconds)
            ready: list[tuple[store.OutboxRow, store.OutboxRow, Message]] = []
            for i, row in enumerate(rows):
                if stop():
                    self.give_back([*(r for r, _, _ in ready), *rows[i:]])
                    return
                try:
                    found = self.prepare(
                        row, recipients.get(row.debtor_id), verdicts.get(row.id), report
                    )
                except Exception as exc:  # one message never stops the worker
                    error = f"unexpected error: {type(exc).__name__}: {exc}"
                    self._final(row, "failed", error, report, at=self.clock(), actor=self.actor)
                    continue
                if found is not None:
                    ready.append((row, *found))
            rows = []
            for j, (claimed, row, message) in enumerate(ready):
                if stop():
                    self.give_back([r for r, _, _ in ready[j:]])
                    return
                try:
                    fresh = self.send(row, message, report, paced=claimed.id == paced_id)
                except Exception as exc:  # one message never stops the worker
                    error = f"unexpected error: {type(exc).__name__}: {exc}"
                    self._final(row, "failed", error, report, at=self.clock(), actor=self.actor)
                    fresh = True
                if not fresh:  # the verdicts are too old: judge the rest again, now
                    rows = [r for r, _, _ in ready[j:]]
                    paced_id = claimed.id  # it has had its turn at the rate limit
                    self.flush()  # the rules count what was sent
                    break

    # the transactions -------------------------------------------------------------------------

    def later(self, write: Callable[[Connection], Any]) -> None:
        """Record ``write`` in the next transaction (:meth:`transaction`; :meth:`flush`)."""
        self.pending.append(write)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A transaction that first records what waits (:meth:`later`): one ``BEGIN`` (on
        SQLite, the write lock) a message instead of one a record. If it fails, what waited
        still waits (it was rolled back with it)."""
        waiting, self.pending = self.pending, []
        try:
            with self.engine.begin() as conn:
                for write in waiting:
                    write(conn)
                yield conn
        except BaseException:
            self.pending = waiting + self.pending
            raise

    def flush(self) -> None:
        """Commit what waits to be recorded, if anything."""
        if self.pending:
            with self.transaction():
                pass

    def give_back(self, rows: list[store.OutboxRow]) -> None:
        """Claimed rows not handled (a worker stopping): back to the queue."""
        self.flush()
        store.release(self.engine, [r.id for r in rows], self.worker)

    # the contact rules, again -----------------------------------------------------------------

    def verdicts(
        self, batch: list[store.OutboxRow], recipients: dict[int, dict[str, Any]], now: datetime
    ) -> dict[int, dict[str, Any]]:
        """The contact rules on the batch, judged at ``now`` (each debtor's local time now) and
        again, for what they allow, at the end of ``Options.verdict_seconds``: a message is
        allowed only if it is at both ends (the hours' windows are intervals, so at every time
        between), else it takes the later verdict (deferred to the next window). The history
        is what was sent (``store.sent_history``), so the batch does not count itself."""
        data = store.read_guard_input(
            self.reader,
            portfolio=self.pid,
            debtor_ids=[r.debtor_id for r in batch],
            as_of=self.today or now.date(),
            now=now,
        )
        first = self._judge(batch, recipients, data, now)
        allowed = [r for r in batch if first[r.id]["decision"] == "allow"]
        later = now + timedelta(seconds=self.options.verdict_seconds)
        if allowed and later > now:
            second = self._judge(allowed, recipients, data, later)
            for r in allowed:
                if second[r.id]["decision"] != "allow":
                    first[r.id] = second[r.id]
        return first

    def _judge(
        self,
        batch: list[store.OutboxRow],
        recipients: dict[int, dict[str, Any]],
        data: store.GuardInput,
        now: datetime,
    ) -> dict[int, dict[str, Any]]:
        debtors = data.debtors
        local = debtors.select("debtor_id").with_columns(local_now(now, debtors).alias("local"))
        local_by = dict(zip(local["debtor_id"].to_list(), local["local"].to_list(), strict=True))
        rows = []
        for r in batch:
            invoices = (recipients.get(r.debtor_id) or {}).get("invoices", [])
            rows.append(
                {
                    "attempt_id": r.id,
                    "debtor_id": r.debtor_id,
                    "channel": r.channel,
                    "planned_local": local_by.get(r.debtor_id),
                    "priority": 1,
                    "fallback": [c for c in r.params.get("fallback", []) if c != r.channel],
                    "legal_threat": bool(r.params.get("legal_threat", False)),
                    "days_past_due": max((i["days_past_due"] for i in invoices), default=0),
                    "validation_notice": bool(r.params.get("validation_notice", False)),
                }
            )
        attempts = pl.DataFrame(rows, schema=ATTEMPT_SCHEMA)
        decided = guard(attempts, debtors, data.consents, data.history, self.packs)
        # a dispute opened since the message was queued pauses collection (the policy's
        # disputes.pause): of the whole case, or of the disputed invoices only, which are left
        # out of the message (store.read_recipients); a debtor owing nothing else waits
        held = data.disputed if self.dispute_pause == "case" else data.wholly_disputed
        paused = pl.col("debtor_id").is_in(pl.Series(held, dtype=pl.Int64).implode())
        decided = decided.with_columns(
            pl.when(paused).then(pl.lit("block")).otherwise("decision").alias("decision"),
            pl.when(paused).then(None).otherwise("send_at").alias("send_at"),
            pl.when(paused)
            .then(pl.format("{}.dispute", pl.col("pack")))
            .otherwise("rule")
            .alias("rule"),
            pl.when(paused)
            .then(pl.lit("An invoice is disputed: collection waits until it is resolved."))
            .otherwise("reason")
            .alias("reason"),
        )
        return {d["attempt_id"]: d for d in decided.iter_rows(named=True)}

    # one message ------------------------------------------------------------------------------

    def prepare(
        self,
        row: store.OutboxRow,
        who: dict[str, Any] | None,
        verdict: dict[str, Any] | None,
        report: Report,
    ) -> tuple[store.OutboxRow, Message] | None:
        """Block, defer or render one message by its verdict: the row (on the channel the
        rules chose) and its message to :meth:`send`, or None when it is done with (blocked or
        deferred: recorded in the next transaction, :meth:`later`; failed)."""
        now = self.clock()
        log: dict[str, Any] = {"at": now, "actor": self.actor}
        if who is None or verdict is None:
            self._final(row, "failed", "the debtor is gone", report, **log)
            return None
        if verdict["decision"] == "block":
            self.later(
                functools.partial(
                    store.transition,
                    row=row,
                    expect="claimed",
                    event="blocked",
                    payload={"rule": verdict["rule"], "reason": verdict["reason"]},
                    status="blocked",
                    rule=verdict["rule"],
                    claimed_by=None,
                    **log,
                )
            )
            report.add("blocked")
            report.hold("blocked", verdict["rule"] or "")
            return None
        send_at = _utc(verdict["send_at"])
        if send_at is not None and send_at > now + timedelta(seconds=1):
            self.later(
                functools.partial(
                    store.transition,
                    row=row,
                    expect="claimed",
                    event="deferred",
                    unique=False,
                    payload={"rule": verdict["rule"], "send_at": send_at.isoformat()},
                    status="queued",
                    rule=verdict["rule"],
                    send_at=send_at,
                    next_attempt_at=send_at,
                    claimed_by=None,
                    claimed_at=None,
                    **log,
                )
            )
            report.add("deferred")
            return None
        channel = verdict["channel"] or row.channel
        if channel != row.channel:  # the rules moved it to a fallback channel
            row = self._switch(row, channel)
        try:
            pack = self.packs.get(verdict["pack"] or "")
            message = self.message(row, who, self.today or now.date(), pack)
        except (TemplateMissing, TemplateBroken, LookupError) as exc:
            self._final(row, "failed", f"cannot render: {exc}", report, **log)
            return None
        return row, message

    def send(
        self, row: store.OutboxRow, message: Message, report: Report, *, paced: bool = False
    ) -> bool:
        """Send one rendered message: ``sending`` committed (with what waited to be recorded)
        before the provider call, ``sent`` recorded after it (in the next transaction: the
        next message's, or the batch's last). False (nothing done, the row still claimed) when
        the batch's verdicts are too old by the time it would leave. ``paced``: its rate-limit
        token is already taken."""
        attempt = row.attempts + 1
        if not paced:
            if self.bucket(row.channel) is not None:
                self.flush()  # a wait for the rate limit never holds a message's record
            self.pace(row.channel)
        now = self.clock()  # the time it leaves: the verdicts must still hold
        if self.fresh_until is not None and now > self.fresh_until:
            return False
        log: dict[str, Any] = {"at": now, "actor": self.actor}
        with self.transaction() as conn:  # recorded before the provider call
            if not store.transition(
                conn,
                row,
                expect="claimed",
                event="sending",
                payload={
                    "attempt": attempt,
                    "to": message.to,
                    "id": message.idempotency_key,
                    **message.extra,  # the template and language the text is in
                },
                status="sending",
                attempts=attempt,
                channel=row.channel,
                claimed_at=self.lease_clock(),
                **log,
            ):
                return True  # someone else took it
        row = _with(row, attempts=attempt, status="sending")
        try:
            ref = self.adapter(row.channel).send(message)
        except TemporaryFailure as exc:
            self._temporary(row, str(exc), report)
        except PermanentFailure as exc:
            self._permanent(row, message.to, str(exc), report)
        except Exception as exc:  # a bug or a bad address: this message only
            error = f"unexpected error: {type(exc).__name__}: {exc}"
            self._final(row, "failed", error, report, at=self.clock(), actor=self.actor)
        else:
            left = self.clock()  # the provider has it: the real time it was sent
            self.later(  # ... recorded with the next message's sending, or at the batch's end
                functools.partial(
                    store.transition,
                    row=row,
                    expect="sending",
                    event="sent",
                    at=left,
                    actor=self.actor,
                    payload={"attempt": attempt, "provider_ref": ref},
                    status="sent",
                    sent_at=left,
                    provider_ref=ref,
                    last_error=None,
                )
            )
            report.add("sent")
        return True

    def _switch(self, row: store.OutboxRow, channel: str) -> store.OutboxRow:
        return _with(row, channel=channel)

    def _final(
        self, row: store.OutboxRow, status: str, error: str, report: Report, **log: Any
    ) -> None:
        with self.transaction() as conn:
            store.transition(
                conn,
                row,
                expect=("claimed", "sending"),
                event=status,
                payload={"attempt": row.attempts, "error": error},
                status=status,
                last_error=error,
                **log,
            )
        report.add(status)
        if status == "failed":
            report.hold("failed", "")

    def _temporary(self, row: store.OutboxRow, error: str, report: Report) -> None:
        now = self.clock()
        if row.attempts >= self.options.max_attempts:
            self._final(
                row,
                "failed",
                f"gave up after {row.attempts} attempts: {error}",
                report,
                at=now,
                actor=self.actor,
            )
            return
        when = now + backoff(row.attempts, self.options, self.rng)
        with self.transaction() as conn:
            store.transition(
                conn,
                row,
                expect="sending",
                event="retry",
                at=now,
                actor=self.actor,
                payload={"attempt": row.attempts, "error": error, "next": when.isoformat()},
                status="queued",
                rule=None,
                next_attempt_at=when,
                last_error=error,
                claimed_by=None,
                claimed_at=None,
            )
        report.add("retry")

    def _permanent(self, row: store.OutboxRow, to: str, error: str, report: Report) -> None:
        now = self.clock()
        chain = [row.params.get("channel") or row.channel, *row.params.get("fallback", [])]
        later = chain[chain.index(row.channel) + 1 :] if row.channel in chain else []
        with self.transaction() as conn:
            store.mark_contact_point_bad(conn, row.debtor_id, POINT_KIND[row.channel], to)
            store.log(
                conn,
                row,
                event="bounced",
                at=now,
                actor=self.actor,
                payload={"attempt": row.attempts, "error": error, "to": to},
            )
            if later:
                store.transition(
                    conn,
                    row,
                    expect="sending",
                    event="fallback",
                    at=now,
                    actor=self.actor,
                    payload={"attempt": row.attempts, "from": row.channel, "to": later[0]},
                    status="queued",
                    channel=later[0],
                    rule=None,
                    next_attempt_at=now,
                    last_error=error,
                    claimed_by=None,
                    claimed_at=None,
                )
                report.add("fallback")
                return
            store.transition(
                conn,
                row,
                expect="sending",
                event="failed",
                at=now,
                actor=self.actor,
                payload={"attempt": row.attempts, "error": error, "permanent": True},
                status="failed",
                last_error=error,
            )
        report.add("failed")
        report.hold("failed", "")

    # rendering --------------------------------------------------------------------------------

    def variables(self, row: store.OutboxRow, who: dict[str, Any], today: date) -> dict[str, Any]:
        s = self.settings
        invoices = who["invoices"]
        totals: dict[str, dict[str, Any]] = {}
        for inv in invoices:
            t = totals.setdefault(
                inv["currency"], {"currency": inv["currency"], "open": 0, "overdue": 0}
            )
            t["open"] += inv["open"]
            if inv["days_past_due"] > 0:
                t["overdue"] += inv["open"]
        offer_keys = (
            "instalments",
            "min_instalment",
            "annual_interest",
            "max_discount",
            "expires_after_days",
        )
        offer = {k: row.params[k] for k in offer_keys if k in row.params} or None
        if offer and offer.get("instalments") and offer.get("min_instalment") and totals:
            offer["instalments"] = _offered_instalments(offer, list(totals.values()))
        debtor = {k: who[k] for k in ("id", "name", "kind", "country", "language", "currency")}
        debtor.update({k: who["points"].get(k, "") for k in ("email", "phone", "postal")})
        return {
            "debtor": debtor,
            "invoices": invoices,
            "totals": sorted(totals.values(), key=lambda t: str(t["currency"])),
            "days_past_due": max((i["days_past_due"] for i in invoices), default=0),
            "offer": offer,
            "payment_link": payment_url(s, who["id"]),
            "opt_out_link": opt_out_url(
                s.get("channels.opt_out_url") or "https://example.com/opt-out",
                s.get("channels.secret"),
                who["id"],
                row.channel,
            ),
            "collector": {
                "name": s.get("channels.collector_name"),
                "email": s.get("channels.from_email"),
                "phone": s.get("channels.collector_phone"),
            },
            "creditor": {"name": s.get("channels.creditor_name")},
            "today": today,
            "channel": row.channel,
            "earlier_contacts": who.get("earlier_contacts", 0),
        }

    def message(
        self, row: store.OutboxRow, who: dict[str, Any], today: date, pack: Pack | None = None
    ) -> Message:
        """The rendered message of ``row`` for the debtor ``who``, with the notices the
        debtor's contact-rule ``pack`` requires (:func:`arrears.channels.notices.with_notices`):
        added here, whatever the template says, on the message and on its statement."""
        if not row.template:
            raise TemplateMissing("the message names no template")
        variables = self.variables(row, who, today)
        rendered = render(
            self.roots, row.template, who["language"], who["country"], variables,
            portfolio_language=self.settings.get("locale"), recheck_files=not self.in_batch,
        )  # fmt: skip
        message = Message(
            key=row.key,
            idempotency_key=idempotency_key(row.key),
            channel=row.channel,
            to=who["points"].get(POINT_KIND.get(row.channel, ""), ""),
            debtor=who["id"],
            debtor_name=safe_line(who["name"]),
            language=who["language"],
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html if row.channel == "email" else None,
            opt_out_url=variables["opt_out_link"],
            extra={"template": rendered.template, "language": rendered.language}
            | ({"fallback_from": rendered.wanted} if rendered.fallback else {}),
            account=Account(who["id"], today, tuple(who["invoices"]), who["country"] or "")
            if row.channel == "letter"
            else None,
        )
        if row.channel == "whatsapp":
            message = self.whatsapp(message, row, who, variables)
        if self.attaches_statement(row.channel, variables["days_past_due"]):
            statement = self.statement(message, who, today, pack)
            message = replace(message, attachments=(statement,))
        return with_notices(message, pack)

    def whatsapp(
        self, message: Message, row: store.OutboxRow, who: dict[str, Any], variables: dict[str, Any]
    ) -> Message:
        """A WhatsApp message names the approved template configured for its template
        (``whatsapp.templates.<template>``) and its parameters for the debtor
        (:mod:`arrears.channels.whatsapp`). Without one, its rendered text goes as free text
        only within :data:`WHATSAPP_SESSION` after the debtor last wrote to us on WhatsApp (the
        customer service window, when WhatsApp allows it); otherwise to the file sink only: a
        provider would refuse free text a business starts (``LookupError``: failed, saying
        which setting to add)."""
        found = approved(self.settings, row.template or "")
        if found is None:
            wrote = who.get("whatsapp_replied_at")
            if wrote is not None and wrote <= self.clock() < wrote + WHATSAPP_SESSION:
                return replace(message, extra=message.extra | {"whatsapp_session": "free text"})
            if (self.settings.get("channels.whatsapp") or "file") != "file":
                raise LookupError(
                    f"no approved WhatsApp template for {row.template!r} "
                    f"(whatsapp.templates.{row.template} in arrears.toml; free text only "
                    "within 24 hours after the debtor wrote)"
                )
            return message
        params = render_params(found, variables, who["language"], who["country"])
        return replace(message, extra=message.extra | extra(found, params))

    def attaches_statement(self, channel: str, days_past_due: int) -> bool:
        """``channels.attach_statement``: ``overdue`` (default: dunning emails, the debtor has
        an invoice past due), ``always`` or ``never``; emails only."""
        when = self.settings.get("channels.attach_statement") or "overdue"
        if channel != "email" or when == "never":
            return False
        return when == "always" or days_past_due > 0

    def statement(
        self, message: Message, who: dict[str, Any], today: date, pack: Pack | None = None
    ) -> Attachment:
        """The statement of account as a PDF (:func:`letter_pdf`): the creditor's letterhead,
        the debtor's postal address, the table of open invoices with their days past due and
        the totals overdue and not yet due, how to pay, and the letter notice of the debtor's
        ``pack``. Not the email's text: its opt-out line has no place on paper."""
        letter = replace(
            message,
            channel="letter",
            to=who["points"].get("postal", ""),
            subject=labels(message.language)["statement"],
            text="",
            html=None,
            account=Account(who["id"], today, tuple(who["invoices"]), who["country"] or ""),
        )
        letter = with_notices(letter, pack)
        return Attachment(
            filename=f"statement-{today.isoformat()}.pdf",
            content=letter_pdf(letter, self.settings, today),
            mime="application/pdf",
        )


def _guard_reader(engine: Engine) -> Engine:
    """The engine the guard's read at send time goes through. On a SQLite file: Python's own
    sqlite3, never ADBC. ADBC links a second copy of SQLite; when a process has the file open
    through both copies, closing one copy's descriptors drops the POSIX locks the other holds
    (sqlite.org/howtocorrupt.html, 2.2.1). Another process that closes its last connection then
    believes the WAL unused, checkpoints and deletes it while this worker's connection still
    writes to it: the worker's later commits (``sent``, ``sending``) are lost, and a process
    that maps the truncated shared memory dies of SIGBUS. Both seen with four workers and in
    tests/test_channels_crash.py. (``read_cycle_input`` falls back to one SQLAlchemy
    connection for an engine without a file name.)"""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return engine
    path = Path(url.database).resolve()

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(
            f"{path.as_uri()}?mode=ro", uri=True, timeout=30, check_same_thread=False
        )
        conn.isolation_level = None  # reads only, each in its own implicit transaction
        return conn

    return create_engine("sqlite://", creator=connect)


def _with(row: store.OutboxRow, **changes: Any) -> store.OutboxRow:
    return replace(row, **changes)


def _offered_instalments(offer: dict[str, Any], totals: list[dict[str, Any]]) -> int | None:
    """The instalments a cycle's plan offer names: the step's count, fewer where each would fall
    below the step's ``min_instalment`` (major units of the debt's currency, here the currency
    with the largest open total), the rule of :func:`arrears.domain.agreements.default_instalments`;
    ``None`` when not even two instalments reach the minimum (the text then names no count)."""
    total = max(totals, key=lambda t: (t["open"], str(t["currency"])))
    try:
        minimum = int(Decimal(str(offer["min_instalment"])) * 10 ** exponent(total["currency"]))
    except (ArithmeticError, ValueError, MoneyError):
        return int(offer["instalments"])
    count = int(offer["instalments"])
    if minimum > 0:
        count = max(1, min(count, int(total["open"]) // minimum))
    return count if count > 1 else None
