"""Loading invoices, payments and credit notes: a small ledger in, the balances expected out."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import polars as pl
import pytest
from sqlalchemy import Connection, Engine, text

from arrears.domain.allocation import AllocationRule
from arrears.domain.columns import Kind
from arrears.store.loading.entry import LoadContext, LoadResult, load_frame, open_batch
from arrears.store.portfolios import ensure_portfolio

AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def frame(kind: Kind, rows: list[dict[str, object]]) -> pl.DataFrame:
    records = [{**r, "source": f"{kind}.csv", "row": n + 2} for n, r in enumerate(rows)]
    return pl.DataFrame(records, infer_schema_length=None)


def load(
    engine: Engine,
    kind: Kind,
    rows: list[dict[str, object]],
    rule: AllocationRule = AllocationRule.OLDEST_DUE_FIRST,
) -> LoadResult:
    with engine.begin() as conn:
        ensure_portfolio(conn, "default", name=None, base_currency="USD", actor="t")
        batch = open_batch(conn, kind, file_name="f", file_sha256="x", actor="t", at=AT)
        return load_frame(conn, kind, frame(kind, rows), LoadContext(batch, "t", AT, rule=rule))


def query(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql)).all()]


def inv(
    invoice_id: str, due: date, amount: int, seq: int = 1, **extra: object
) -> dict[str, object]:
    return {
        "invoice_id": invoice_id,
        "debtor_id": extra.pop("debtor_id", "D1"),
        "issue_date": date(2026, 1, 1),
        "due_date": due,
        "amount_minor": amount,
        "instalment": seq,
        **extra,
    }


def pay(payment_id: str, day: date, amount: int, **extra: object) -> dict[str, object]:
    return {
        "payment_id": payment_id,
        "debtor_id": "D1",
        "date": day,
        "amount_minor": amount,
        **extra,
    }


def balances(engine: Engine) -> list[tuple[object, ...]]:
    return query(
        engine,
        "SELECT v.external_id, i.seq, i.open_minor, v.status FROM instalment i "
        "JOIN invoice v ON v.id = i.invoice_id ORDER BY 1, 2",
    )


@pytest.fixture
def ledger(engine: Engine) -> Engine:
    debtors = [
        {"debtor_id": "D1", "name": "Acme", "currency": "USD"},
        {"debtor_id": "D2", "name": "Beta", "currency": "USD"},
    ]
    assert load(engine, Kind.DEBTORS, debtors).created == 2
    result = load(
        engine,
        Kind.INVOICES,
        [
            inv("A", date(2026, 2, 1), 10_000),
            inv("B", date(2026, 3, 1), 5_000, 1),
            inv("B", date(2026, 4, 1), 5_000, 2),
            inv("C", date(2026, 2, 15), 7_000, debtor_id="D2"),
        ],
    )
    assert (result.created, result.problems) == (3, [])
    return engine


def test_invoices_become_instalments_with_open_balances(ledger: Engine) -> None:
    assert balances(ledger) == [
        ("A", 1, 10_000, "open"),
        ("B", 1, 5_000, "open"),
        ("B", 2, 5_000, "open"),
        ("C", 1, 7_000, "open"),
    ]
    assert query(ledger, "SELECT external_id, amount_minor FROM invoice ORDER BY 1") == [
        ("A", 10_000),
        ("B", 10_000),
        ("C", 7_000),
    ]


def test_unknown_debtor_is_a_problem_with_what_to_do(ledger: Engine) -> None:
    result = load(ledger, Kind.INVOICES, [inv("X", date(2026, 2, 1), 100, debtor_id="ZZ")])
    assert [str(p) for p in result.problems] == [
        "invoices.csv:2:debtor_id: unknown debtor 'ZZ': import it first"
    ]


def test_reimport_is_idempotent_and_a_change_is_logged(ledger: Engine) -> None:
    same = load(ledger, Kind.INVOICES, [inv("A", date(2026, 2, 1), 10_000)])
    assert (same.created, same.updated, same.unchanged) == (0, 0, 1)
    changed = load(ledger, Kind.INVOICES, [inv("A", date(2026, 2, 1), 12_000)])
    assert (changed.created, changed.updated) == (0, 1)
    assert balances(ledger)[0] == ("A", 1, 12_000, "open")
    (payload,) = query(ledger, "SELECT payload FROM activity WHERE kind = 'invoice.updated'")[0]
    changes = (payload if isinstance(payload, dict) else json.loads(str(payload)))["changes"]
    assert changes["amount_minor"] == {"before": 10_000, "after": 12_000}


def test_payments_go_oldest_due_first_and_the_rest_is_credit(ledger: Engine) -> None:
    result = load(ledger, Kind.PAYMENTS, [pay("P1", date(2026, 2, 10), 18_000)])
    assert (result.created, result.problems) == (1, [])
    assert balances(ledger) == [
        ("A", 1, 0, "paid"),
        ("B", 1, 0, "open"),
        ("B", 2, 2_000, "open"),
        ("C", 1, 7_000, "open"),
    ]
    more = load(ledger, Kind.PAYMENTS, [pay("P2", date(2026, 3, 10), 3_000)])
    assert more.created == 1
    assert query(ledger, "SELECT external_id, unallocated_minor FROM payment ORDER BY 1") == [
        ("P1", 0),
        ("P2", 1_000),
    ]
    assert balances(ledger)[2] == ("B", 2, 0, "paid")


def test_explicit_allocations_first_then_the_rule(ledger: Engine) -> None:
    rows = [
        pay(
            "P1",
            date(2026, 2, 10),
            6_000,
            invoice_id="B",
            instalment=2,
            allocated_amount_minor=4_000,
        ),
        pay("P1", date(2026, 2, 10), 6_000),
    ]
    assert load(ledger, Kind.PAYMENTS, rows).problems == []
    assert balances(ledger)[:3] == [
        ("A", 1, 8_000, "open"),
        ("B", 1, 5_000, "open"),
        ("B", 2, 1_000, "open"),
    ]


def test_explicit_allocations_that_do_not_fit_are_problems(ledger: Engine) -> None:
    rows = [
        pay("P1", date(2026, 2, 10), 6_000, invoice_id="A", allocated_amount_minor=11_000),
        pay("P2", date(2026, 2, 11), 1_000, invoice_id="A", allocated_amount_minor=900),
        pay("P2", date(2026, 2, 11), 1_000, invoice_id="B", allocated_amount_minor=900),
        pay("P3", date(2026, 2, 12), 1_000, invoice_id="C"),
    ]
    result = load(ledger, Kind.PAYMENTS, rows)
    assert [str(p) for p in sorted(result.problems)] == [
        "payments.csv:2:allocated_amount: allocation of 110.00 USD to invoice 'A' exceeds its "
        "open balance (100.00 USD open)",
        "payments.csv:2:allocated_amount: allocations of payment 'P1' (110.00 USD) exceed its "
        "amount (60.00 USD)",
        "payments.csv:3:allocated_amount: allocations of payment 'P2' (18.00 USD) exceed its "
        "amount (10.00 USD)",
        "payments.csv:5:invoice_id: invoice 'C' belongs to another debtor",
    ]
    assert result.created == 0
    assert query(ledger, "SELECT count(*) FROM allocation") == [(0,)]


def test_a_changed_payment_is_reversed_and_applied_again(ledger: Engine) -> None:
    load(ledger, Kind.PAYMENTS, [pay("P1", date(2026, 2, 10), 12_000)])
    again = load(ledger, Kind.PAYMENTS, [pay("P1", date(2026, 2, 10), 12_000)])
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    changed = load(ledger, Kind.PAYMENTS, [pay("P1", date(2026, 2, 10), 4_000)])
    assert changed.updated == 1
    assert balances(ledger)[:2] == [("A", 1, 6_000, "open"), ("B", 1, 5_000, "open")]
    assert query(
        ledger, "SELECT reversed, count(*), sum(amount_minor) FROM allocation GROUP BY 1 ORDER BY 1"
    ) == [(False, 1, 4_000), (True, 2, 12_000)] or query(
        ledger, "SELECT reversed, count(*), sum(amount_minor) FROM allocation GROUP BY 1 ORDER BY 1"
    ) == [(0, 1, 4_000), (1, 2, 12_000)]
    assert query(ledger, "SELECT count(*) FROM activity WHERE kind = 'payment.updated'") == [(1,)]


def test_an_invoice_cannot_drop_below_what_is_allocated(ledger: Engine) -> None:
    load(ledger, Kind.PAYMENTS, [pay("P1", date(2026, 2, 10), 9_000)])
    result = load(ledger, Kind.INVOICES, [inv("A", date(2026, 2, 1), 8_000)])
    assert [str(p) for p in result.problems] == [
        "invoices.csv:2:amount: instalment 1 of invoice 'A' has 9000 allocated: its new amount "
        "cannot be less and it cannot be removed"
    ]
    ok = load(ledger, Kind.INVOICES, [inv("A", date(2026, 2, 1), 9_500)])
    assert ok.updated == 1
    assert balances(ledger)[0] == ("A", 1, 500, "open")


def test_credit_notes_apply_to_their_invoice_only(ledger: Engine) -> None:
    notes = [
        {
            "credit_note_id": "N1",
            "debtor_id": "D1",
            "date": date(2026, 2, 2),
            "amount_minor": 12_000,
            "invoice_id": "A",
        },
        {
            "credit_note_id": "N2",
            "debtor_id": "D2",
            "date": date(2026, 2, 2),
            "amount_minor": 1_000,
        },
    ]
    result = load(ledger, Kind.CREDIT_NOTES, notes)
    assert (result.created, result.problems) == (2, [])
    assert balances(ledger) == [
        ("A", 1, 0, "paid"),
        ("B", 1, 5_000, "open"),
        ("B", 2, 5_000, "open"),
        ("C", 1, 6_000, "open"),
    ]
    assert query(ledger, "SELECT external_id, unallocated_minor FROM credit_note ORDER BY 1") == [
        ("N1", 2_000),
        ("N2", 0),
    ]


def test_open_balances_always_equal_amount_minus_active_allocations(ledger: Engine) -> None:
    load(
        ledger,
        Kind.PAYMENTS,
        [pay("P1", date(2026, 2, 10), 12_000), pay("P2", date(2026, 2, 9), 1)],
    )
    load(ledger, Kind.PAYMENTS, [pay("P1", date(2026, 2, 10), 3_000)])
    assert query(
        ledger,
        "SELECT count(*) FROM instalment i WHERE i.open_minor <> i.amount_minor - COALESCE(("
        "SELECT sum(a.amount_minor) FROM allocation a WHERE a.instalment_id = i.id "
        "AND a.reversed = false), 0)",
    ) == [(0,)]


def test_an_invoice_with_allocations_keeps_its_debtor(ledger: Engine) -> None:
    load(ledger, Kind.PAYMENTS, [pay("P1", date(2026, 2, 10), 1_000)])
    result = load(ledger, Kind.INVOICES, [inv("A", date(2026, 2, 1), 10_000, debtor_id="D2")])
    assert [str(p) for p in result.problems] == [
        "invoices.csv:2:debtor_id: invoice 'A' has allocations: its debtor and currency cannot "
        "change"
    ]
    assert query(
        ledger,
        "SELECT d.external_id FROM invoice v JOIN debtor d ON d.id = v.debtor_id "
        "WHERE v.external_id = 'A'",
    ) == [("D1",)]


def test_instalments_repeat_their_invoice_issue_date_and_dispute_flag(ledger: Engine) -> None:
    facts = (
        "SELECT v.external_id, i.seq, i.issue_date = v.issue_date, i.disputed = v.disputed "
        "FROM instalment i JOIN invoice v ON v.id = i.invoice_id ORDER BY 1, 2"
    )
    assert all(same_day and same_flag for _, _, same_day, same_flag in query(ledger, facts))
    changed = load(
        ledger,
        Kind.INVOICES,
        [
            inv("B", date(2026, 3, 1), 5_000, 1, issue_date=date(2026, 1, 9), disputed=True),
            inv("B", date(2026, 4, 1), 5_000, 2, issue_date=date(2026, 1, 9), disputed=True),
            inv("B", date(2026, 5, 1), 5_000, 3, issue_date=date(2026, 1, 9), disputed=True),
        ],
    )
    assert (changed.updated, changed.problems) == (1, [])
    rows = query(ledger, facts)
    assert [r[:2] for r in rows if r[0] == "B"] == [("B", 1), ("B", 2), ("B", 3)]
    assert all(same_day and same_flag for _, _, same_day, same_flag in rows)
    assert query(
        ledger,
        "SELECT count(*) FROM instalment WHERE disputed = true AND issue_date > '2026-01-01'",
    ) == [(3,)]


def test_stored_invoices_are_looked_up_unless_the_portfolio_had_none(engine: Engine) -> None:
    debtors: list[dict[str, object]] = [
        {"debtor_id": d, "name": d, "currency": "USD"} for d in ("D1", "D2")
    ]
    assert load(engine, Kind.DEBTORS, debtors).created == 2
    jan = date(2026, 1, 31)

    def file(conn: Connection) -> LoadContext:
        batch = open_batch(conn, Kind.INVOICES, file_name="f", file_sha256="x", actor="t", at=AT)
        return LoadContext(batch, "t", AT)

    def invoices(rows: list[dict[str, object]], ctx: LoadContext) -> LoadResult:
        return load_frame(conn, Kind.INVOICES, frame(Kind.INVOICES, rows), ctx)

    with engine.begin() as conn:
        first = file(conn)  # a first file into an empty portfolio: no look-up
        result = invoices([inv("A", jan, 100)], first)
        assert (result.created, result.updated, result.problems) == (1, 0, [])
        assert list(first.invoices_before.values()) == [False]
        assert invoices([inv("B", jan, 50, debtor_id="D2")], first).created == 1  # next batch
        second = file(conn)  # a second file of the same import sees what the first stored
        again = [inv("A", jan, 120), inv("B", jan, 50, debtor_id="D2"), inv("C", jan, 10)]
        result = invoices(again, second)
        assert (result.created, result.updated, result.unchanged) == (1, 1, 1)
        assert list(second.invoices_before.values()) == [True]
    assert [(e, o) for e, _, o, _ in balances(engine)] == [("A", 120), ("B", 50), ("C", 10)]
