"""Export writes the ledger in the importer's columns, escapes formulas in CSV, and round-trips;
on SQLite and PostgreSQL (rows inserted with SQLAlchemy Core, independent of the loader)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Connection, Engine, insert

from arrears.domain.columns import Kind
from arrears.domain.problems import ProblemsFound
from arrears.io.batches import ReadOptions
from arrears.io.export import export_ledger
from arrears.io.reading import read_file
from arrears.store import schema
from arrears.store.portfolios import ensure_portfolio

NOW = datetime(2026, 3, 1, tzinfo=UTC)
STAMP = {"row_hash": "x", "created_at": NOW, "updated_at": NOW}


def _insert(conn: Connection, table: Any, **values: Any) -> int:
    key = conn.execute(insert(table).values(**values)).inserted_primary_key
    assert key is not None
    return int(key[0])


def _debtor(conn: Connection, pid: int, external_id: str, name: str, **extra: Any) -> int:
    values = {
        "country": "US",
        "timezone": "America/New_York",
        "language": "en",
        "currency": "USD",
        "kind": "company",
        "tags": [],
        "attributes": {},
    }
    return _insert(
        conn,
        schema.debtor,
        portfolio_id=pid,
        external_id=external_id,
        name=name,
        **(values | extra),
        **STAMP,
    )


def _contact(conn: Connection, debtor_id: int, kind: str, value: str, **consents: str) -> None:
    point = _insert(
        conn, schema.contact_point, debtor_id=debtor_id, kind=kind, value=value, created_at=NOW
    )
    for channel, status in consents.items():
        _insert(
            conn,
            schema.consent,
            contact_point_id=point,
            channel=channel,
            status=status,
            recorded_at=NOW,
            source="test",
        )


@pytest.fixture
def ledger(engine: Engine) -> Engine:
    """Two portfolios; a debtor with a formula for a name; an invoice in two instalments, one
    partly paid; a payment allocated to two instalments; a JPY credit note."""
    with engine.begin() as conn:
        pid = ensure_portfolio(conn, "default", name=None, base_currency="USD", actor="t")
        other = ensure_portfolio(conn, "es", name=None, base_currency="EUR", actor="t")
        d1 = _debtor(
            conn,
            pid,
            "D1",
            '=HYPERLINK("http://x","y")',
            credit_limit_minor=500000,
            tags=["vip", "late"],
            attributes={"segment": "smb", "sector": "retail"},
            bankrupt=True,
        )
        _contact(conn, d1, "email", "ap@acme.example", email="granted")
        _contact(
            conn, d1, "phone", "+12125550100", sms="denied", whatsapp="unknown", call="granted"
        )
        _contact(conn, d1, "postal", "-1 Main St", letter="granted")
        d2 = _debtor(
            conn, other, "D2", "Beta", currency="JPY", country="ES", timezone="Europe/Madrid"
        )
        inv = _insert(
            conn,
            schema.invoice,
            portfolio_id=pid,
            debtor_id=d1,
            external_id="I1",
            number="+F-1",
            issue_date=date(2026, 1, 5),
            currency="USD",
            amount_minor=30000,
            reference="@order 7",
            **STAMP,
        )
        common = {
            "invoice_id": inv,
            "portfolio_id": pid,
            "debtor_id": d1,
            "currency": "USD",
            "issue_date": date(2026, 1, 5),
        }
        i1 = _insert(
            conn,
            schema.instalment,
            seq=1,
            due_date=date(2026, 2, 4),
            amount_minor=10005,
            open_minor=0,
            **common,
        )
        i2 = _insert(
            conn,
            schema.instalment,
            seq=2,
            due_date=date(2026, 3, 4),
            amount_minor=19995,
            open_minor=10000,
            **common,
        )
        pay = _insert(
            conn,
            schema.payment,
            portfolio_id=pid,
            debtor_id=d1,
            external_id="P1",
            received_on=date(2026, 2, 10),
            currency="USD",
            amount_minor=20000,
            unallocated_minor=0,
            method="transfer",
            **STAMP,
        )
        for instalment, amount in ((i1, 10005), (i2, 9995)):
            _insert(
                conn,
                schema.allocation,
                source_kind="payment",
                source_id=pay,
                instalment_id=instalment,
                debtor_id=d1,
                currency="USD",
                amount_minor=amount,
                allocated_on=date(2026, 2, 10),
            )
        _insert(
            conn,
            schema.credit_note,
            portfolio_id=other,
            debtor_id=d2,
            external_id="C1",
            issued_on=date(2026, 2, 1),
            currency="JPY",
            amount_minor=1500,
            unallocated_minor=1500,
            reason="=returned",
            **STAMP,
        )
    return engine


def test_debtors_export_with_contacts_consents_attributes_and_escaping(
    ledger: Engine, tmp_path: Path
) -> None:
    out = tmp_path / "debtors.csv"
    assert export_ledger(ledger, Kind.DEBTORS, out, "default") == 1
    row = pl.read_csv(out, infer_schema=False).row(0, named=True)
    assert row["name"] == '\'=HYPERLINK("http://x","y")'
    assert row["phone"] == "'+12125550100"
    assert row["address"] == "'-1 Main St"
    assert (row["email"], row["consent_email"], row["consent_sms"], row["consent_call"]) == (
        "ap@acme.example",
        "granted",
        "denied",
        "granted",
    )
    assert row["consent_whatsapp"] == "unknown"
    assert (row["credit_limit"], row["tags"], row["segment"], row["attr_sector"]) == (
        "5000.00",
        "vip;late",
        "smb",
        "retail",
    )
    assert (row["bankrupt"], row["portfolio"]) == ("true", "default")
    # and it imports back as it was
    (batch,) = read_file(out, Kind.DEBTORS, ReadOptions())
    assert batch.problems == []
    back = batch.valid.row(0, named=True)
    assert back["name"] == '=HYPERLINK("http://x","y")'
    assert (back["phone"], back["address"], back["credit_limit_minor"]) == (
        "+12125550100",
        "-1 Main St",
        500000,
    )
    assert (back["tags"], back["segment"], back["attributes"]) == (
        ["vip", "late"],
        "smb",
        '{"sector":"retail"}',
    )


def test_invoices_export_one_row_per_instalment_with_open_balance(
    ledger: Engine, tmp_path: Path
) -> None:
    out = tmp_path / "invoices.csv"
    assert export_ledger(ledger, Kind.INVOICES, out, None) == 2
    frame = pl.read_csv(out, infer_schema=False)
    assert frame.select("invoice_id", "instalment", "due_date", "amount", "open_amount").rows() == [
        ("I1", "1", "2026-02-04", "100.05", "0.00"),
        ("I1", "2", "2026-03-04", "199.95", "100.00"),
    ]
    assert frame["number"].to_list() == ["'+F-1", "'+F-1"]
    assert frame["reference"].to_list() == ["'@order 7", "'@order 7"]
    batches = list(read_file(out, Kind.INVOICES, ReadOptions()))
    assert [p for b in batches for p in b.problems] == []
    typed = batches[0].valid
    assert typed["amount_minor"].to_list() == [10005, 19995]
    assert typed["number"].to_list() == ["+F-1", "+F-1"]


def test_payments_export_one_row_per_allocation(ledger: Engine, tmp_path: Path) -> None:
    out = tmp_path / "payments.parquet"
    assert export_ledger(ledger, Kind.PAYMENTS, out) == 2
    frame = pl.read_parquet(out)
    assert frame.select(
        "payment_id", "amount", "invoice_id", "instalment", "allocated_amount"
    ).rows() == [
        ("P1", "200.00", "I1", 1, "100.05"),
        ("P1", "200.00", "I1", 2, "99.95"),
    ]
    assert frame["date"].to_list() == [date(2026, 2, 10)] * 2
    batches = list(read_file(out, Kind.PAYMENTS, ReadOptions()))
    assert [p for b in batches for p in b.problems] == []
    assert batches[0].valid["allocated_amount_minor"].to_list() == [10005, 9995]


def test_credit_notes_export_in_their_currency(ledger: Engine, tmp_path: Path) -> None:
    out = tmp_path / "credit-notes.csv"
    assert export_ledger(ledger, Kind.CREDIT_NOTES, out, "es") == 1
    row = pl.read_csv(out, infer_schema=False).row(0, named=True)
    assert (row["credit_note_id"], row["amount"], row["currency"], row["reason"]) == (
        "C1",
        "1500",
        "JPY",
        "'=returned",
    )
    assert export_ledger(ledger, Kind.CREDIT_NOTES, out, "default") == 0
    assert pl.read_csv(out).columns[:4] == ["credit_note_id", "debtor_id", "date", "amount"]


def test_unknown_portfolio_or_format_is_a_problem(ledger: Engine, tmp_path: Path) -> None:
    with pytest.raises(ProblemsFound, match="1 problem"):
        export_ledger(ledger, Kind.DEBTORS, tmp_path / "d.csv", "nope")
    with pytest.raises(ProblemsFound):
        export_ledger(ledger, Kind.DEBTORS, tmp_path / "d.xlsx", None)


def test_export_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from arrears.cli.app import main
    from arrears.store.database import connect

    ws = tmp_path / "ws"
    assert main(["init", str(ws)]) == 0
    engine = connect(f"sqlite:///{ws / 'arrears.db'}")
    with engine.begin() as conn:
        pid = ensure_portfolio(conn, "default", name=None, base_currency="USD", actor="t")
        _debtor(conn, pid, "D1", "@Acme")
    engine.dispose()
    capsys.readouterr()
    out = tmp_path / "out" / "debtors.csv"
    assert main(["-w", str(ws), "export", "debtors", str(out)]) == 0
    assert "wrote 1 debtors rows" in capsys.readouterr().out
    assert pl.read_csv(out)["name"].to_list() == ["'@Acme"]
    assert main(["-w", str(ws), "export", "credit-notes", str(tmp_path / "c.parquet")]) == 0
    assert main(["-w", str(ws), "export", "debtors", str(out), "--portfolio", "nope"]) == 1
    assert "there is no portfolio 'nope'" in capsys.readouterr().err
    assert main(["-w", str(ws), "export", "letters", str(out)]) == 2


def test_an_export_imports_into_a_new_store_and_exports_the_same(
    ledger: Engine, tmp_path: Path
) -> None:
    """Export, import the files with the real loader into a fresh SQLite store, export again:
    the same files (from SQLite and from PostgreSQL)."""
    from arrears.io.importer import import_files
    from arrears.store.database import connect, upgrade

    order = (Kind.DEBTORS, Kind.INVOICES, Kind.PAYMENTS, Kind.CREDIT_NOTES)
    first = {kind: tmp_path / f"first-{kind.value}.csv" for kind in order}
    for kind, path in first.items():
        export_ledger(ledger, kind, path)
    target_url = f"sqlite:///{tmp_path / 'target.db'}"
    upgrade(target_url)
    target = connect(target_url)
    with target.begin() as conn:
        ensure_portfolio(conn, "default", name=None, base_currency="USD", actor="t")
        ensure_portfolio(conn, "es", name=None, base_currency="EUR", actor="t")
    for kind, path in first.items():
        report = import_files(target, kind, [path], ReadOptions(), actor="test")
        assert report.problems == [] and report.committed, kind
    for kind, path in first.items():
        again = tmp_path / f"again-{kind.value}.csv"
        export_ledger(target, kind, again)
        assert again.read_text() == path.read_text(), kind
    target.dispose()
