"""EU late-payment interest (Directive 2011/7/EU), invoice by invoice, for business debtors only;
the fee's readable line. Day by day on the test fake (``cycle_book``), then through ``arrears
run`` on a store: the posted fee invoice says what it is."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from arrears.cycle.compiled import CompiledPolicy, compile_policy
from arrears.cycle.decide import decide
from arrears.cycle.frames import REFERENCE_RATE_SCHEMA, CycleInput
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


class RatedBook(Book):
    """The test fake with a workspace's dated reference rates (``reference_rates.csv``)."""

    def __init__(self, table: dict[date, str]) -> None:
        super().__init__()
        self.table = pl.DataFrame(
            {
                "from": list(table),
                "rate_micro": [int(Decimal(r).scaleb(6)) for r in table.values()],
            },
            schema=REFERENCE_RATE_SCHEMA,
        )

    def input(self, as_of: date) -> CycleInput:
        return replace(super().input(as_of), reference_rates=self.table)


def two_halves(table: dict[date, str]) -> RatedBook:
    """BIZ owes 2,000.00 due 20 June 2026 (first half-year) and 1,000.00 due 10 July 2026
    (second half-year)."""
    book = RatedBook(table)
    biz = book.debtor("BIZ", country="DE", currency="EUR", timezone="Europe/Berlin")
    book.invoice(biz, "2000.00", d(6, 20), currency="EUR")  # invoice 1
    book.invoice(biz, "1000.00", d(7, 10), currency="EUR")  # invoice 2
    return book


def test_each_invoice_is_charged_the_rate_of_the_half_year_it_fell_due_in() -> None:
    # the table: 2.40 % from 1 January 2026, 2.90 % from 11 June 2026 (a change in the middle
    # of the half-year: it does not apply to the first half-year, whose rate is the one in
    # force on 1 January, but it is the one in force on 1 July). The policy says 2.15.
    book = two_halves({date(2025, 7, 1): "2.15", d(1, 1): "2.40", d(6, 11): "2.90"})
    policy = compiled()
    assert book.days(policy, d(6, 21), d(7, 29)) == ["2026-06-21 BIZ case open overdue"]
    # 30 July, 40 days after 20 June. By hand:
    #   invoice 1 (H1, 2.40 + 8 = 10.40 %): 2,000.00 x 0.1040 x 40 / 365 = 22.7945... -> 22.79
    #   invoice 2 (H2, 2.90 + 8 = 10.90 %): 1,000.00 x 0.1090 x 20 / 365 =  5.9726... ->  5.97
    #   recovery costs 2 x 40.00 = 80.00; total 108.76
    assert fees(book, policy, d(7, 30)) == {
        "BIZ": (
            2279 + 597 + 8000,
            "Late-payment interest on {invoice:1}, 40 days at 10.40 %; "
            "on {invoice:2}, 20 days at 10.90 %; recovery costs 2 × 40.00 EUR",
        )
    }
    assert book.days(policy, d(7, 30), d(7, 30)) == ["2026-07-30 BIZ executed interest"]


def test_without_a_rate_for_its_half_year_an_invoice_gets_the_policy_s_reference_rate() -> None:
    # the table starts on 1 July 2026: the invoice due in June falls back to the policy's 2.15
    book = two_halves({d(7, 1): "3.00"})
    policy = compiled()
    book.days(policy, d(6, 21), d(7, 29))
    # invoice 1: 2,000.00 x 0.1015 x 40 / 365 = 22.2465... -> 22.25
    # invoice 2: 1,000.00 x 0.1100 x 20 / 365 =  6.0273... ->  6.03
    assert fees(book, policy, d(7, 30)) == {
        "BIZ": (
            2225 + 603 + 8000,
            "Late-payment interest on {invoice:1}, 40 days at 10.15 %; "
            "on {invoice:2}, 20 days at 11.00 %; recovery costs 2 × 40.00 EUR",
        )
    }


def _eu_workspace(root: Path) -> Path:
    """A workspace (``arrears init``) where BIZ, a company, owes INV-1 (2,000.00, due 20 June
    2026) and INV-2 (1,000.00, due 10 July 2026), and the policy of this module; its path."""
    from arrears.cli.app import main
    from arrears.domain.ledger import Debtor, DebtorKind
    from arrears.store.database import connect
    from arrears.store.ledger import cases as ledger
    from test_ledger_support import ACTOR, AT
    from test_ledger_support import Book as Ledger

    assert main(["init", str(root)]) == 0
    engine = connect(f"sqlite:///{root / 'arrears.db'}")
    with engine.begin() as conn:
        debtor = Debtor("BIZ", "Debtor BIZ", DebtorKind.COMPANY, "DE", "EUR", "Europe/Berlin", "en")
        ledger.add_debtor(conn, debtor, actor=ACTOR, at=AT)
        book = Ledger(conn)
        book.invoice("INV-1", "BIZ", ("2026-06-20", "2000.00"), currency="EUR")
        book.invoice("INV-2", "BIZ", ("2026-07-10", "1000.00"), currency="EUR")
    engine.dispose()
    policy = root / "policies" / "eu-fees.yaml"
    policy.write_text(POLICY.replace("reference_rate: 2.15", "reference_rate: 3.00"), "utf-8")
    return policy


def _fee_line(root: Path) -> tuple[str, Decimal]:
    from arrears.cli.app import main

    out = root / "invoices.csv"
    assert main(["-w", str(root), "export", "invoices", str(out)]) == 0
    [fee] = [
        r for r in csv.DictReader(out.open(encoding="utf-8")) if r["invoice_id"].startswith("fee:")
    ]
    return fee["number"], Decimal(fee["amount"])


def test_arrears_run_reports_every_problem_of_the_rate_table_then_uses_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from arrears.cli.app import main

    root = tmp_path / "ws"
    policy = _eu_workspace(root)
    table = root / "reference_rates.csv"
    assert table.is_file()  # init's starter table, with its source
    assert "ecb.europa.eu" in table.read_text(encoding="utf-8")
    capsys.readouterr()
    table.write_text(
        "# ECB rates\nfrom,rate\n2026-01-01,2.40\n2026-13-01,2.50\n2026-07-01,two\n"
        "2025-07-01,2.15\n2026-08-01\n",
        encoding="utf-8",
    )
    run = ["-w", str(root), "run", "--policy", str(policy), "--as-of"]
    assert main([*run, "2026-06-21"]) != 0
    out = capsys.readouterr()
    text = out.out + out.err
    for problem in (
        "reference_rates.csv:4: from '2026-13-01' is not a date",
        "reference_rates.csv:5: rate 'two' is not a percentage",
        "reference_rates.csv:6: from 2025-07-01 is not after the previous line's 2026-01-01",
        "reference_rates.csv:7: expected 2 columns (from,rate), found 1",
    ):
        assert problem in text, text
    # fixed: each invoice at its half-year's rate
    table.write_text("from,rate\n2026-01-01,2.40\n2026-06-11,2.90\n", encoding="utf-8")
    for day in ("2026-06-21", "2026-07-30"):
        assert main([*run, day]) == 0
    assert _fee_line(root) == (
        "Late-payment interest on INV-1, 40 days at 10.40 %; "
        "on INV-2, 20 days at 10.90 %; recovery costs 2 × 40.00 EUR",
        Decimal("108.76"),
    )


def test_without_a_rate_table_arrears_run_uses_the_policy_s_reference_rate(
    tmp_path: Path,
) -> None:
    from arrears.cli.app import main

    root = tmp_path / "ws"
    policy = _eu_workspace(root)
    (root / "reference_rates.csv").unlink()
    for day in ("2026-06-21", "2026-07-30"):
        assert main(["-w", str(root), "run", "--policy", str(policy), "--as-of", day]) == 0
    # 3.00 + 8 = 11.00 %: 2,000.00 x 0.11 x 40 / 365 = 24.1095... -> 24.11;
    # 1,000.00 x 0.11 x 20 / 365 = 6.0273... -> 6.03; + 80.00 = 110.14
    assert _fee_line(root) == (
        "Late-payment interest on INV-1, 40 days at 11.00 %; "
        "on INV-2, 20 days at 11.00 %; recovery costs 2 × 40.00 EUR",
        Decimal("110.14"),
    )


def test_arrears_run_warns_when_the_rate_table_has_no_rate_for_the_half_year(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """init's starter table ends in mid-2025: a run in the second half of 2026 says which line
    to add instead of charging the old rate in silence; with the line, no warning."""
    from arrears.cli.app import main

    root = tmp_path / "ws"
    policy = _eu_workspace(root)
    run = ["-w", str(root), "run", "--policy", str(policy), "--as-of", "2026-07-30"]
    capsys.readouterr()
    assert main(run) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "from 2026-07-01" in err and "'2026-07-01,RATE'" in err, err
    with (root / "reference_rates.csv").open("a", encoding="utf-8") as table:
        table.write("2026-01-01,2.15\n2026-07-01,2.15\n")
    assert main(run) == 0
    assert "warning" not in capsys.readouterr().err
