"""Sending the outbox (docs/channels.md): ``arrears dispatch`` (what is due, once), ``arrears
worker`` (until told to stop) and ``arrears template render`` (a message previewed).

The loop itself is :class:`arrears.channels.dispatch.Dispatcher`, which commits each message's
transitions and their activity records one by one (at most once, see its docstring): a batch is
never one transaction. These use cases check the actor, build the dispatcher for a portfolio,
run it, close its adapters, and answer in the errors of :mod:`arrears.domain.errors`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import polars as pl

from arrears.channels.base import ChannelSettings, Message
from arrears.channels.dispatch import Dispatcher, Options, Report
from arrears.channels.templates import base_language, find_template
from arrears.contact.model import Pack
from arrears.contact.packs import pack_for
from arrears.domain.actor import Actor, Permission
from arrears.domain.errors import ArrearsError, InvalidInput, NotFound
from arrears.services.uow import SqlUnitOfWork
from arrears.store.messages.outbox import OutboxRow, languages_of, read_recipients, recipient
from arrears.store.portfolios import portfolio_id


@dataclass(frozen=True, slots=True)
class Sending:
    """What a dispatch needs besides the store: the portfolio, its contact-rule packs, the
    channels' settings and template folders, the loop's options, and its clocks (``clock``:
    the time a message leaves; ``until``: claim only what is due by then; ``today``: the day
    days past due are counted on)."""

    portfolio: str
    packs: dict[str, Pack]
    settings: ChannelSettings
    template_roots: list[Path]
    options: Options
    clock: Callable[[], datetime]
    until: datetime | None = None
    today: date | None = None
    #: the policy's ``disputes.pause``: ``invoices`` or ``case`` (Dispatcher)
    dispute_pause: str = "invoices"


def _dispatcher(uow: SqlUnitOfWork, actor: Actor, sending: Sending) -> Dispatcher:
    actor.require(Permission.ADMINISTER, "send messages")
    try:
        dispatcher = Dispatcher(
            uow.engine,
            sending.settings,
            portfolio=sending.portfolio,
            packs=sending.packs,
            template_roots=sending.template_roots,
            options=sending.options,
            actor=actor.name,
            clock=sending.clock,
            until=sending.until,
            dispute_pause=sending.dispute_pause,
        )
    except ArrearsError:
        raise  # no channels.secret (Unavailable), ...
    except LookupError as exc:  # an unknown portfolio or adapter
        raise NotFound(str(exc)) from None
    except ValueError as exc:  # a rate setting that is not a number
        raise InvalidInput(str(exc)) from None
    dispatcher.today = sending.today
    return dispatcher


def dispatch(uow: SqlUnitOfWork, actor: Actor, sending: Sending) -> Report:
    """Send every message due now, then count what was not sent and why (held for later by a
    contact rule, blocked, failed), by rule."""
    dispatcher = _dispatcher(uow, actor, sending)
    try:
        report = dispatcher.run()
        dispatcher.held(report)
    finally:
        dispatcher.close()
    return report


def work(
    uow: SqlUnitOfWork,
    actor: Actor,
    sending: Sending,
    *,
    poll_seconds: float,
    stopping: Callable[[], bool],
    started: Callable[[str], None] = lambda worker: None,
    reported: Callable[[Report], None] = lambda report: None,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    also: Callable[[], None] = lambda: None,
) -> None:
    """Keep sending due messages, polling every ``poll_seconds``, until ``stopping()``: the
    message in hand is finished and the rest of its batch given back. ``started`` is told the
    worker's name; ``reported``, each pass that did something; ``also`` runs after each pass
    (the webhooks' deliveries)."""
    dispatcher = _dispatcher(uow, actor, sending)
    started(dispatcher.worker)
    try:
        while not stopping():
            report = dispatcher.run(stopping)
            if sum(report.counts.values()):
                reported(report)
            also()
            deadline = monotonic() + poll_seconds
            while not stopping() and monotonic() < deadline:
                sleep(min(0.2, poll_seconds))
    finally:
        dispatcher.close()


@dataclass(frozen=True, slots=True)
class Preview:
    """A previewed message and the template it came from: ``template`` (``<lang>/<name>.j2``
    in ``folder``), ``language`` (of the text) and ``wanted`` (the debtor's language): a
    fallback when they differ."""

    message: Message
    template: str
    folder: Path
    language: str
    wanted: str

    @property
    def fallback(self) -> bool:
        return self.language != self.wanted


def preview(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    debtor_id: str,
    template: str,
    channel: str,
    settings: ChannelSettings,
    template_roots: list[Path],
    packs: dict[str, Pack],
    today: date,
) -> Preview:
    """The message ``template`` would be for the debtor ``debtor_id`` (external) on ``channel``
    today: in the debtor's language (else the next of the fallback order, said in the
    answer), with the notices of the debtor's contact-rule pack."""
    actor.require(Permission.READ, "preview a message")
    with uow:
        pid = portfolio_id(uow.conn, portfolio)
        row = recipient(uow.conn, portfolio=pid, external_id=debtor_id)
    if row is None:
        raise NotFound(f"no debtor {debtor_id!r} in portfolio {portfolio!r}")
    dispatcher = Dispatcher(
        uow.engine, settings, portfolio=portfolio, packs={}, template_roots=template_roots
    )
    who = read_recipients(uow.engine, [row.id], today)[row.id]
    out = OutboxRow(0, f"preview:{template}", pid, row.id, channel, template, {}, None, 0, "")
    one = pl.DataFrame(
        [{"country": row.country, "kind": row.kind, "region": row.region}],
        schema={"country": pl.String, "kind": pl.String, "region": pl.String},
    )
    message = dispatcher.message(out, who, today, packs.get(pack_for(one, packs)[0]))
    folder, rel = find_template(template_roots, template, who["language"], settings.get("locale"))
    used = rel.split("/")[0]
    wanted = str(who["language"] or "en").replace("-", "_")
    return Preview(
        message=message,
        template=rel,
        folder=folder,
        language=used,
        wanted=wanted if used == wanted else base_language(wanted),
    )


def debtor_languages(uow: SqlUnitOfWork, actor: Actor, *, portfolio: str) -> dict[str, int]:
    """The languages of the portfolio's debtors, with how many debtors speak each (what
    ``arrears template check`` requires templates in)."""
    actor.require(Permission.READ, "read the debtors' languages")
    with uow:
        return languages_of(uow.conn, portfolio=portfolio_id(uow.conn, portfolio))
