"""A small ledger written in the collector's words, for the ledger tests (no tests here).

``Book(conn)`` adds debtors, invoices, payments, credit notes and write-offs through the real
use cases, with amounts as decimal text, and reads back open balances, statuses and credit.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Connection, func, select

from arrears.cli.app import main
from arrears.domain.allocation import AllocationRule
from arrears.domain.ledger import (
    Allocation,
    CreditNote,
    Debtor,
    DebtorKind,
    Instalment,
    InstalmentRef,
    Invoice,
    Payment,
)
from arrears.domain.money import Money
from arrears.store import schema
from arrears.store.database import connect
from arrears.store.ledger import cases as ledger
from arrears.store.ledger.balances import Posting
from arrears.store.portfolios import ensure_portfolio

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ACTOR = "test"


def d(text: str) -> date:
    return date.fromisoformat(text)


class Book:
    """The ledger use cases on one connection, in a test's own terms."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        ensure_portfolio(conn, "default", name=None, base_currency="USD", actor=ACTOR)

    def debtor(self, external_id: str, currency: str = "USD") -> int:
        new = Debtor(
            external_id,
            f"Debtor {external_id}",
            DebtorKind.COMPANY,
            "US",
            currency,
            "America/New_York",
            "en",
        )
        return ledger.add_debtor(self.conn, new, actor=ACTOR, at=AT)

    def invoice(
        self,
        external_id: str,
        debtor: str,
        *due: tuple[str, str],
        currency: str = "USD",
        issued: str = "2026-01-01",
    ) -> int:
        lines = tuple(
            Instalment(seq, d(day), Money.of(amount, currency), Money.of(amount, currency))
            for seq, (day, amount) in enumerate(due, start=1)
        )
        new = Invoice(external_id, debtor, external_id, d(issued), lines)
        return ledger.add_invoice(self.conn, new, actor=ACTOR, at=AT)

    def pay(
        self,
        external_id: str,
        debtor: str,
        on: str,
        amount: str,
        currency: str = "USD",
        *,
        to: dict[tuple[str, int], str] | None = None,
        invoice: str | None = None,
        rule: AllocationRule = AllocationRule.OLDEST_DUE_FIRST,
    ) -> Posting:
        new = Payment(external_id, debtor, d(on), Money.of(amount, currency))
        return ledger.post_payment(
            self.conn,
            new,
            allocations=explicit(to, currency),
            invoice=invoice,
            rule=rule,
            actor=ACTOR,
            at=AT,
        )

    def credit_note(
        self,
        external_id: str,
        debtor: str,
        on: str,
        amount: str,
        currency: str = "USD",
        *,
        invoice: str | None = None,
    ) -> Posting:
        note = CreditNote(external_id, debtor, d(on), Money.of(amount, currency), invoice, "test")
        return ledger.issue_credit_note(self.conn, note, actor=ACTOR, at=AT)

    def reverse(self, payment: str, on: str, reason: str = "cheque bounced") -> Posting:
        return ledger.reverse_payment(
            self.conn, payment, on=d(on), reason=reason, actor=ACTOR, at=AT
        )

    def write_off(
        self,
        invoice: str,
        on: str,
        amount: str | None = None,
        currency: str = "USD",
        reason: str = "uncollectable",
    ) -> Posting:
        money = None if amount is None else Money.of(amount, currency)
        return ledger.write_off(
            self.conn, invoice, amount=money, on=d(on), reason=reason, actor=ACTOR, at=AT
        )

    def apply_credit(self, debtor: str, on: str) -> tuple[Posting, ...]:
        return ledger.apply_credit(self.conn, debtor, on=d(on), actor=ACTOR, at=AT)

    # Reading back -----------------------------------------------------------------------

    def open(self, invoice: str) -> list[str]:
        """Open balance of each instalment, in order, as decimal text."""
        rows = self.conn.execute(
            select(schema.instalment.c.open_minor, schema.instalment.c.currency)
            .join(schema.invoice, schema.invoice.c.id == schema.instalment.c.invoice_id)
            .where(schema.invoice.c.external_id == invoice)
            .order_by(schema.instalment.c.seq)
        )
        return [str(Money.from_minor(r.open_minor, r.currency).amount) for r in rows]

    def status(self, invoice: str) -> str:
        return str(
            self.conn.execute(
                select(schema.invoice.c.status).where(schema.invoice.c.external_id == invoice)
            ).scalar_one()
        )

    def credit(self, debtor: str) -> dict[str, str]:
        """Unallocated credit per currency (posted payments and credit notes)."""
        totals: dict[str, Decimal] = {}
        for table, extra in (
            (schema.payment, schema.payment.c.status == "posted"),
            (schema.credit_note, True),
        ):
            rows = self.conn.execute(
                select(table.c.currency, func.sum(table.c.unallocated_minor))
                .join(schema.debtor, schema.debtor.c.id == table.c.debtor_id)
                .where(schema.debtor.c.external_id == debtor, extra)
                .group_by(table.c.currency)
            )
            for currency, total in rows:
                if total:
                    amount = Money.from_minor(int(total), currency).amount
                    totals[currency] = totals.get(currency, Decimal(0)) + amount
        return {c: str(v) for c, v in sorted(totals.items())}

    def activity_kinds(self) -> list[str]:
        rows = self.conn.execute(select(schema.activity.c.kind).order_by(schema.activity.c.id))
        return [r.kind for r in rows]

    def count(self, table: str) -> int:
        return int(
            self.conn.execute(
                select(func.count()).select_from(schema.metadata.tables[table])
            ).scalar_one()
        )


def explicit(to: dict[tuple[str, int], str] | None, currency: str) -> tuple[Allocation, ...]:
    return tuple(
        Allocation(InstalmentRef(invoice, seq), Money.of(amount, currency))
        for (invoice, seq), amount in (to or {}).items()
    )


def cli_workspace(
    root: Path, policy_file: str, policy: str, owing: Iterable[tuple[Debtor, str, str]]
) -> Path:
    """A workspace made by ``arrears init`` at ``root``, ``policy`` written as ``policy_file`` in
    it, and each ``(debtor, invoice id, amount)`` added owing that invoice, due 31 Jan 2026."""
    assert main(["init", str(root)]) == 0
    (root / policy_file).write_text(policy)
    engine = connect(f"sqlite:///{root / 'arrears.db'}")
    with engine.begin() as conn:
        book = Book(conn)
        for debtor, invoice, amount in owing:
            ledger.add_debtor(conn, debtor, actor=ACTOR, at=AT)
            book.invoice(invoice, debtor.external_id, ("2026-01-31", amount))
    engine.dispose()
    return root


def imported_workspace(root: Path, database_url: str, debtors: str, invoices: str) -> Path:
    """A workspace made by ``arrears init`` at ``root`` on ``database_url``, with ``debtors``
    and ``invoices`` (CSV text, written next to ``root``) loaded by ``arrears import``."""
    assert main(["init", str(root), "--database-url", database_url]) == 0
    for kind, text in (("debtors", debtors), ("invoices", invoices)):
        path = root.parent / f"{kind[0]}.csv"
        path.write_text(text)
        assert main(["-w", str(root), "import", kind, str(path)]) == 0
    return root
