"""The demo portfolio: files the importer reads, sound ledgers, and IBM-like payment behaviour.

A portfolio of 3,000 debtors over 12 months is generated once for the module; each test checks
one promise of ``arrears generate`` on it, reading the files back as text, as the importer will.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import phonenumbers
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from arrears.demo import archetypes
from arrears.demo.files import decimal_text
from arrears.demo.generate import generate
from arrears.demo.stats import GenerationStats
from arrears.domain import columns
from arrears.domain.money import exponent, from_minor, to_minor

END = date(2026, 6, 30)
DEBTORS = 3_000

#: The IBM accounts-receivable sample: 35.6 % of invoices paid late, mean days late 3.44.
#: A 3,000-debtor demo lands within these bounds for any seed we tried (7..11: 35.5-37.2 %,
#: 3.49-3.69 days).
LATE_SHARE_BOUNDS = (0.31, 0.41)
DAYS_LATE_BOUNDS = (2.5, 4.8)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationStats]:
    out = tmp_path_factory.mktemp("demo")
    return out, generate(DEBTORS, 12, 7, END, out)


def _read(folder: Path, kind: str) -> pl.DataFrame:
    return pl.read_csv(folder / f"{kind}.csv", infer_schema=False)


def _minor(frame: pl.DataFrame, column: str) -> pl.Series:
    """Amount text -> exact integer minor units, through Decimal."""
    values = [
        to_minor(Decimal(text), currency)
        for text, currency in zip(frame[column], frame["currency"], strict=True)
    ]
    return pl.Series(values, dtype=pl.Int64)


def test_headers_are_exactly_the_canonical_columns(demo: tuple[Path, GenerationStats]) -> None:
    out, _ = demo
    expected = {
        "debtors": [c.name for c in columns.DEBTORS] + [columns.ATTRIBUTE_PREFIX + "archetype"],
        "invoices": [c.name for c in columns.INVOICES],
        "payments": [c.name for c in columns.PAYMENTS],
    }
    for kind, names in expected.items():
        header = (out / f"{kind}.csv").read_text(encoding="utf-8").splitlines()[0]
        assert header.split(",") == names


def test_same_arguments_same_bytes(tmp_path: Path) -> None:
    first, again, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(400, 6, 11, END, first)
    generate(400, 6, 11, END, again)
    generate(400, 6, 12, END, other)
    for name in ("debtors.csv", "invoices.csv", "payments.csv"):
        assert (first / name).read_bytes() == (again / name).read_bytes()
        assert (first / name).read_bytes() != (other / name).read_bytes()


def test_statistics_resemble_the_ibm_sample(demo: tuple[Path, GenerationStats]) -> None:
    _, stats = demo
    assert LATE_SHARE_BOUNDS[0] <= stats.share_paid_late <= LATE_SHARE_BOUNDS[1]
    assert DAYS_LATE_BOUNDS[0] <= stats.mean_days_late <= DAYS_LATE_BOUNDS[1]
    assert stats.mean_days_to_settle_disputed > stats.mean_days_to_settle_undisputed + 7
    assert 0.02 <= stats.share_disputed <= 0.12
    assert 0 < stats.share_overdue_at_end < stats.share_unpaid_at_end < 0.35


def test_statistics_count_what_the_files_hold(demo: tuple[Path, GenerationStats]) -> None:
    out, stats = demo
    invoices, payments = _read(out, "invoices"), _read(out, "payments")
    assert stats.debtors == _read(out, "debtors").height == DEBTORS
    assert stats.instalments == invoices.height
    assert stats.invoices == invoices["invoice_id"].n_unique()
    assert stats.payments == payments.height
    usd = invoices.filter(pl.col("currency") == "USD")
    assert stats.invoiced["USD"] == from_minor(int(_minor(usd, "amount").sum()), "USD")


def test_archetype_shares(demo: tuple[Path, GenerationStats]) -> None:
    out, stats = demo
    written = dict(_read(out, "debtors")["attr_archetype"].value_counts().iter_rows())
    assert written == stats.archetypes
    for archetype, share in zip(archetypes.CODES, archetypes.shares(), strict=True):
        assert abs(written[archetype] / DEBTORS - share) < 0.035, archetype


def test_every_phone_is_valid_e164_for_its_country(demo: tuple[Path, GenerationStats]) -> None:
    debtors = _read(demo[0], "debtors")
    assert set(debtors["country"]) >= {"US", "CO", "MX", "ES", "DE", "FR", "GB"}
    for phone, country in debtors.select("phone", "country").iter_rows():
        number = phonenumbers.parse(phone, country)
        assert phonenumbers.is_valid_number(number), (phone, country)
        assert phonenumbers.region_code_for_number(number) == country, (phone, country)
        assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == phone


def test_debtors_of_both_kinds_in_several_time_zones(demo: tuple[Path, GenerationStats]) -> None:
    debtors = _read(demo[0], "debtors")
    assert set(debtors["kind"]) == {"person", "company"}
    assert set(debtors["segment"]) == {"consumer", "smb", "enterprise"}
    us_zones = set(debtors.filter(pl.col("country") == "US")["timezone"])
    assert len(us_zones) >= 4
    colombia = debtors.filter(pl.col("country") == "CO")
    assert set(colombia["timezone"]) == {"America/Bogota"}
    assert set(colombia["currency"]) == {"COP"}
    assert set(colombia["language"]) == {"es"}
    assert debtors["debtor_id"].n_unique() == DEBTORS
    assert 0 < (debtors["bankrupt"] == "yes").mean() < 0.05  # type: ignore[operator]


def test_amounts_are_exact_decimals_in_minor_units(demo: tuple[Path, GenerationStats]) -> None:
    out, _ = demo
    for kind, column in (
        ("invoices", "amount"),
        ("payments", "amount"),
        ("debtors", "credit_limit"),
    ):
        frame = _read(out, kind)
        for text, currency in frame.select(column, "currency").iter_rows():
            whole, _, fraction = text.partition(".")
            assert whole.isdigit() and len(fraction) == exponent(currency), (kind, text)
            assert Decimal(text) > 0


def test_instalments_have_30_45_or_60_day_terms(demo: tuple[Path, GenerationStats]) -> None:
    invoices = _read(demo[0], "invoices").with_columns(
        pl.col("issue_date", "due_date").str.to_date(), pl.col("instalment").cast(pl.Int32)
    )
    first = invoices.filter(pl.col("instalment") == 1)
    terms = (first["due_date"] - first["issue_date"]).dt.total_days()
    assert set(terms) == {30, 45, 60}
    assert invoices["issue_date"].max() <= END  # type: ignore[operator]
    split = invoices.group_by("invoice_id").agg(pl.len()).filter(pl.col("len") > 1)
    assert 0 < split.height / first.height < 0.08
    assert set(split["len"]) <= {2, 3}


def _payments_with_instalments(out: Path) -> pl.DataFrame:
    invoices = _read(out, "invoices").with_columns(
        instalment_minor=_minor(_read(out, "invoices"), "amount")
    )
    payments = _read(out, "payments")
    payments = payments.with_columns(
        paid_minor=_minor(payments, "amount"), allocated_minor=_minor(payments, "allocated_amount")
    )
    return payments.join(
        invoices.select(
            "invoice_id",
            "instalment",
            "issue_date",
            "instalment_minor",
            debtor="debtor_id",
            cur="currency",
        ),
        on=["invoice_id", "instalment"],
        how="left",
    )


def test_payments_never_exceed_their_instalment(demo: tuple[Path, GenerationStats]) -> None:
    rows = _payments_with_instalments(demo[0])
    assert rows["instalment_minor"].null_count() == 0  # every payment names a real instalment
    assert (rows["allocated_minor"] == rows["paid_minor"]).all()
    assert (rows["paid_minor"] > 0).all()
    assert (rows["paid_minor"] <= rows["instalment_minor"]).all()
    assert (rows["debtor"] == rows["debtor_id"]).all()
    assert (rows["cur"] == rows["currency"]).all()
    per_instalment = rows.group_by("invoice_id", "instalment").agg(
        pl.sum("paid_minor"), pl.first("instalment_minor"), pl.len()
    )
    assert (per_instalment["paid_minor"] <= per_instalment["instalment_minor"]).all()
    assert (per_instalment["len"] > 1).any()  # some instalments are paid in parts
    assert rows["payment_id"].n_unique() == rows.height


def test_payments_fall_between_issue_and_end(demo: tuple[Path, GenerationStats]) -> None:
    rows = _payments_with_instalments(demo[0]).with_columns(
        pl.col("date", "issue_date").str.to_date()
    )
    assert (rows["date"] >= rows["issue_date"]).all()
    assert rows["date"].max() <= END  # type: ignore[operator]


def test_never_payers_pay_nothing(demo: tuple[Path, GenerationStats]) -> None:
    out, _ = demo
    never = _read(out, "debtors").filter(pl.col("attr_archetype") == "never_pays")["debtor_id"]
    payments = _read(out, "payments")
    assert never.len() > 0
    assert payments.filter(pl.col("debtor_id").is_in(never.implode())).height == 0


@given(
    minor=st.integers(min_value=-(10**15), max_value=10**15),
    currency=st.sampled_from(["USD", "COP", "JPY", "BHD", "EUR"]),
)
def test_decimal_text_is_exact(minor: int, currency: str) -> None:
    frame = pl.DataFrame({"m": [minor], "c": [currency]})
    text = frame.select(decimal_text(pl.col("m"), pl.col("c"), [currency])).item()
    assert text == str(from_minor(minor, currency))
