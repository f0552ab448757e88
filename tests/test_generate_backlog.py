"""``arrears generate --profile backlog``: a takeover backlog, imported as a user would."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from arrears.cli.app import main

AS_OF = date(2026, 11, 30)


def test_a_generated_backlog_imports_with_most_debtors_overdue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws, data = tmp_path / "ws", tmp_path / "data"
    assert main(["init", str(ws)]) == 0
    gen = ["generate", str(data), "--profile", "backlog", "--debtors", "400", "--seed", "11"]
    assert main([*gen, "--as-of", AS_OF.isoformat(), "--json"]) == 0
    capsys.readouterr()
    assert main([*gen, "--as-of", AS_OF.isoformat(), "--json"]) == 0  # same seed, same files
    stats = json.loads(capsys.readouterr().out)
    assert (stats["profile"], stats["seed"]) == ("backlog", 11)
    assert stats["parameters"]["terms"] == [30, 45, 60]
    assert stats["invoices"] == stats["instalments"] == 5 * 400
    assert 0.8 * 400 * 4.5 < stats["payments"] < 1.2 * 400 * 4.5
    for kind in ("debtors", "invoices", "payments"):
        assert main(["-w", str(ws), "import", kind, str(data / f"{kind}.csv")]) == 0
    assert main(["-w", str(ws), "export", "invoices", str(tmp_path / "open.csv")]) == 0
    assert main(["-w", str(ws), "export", "payments", str(tmp_path / "paid.csv")]) == 0
    invoices = pl.read_csv(tmp_path / "open.csv", infer_schema=False)
    payments = pl.read_csv(tmp_path / "paid.csv", infer_schema=False)
    open_rows = invoices.filter(pl.col("open_amount").cast(pl.Decimal(20, 2)) > 0)
    overdue = open_rows.filter(pl.col("due_date") < AS_OF.isoformat())
    debtors_open = open_rows["debtor_id"].n_unique() / 400
    # the shape the issue describes: ~86 % of debtors with something open, most of it overdue
    assert 0.78 < debtors_open < 0.94
    assert overdue.height / open_rows.height > 0.75
    assert debtors_open == pytest.approx(stats["share_debtors_open"], abs=0.003)
    # every payment was applied to the invoice it names, nothing left unallocated; some partly
    assert (payments["invoice_id"].is_not_null()).all()
    assert (payments["unallocated_amount"].cast(pl.Decimal(20, 2)) == 0).all()
    partly = open_rows.filter(pl.col("open_amount") != pl.col("amount"))
    assert partly.height > 0.1 * open_rows.height
    issued = invoices["issue_date"].str.to_date()
    assert (AS_OF - issued.min()).days > 300  # a year of history
    assert set(
        (invoices["due_date"].str.to_date() - issued).dt.total_days().unique().to_list()
    ) == {30, 45, 60}
