"""Disputes as use cases: open, resolve (upheld or rejected), list, show.

A dispute holds one or more invoices of one debtor and currency (``arrears.domain.disputes``
says its states and reasons). Opening it sets the invoices' ``disputed`` flag, so the cycle
takes them out of collection (or pauses the whole case, by the policy's ``disputes.pause``);
resolving it clears the flag. Upheld, a credit note is posted on each invoice (its open amount,
or the part the resolver names) through the ledger's credit-note path; rejected, the invoices
return to collection as they are. Each change checks the actor's role (``WORK``), checks the
request (every problem at once, ``ProblemsFound``), runs in one transaction and writes its
activity record there, naming the actor, with a key made of business ids.

The debtor's own page opens a dispute through :func:`open_in` (``services.outreach.selfservice``);
the
import's ``disputed`` flag maps onto disputes after each invoice import
(:func:`sync_from_erp`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from arrears.domain import disputes as rules
from arrears.domain.activity import Activity
from arrears.domain.actor import Actor, Permission
from arrears.domain.errors import Conflict, NotFound
from arrears.domain.ledger import CreditNote
from arrears.domain.money import Money, MoneyError, to_minor
from arrears.domain.problems import Problem, ProblemsFound, printable
from arrears.services.uow import SqlUnitOfWork
from arrears.store.activity_log import Entry, record
from arrears.store.agreements.records import owner as find_owner
from arrears.store.agreements.records import owner_by_id
from arrears.store.disputes import erp, records
from arrears.store.ledger import cases
from arrears.store.portfolios import UnknownPortfolio, portfolio_id

#: Days to resolve a dispute when the request names no due date.
RESOLVE_WITHIN_DAYS = 14
MAX_NOTE = 2000


@dataclass(frozen=True, slots=True)
class DisputedInvoice:
    invoice: str  # external id
    number: str
    open_minor: int  # when disputed
    open_now_minor: int
    credit_minor: int | None
    credit_note: str | None


@dataclass(frozen=True, slots=True)
class NewAttachment:
    """A file sent with a dispute, as it came (its type is checked by its content)."""

    file_name: str
    content: bytes


@dataclass(frozen=True, slots=True)
class AttachmentView:
    attachment_id: int
    dispute_id: int
    file_name: str
    media_type: str
    size_bytes: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime


@dataclass(frozen=True, slots=True)
class DisputeView:
    dispute_id: int
    debtor: str
    currency: str
    status: str
    reason: str
    note: str | None
    owner: str | None
    due_on: date | None
    opened_on: date
    opened_by: str
    resolved_on: date | None
    resolved_by: str | None
    resolution: str | None
    overdue: bool
    invoices: tuple[DisputedInvoice, ...]
    changed: bool = True
    attachments: tuple[AttachmentView, ...] = ()

    @property
    def disputed_minor(self) -> int:
        return sum(i.open_minor for i in self.invoices)

    @property
    def credited_minor(self) -> int:
        return sum(i.credit_minor or 0 for i in self.invoices)


def _attachment_view(row: Mapping[str, Any]) -> AttachmentView:
    return AttachmentView(
        attachment_id=int(row["id"]),
        dispute_id=int(row["dispute_id"]),
        file_name=str(row["file_name"]),
        media_type=str(row["media_type"]),
        size_bytes=int(row["size_bytes"]),
        sha256=str(row["sha256"]),
        uploaded_by=str(row["uploaded_by"]),
        uploaded_at=row["uploaded_at"],
    )


def _view(
    row: Mapping[str, Any],
    lines: list[dict[str, Any]],
    as_of: date,
    changed: bool = True,
    files: list[dict[str, Any]] | None = None,
) -> DisputeView:
    return DisputeView(
        dispute_id=int(row["id"]),
        debtor=str(row["debtor"]),
        currency=str(row["currency"]),
        status=str(row["status"]),
        reason=str(row["reason"]),
        note=row["note"],
        owner=row["owner"],
        due_on=row["due_on"],
        opened_on=row["opened_on"],
        opened_by=str(row["opened_by"]),
        resolved_on=row["resolved_on"],
        resolved_by=row["resolved_by"],
        resolution=row["resolution"],
        overdue=rules.overdue(str(row["status"]), row["due_on"], as_of),
        invoices=tuple(
            DisputedInvoice(
                invoice=str(x["invoice"]),
                number=str(x["number"]),
                open_minor=int(x["open_minor"]),
                open_now_minor=int(x["open_now_minor"]),
                credit_minor=x["credit_minor"],
                credit_note=x["credit_note"],
            )
            for x in lines
        ),
        changed=changed,
        attachments=tuple(_attachment_view(f) for f in files or ()),
    )


def _pid(conn: Connection, source: str, portfolio: str) -> int:
    try:
        return portfolio_id(conn, portfolio)
    except UnknownPortfolio as exc:
        raise NotFound(printable(f"{source}: {exc}")) from exc


def _log(
    conn: Connection,
    kind: type[Activity],
    row: Mapping[str, Any],
    *,
    portfolio: str,
    actor: str,
    at: datetime,
    payload: dict[str, Any],
    key: str,
) -> None:
    entry = kind(
        occurred_at=at,
        actor=actor,
        portfolio=portfolio,
        debtor=str(row["debtor"]),
        subject_kind="dispute",
        subject_id=str(row["id"]),
        payload=payload,
        idempotency_key=key,
    )
    record(conn, [Entry(entry, int(row["portfolio_id"]), int(row["debtor_id"]))])


# Opening ----------------------------------------------------------------------------------------


def open_dispute(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    invoices: Sequence[str],
    reason: str,
    note: str | None = None,
    owner: str | None = None,
    due_on: date | None = None,
    on: date,
    at: datetime,
) -> DisputeView:
    """Open a dispute on ``invoices`` (external ids or numbers, of one debtor and currency) for
    ``reason`` (:data:`arrears.domain.disputes.CHOSEN_REASONS`), to be resolved by ``owner``
    by ``due_on`` (default: :data:`RESOLVE_WITHIN_DAYS` days after ``on``). The same request
    again (same first invoice and day) changes nothing."""
    actor.require(Permission.WORK, "open a dispute")
    with uow:
        return open_in(
            uow.conn, actor, portfolio=portfolio, invoices=invoices, reason=reason, note=note,
            owner=owner, due_on=due_on, on=on, at=at,
        )  # fmt: skip


def open_in(
    conn: Connection,
    actor: Actor,
    *,
    portfolio: str,
    invoices: Sequence[str],
    reason: str,
    note: str | None,
    owner: str | None,
    due_on: date | None,
    on: date,
    at: datetime,
    debtor: str | None = None,
) -> DisputeView:
    """:func:`open_dispute` on the caller's transaction (the actor's role already checked);
    ``debtor``: the invoices must be this debtor's (a debtor on their own page)."""
    source = "dispute"
    problems: list[str] = []
    wanted = list(dict.fromkeys(i.strip() for i in invoices if i.strip()))
    if not wanted:
        problems.append("name at least one invoice")
    if reason not in rules.CHOSEN_REASONS:
        choices = ", ".join(rules.CHOSEN_REASONS)
        problems.append(printable(f"unknown reason {reason!r}: one of {choices}"))
    if note is not None and len(note) > MAX_NOTE:
        problems.append(f"the note has more than {MAX_NOTE} characters")
    due = due_on or on + timedelta(days=RESOLVE_WITHIN_DAYS)
    if due < on:
        problems.append(f"the due date {due} is before the day the dispute opens ({on})")
    pid = _pid(conn, source, portfolio)
    found = records.invoices(conn, pid, wanted)
    by_name = {r["external_id"]: r for r in found} | {r["number"]: r for r in found}
    rows: list[dict[str, Any]] = []
    for name in wanted:
        row = by_name.get(name)
        if row is None or (debtor is not None and row["debtor"] != debtor):
            problems.append(printable(f"unknown invoice {name!r}"))
        elif row["id"] not in {r["id"] for r in rows}:
            rows.append(row)
    if len({(r["debtor"], r["currency"]) for r in rows}) > 1:
        problems.append("the invoices are of several debtors or currencies: one dispute each")
    if rows and not problems:
        key = _key(portfolio, rows[0], on)
        again = records.by_key(conn, key)
        if again is not None:  # the same request repeated
            return _shown(conn, int(again["id"]), on, changed=False)
    for row in rows:
        if row["dispute_id"] is not None:
            problems.append(
                f"invoice {row['external_id']} is already disputed (dispute {row['dispute_id']})"
            )
        elif row["open_minor"] <= 0:
            problems.append(f"invoice {row['external_id']} is paid: nothing to dispute")
    if problems:
        raise ProblemsFound.of(source, *problems)
    first = rows[0]
    key = _key(portfolio, first, on)
    dispute_id = records.insert_dispute(
        conn,
        {
            "key": key,
            "portfolio_id": pid,
            "debtor_id": first["debtor_id"],
            "currency": first["currency"],
            "status": rules.Status.OPEN,
            "reason": reason,
            "note": (note or "").strip() or None,
            "owner": (owner or "").strip() or None,
            "due_on": due,
            "opened_on": on,
            "opened_by": actor.name,
            "created_at": at,
        },
        [{"invoice_id": r["id"], "open_minor": r["open_minor"]} for r in rows],
    )
    records.flag(conn, [int(r["id"]) for r in rows], on)
    row = records.find(conn, dispute_id)
    assert row is not None
    _log(conn, rules.DisputeOpened, row, portfolio=portfolio, actor=actor.name, at=at, key=key,
         payload={
             "invoices": [r["external_id"] for r in rows],
             "currency": first["currency"],
             "amount": str(Money.from_minor(sum(r["open_minor"] for r in rows),
                                            first["currency"]).amount),
             "reason": reason, "note": row["note"], "owner": row["owner"],
             "due_on": due.isoformat(), "on": on.isoformat(),
         })  # fmt: skip
    return _shown(conn, dispute_id, on)


def _key(portfolio: str, first: Mapping[str, Any], on: date) -> str:
    return f"dispute:{portfolio}:{first['debtor']}:{first['external_id']}:{on.isoformat()}"


# Resolving --------------------------------------------------------------------------------------


def resolve(
    uow: SqlUnitOfWork,
    actor: Actor,
    dispute_id: int,
    *,
    outcome: str,
    credit: Mapping[str, Decimal] | None = None,
    note: str | None = None,
    on: date,
    at: datetime,
) -> DisputeView:
    """End an open dispute: ``upheld`` posts a credit note on each invoice (``credit``: the
    amount per invoice, external id or number; ``None``: each invoice's open amount in full),
    ``rejected`` returns the invoices to collection. Either clears their dispute flag."""
    actor.require(Permission.WORK, "resolve a dispute")
    source = f"dispute {dispute_id}"
    problems: list[str] = []
    try:
        event = {"upheld": rules.Outcome.UPHOLD, "rejected": rules.Outcome.REJECT}[outcome]
    except KeyError:
        raise ProblemsFound.of(
            source, printable(f"unknown outcome {outcome!r}: upheld or rejected")
        ) from None
    if event is rules.Outcome.REJECT and credit is not None:
        problems.append("a rejected dispute posts no credit note")
    if note is not None and len(note) > MAX_NOTE:
        problems.append(f"the note has more than {MAX_NOTE} characters")
    with uow:
        conn = uow.conn
        row = records.find(conn, dispute_id)
        if row is None:
            raise NotFound(f"{source}: no such dispute")
        try:
            status = rules.transition(rules.Status(row["status"]), event)
        except rules.InvalidMove as exc:
            raise Conflict(f"{source}: {exc}") from exc
        lines = records.lines(conn, [dispute_id])[dispute_id]
        currency = str(row["currency"])
        credits: list[rules.Credit] = []
        if event is rules.Outcome.UPHOLD:
            asked = None if credit is None else _minor(credit, lines, currency, problems)
            open_now = {str(x["invoice"]): int(x["open_now_minor"]) for x in lines}
            credits, more = rules.credits_for(open_now, asked)
            problems += [_in_units(p, currency) for p in more]
        if problems:
            raise ProblemsFound.of(source, *problems)
        portfolio = _portfolio_code(conn, row)
        if not records.resolve(
            conn,
            dispute_id,
            status=status,
            resolved_on=on,
            resolved_by=actor.name,
            resolution=(note or "").strip() or None,
        ):
            raise Conflict(f"{source}: resolved by someone else meanwhile")  # fmt: skip
        ids = {str(x["invoice"]): int(x["invoice_id"]) for x in lines}
        for c in credits:
            number = f"dispute:{portfolio}:{c.invoice}:{on.isoformat()}"
            cases.issue_credit_note(
                conn,
                CreditNote(external_id=number, debtor=str(row["debtor"]), issued_on=on,
                           amount=Money.from_minor(c.amount_minor, currency), invoice=c.invoice,
                           reason=f"dispute {dispute_id} upheld", portfolio=portfolio),
                actor=actor.name, at=at,
            )  # fmt: skip
            records.credited(conn, dispute_id, ids[c.invoice], c.amount_minor, number)
        records.flag(conn, list(ids.values()), None)
        _log(conn, rules.RECORDS[status], row, portfolio=portfolio, actor=actor.name, at=at,
             key=f"{row['key']}:{status}",
             payload={
                 "invoices": list(ids), "on": on.isoformat(), "note": (note or "").strip() or None,
                 "credit": {c.invoice: str(Money.from_minor(c.amount_minor, currency).amount)
                            for c in credits},
             })  # fmt: skip
        return _shown(conn, dispute_id, on)


def _minor(
    credit: Mapping[str, Decimal], lines: list[dict[str, Any]], currency: str, problems: list[str]
) -> dict[str, int]:
    """The credit asked per invoice in minor units, invoices named by external id or number."""
    external = {str(x["number"]): str(x["invoice"]) for x in lines}
    asked: dict[str, int] = {}
    for name, amount in credit.items():
        invoice = external.get(name, name)
        try:
            asked[invoice] = to_minor(amount, currency)
        except MoneyError as exc:
            problems.append(f"the credit on {name}: {exc}")
    return asked


def _in_units(problem: str, currency: str) -> str:
    """The domain's problem with its minor-unit amounts written as money (``(1234)``)."""
    return re.sub(r"\((\d+)\)", lambda m: f"({Money.from_minor(int(m[1]), currency)})", problem)


def _portfolio_code(conn: Connection, row: Mapping[str, Any]) -> str:
    return owner_by_id(conn, int(row["debtor_id"])).portfolio


# Reading ----------------------------------------------------------------------------------------


def _shown(conn: Connection, dispute_id: int, as_of: date, changed: bool = True) -> DisputeView:
    row = records.find(conn, dispute_id)
    assert row is not None
    files = records.attachments(conn, [dispute_id])[dispute_id]
    return _view(row, records.lines(conn, [dispute_id])[dispute_id], as_of, changed, files)


def show(uow: SqlUnitOfWork, actor: Actor, dispute_id: int, *, as_of: date) -> DisputeView:
    actor.require(Permission.READ, "see a dispute")
    with uow:
        if records.find(uow.conn, dispute_id) is None:
            raise NotFound(f"dispute {dispute_id}: no such dispute")
        return _shown(uow.conn, dispute_id, as_of)


def list_disputes(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    as_of: date,
    status: str | None = None,
    owner: str | None = None,
    debtor: str | None = None,
    overdue: bool = False,
) -> list[DisputeView]:
    """The portfolio's disputes, oldest first (of a status, owner or debtor); ``overdue``: the
    open ones past their due date on ``as_of`` (what an owner should look at first)."""
    actor.require(Permission.READ, "list disputes")
    source = "disputes"
    if status is not None and status not in set(rules.Status):
        raise ProblemsFound.of(
            source, printable(f"unknown status {status!r}: one of {', '.join(rules.Status)}")
        )
    with uow:
        conn = uow.conn
        pid = _pid(conn, source, portfolio)
        debtor_id = None
        if debtor is not None:
            who = find_owner(conn, portfolio, debtor)
            if who is None:
                raise NotFound(printable(f"{source}: unknown debtor {debtor!r}"))
            debtor_id = who.debtor_id
        rows = records.listing(conn, pid, status=status, owner=owner, debtor_id=debtor_id,
                               overdue_on=as_of if overdue else None)  # fmt: skip
        ids = [int(r["id"]) for r in rows]
        lines, files = records.lines(conn, ids), records.attachments(conn, ids)
        return [_view(r, lines[int(r["id"])], as_of, files=files[int(r["id"])]) for r in rows]


# Attachments ------------------------------------------------------------------------------------


def attachment_problems(file: NewAttachment, max_bytes: int) -> list[Problem]:
    """What is wrong with ``file`` as a dispute's attachment (``attachment``), every problem."""
    return [
        Problem("dispute", None, "attachment", printable(message))
        for message in rules.attachment_problems(file.file_name, file.content, max_bytes)
    ]


def attach_in(
    conn: Connection,
    actor: Actor,
    dispute_id: int,
    file: NewAttachment,
    *,
    max_bytes: int,
    at: datetime,
) -> AttachmentView:
    """Store ``file`` with dispute ``dispute_id`` on the caller's transaction (the actor's
    right to already checked), once per content (the same file again: the one stored), with
    its activity record. A file that is not acceptable: :class:`ProblemsFound`, nothing
    stored."""
    problems = attachment_problems(file, max_bytes)
    if problems:
        raise ProblemsFound(problems)
    row = records.find(conn, dispute_id)
    if row is None:
        raise NotFound(f"dispute {dispute_id}: no such dispute")
    digest = hashlib.sha256(file.content).hexdigest()
    found = records.attachment_by_hash(conn, dispute_id, digest)
    if found is None:
        media_type = rules.sniff(file.content)
        assert media_type is not None
        name = file.file_name.replace("/", "_").replace("\\", "_").strip() or "attachment"
        found = records.insert_attachment(
            conn,
            {
                "dispute_id": dispute_id,
                "file_name": name,
                "media_type": media_type,
                "size_bytes": len(file.content),
                "sha256": digest,
                "content": file.content,
                "uploaded_by": actor.name,
                "uploaded_at": at,
            },
        )
        _log(conn, rules.DisputeAttachmentAdded, row, portfolio=_portfolio_code(conn, row),
             actor=actor.name, at=at, key=f"{row['key']}:attachment:{digest}",
             payload={"attachment": found, "file_name": name, "media_type": media_type,
                      "size_bytes": len(file.content), "sha256": digest})  # fmt: skip
    stored = records.attachment(conn, dispute_id, found)
    assert stored is not None
    return _attachment_view(stored)


def attachment_file(
    uow: SqlUnitOfWork, actor: Actor, dispute_id: int, attachment_id: int
) -> tuple[AttachmentView, bytes]:
    """One attachment of a dispute and its content, for those who may read disputes
    (collectors, managers, auditors, admins; not a debtor)."""
    actor.require(Permission.READ, "read a dispute's attachment")
    with uow:
        row = records.attachment(uow.conn, dispute_id, attachment_id)
    if row is None:
        raise NotFound(f"dispute {dispute_id}: no attachment {attachment_id}")
    return _attachment_view(row), bytes(row["content"])


# The import's flag ------------------------------------------------------------------------------


def sync_from_erp(uow: SqlUnitOfWork, actor: Actor, *, on: date, at: datetime) -> erp.Synced:
    """Map the imported ``disputed`` flags onto disputes (every portfolio, set-based): a flag
    set on an invoice no open dispute holds opens a ``from_erp`` dispute; a ``from_erp``
    dispute whose flag the import cleared is closed; an open dispute opened here keeps its
    invoices flagged even when the import cleared the flag (arrears knows of it, the ERP does
    not yet). Running it again changes nothing."""
    actor.require(Permission.ADMINISTER, "map imported disputes")
    with uow:
        return erp.sync(uow.conn, actor=actor.name, on=on, at=at,
                        due_on=on + timedelta(days=RESOLVE_WITHIN_DAYS))  # fmt: skip


__all__ = [
    "RESOLVE_WITHIN_DAYS",
    "AttachmentView",
    "DisputeView",
    "DisputedInvoice",
    "NewAttachment",
    "attach_in",
    "attachment_file",
    "attachment_problems",
    "list_disputes",
    "open_dispute",
    "open_in",
    "resolve",
    "show",
    "sync_from_erp",
]
