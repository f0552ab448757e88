"""Recipe: the IBM accounts-receivable sample as arrears import files.

The sample (``WA_Fn-UseC_-Accounts-Receivable.csv``, 2,466 paid invoices of 100 customers,
2012-2013; see ``../shared/data/README.md``) has one row per invoice with the date it was
settled. :func:`convert` turns it into the three canonical files ``arrears import`` reads:

- ``debtors.csv``: one debtor per ``customerID`` (its name is the id: the sample has no names);
- ``invoices.csv``: one invoice (one instalment) per row: ``invoiceNumber`` as text because it is
  zero-padded, ``InvoiceDate``, ``DueDate``, ``InvoiceAmount``, ``Disputed``;
- ``payments.csv``: one payment of the full amount per invoice on ``SettledDate``, with an
  explicit allocation to its invoice (id ``PAY-<invoiceNumber>``), so that the store's allocation
  dates reproduce the sample's settlement dates.

Assumptions, stated because the file does not say: amounts are US dollars; ``countryCode`` (391,
406, 770, 818, 897) is not an ISO 3166 code (numeric 391, 406, 770 and 897 are unassigned), so
every debtor gets country ``US`` and the original code is kept as the debtor attribute
``ibm_country_code`` (``attr_ibm_country_code`` column); ``PaperlessBill`` is kept as the
attribute of the customer's first invoice row (``paperless``). ``PaperlessBill`` is
``Electronic`` exactly when ``InvoiceDate`` is after the customer's ``PaperlessDate`` (on every
row of the sample), so that date is the attribute ``paperless_since``: billing is paperless for
the invoices issued after it, a fact known on each invoice's day (``paperless`` alone is not:
a customer's first row may predate the switch). Dates are M/D/YYYY in the sample and ISO 8601
in the output.

Run it as ``python -m arrears.io.ibm SAMPLE.csv OUT_DIR``, then
``arrears import debtors OUT_DIR/debtors.csv``, ``... invoices ...``, ``... payments ...``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

from arrears.domain.columns import Kind

COUNTRY = "US"
CURRENCY = "USD"


def _date(name: str) -> pl.Expr:
    return pl.col(name).str.strptime(pl.Date, "%m/%d/%Y").dt.strftime("%Y-%m-%d")


def read_sample(path: Path) -> pl.DataFrame:
    """The sample with every cell as text (``invoiceNumber`` keeps its leading zeros)."""
    return pl.read_csv(path, infer_schema=False)


def debtors(sample: pl.DataFrame) -> pl.DataFrame:
    return (
        sample.group_by("customerID", maintain_order=True)
        .agg(
            pl.col("countryCode").first(),
            pl.col("PaperlessBill").first(),
            _date("PaperlessDate").first().alias("paperless_since"),
        )
        .select(
            pl.col("customerID").alias("debtor_id"),
            pl.col("customerID").alias("name"),
            pl.lit("company").alias("kind"),
            pl.lit(COUNTRY).alias("country"),
            pl.lit(CURRENCY).alias("currency"),
            pl.col("countryCode").alias("attr_ibm_country_code"),
            pl.col("PaperlessBill").str.to_lowercase().alias("attr_paperless"),
            pl.col("paperless_since").alias("attr_paperless_since"),
        )
    )


def invoices(sample: pl.DataFrame) -> pl.DataFrame:
    return sample.select(
        pl.col("invoiceNumber").alias("invoice_id"),
        pl.col("customerID").alias("debtor_id"),
        _date("InvoiceDate").alias("issue_date"),
        _date("DueDate").alias("due_date"),
        pl.col("InvoiceAmount").alias("amount"),
        pl.lit(CURRENCY).alias("currency"),
        pl.col("Disputed").alias("disputed"),
    )


def payments(sample: pl.DataFrame) -> pl.DataFrame:
    return sample.select(
        ("PAY-" + pl.col("invoiceNumber")).alias("payment_id"),
        pl.col("customerID").alias("debtor_id"),
        _date("SettledDate").alias("date"),
        pl.col("InvoiceAmount").alias("amount"),
        pl.lit(CURRENCY).alias("currency"),
        pl.col("invoiceNumber").alias("invoice_id"),
    )


def convert(sample_path: Path, out_dir: Path) -> dict[Kind, Path]:
    """Write ``debtors.csv``, ``invoices.csv`` and ``payments.csv`` into ``out_dir``."""
    sample = read_sample(sample_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        Kind.DEBTORS: (debtors(sample), out_dir / "debtors.csv"),
        Kind.INVOICES: (invoices(sample), out_dir / "invoices.csv"),
        Kind.PAYMENTS: (payments(sample), out_dir / "payments.csv"),
    }
    for frame, path in files.values():
        frame.write_csv(path)
    return {kind: path for kind, (_, path) in files.items()}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python -m arrears.io.ibm SAMPLE.csv OUT_DIR\n")
        return 2
    for kind, path in convert(Path(argv[0]), Path(argv[1])).items():
        sys.stdout.write(f"{kind.value}: {path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
