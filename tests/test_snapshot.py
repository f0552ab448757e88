"""The whole-portfolio snapshot, point in time, on SQLite and PostgreSQL.

The ledger below is written straight into the tables (SQLAlchemy Core), keeping the store's
invariant ``open_minor = amount - allocations not reversed``. Balances are as of 2026-06-30:

    debtor   invoice  issued      instalment due  amount  what happened                 open as of
    A (USD)  INV-1    2026-03-01  1  2026-04-01   100.00  P1 40.00 on 04-10              60.00
                                  2  2026-05-01   100.00                                100.00
                                  3  2026-07-15   100.00                                100.00
    A        INV-2    2026-05-01     2026-05-31    50.00  credit note 20.00 on 06-10     30.00
    A        INV-3    2026-01-01     2026-02-28    80.00  P2 80 on 03-05, bounced 06-01  80.00
    A        INV-4    2026-02-01     2026-03-01    70.00  P3 70 on 06-20, bounced 07-10   0.00
    A        INV-5    2026-04-01     2026-05-01    25.00  P4 25 on 07-05 (after as-of)   25.00
    A        INV-6    2026-07-01     2026-07-31   999.00  issued after as-of            (absent)
    A        INV-11   2026-06-01     2026-06-29    10.00                                 10.00
    B (EUR)  INV-7    2026-05-01     2026-06-30   200.00  disputed                      200.00
    B        INV-8    2026-04-01     2026-05-31   300.00  P5 50.00 on 06-30 (the as-of)  250.00
    B        INV-9    2026-03-01     2026-05-30   150.00  P6 30 on 06-01, bounced 06-30 150.00
    B        INV-12   2026-01-01     2026-03-02    40.00                                 40.00
    C (JPY)  INV-10   2026-01-10     2026-03-02     5000                                  5000
    C        INV-13   2026-01-10     2026-03-01      700                                   700
    Z (other portfolio "acme") INV-Z 2026-01-01 2026-02-01 1.00                     (not in default)
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Connection, Engine, create_engine, insert, select, text, update

from arrears.store import schema as s
from arrears.store.cycle.snapshot import (
    DEBTOR_SCHEMA,
    INSTALMENT_SCHEMA,
    Snapshot,
    instalment_schema,
    read_snapshot,
)
from arrears.store.portfolios import UnknownPortfolio, ensure_portfolio

AS_OF = date(2026, 6, 30)
NOW = datetime(2026, 11, 23, tzinfo=UTC)
D = date.fromisoformat


class LedgerRows:
    """Writes ledger rows with Core inserts, keeping ``open_minor`` in step with allocations."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.ids: dict[str, int] = {}

    def _insert(self, table: object, **values: object) -> int:
        key = self.conn.execute(insert(table).values(**values)).inserted_primary_key  # type: ignore[arg-type]
        assert key is not None
        return int(key[0])

    def portfolio(self, code: str) -> int:
        found = self.conn.execute(select(s.portfolio.c.id).where(s.portfolio.c.code == code))
        self.ids[code] = found.scalar() or self._insert(
            s.portfolio, code=code, name=code, base_currency="USD", created_at=NOW
        )
        return self.ids[code]

    def debtor(self, ext: str, portfolio: str, currency: str, segment: str | None) -> None:
        attributes = {} if segment is None else {"segment": segment}
        self.ids[ext] = self._insert(
            s.debtor, portfolio_id=self.ids[portfolio], external_id=ext, name=f"Debtor {ext}",
            kind="company", country="US", region=None if segment is None else "NY",
            timezone="America/New_York", language="en", currency=currency, tags=["vip"],
            attributes=attributes, row_hash="-", created_at=NOW, updated_at=NOW,
        )  # fmt: skip

    def invoice(
        self, ext: str, debtor: str, issued: str, *dues: tuple[str, int], disputed: bool = False
    ) -> list[int]:
        row = self.conn.execute(select(s.debtor).where(s.debtor.c.id == self.ids[debtor])).one()
        self.ids[ext] = self._insert(
            s.invoice, portfolio_id=row.portfolio_id, debtor_id=row.id, external_id=ext,
            number=f"N-{ext}", issue_date=D(issued), currency=row.currency,
            amount_minor=sum(a for _, a in dues), disputed=disputed, row_hash="-",
            created_at=NOW, updated_at=NOW,
        )  # fmt: skip
        return [
            self._insert(
                s.instalment,
                invoice_id=self.ids[ext],
                seq=seq,
                portfolio_id=row.portfolio_id,
                debtor_id=row.id,
                currency=row.currency,
                issue_date=D(issued),
                disputed=disputed,
                due_date=D(due),
                amount_minor=amount,
                open_minor=amount,
            )
            for seq, (due, amount) in enumerate(dues, start=1)
        ]

    def pay(
        self, ext: str, instalment: int, amount: int, on: str, *, bounced: str | None = None,
        kind: str = "payment",
    ) -> None:  # fmt: skip
        inst = self.conn.execute(select(s.instalment).where(s.instalment.c.id == instalment)).one()
        common = {
            "portfolio_id": inst.portfolio_id, "debtor_id": inst.debtor_id, "external_id": ext,
            "currency": inst.currency, "amount_minor": amount, "unallocated_minor": 0,
            "row_hash": "-", "created_at": NOW, "updated_at": NOW,
        }  # fmt: skip
        if kind == "payment":
            status = "reversed" if bounced else "posted"
            source = self._insert(
                s.payment, received_on=D(on), status=status,
                reversed_on=D(bounced) if bounced else None, **common,
            )  # fmt: skip
        else:
            source = self._insert(
                s.credit_note, issued_on=D(on), invoice_id=inst.invoice_id, **common
            )
        self._insert(
            s.allocation, source_kind=kind, source_id=source, instalment_id=instalment,
            debtor_id=inst.debtor_id, currency=inst.currency, amount_minor=amount,
            allocated_on=D(on), reversed=bounced is not None,
            reversed_on=D(bounced) if bounced else None,
        )  # fmt: skip
        if bounced is None:
            self.conn.execute(
                update(s.instalment)
                .where(s.instalment.c.id == instalment)
                .values(open_minor=s.instalment.c.open_minor - amount)
            )


def write_example_ledger(engine: Engine) -> None:
    """The ledger of the module docstring."""
    with engine.begin() as conn:
        led = LedgerRows(conn)
        led.portfolio("default")
        led.portfolio("acme")
        led.debtor("A", "default", "USD", "retail")
        led.debtor("B", "default", "EUR", "smb")
        led.debtor("C", "default", "JPY", None)
        led.debtor("Z", "acme", "USD", "retail")
        first, *_ = led.invoice(
            "INV-1", "A", "2026-03-01", ("2026-04-01", 100_00), ("2026-05-01", 100_00),
            ("2026-07-15", 100_00),
        )  # fmt: skip
        led.pay("P1", first, 40_00, "2026-04-10")
        [inv2] = led.invoice("INV-2", "A", "2026-05-01", ("2026-05-31", 50_00))
        led.pay("CN1", inv2, 20_00, "2026-06-10", kind="credit_note")
        [inv3] = led.invoice("INV-3", "A", "2026-01-01", ("2026-02-28", 80_00))
        led.pay("P2", inv3, 80_00, "2026-03-05", bounced="2026-06-01")
        [inv4] = led.invoice("INV-4", "A", "2026-02-01", ("2026-03-01", 70_00))
        led.pay("P3", inv4, 70_00, "2026-06-20", bounced="2026-07-10")
        [inv5] = led.invoice("INV-5", "A", "2026-04-01", ("2026-05-01", 25_00))
        led.pay("P4", inv5, 25_00, "2026-07-05")
        led.invoice("INV-6", "A", "2026-07-01", ("2026-07-31", 999_00))
        led.invoice("INV-11", "A", "2026-06-01", ("2026-06-29", 10_00))
        led.invoice("INV-7", "B", "2026-05-01", ("2026-06-30", 200_00), disputed=True)
        [inv8] = led.invoice("INV-8", "B", "2026-04-01", ("2026-05-31", 300_00))
        led.pay("P5", inv8, 50_00, "2026-06-30")
        [inv9] = led.invoice("INV-9", "B", "2026-03-01", ("2026-05-30", 150_00))
        led.pay("P6", inv9, 30_00, "2026-06-01", bounced="2026-06-30")
        led.invoice("INV-12", "B", "2026-01-01", ("2026-03-02", 40_00))
        led.invoice("INV-10", "C", "2026-01-10", ("2026-03-02", 5000))
        led.invoice("INV-13", "C", "2026-01-10", ("2026-03-01", 700))
        led.invoice("INV-Z", "Z", "2026-01-01", ("2026-02-01", 1_00))


#: (invoice, instalment number) -> open balance as of AS_OF, from the table above.
OPEN_AS_OF = {
    ("INV-1", 1): 60_00, ("INV-1", 2): 100_00, ("INV-1", 3): 100_00, ("INV-2", 1): 30_00,
    ("INV-3", 1): 80_00, ("INV-4", 1): 0, ("INV-5", 1): 25_00, ("INV-11", 1): 10_00,
    ("INV-7", 1): 200_00, ("INV-8", 1): 250_00, ("INV-9", 1): 150_00, ("INV-12", 1): 40_00,
    ("INV-10", 1): 5000, ("INV-13", 1): 700,
}  # fmt: skip


def _open_by_instalment(frame: pl.DataFrame) -> dict[tuple[str, int], int]:
    rows = frame.select("invoice_external_id", "seq", "open_minor").iter_rows()
    return {(inv, seq): amount for inv, seq, amount in rows}


def _read(engine: Engine, portfolio: str | None, as_of: date) -> Snapshot:
    """The snapshot with the invoice labels, which these tests use to name instalments."""
    return read_snapshot(engine, portfolio=portfolio, as_of=as_of, invoice_labels=True)


def test_open_balances_as_of_a_date(engine: Engine) -> None:
    write_example_ledger(engine)
    snap = _read(engine, "default", AS_OF)
    assert _open_by_instalment(snap.instalments) == OPEN_AS_OF
    assert snap.instalments.schema == pl.Schema(instalment_schema(invoice_labels=True))
    assert snap.as_of == AS_OF and snap.portfolio == "default"


def test_later_as_of_sees_the_stored_balances(engine: Engine) -> None:
    write_example_ledger(engine)
    snap = _read(engine, "default", D("2026-12-31"))
    expected = OPEN_AS_OF | {("INV-4", 1): 70_00, ("INV-5", 1): 0, ("INV-6", 1): 999_00}
    assert _open_by_instalment(snap.instalments) == expected
    with engine.connect() as conn:
        stored = dict(conn.execute(select(s.instalment.c.id, s.instalment.c.open_minor)).all())
    got = dict(snap.instalments.select("instalment_id", "open_minor").iter_rows())
    assert got == {k: v for k, v in stored.items() if k in got}


def test_before_any_payment_everything_is_open(engine: Engine) -> None:
    write_example_ledger(engine)
    snap = _read(engine, "default", D("2026-03-01"))
    frame = snap.instalments
    assert (frame["open_minor"] == frame["amount_minor"]).all()
    assert set(frame["invoice_external_id"]) == {"INV-1", "INV-3", "INV-4", "INV-9", "INV-10",
                                                 "INV-12", "INV-13"}  # fmt: skip


def test_columns_carry_invoice_debtor_and_portfolio_facts(engine: Engine) -> None:
    write_example_ledger(engine)
    frame = _read(engine, "default", AS_OF).instalments
    inv7 = frame.filter(pl.col("invoice_external_id") == "INV-7").row(0, named=True)
    assert inv7 | {"instalment_id": 0, "invoice_id": 0, "debtor_id": 0} == {
        "instalment_id": 0, "invoice_id": 0, "invoice_external_id": "INV-7",
        "invoice_number": "N-INV-7", "seq": 1, "debtor_id": 0, "debtor_external_id": "B",
        "portfolio": "default", "currency": "EUR", "issue_date": D("2026-05-01"),
        "due_date": D("2026-06-30"), "amount_minor": 200_00, "open_minor": 200_00,
        "disputed": True, "segment": "smb",
    }  # fmt: skip
    assert frame.filter(pl.col("disputed"))["invoice_external_id"].to_list() == ["INV-7"]


def test_invoice_labels_are_read_only_when_asked(engine: Engine) -> None:
    write_example_ledger(engine)
    plain = read_snapshot(engine, portfolio="default", as_of=AS_OF).instalments
    labelled = _read(engine, "default", AS_OF).instalments
    assert plain.schema == pl.Schema(INSTALMENT_SCHEMA)
    assert "invoice_external_id" not in plain.columns
    assert labelled.drop("invoice_external_id", "invoice_number", "seq").equals(plain)


def test_debtors_frame(engine: Engine) -> None:
    write_example_ledger(engine)
    debtors = read_snapshot(engine, portfolio="default", as_of=AS_OF).debtors
    assert debtors.schema == pl.Schema(DEBTOR_SCHEMA)
    assert debtors.select("debtor_external_id", "currency", "segment", "region").rows() == [
        ("A", "USD", "retail", "NY"),
        ("B", "EUR", "smb", "NY"),
        ("C", "JPY", None, None),
    ]
    assert debtors["tags"].to_list() == [["vip"]] * 3
    assert not debtors["bankrupt"].any()


def test_portfolio_filter(engine: Engine) -> None:
    write_example_ledger(engine)
    every = _read(engine, None, AS_OF)
    acme = _read(engine, "acme", AS_OF)
    assert every.instalments.height == len(OPEN_AS_OF) + 1
    assert acme.instalments["invoice_external_id"].to_list() == ["INV-Z"]
    assert acme.debtors["debtor_external_id"].to_list() == ["Z"]
    with pytest.raises(UnknownPortfolio):
        read_snapshot(engine, portfolio="nope", as_of=AS_OF)


def test_empty_store(engine: Engine) -> None:
    snap = read_snapshot(engine, portfolio=None, as_of=AS_OF)
    assert snap.instalments.height == 0 and snap.debtors.height == 0
    assert snap.instalments.schema == pl.Schema(INSTALMENT_SCHEMA)
    assert snap.debtors.schema == pl.Schema(DEBTOR_SCHEMA)


def _open_by_definition(engine: Engine, as_of: date) -> dict[int, int]:
    """Amount minus allocations dated by ``as_of`` and not reversed by then (the rule)."""
    with engine.connect() as conn:
        invoices = dict(conn.execute(select(s.invoice.c.id, s.invoice.c.issue_date)).all())
        open_ = {
            row.id: row.amount_minor
            for row in conn.execute(select(s.instalment))
            if invoices[row.invoice_id] <= as_of
        }
        for a in conn.execute(select(s.allocation)):
            in_force = a.allocated_on <= as_of and (a.reversed_on is None or a.reversed_on > as_of)
            if in_force and a.instalment_id in open_:
                open_[a.instalment_id] -= a.amount_minor
    return open_


DAYS = ["2026-03-04", "2026-03-05", "2026-06-01", "2026-06-19", "2026-06-20", "2026-07-05"]


@pytest.mark.parametrize("day", [*DAYS, "2026-07-09", "2026-07-10"])
def test_every_day_matches_the_rule(engine: Engine, day: str) -> None:
    write_example_ledger(engine)
    snap = read_snapshot(engine, portfolio=None, as_of=D(day))
    got = dict(snap.instalments.select("instalment_id", "open_minor").iter_rows())
    assert got == _open_by_definition(engine, D(day))


def test_in_memory_sqlite_reads_through_sqlalchemy() -> None:
    engine = create_engine("sqlite://")  # one connection, no ADBC: the slow path, same frames
    s.metadata.create_all(engine)
    write_example_ledger(engine)
    snap = _read(engine, "default", AS_OF)
    assert _open_by_instalment(snap.instalments) == OPEN_AS_OF
    assert snap.instalments.schema == pl.Schema(instalment_schema(invoice_labels=True))
    assert snap.debtors.schema == pl.Schema(DEBTOR_SCHEMA)
    plain = read_snapshot(engine, portfolio="default", as_of=AS_OF).instalments
    assert plain.schema == pl.Schema(INSTALMENT_SCHEMA)


def test_sqlite_snapshot_leaves_other_connections_working(tmp_path: Path) -> None:
    """ADBC's own SQLite must not delete the WAL under this process's sqlite3 connections."""
    from arrears.store.database import connect, upgrade

    url = f"sqlite:///{tmp_path / 'a b.db'}"  # a space: the read-only URI must be escaped
    upgrade(url)
    engine = connect(url)
    with engine.begin() as conn:
        ensure_portfolio(conn, "default", name=None, base_currency="USD", actor="t")
    held = engine.connect()  # stays open across the snapshot, as pooled connections do
    read_snapshot(engine, portfolio="default", as_of=date(2026, 1, 1))
    assert (tmp_path / "a b.db-wal").exists()
    held.execute(text("SELECT count(*) FROM portfolio")).scalar_one()
    held.close()
    with engine.begin() as conn:
        ensure_portfolio(conn, "other", name=None, base_currency="USD", actor="t")
