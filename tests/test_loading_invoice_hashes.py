"""An invoice's ``row_hash`` does not depend on how the loader computes it: one-instalment
invoices take a shortcut (no sort, no grouping) that must give exactly ``records.group_hashes``,
so that a re-import of a file loaded by an earlier version still finds its invoices unchanged."""

from __future__ import annotations

from datetime import date

import polars as pl

from arrears.store.loading import invoices as load_invoices
from arrears.store.loading import records

FIELDS = ["portfolio_id", "invoice_id", "debtor_id", "due_date", "amount_minor", "reference"]


def _rows() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "portfolio_id": [1, 1, 1, 2, 1, 1],
            "invoice_id": ["A", "B", "B", "A", "C", "B"],
            "seq": [1, 2, 1, 1, 1, 3],
            "debtor_id": ["d1", "d2", "d2", "d1", "d3", "d2"],
            "due_date": [date(2026, 1, d) for d in (1, 2, 3, 4, 5, 6)],
            "amount_minor": [100, 200, 300, 400, 500, 600],
            "reference": [None, "r", "r", "", None, "r"],
        }
    )


def test_the_shortcut_for_one_instalment_gives_the_grouped_hash() -> None:
    rows = _rows()
    expected = records.group_hashes(rows, load_invoices.KEY, FIELDS, ["seq"])
    got = load_invoices._hashes(rows, FIELDS)
    assert got.columns == expected.columns
    assert got.sort(load_invoices.KEY).equals(expected.sort(load_invoices.KEY))
    # A (portfolio 1), A (portfolio 2) and C have one row each: their hash is that row's
    singles = rows.filter(pl.col("invoice_id") != "B")
    by_row = singles.select(*load_invoices.KEY, records.row_hashes(singles, FIELDS))
    assert (
        got.join(by_row, on=load_invoices.KEY)
        .filter(pl.col("row_hash") != pl.col("row_hash_right"))
        .is_empty()
    )
    assert got.height == 4


def test_only_one_instalment_invoices_or_only_several_both_work() -> None:
    rows = _rows()
    for part in (
        rows.filter(pl.col("invoice_id") != "B"),
        rows.filter(pl.col("invoice_id") == "B"),
    ):
        expected = records.group_hashes(part, load_invoices.KEY, FIELDS, ["seq"])
        got = load_invoices._hashes(part, FIELDS)
        assert got.sort(load_invoices.KEY).equals(expected.sort(load_invoices.KEY))
