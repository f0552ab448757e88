"""EU late-payment interest (Directive 2011/7/EU), invoice by invoice, for business debtors only;
the fee's readable line. Day by day on the test fake (``cycle_book``), then through ``arrears
run`` on a store: the posted fee invoice says what it is."""

from __future__ import annotations

import csv
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from arrears.cycle.compiled import CompiledPolicy, compile_policy
from arrears.cycle.decide import decide
from arrears.policy.loading import parse_policy
from cycle_book import Book

POLICY = """
policy: eu-fees
language: en
reference_rate: 2.15         # + 8 points: 10.15 % a year
stages:
  - {name: clear}
  - {name: overdue, when: days_past_due >= 1}
segments:
  - {name: everyone}
cadences:
  - stage: overdue
    steps:
      - {id: interest, offset: 40, action: late_fee, fee: eu_late_payment}
"""


def compiled(text: str = POLICY) -> CompiledPolicy:
    policy, _, problems = parse_policy(text, "eu-fees.yaml")
    assert policy is not None and problems == [], problems
    return compile_policy(policy)


def d(month: int, day: int) -> date:
    return date(2026, month, day)


def portfolio() -> Book:
    """BIZ, a company, owes two invoices in euros: 2,500.00 due 1 Feb and 1,000.00 due 1 Mar.
    PERSON, a consumer, owes 1,000.00 due 1 Feb."""
    book = Book()
    biz = book.debtor("BIZ", country="DE", currency="EUR", timezone="Europe/Berlin")
    book.invoice(biz, "2500.00", d(2, 1), currency="EUR")  # invoice 1
    book.invoice(biz, "1000.00", d(3, 1), currency="EUR")  # invoice 2
    person = book.debtor(
        "PERSON", kind="person", country="DE", currency="EUR", timezone="Europe/Berlin"
    )
    book.invoice(person, "1000.00", d(2, 1), currency="EUR")  # invoice 3
    return book


def fees(book: Book, policy: CompiledPolicy, on: date) -> dict[str, tuple[int | None, str]]:
    steps = decide(book.input(on), policy, on).steps.filter(pl.col("action") == "late_fee")
    names = {r["debtor_id"]: r["debtor_external_id"] for r in book.debtors}
    return {
        str(names[r["debtor_id"]]): (r["amount_minor"], json.loads(r["params"]).get("note", ""))
        for r in steps.iter_rows(named=True)
    }


def test_eu_interest_is_per_invoice_on_its_own_days_late_and_for_businesses_only() -> None:
    policy = compiled()
    book = portfolio()
    assert book.days(policy, d(2, 2), d(3, 12)) == [
        "2026-02-02 BIZ case open overdue",
        "2026-02-02 PERSON case open overdue",
    ]
    # 13 March: 40 days after the oldest due date, the step comes due. By hand, at 10.15 %:
    #   invoice 1: 2,500.00 x 0.1015 x 40 / 365 = 27.8082... -> 27.81
    #   invoice 2: 1,000.00 x 0.1015 x 12 / 365 =  3.3369... ->  3.34
    #   compensation for recovery costs, 2 overdue invoices in euros: 2 x 40.00 = 80.00
    #   total 111.15 (the old rule, 40 days on the whole 3,500.00, charged 38.93 + 80.00)
    # PERSON is a consumer: the EU rule does not apply, nothing is charged.
    assert fees(book, policy, d(3, 13)) == {
        "BIZ": (
            2781 + 334 + 8000,
            "Late-payment interest on {invoice:1}, 40 days at 10.15 %; "
            "on {invoice:2}, 12 days at 10.15 %; recovery costs 2 × 40.00 EUR",
        ),
        "PERSON": (None, ""),
    }
    assert book.days(policy, d(3, 13), d(3, 14)) == [
        "2026-03-13 BIZ executed interest",
        "2026-03-13 PERSON executed interest",
    ]


def test_a_policy_may_name_another_fee_for_consumers_and_speak_spanish() -> None:
    text = POLICY.replace("language: en", "language: es").replace(
        "fee: eu_late_payment}", "fee: eu_late_payment, consumers: fixed, amount: 5}"
    )
    policy = compiled(text)
    book = portfolio()
    book.days(policy, d(2, 2), d(3, 12))
    assert fees(book, policy, d(3, 13)) == {
        "BIZ": (
            11115,
            "Intereses de mora sobre {invoice:1}, 40 días al 10,15 %; "
            "sobre {invoice:2}, 12 días al 10,15 %; gastos de cobro 2 × 40,00 EUR",
        ),
        "PERSON": (500, ""),
    }


def test_outside_the_euro_no_compensation_and_a_partial_payment_counts() -> None:
    # USD: interest only; 500.00 of invoice 1 paid, so 2,000.00 x 0.1015 x 40 / 365 = 22.2465...
    policy = compiled()
    book = Book()
    biz = book.debtor("US-BIZ")
    first = book.invoice(biz, "2500.00", d(2, 1))
    book.invoice(biz, "1000.00", d(3, 1))
    book.pay(first, "500.00", d(2, 20))
    book.days(policy, d(2, 2), d(3, 12))
    assert fees(book, policy, d(3, 13)) == {
        "US-BIZ": (
            2225 + 334,
            "Late-payment interest on {invoice:1}, 40 days at 10.15 %; "
            "on {invoice:2}, 12 days at 10.15 %",
        )
    }


def test_the_fee_arrears_run_posts_reads_as_a_line_the_debtor_understands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through `arrears run` and `arrears export invoices`: the fee invoice posted on 13 March
    names each invoice by its number, its days late and the rate."""
    from arrears.cli.app import main
    from arrears.domain.ledger import Debtor, DebtorKind
    from arrears.store.database import connect
    from arrears.store.ledger import cases as ledger
    from test_ledger_support import ACTOR, AT
    from test_ledger_support import Book as Ledger

    root = tmp_path / "ws"
    assert main(["init", str(root)]) == 0
    engine = connect(f"sqlite:///{root / 'arrears.db'}")
    with engine.begin() as conn:
        for ext, kind in (("BIZ", DebtorKind.COMPANY), ("PERSON", DebtorKind.PERSON)):
            debtor = Debtor(ext, f"Debtor {ext}", kind, "DE", "EUR", "Europe/Berlin", "en")
            ledger.add_debtor(conn, debtor, actor=ACTOR, at=AT)
        book = Ledger(conn)
        book.invoice("INV-1041", "BIZ", ("2026-02-01", "2500.00"), currency="EUR")
        book.invoice("INV-1042", "BIZ", ("2026-03-01", "1000.00"), currency="EUR")
        book.invoice("INV-2001", "PERSON", ("2026-02-01", "1000.00"), currency="EUR")
    engine.dispose()
    policy = root / "policies" / "eu-fees.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    for day in ("2026-02-02", "2026-03-13"):
        assert main(["-w", str(root), "run", "--as-of", day, "--policy", str(policy)]) == 0
    out = root / "invoices.csv"
    assert main(["-w", str(root), "export", "invoices", str(out)]) == 0
    capsys.readouterr()
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    fees = [r for r in rows if r["invoice_id"].startswith("fee:")]
    assert len(fees) == 1  # the consumer is charged nothing
    [fee] = fees
    line = (
        "Late-payment interest on INV-1041, 40 days at 10.15 %; "
        "on INV-1042, 12 days at 10.15 %; recovery costs 2 × 40.00 EUR"
    )
    assert fee["debtor_id"] == "BIZ"
    assert (fee["number"], fee["reference"]) == (line, line)
    assert Decimal(fee["amount"]) == Decimal("111.15")  # 27.81 + 3.34 + 80.00


def test_policy_check_reports_a_fee_without_what_it_needs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from arrears.cli.app import main

    bad = POLICY.replace(
        "      - {id: interest, offset: 40, action: late_fee, fee: eu_late_payment}",
        "      - {id: interest, offset: 40, action: late_fee, fee: eu_late_payment,\n"
        "         consumers: percentage}\n"
        "      - {id: flat, offset: 45, action: late_fee, fee: fixed, consumers: fixed}",
    )
    path = tmp_path / "bad.yaml"
    path.write_text(bad, encoding="utf-8")
    assert main(["policy", "check", str(path)]) == 1
    out = capsys.readouterr()
    text = out.out + out.err
    assert "step 'interest': a percentage fee needs rate" in text
    assert "step 'flat': consumers goes with fee eu_late_payment" in text
    assert "step 'flat': a fixed fee needs amount" in text


def test_a_debtor_s_fee_is_the_same_in_any_partition_of_the_debtors() -> None:
    policy = compiled()
    book = portfolio()
    book.days(policy, d(2, 2), d(3, 12))
    data = book.input(d(3, 13))
    full = decide(data, policy, d(3, 13)).steps.select("debtor_id", "amount_minor", "params")
    alone = decide(data.for_debtors(pl.Series([1])), policy, d(3, 13)).steps
    assert alone.select("debtor_id", "amount_minor", "params").equals(
        full.filter(pl.col("debtor_id") == 1)
    )
