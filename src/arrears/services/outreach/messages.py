"""What debtors and providers tell us about the messages: opt-outs, replies, delivery reports,
opens and clicks (docs/web.md, docs/channels.md).

One use case each, called by every front end that can receive it: :func:`opt_out` by
``arrears opt-out`` (a followed link typed in), the web's opt-out page and one-click POST, and
STOP replies (``arrears inbound``, the providers' inbound webhooks, through
:func:`receive_reply`). Each runs in one transaction of its unit of work, writes its activity
record there naming who did it, and is idempotent: asking again changes and records nothing.

Who the record names: the actor, except for a reply relayed by a provider (a ``system`` actor),
which is the debtor's own act and names the debtor (``debtor:<id>``) of each contact point that
has the number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from arrears.channels.http import is_opt_out
from arrears.domain.actor import Actor, Permission, Role
from arrears.domain.actor import debtor as debtor_actor
from arrears.domain.errors import InvalidInput, NotAllowed
from arrears.domain.ledger import Channel
from arrears.services.uow import SqlUnitOfWork
from arrears.store.messages import deliveries
from arrears.store.portfolios import portfolio_id

#: Delivery statuses recorded (``message.<status>``); a provider's others are acknowledged only.
DELIVERY_STATUSES = deliveries.DELIVERY_STATUSES


@dataclass(frozen=True, slots=True)
class OptedOut:
    """``found``: the debtor (or the number) has contact points of the channel's kind;
    ``recorded``: something new was written (False when asked again); ``changed``: how many
    contact points' consent changed."""

    found: bool
    recorded: bool
    changed: int


@dataclass(frozen=True, slots=True)
class Reply:
    """What an inbound reply was: an opt-out or not; ``known``: a debtor has the number;
    ``recorded``: something new was written (False on a provider's retry)."""

    opt_out: bool
    known: bool
    recorded: bool


@dataclass(frozen=True, slots=True)
class Recorded:
    """``found``: the message is ours; ``recorded``: something new was written (False on a
    replay); ``contact_point_bad``: a permanent failure marked the address bad."""

    found: bool
    recorded: bool = False
    contact_point_bad: bool = False


def _channel(channel: str) -> str:
    try:
        return str(Channel(channel.strip().lower()))
    except ValueError:
        names = ", ".join(c.value for c in Channel)
        raise InvalidInput(f"channel {channel!r}: one of {names}") from None


def _may_act_for(actor: Actor, debtor: str | None, doing: str) -> None:
    """A debtor acts on their own account only; anyone else needs to work accounts."""
    if actor.role is Role.DEBTOR:
        actor.require(Permission.SELF_SERVICE, doing)
        if debtor is None or actor != debtor_actor(debtor):
            raise NotAllowed(f"{actor.name} may not {doing} for another debtor")
        return
    actor.require(Permission.WORK, doing)


def _recorder(actor: Actor, debtor: str, *, relayed: bool) -> str:
    """Whom the activity record names: the debtor for what a provider relayed, else the actor."""
    return debtor_actor(debtor).name if relayed and actor.role is Role.SYSTEM else actor.name


def opt_out(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    channel: str,
    at: datetime,
    source: str,
    debtor: str | None = None,
    number: str | None = None,
    ref: str = "",
) -> OptedOut:
    """The debtor ``debtor`` (external id), or whoever has the contact point ``number`` (a
    reply's sender), opts out of ``channel``: consent ``denied`` on the matching contact points
    and one ``message.opted_out`` per debtor whose consent changed, once per provider message
    ``ref``. Asking again changes and records nothing."""
    if (debtor is None) == (number is None):
        raise InvalidInput("an opt-out names the debtor or the number, one of them")
    channel = _channel(channel)
    if number is None:
        _may_act_for(actor, debtor, "opt out")
    else:
        actor.require(Permission.WORK, "record a reply")
    with uow:
        pid = portfolio_id(uow.conn, portfolio)
        found = deliveries.points(
            uow.conn, portfolio=pid, channel=channel, debtor_external_id=debtor, value=number
        )
        changed = [
            p
            for p in found
            if deliveries.deny_consent(uow.conn, p, channel=channel, at=at, source=source)
        ]
        debtors = {p.debtor_id: p.debtor for p in changed}
        for debtor_id, external_id in sorted(debtors.items()):
            deliveries.log_opt_out(
                uow.conn, portfolio=pid, debtor_id=debtor_id, channel=channel, at=at,
                actor=_recorder(actor, external_id, relayed=number is not None),
                source=source, ref=ref,
            )  # fmt: skip
    return OptedOut(found=bool(found), recorded=bool(debtors), changed=len(changed))


def receive_reply(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    channel: str,
    sender: str,
    text: str,
    ref: str,
    at: datetime,
) -> Reply:
    """An SMS or WhatsApp reply from ``sender`` relayed by ``actor``: STOP, BAJA and the like
    are an :func:`opt_out` of every contact point with the number; anything else is
    ``message.replied`` on each debtor with it, once per provider message id ``ref``."""
    if is_opt_out(text):
        done = opt_out(
            uow, actor, portfolio=portfolio, channel=channel, at=at,
            source=f"inbound {channel} reply", number=sender, ref=ref,
        )  # fmt: skip
        return Reply(opt_out=True, known=done.found, recorded=done.recorded)
    channel = _channel(channel)
    actor.require(Permission.WORK, "record a reply")
    new = False
    with uow:
        pid = portfolio_id(uow.conn, portfolio)
        found = deliveries.points(uow.conn, portfolio=pid, channel=channel, value=sender)
        for point in {p.debtor_id: p for p in found}.values():
            new |= deliveries.log_reply(
                uow.conn, point, portfolio=pid, channel=channel, value=sender, text=text,
                ref=ref, at=at, actor=_recorder(actor, point.debtor, relayed=True),
            )  # fmt: skip
    return Reply(opt_out=False, known=bool(found), recorded=new)


def record_delivery(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    provider_ref: str,
    status: str,
    at: datetime,
    provider: str,
    permanent: bool = False,
    error: str = "",
) -> Recorded:
    """A provider's delivery report for the message it knows as ``provider_ref``:
    ``message.delivered|undelivered|failed`` once per message and status; a permanent failure
    also marks the contact point the message went to bad (the guard then skips it)."""
    if status not in DELIVERY_STATUSES:
        raise InvalidInput(f"status {status!r}: one of {', '.join(DELIVERY_STATUSES)}")
    actor.require(Permission.WORK, "record a delivery report")
    with uow:
        done = deliveries.record_delivery(
            uow.conn, portfolio=portfolio_id(uow.conn, portfolio), provider_ref=provider_ref,
            status=status, at=at, actor=actor.name, provider=provider, permanent=permanent,
            error=error,
        )  # fmt: skip
    return Recorded(done.found, done.recorded, done.changed > 0)


def record_tracking(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    key: str,
    event: str,
    at: datetime,
    url: str | None = None,
) -> Recorded:
    """The email with outbox key ``key`` was ``opened`` (its pixel) or a link in it
    ``clicked``: ``message.opened`` once per message, ``message.clicked`` once per message
    and link (a click also records the open when the pixel was blocked)."""
    if event not in ("opened", "clicked"):
        raise InvalidInput(f"event {event!r}: opened or clicked")
    actor.require(Permission.WORK, "record an open or a click")
    with uow:
        done = deliveries.record_tracking(
            uow.conn, portfolio=portfolio_id(uow.conn, portfolio), key=key, event=event, at=at,
            actor=actor.name, url=url,
        )  # fmt: skip
    return Recorded(done.found, done.recorded)


def debtor_language(uow: SqlUnitOfWork, actor: Actor, *, portfolio: str, debtor: str) -> str | None:
    """The language of the debtor ``debtor`` (external id), ``None`` when there is no such
    debtor: what the opt-out page speaks."""
    _may_act_for(actor, debtor, "read the account's language")
    with uow:
        return deliveries.debtor_language(
            uow.conn, portfolio=portfolio_id(uow.conn, portfolio), external_id=debtor
        )


def check_portfolio(uow: SqlUnitOfWork, portfolio: str) -> None:
    """Raise :class:`arrears.domain.errors.NotFound` unless the portfolio exists."""
    with uow:
        portfolio_id(uow.conn, portfolio)
