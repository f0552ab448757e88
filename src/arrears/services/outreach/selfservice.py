"""The debtor's own page (docs/web.md): what a debtor reaches from the signed link in a message,
acting as ``debtor:ID`` (:func:`arrears.domain.actor.debtor`) on their own account only.

- :func:`debtor_account`: what is owed, per open instalment, with its days past due and whether
  it is disputed, the totals per currency and the debtor's open promises;
- :func:`statement_pdf`: the statement of account, the letter renderer's PDF (the same one the
  dispatcher attaches to emails);
- :func:`dispute_invoice`: the debtor disputes an invoice in their own words: a dispute opens
  on it (:mod:`arrears.services.arrangements.disputes`, reason ``other``, the words as its note),
  which a
  collector resolves. A collector (the work permission) may record one too.

Promising a date is :func:`arrears.services.casework.collection.add_promise` and opting out
:func:`arrears.services.outreach.messages.opt_out`, both called with the debtor's actor.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar

from sqlalchemy import select

from arrears.channels.base import Account, ChannelSettings, Message
from arrears.channels.letter import labels, letter_pdf
from arrears.domain.activity import Activity
from arrears.domain.actor import Actor, Permission, Role
from arrears.domain.disputes import ATTACHMENT_MAX_BYTES, Reason
from arrears.domain.errors import NotAllowed, NotFound
from arrears.domain.problems import Problem, ProblemsFound, printable
from arrears.services.arrangements import disputes
from arrears.services.casework import accounts, collection
from arrears.services.ports import PromiseView
from arrears.services.uow import SqlUnitOfWork
from arrears.store.disputes import records as dispute_records
from arrears.store.messages.outbox import read_recipients
from arrears.store.portfolios import portfolio_id
from arrears.store.schema import invoice

MAX_REASON = 2000


class InvoiceDisputed(Activity):
    """The record of a debtor's dispute before disputes were a workflow (earlier releases'
    logs); a dispute is now ``dispute.opened`` (:mod:`arrears.domain.disputes`)."""

    kind: ClassVar[str] = "invoice.disputed"


@dataclass(frozen=True, slots=True)
class Owed:
    """What the debtor owes in one currency: ``overdue`` of ``open``."""

    currency: str
    overdue: Decimal
    open: Decimal


@dataclass(frozen=True, slots=True)
class DebtorAccount:
    external_id: str
    name: str
    language: str
    country: str
    currency: str
    invoices: list[accounts.InvoiceLine]
    owed: list[Owed]
    promises: list[PromiseView]  # open ones, newest first


@dataclass(frozen=True, slots=True)
class Disputed:
    invoice: str
    changed: bool  # False: the invoice was disputed before
    attachment: disputes.AttachmentView | None = None


def _own(actor: Actor, debtor: str, doing: str) -> None:
    """A debtor acts on their own account only; anyone else needs ``permission``."""
    if actor.role is not Role.DEBTOR:
        raise NotAllowed(f"{actor.name} ({actor.role}) may not {doing}: debtors only")
    actor.require(Permission.SELF_SERVICE, doing)
    if actor.name != f"debtor:{debtor}":
        raise NotAllowed(f"{actor.name} may not {doing} of another debtor")


def debtor_account(
    uow: SqlUnitOfWork, actor: Actor, *, portfolio: str, debtor: str, as_of: date
) -> DebtorAccount:
    """The debtor's own account on ``as_of`` (:class:`NotFound` for an unknown debtor)."""
    _own(actor, debtor, "read the account")
    reader = Actor(actor.name, Role.AUDITOR)  # the read models below need only to read
    summary = accounts.debtor_summary(uow, reader, portfolio=portfolio, debtor=debtor)
    lines = accounts.open_invoices(uow, reader, portfolio=portfolio, debtor=debtor, as_of=as_of)
    owed: dict[str, list[Decimal]] = {}
    for line in lines:
        sums = owed.setdefault(line.currency, [Decimal(0), Decimal(0)])
        sums[1] += line.open
        if line.days_past_due > 0:
            sums[0] += line.open
    promises = collection.list_promises(uow, reader, portfolio=portfolio, debtor=debtor)
    return DebtorAccount(
        summary.external_id,
        summary.name,
        summary.language,
        summary.country,
        summary.currency,
        lines,
        [Owed(c, s[0], s[1]) for c, s in sorted(owed.items())],
        [p for p in promises if p.status == "open" and p.outcome is None],
    )


def statement_pdf(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    debtor: str,
    as_of: date,
    settings: ChannelSettings,
) -> bytes:
    """The statement of account of ``debtor`` on ``as_of`` as a PDF, in the debtor's language."""
    _own(actor, debtor, "read the statement")
    with uow:
        found = accounts.debtor_row_id(uow.conn, portfolio, debtor)
    if found is None:
        raise NotFound(printable(f"unknown debtor {debtor!r}"))
    who = read_recipients(uow.engine, [found], as_of)[found]
    language = str(who["language"]).lower()[:2] or "en"
    letter = Message(
        key=f"statement:{debtor}:{as_of}",
        idempotency_key="",
        channel="letter",
        to=who["points"].get("postal", ""),
        debtor=debtor,
        language=language,
        subject=labels(language)["statement"],
        text="",
        debtor_name=str(who["name"]),
    )
    letter = replace(letter, account=Account(debtor, as_of, tuple(who["invoices"])))
    return letter_pdf(letter, settings, as_of)


def dispute_invoice(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    debtor: str,
    invoice_number: str,
    reason: str,
    on: date,
    at: datetime,
    attachment: disputes.NewAttachment | None = None,
    max_attachment_bytes: int = ATTACHMENT_MAX_BYTES,
) -> Disputed:
    """``debtor`` disputes their invoice ``invoice_number`` (its number or external id) in
    their own words (``reason``): a dispute opens on it (reason ``other``, the words as its
    note, due in :data:`arrears.services.arrangements.disputes.RESOLVE_WITHIN_DAYS` days; see
    :mod:`arrears.services.arrangements.disputes`) and the invoice leaves collection until it is
    resolved.
    Disputing it again while that dispute is open changes nothing but the ``attachment``
    (a PDF, JPEG or PNG of at most ``max_attachment_bytes``), added to the open dispute. In one
    transaction: a file refused stores nothing, not even the dispute."""
    if actor.role is Role.DEBTOR:
        _own(actor, debtor, "dispute an invoice")
    else:
        actor.require(Permission.WORK, "record a dispute")
    problems: list[Problem] = []
    source = f"dispute of {debtor}"
    if not reason.strip():
        problems.append(Problem(source, None, "reason", "say why the invoice is disputed"))
    if len(reason) > MAX_REASON:
        problems.append(Problem(source, None, "reason", f"at most {MAX_REASON} characters"))
    if attachment is not None:
        problems += disputes.attachment_problems(attachment, max_attachment_bytes)
    with uow:
        conn = uow.conn
        pid = portfolio_id(conn, portfolio)
        owner = accounts.debtor_row_id(conn, portfolio, debtor)
        if owner is None:
            raise NotFound(printable(f"unknown debtor {debtor!r}"))
        row = conn.execute(
            select(invoice.c.external_id, invoice.c.number, invoice.c.disputed).where(
                invoice.c.portfolio_id == pid,
                invoice.c.debtor_id == owner,
                (invoice.c.number == invoice_number) | (invoice.c.external_id == invoice_number),
            )
        ).first()
        if row is None:
            problems.append(
                Problem(source, None, "invoice", printable(f"no invoice {invoice_number!r}"))
            )
        if problems:
            raise ProblemsFound(problems)
        assert row is not None
        changed = not row.disputed
        if changed:
            dispute_id: int | None = disputes.open_in(
                conn, actor, portfolio=portfolio, invoices=[str(row.external_id)],
                reason=Reason.OTHER, note=reason.strip(), owner=None, due_on=None, on=on, at=at,
                debtor=debtor,
            ).dispute_id  # fmt: skip
        else:
            dispute_id = dispute_records.invoices(conn, pid, [str(row.external_id)])[0][
                "dispute_id"
            ]
        stored = None
        if attachment is not None:
            if dispute_id is None:  # flagged by the ERP's import, no dispute here yet
                raise ProblemsFound.of(
                    source, "this invoice's dispute is handled in the ERP: no file can be added"
                )
            stored = disputes.attach_in(
                conn, actor, int(dispute_id), attachment, max_bytes=max_attachment_bytes, at=at
            )
    return Disputed(str(row.number), changed=changed, attachment=stored)
