"""Ledger facts: portfolios, debtors and their contact points, invoices with instalments, payments,
credit notes, write-off adjustments and the allocations that tie money to instalments.

These are immutable values. The store maps them to tables from the outside; the columnar engine
works on frames with the same names (see ``docs/ledger.md``). Amounts are :class:`Money`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from arrears.domain.money import Money


class DebtorKind(StrEnum):
    PERSON = "person"
    COMPANY = "company"


class CreditStatus(StrEnum):
    ACTIVE = "active"
    ON_HOLD = "on_hold"
    CLOSED = "closed"


class Channel(StrEnum):
    """Ways to reach a debtor; consent is recorded per channel and contact point."""

    EMAIL = "email"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    CALL = "call"
    LETTER = "letter"


class ContactKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    POSTAL = "postal"


#: Which channels a contact point of each kind can carry.
CHANNELS_BY_CONTACT_KIND: dict[ContactKind, tuple[Channel, ...]] = {
    ContactKind.EMAIL: (Channel.EMAIL,),
    ContactKind.PHONE: (Channel.SMS, Channel.WHATSAPP, Channel.CALL),
    ContactKind.POSTAL: (Channel.LETTER,),
}

#: The kind of contact point each channel reaches (and whose consent it needs), in the order of
#: :class:`Channel`: the one map from a channel to its contact point.
CONTACT_KIND_OF_CHANNEL: dict[Channel, ContactKind] = {
    channel: kind
    for channel in Channel
    for kind, channels in CHANNELS_BY_CONTACT_KIND.items()
    if channel in channels
}

#: The channels a message is sent on (a call is made by a person, not sent from the outbox).
SENT_CHANNELS: tuple[Channel, ...] = (Channel.EMAIL, Channel.SMS, Channel.WHATSAPP, Channel.LETTER)


class Consent(StrEnum):
    GRANTED = "granted"
    DENIED = "denied"
    UNKNOWN = "unknown"


class InvoiceStatus(StrEnum):
    OPEN = "open"
    PAID = "paid"
    WRITTEN_OFF = "written_off"


class PaymentStatus(StrEnum):
    POSTED = "posted"
    REVERSED = "reversed"


class SourceKind(StrEnum):
    """What reduces an instalment's open balance."""

    PAYMENT = "payment"
    CREDIT_NOTE = "credit_note"
    WRITE_OFF = "write_off"


@dataclass(frozen=True, slots=True)
class Portfolio:
    """A creditor, business unit or (for an agency) a client; every debtor belongs to one."""

    code: str
    name: str
    base_currency: str


@dataclass(frozen=True, slots=True)
class ContactPoint:
    """An email address, an E.164 phone number or a postal address, with consent per channel."""

    kind: ContactKind
    value: str
    consent: dict[Channel, Consent] = field(default_factory=dict)
    primary: bool = True


@dataclass(frozen=True, slots=True)
class Debtor:
    external_id: str
    name: str
    kind: DebtorKind
    country: str
    currency: str
    timezone: str
    language: str
    portfolio: str = "default"
    region: str | None = None
    contacts: tuple[ContactPoint, ...] = ()
    credit_limit: Money | None = None
    credit_status: CreditStatus = CreditStatus.ACTIVE
    do_not_contact: bool = False
    bankrupt: bool = False
    deceased: bool = False
    legal_representative: bool = False
    tags: tuple[str, ...] = ()
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Instalment:
    """One due amount of an invoice. ``open`` is what is still owed on it."""

    seq: int
    due_date: date
    amount: Money
    open: Money


@dataclass(frozen=True, slots=True)
class Invoice:
    external_id: str
    debtor: str
    number: str
    issue_date: date
    instalments: tuple[Instalment, ...]
    disputed: bool = False
    reference: str | None = None
    portfolio: str = "default"

    @property
    def currency(self) -> str:
        return self.instalments[0].amount.currency

    @property
    def amount(self) -> Money:
        total = Money.zero(self.currency)
        for inst in self.instalments:
            total = total + inst.amount
        return total

    @property
    def open(self) -> Money:
        total = Money.zero(self.currency)
        for inst in self.instalments:
            total = total + inst.open
        return total


@dataclass(frozen=True, slots=True)
class Payment:
    external_id: str
    debtor: str
    received_on: date
    amount: Money
    method: str | None = None
    reference: str | None = None
    portfolio: str = "default"


@dataclass(frozen=True, slots=True)
class CreditNote:
    external_id: str
    debtor: str
    issued_on: date
    amount: Money
    invoice: str | None = None
    reason: str | None = None
    portfolio: str = "default"


@dataclass(frozen=True, slots=True)
class InstalmentRef:
    """Identifies an instalment by its invoice's external id and its sequence number."""

    invoice: str
    seq: int = 1


@dataclass(frozen=True, slots=True)
class Allocation:
    """Part of a payment, credit note or write-off applied to one instalment."""

    instalment: InstalmentRef
    amount: Money
