"""The first load of a backlog's payments (issue 20): the narrow reads and the all-fit path give
what the general path gives, on SQLite and PostgreSQL; a bad row rolls back every batch; a second
import of the same file changes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine, text

from arrears.demo.generate import Profile, generate
from arrears.domain.columns import Kind
from arrears.io.batches import ReadOptions
from arrears.io.importer import ImportReport, import_files
from arrears.store.loading import explicit_allocation, payments
from arrears.store.portfolios import ensure_portfolio

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
FAST, GENERAL = "fast", "general"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("backlog")
    generate(40, 12, 5, date(2026, 11, 30), out, profile=Profile.BACKLOG)
    pay = pl.read_csv(out / "payments.csv", infer_schema=False)
    # besides the explicit lines: payments left to the rule, and a line without an amount,
    # from debtors with something open
    inv = pl.read_csv(out / "invoices.csv", infer_schema=False)
    owed = inv.group_by("debtor_id").agg(pl.col("amount").cast(pl.Float64).sum())
    paid = pay.group_by("debtor_id").agg(pl.col("amount").cast(pl.Float64).sum().alias("paid"))
    behind = owed.join(paid, on="debtor_id").filter(pl.col("amount") > pl.col("paid") + 10)
    extra = (
        pay.join(behind.select("debtor_id"), on="debtor_id")
        .head(3)
        .with_columns(
            pl.format("X{}", pl.col("payment_id")).alias("payment_id"),
            pl.lit("2026-11-29").alias("date"),
            pl.lit("1.00").alias("amount"),
            pl.lit(None, pl.String).alias("invoice_id"),
            pl.lit(None, pl.String).alias("instalment"),
            pl.lit(None, pl.String).alias("allocated_amount"),
        )
    )
    unamounted = extra.head(1).with_columns(
        pl.lit("Y1").alias("payment_id"),
        pl.lit(_last_invoice(inv, extra["debtor_id"][0])).alias("invoice_id"),
    )
    pl.concat([pay, extra, unamounted]).write_csv(out / "payments.csv")
    return out


def _last_invoice(invoices: pl.DataFrame, debtor: str) -> str:
    return str(invoices.filter(pl.col("debtor_id") == debtor)["invoice_id"][-1])


def run(engine: Engine, kind: Kind, path: Path, portfolio: str) -> ImportReport:
    options = ReadOptions(default_portfolio=portfolio, batch_rows=37)
    return import_files(engine, kind, [path], options, actor="test", at=AT)


@pytest.fixture
def loaded(engine: Engine, files: Path) -> Engine:
    with engine.begin() as conn:
        for code in (FAST, GENERAL):
            ensure_portfolio(conn, code, name=None, base_currency="USD", actor="t")
    for code in (FAST, GENERAL):
        for kind in (Kind.DEBTORS, Kind.INVOICES):
            report = run(engine, kind, files / f"{kind.value}.csv", code)
            assert report.committed, [str(p) for p in report.problems[:3]]
    return engine


def ledger(engine: Engine, code: str) -> dict[str, list[tuple[Any, ...]]]:
    """What one portfolio holds, by external ids (comparable across portfolios)."""
    queries = {
        "invoices": "SELECT v.external_id, v.status FROM invoice v "
        "JOIN portfolio p ON p.id = v.portfolio_id WHERE p.code = :p ORDER BY 1",
        "instalments": "SELECT v.external_id, i.seq, i.open_minor FROM instalment i "
        "JOIN invoice v ON v.id = i.invoice_id "
        "JOIN portfolio p ON p.id = v.portfolio_id WHERE p.code = :p ORDER BY 1, 2",
        "payments": "SELECT y.external_id, y.amount_minor, y.unallocated_minor FROM payment y "
        "JOIN portfolio p ON p.id = y.portfolio_id WHERE p.code = :p ORDER BY 1",
        "allocations": "SELECT y.external_id, v.external_id, i.seq, a.amount_minor, "
        "CAST(a.allocated_on AS TEXT) FROM allocation a JOIN payment y ON y.id = a.source_id "
        "AND a.source_kind = 'payment' JOIN instalment i ON i.id = a.instalment_id "
        "JOIN invoice v ON v.id = i.invoice_id JOIN portfolio p ON p.id = y.portfolio_id "
        "WHERE p.code = :p ORDER BY 1, 2, 3",
    }
    with engine.connect() as conn:
        return {
            name: [tuple(r) for r in conn.execute(text(sql), {"p": code}).all()]
            for name, sql in queries.items()
        }


def test_the_first_load_path_gives_what_the_general_path_gives(
    loaded: Engine, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = run(loaded, Kind.PAYMENTS, files / "payments.csv", FAST)
    assert fast.committed, [str(p) for p in fast.problems[:3]]
    with monkeypatch.context() as patch:  # every debtor's open instalments, the general path
        patch.setattr(explicit_allocation, "_all_fit", lambda *_: None)
        patch.setattr(payments, "_rule_debtors", lambda todo, *_: todo["debtor_pk"].unique())
        general = run(loaded, Kind.PAYMENTS, files / "payments.csv", GENERAL)
    assert general.committed
    assert fast.counts == general.counts
    held = ledger(loaded, FAST)
    assert held == ledger(loaded, GENERAL)
    assert {s for _, s in held["invoices"]} == {"open", "paid"}
    # the payments left to the rule (and the line without an amount) were applied too
    applied = {r[0] for r in held["allocations"]}
    assert {"Y1"} | {r[0] for r in held["payments"] if r[0].startswith("X")} <= applied
    again = run(loaded, Kind.PAYMENTS, files / "payments.csv", FAST)
    assert again.committed
    assert (again.counts["created"], again.counts["updated"]) == (0, 0)
    assert ledger(loaded, FAST) == held


def test_a_bad_row_in_the_last_batch_rolls_back_every_batch(
    loaded: Engine, files: Path, tmp_path: Path
) -> None:
    before = ledger(loaded, FAST)
    pay = pl.read_csv(files / "payments.csv", infer_schema=False)
    first = pay.filter(pl.col("invoice_id").is_not_null()).head(1)
    too_much = first.with_columns(
        pl.lit("Z1").alias("payment_id"),
        pl.lit("99999999.00").alias("amount"),
        pl.lit("99999999.00").alias("allocated_amount"),
    )
    bad = tmp_path / "payments.csv"
    pl.concat([pay, too_much]).write_csv(bad)
    report = run(loaded, Kind.PAYMENTS, bad, FAST)
    assert not report.committed
    assert [(p.row, p.column) for p in report.problems] == [(pay.height + 2, "allocated_amount")]
    assert "exceeds its open balance" in report.problems[0].message
    assert ledger(loaded, FAST) == before
    assert before["payments"] == [] and before["allocations"] == []
