"""Disputes: the states a dispute goes through, its reasons, and the checks of a resolution.

Pure (standard library only), amounts in integer minor units; time is an argument.

A dispute is a debtor's objection to one or more of its invoices (all in one currency), with a
reason code, a note, an owner (the person who resolves it) and a day by which it should be
resolved. While it is open its invoices are *disputed* (``invoice.disputed``): by default they
leave collection, the rest of the debt does not (the policy's ``disputes.pause``). It ends in
one of three ways, each once::

    open --uphold--> upheld     the debtor is right: a credit note (full or partial) per invoice
    open --reject--> rejected   the debtor is wrong: the invoices return to collection
    open --close---> closed     the ERP cleared its dispute flag (an import); outcome unknown here

:func:`transition` is the one definition of those moves; :func:`check_credits` says, every
problem at once, what is wrong with the credit notes of an upheld dispute.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import ClassVar

from arrears.domain.activity import Activity


class Status(StrEnum):
    OPEN = "open"
    UPHELD = "upheld"
    REJECTED = "rejected"
    CLOSED = "closed"  # cleared by the ERP (an import without the flag)


class Outcome(StrEnum):
    """What ends a dispute (the event of :func:`transition`)."""

    UPHOLD = "uphold"
    REJECT = "reject"
    CLOSE = "close"


class Reason(StrEnum):
    WRONG_AMOUNT = "wrong_amount"
    NOT_RECEIVED = "not_received"
    QUALITY = "quality"
    ALREADY_PAID = "already_paid"
    OTHER = "other"
    FROM_ERP = "from_erp"  # the import's ``disputed`` flag


#: The reasons a person may give (``from_erp`` is the importer's own).
CHOSEN_REASONS = tuple(r for r in Reason if r is not Reason.FROM_ERP)

#: The one table of moves: (state, event) -> state.
TRANSITIONS: Mapping[tuple[Status, Outcome], Status] = {
    (Status.OPEN, Outcome.UPHOLD): Status.UPHELD,
    (Status.OPEN, Outcome.REJECT): Status.REJECTED,
    (Status.OPEN, Outcome.CLOSE): Status.CLOSED,
}


class InvalidMove(ValueError):
    """An event the dispute's state does not allow (a resolved dispute is resolved once)."""


def transition(status: Status, event: Outcome) -> Status:
    """The state after ``event``; :class:`InvalidMove` when ``status`` does not allow it."""
    after = TRANSITIONS.get((status, event))
    if after is None:
        raise InvalidMove(f"a dispute that is {status} cannot be {_PAST[event]}")
    return after


_PAST = {Outcome.UPHOLD: "upheld", Outcome.REJECT: "rejected", Outcome.CLOSE: "closed"}


def is_open(status: str) -> bool:
    return status == Status.OPEN


def overdue(status: str, due_on: date | None, as_of: date) -> bool:
    """Whether a dispute is still open after the day it should have been resolved by."""
    return is_open(status) and due_on is not None and due_on < as_of


@dataclass(frozen=True, slots=True)
class Credit:
    """The credit note an upheld dispute posts on one of its invoices."""

    invoice: str
    amount_minor: int


def credits_for(
    open_minor: Mapping[str, int], asked: Mapping[str, int] | None
) -> tuple[list[Credit], list[str]]:
    """The credit notes of an upheld dispute and the problems of the request, every one.

    ``open_minor``: each disputed invoice's open amount. ``asked``: the credit per invoice
    (partial; an invoice not named gets none), or ``None`` for a full credit (each invoice's
    open amount). A credit must be positive, on an invoice of the dispute, and not above the
    invoice's open amount."""
    problems: list[str] = []
    if asked is None:
        return [Credit(i, m) for i, m in open_minor.items() if m > 0], problems
    credits = []
    for invoice, amount in asked.items():
        if invoice not in open_minor:
            problems.append(f"invoice {invoice!r} is not in the dispute")
        elif amount <= 0:
            problems.append(f"the credit on {invoice} must be more than zero")
        elif amount > open_minor[invoice]:
            problems.append(
                f"the credit on {invoice} ({amount}) is above its open amount "
                f"({open_minor[invoice]})"
            )
        else:
            credits.append(Credit(invoice, amount))
    if not asked:
        problems.append("name a credit for at least one invoice, or credit them in full")
    return credits, problems


# The activity records (stable names) ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DisputeOpened(Activity):
    kind: ClassVar[str] = "dispute.opened"


@dataclass(frozen=True, slots=True)
class DisputeUpheld(Activity):
    kind: ClassVar[str] = "dispute.upheld"


@dataclass(frozen=True, slots=True)
class DisputeRejected(Activity):
    kind: ClassVar[str] = "dispute.rejected"


@dataclass(frozen=True, slots=True)
class DisputeClosed(Activity):
    kind: ClassVar[str] = "dispute.closed"


RECORDS: Mapping[Status, type[Activity]] = {
    Status.UPHELD: DisputeUpheld,
    Status.REJECTED: DisputeRejected,
    Status.CLOSED: DisputeClosed,
}


# What a debtor may attach to a dispute ----------------------------------------------------------

#: The files a dispute takes, by media type: the names they may have, and how their content
#: begins (the type is the content's, whatever the file is called).
ATTACHMENT_TYPES: Mapping[str, tuple[tuple[str, ...], bytes]] = {
    "application/pdf": ((".pdf",), b"%PDF-"),
    "image/jpeg": ((".jpg", ".jpeg"), b"\xff\xd8\xff"),
    "image/png": ((".png",), b"\x89PNG\r\n\x1a\n"),
}
#: The largest attachment by default (``web.attachment_max_bytes``).
ATTACHMENT_MAX_BYTES = 5 * 1024 * 1024
MAX_FILE_NAME = 255


def sniff(content: bytes) -> str | None:
    """The media type ``content`` begins like (PDF, JPEG or PNG), or ``None``."""
    for media_type, (_, magic) in ATTACHMENT_TYPES.items():
        if content.startswith(magic):
            return media_type
    return None


def attachment_problems(file_name: str, content: bytes, max_bytes: int) -> list[str]:
    """What is wrong with a file offered as a dispute's attachment, every problem at once
    (empty: it may be stored). The messages are stable: the web says them in Spanish by
    their pattern (``arrears.web.error_words``)."""
    problems: list[str] = []
    if not content:
        problems.append("the file is empty")
    elif len(content) > max_bytes:
        problems.append(
            f"the file is {len(content)} bytes: at most {max_bytes} bytes "
            f"({max_bytes / 1048576:.1f} MB) are accepted"
        )
    if content:
        media_type = sniff(content)
        suffix = "." + file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
        if media_type is None:
            problems.append("the file is not a PDF, JPEG or PNG (by its content)")
        elif suffix not in ATTACHMENT_TYPES[media_type][0]:
            problems.append(
                f"the file's name does not end in {' or '.join(ATTACHMENT_TYPES[media_type][0])} "
                "as its content (a PDF, JPEG or PNG) says it should"
            )
    if len(file_name) > MAX_FILE_NAME:
        problems.append(f"the file's name is longer than {MAX_FILE_NAME} characters")
    return problems


@dataclass(frozen=True, slots=True)
class DisputeAttachmentAdded(Activity):
    kind: ClassVar[str] = "dispute.attachment_added"
