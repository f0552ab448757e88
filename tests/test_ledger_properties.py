"""Random sequences of ledger use cases keep the books true (hypothesis, stateful, on SQLite).

The machine keeps its own model: per debtor and currency, what was invoiced, paid (payments not
reversed), credited and written off. After every step:

- ``reconcile()`` finds nothing;
- open balances minus unallocated credit = invoiced - paid - credited - written off, per debtor
  and currency (no money appears, vanishes or changes currency);
- no payment, credit note, write-off or instalment has more allocated than its amount.

Requests with problems must change nothing at all.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule
from sqlalchemy import func, select, text

from arrears.domain.allocation import AllocationRule
from arrears.domain.money import Money
from arrears.domain.problems import ProblemsFound
from arrears.store import schema
from arrears.store.database import connect
from arrears.store.ledger.cases import reconcile
from test_ledger_support import Book

DEBTORS = ("D1", "D2")
CURRENCIES = ("USD", "EUR")
START = date(2026, 1, 1)
amounts = st.integers(min_value=1, max_value=20_000)  # minor units
days = st.integers(min_value=0, max_value=120)


def text_of(minor: int) -> str:
    return str(Money.from_minor(minor, "USD").amount)


class LedgerMachine(RuleBasedStateMachine):
    invoices = Bundle("invoices")
    payments = Bundle("payments")

    def __init__(self) -> None:
        super().__init__()
        self.engine = connect("sqlite://")
        schema.metadata.create_all(self.engine)
        self.conn = self.engine.connect()
        self.conn.begin()
        self.book = Book(self.conn)
        for debtor in DEBTORS:
            self.book.debtor(debtor)
        self.expected: Counter[tuple[str, str]] = Counter()  # invoiced - paid - credited - w/o
        self.paid: dict[str, tuple[str, str, int, date]] = {}
        self.serial = 0

    def teardown(self) -> None:
        self.conn.close()
        self.engine.dispose()

    def _next(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}{self.serial}"

    def _counts(self) -> tuple[int, ...]:
        tables = ("payment", "credit_note", "write_off", "allocation", "activity", "invoice")
        return tuple(self.book.count(t) for t in tables)

    @rule(
        target=invoices,
        debtor=st.sampled_from(DEBTORS),
        currency=st.sampled_from(CURRENCIES),
        lines=st.lists(st.tuples(days, amounts), min_size=1, max_size=3),
    )
    def invoice(self, debtor: str, currency: str, lines: list[tuple[int, int]]) -> str:
        external_id = self._next("I")
        due = [(str(START + timedelta(d)), text_of(a)) for d, a in lines]
        self.book.invoice(external_id, debtor, *due, currency=currency)
        self.expected[(debtor, currency)] += sum(a for _, a in lines)
        return external_id

    @rule(
        target=payments,
        debtor=st.sampled_from(DEBTORS),
        currency=st.sampled_from(CURRENCIES),
        amount=amounts,
        day=days,
        rule_=st.sampled_from(list(AllocationRule)),
        invoice=st.none() | invoices,
    )
    def pay(
        self,
        debtor: str,
        currency: str,
        amount: int,
        day: int,
        rule_: AllocationRule,
        invoice: str | None,
    ) -> str:
        external_id = self._next("P")
        on = START + timedelta(day)
        before = self._counts()
        try:
            self.book.pay(
                external_id, debtor, str(on), text_of(amount), currency, invoice=invoice, rule=rule_
            )
        except ProblemsFound:
            assert self._counts() == before
            return external_id
        self.expected[(debtor, currency)] -= amount
        self.paid[external_id] = (debtor, currency, amount, on)
        return external_id

    @rule(
        target=payments,
        invoice=invoices,
        seq=st.integers(min_value=1, max_value=3),
        amount=amounts,
        share=amounts,
    )
    def pay_explicitly(self, invoice: str, seq: int, amount: int, share: int) -> str:
        """A payment naming the instalment it pays, possibly more than is open or paid."""
        external_id = self._next("P")
        debtor, currency = self._owner(invoice)
        before = self._counts()
        try:
            self.book.pay(
                external_id,
                debtor,
                "2026-03-01",
                text_of(amount),
                currency,
                to={(invoice, seq): text_of(share)},
            )
        except ProblemsFound:
            assert self._counts() == before
            return external_id
        self.expected[(debtor, currency)] -= amount
        self.paid[external_id] = (debtor, currency, amount, date(2026, 3, 1))
        return external_id

    @rule(
        debtor=st.sampled_from(DEBTORS),
        currency=st.sampled_from(CURRENCIES),
        amount=amounts,
        invoice=st.none() | invoices,
    )
    def credit_note(self, debtor: str, currency: str, amount: int, invoice: str | None) -> None:
        before = self._counts()
        try:
            self.book.credit_note(
                self._next("C"), debtor, "2026-02-01", text_of(amount), currency, invoice=invoice
            )
        except ProblemsFound:
            assert self._counts() == before
            return
        self.expected[(debtor, currency)] -= amount

    @rule(payment=payments, later=st.integers(min_value=0, max_value=30))
    def reverse(self, payment: str, later: int) -> None:
        before = self._counts()
        known = self.paid.get(payment)
        on = (known[3] if known else START) + timedelta(later)
        try:
            result = self.book.reverse(payment, str(on))
        except ProblemsFound:
            assert self._counts() == before
            return
        if result.changed and known:
            debtor, currency, amount, _ = known
            self.expected[(debtor, currency)] += amount

    @rule(invoice=invoices, amount=st.none() | amounts, currency=st.sampled_from(CURRENCIES))
    def write_off(self, invoice: str, amount: int | None, currency: str) -> None:
        before = self._counts()
        try:
            result = self.book.write_off(
                invoice,
                "2026-06-30",
                None if amount is None else text_of(amount),
                currency,
                reason=f"step {self.serial}",
            )
        except ProblemsFound:
            assert self._counts() == before
            return
        self.serial += 1
        owner, cur = self._owner(invoice)
        self.expected[(owner, cur)] -= sum(a.amount_minor for a in result.applied)

    @rule(debtor=st.sampled_from(DEBTORS))
    def apply_credit(self, debtor: str) -> None:
        self.book.apply_credit(debtor, "2026-07-01")

    def _owner(self, invoice: str) -> tuple[str, str]:
        row = self.conn.execute(
            select(schema.debtor.c.external_id, schema.invoice.c.currency)
            .join(schema.debtor, schema.debtor.c.id == schema.invoice.c.debtor_id)
            .where(schema.invoice.c.external_id == invoice)
        ).one()
        return row.external_id, row.currency

    @invariant()
    def books_reconcile(self) -> None:
        assert reconcile(self.conn) == []

    @invariant()
    def balances_are_invoices_minus_payments_credits_and_write_offs(self) -> None:
        actual: Counter[tuple[str, str]] = Counter()
        for debtor, currency, total in self.conn.execute(text(BALANCES)):
            actual[(debtor, currency)] += int(total)
        assert +actual == +self.expected and -actual == -self.expected

    @invariant()
    def nothing_is_over_allocated(self) -> None:
        for query in OVER_ALLOCATED:
            assert self.conn.execute(text(query)).all() == []
        below = self.conn.execute(
            select(func.count()).where(
                (schema.instalment.c.open_minor < 0)
                | (schema.instalment.c.open_minor > schema.instalment.c.amount_minor)
            )
        ).scalar_one()
        assert below == 0


BALANCES = """
SELECT d.external_id, n.currency, SUM(n.open_minor) FROM instalment n
JOIN debtor d ON d.id = n.debtor_id GROUP BY d.external_id, n.currency
UNION ALL
SELECT d.external_id, p.currency, -SUM(p.unallocated_minor) FROM payment p
JOIN debtor d ON d.id = p.debtor_id WHERE p.status = 'posted' GROUP BY d.external_id, p.currency
UNION ALL
SELECT d.external_id, c.currency, -SUM(c.unallocated_minor) FROM credit_note c
JOIN debtor d ON d.id = c.debtor_id GROUP BY d.external_id, c.currency
"""

_ACTIVE = "SELECT source_id, instalment_id, amount_minor FROM allocation WHERE NOT reversed"
OVER_ALLOCATED = [
    f"SELECT s.id FROM {table} s JOIN ({_ACTIVE} AND source_kind = '{kind}') a "
    "ON a.source_id = s.id GROUP BY s.id, s.amount_minor "
    "HAVING SUM(a.amount_minor) > s.amount_minor"
    for table, kind in (
        ("payment", "payment"),
        ("credit_note", "credit_note"),
        ("write_off", "write_off"),
    )
] + [
    f"SELECT n.id FROM instalment n JOIN ({_ACTIVE}) a ON a.instalment_id = n.id "
    "GROUP BY n.id, n.amount_minor HAVING SUM(a.amount_minor) > n.amount_minor"
]

LedgerMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLedgerMachine = LedgerMachine.TestCase
