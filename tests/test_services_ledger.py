"""The ledger's use cases name who did them, and refuse whom their role does not allow.

Through the command line (whose actor is the workspace's owner, replaced here by a named
manager or collector) and, for the roles a command line never has, through the service itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from arrears.cli import importing as importing_cli
from arrears.cli import ledger as ledger_cli
from arrears.cli import write_offs as write_offs_cli
from arrears.cli.app import main
from arrears.domain.actor import Actor, Role
from arrears.domain.errors import NotAllowed
from arrears.domain.ledger import Payment
from arrears.domain.money import Money
from arrears.services.books import ledger
from arrears.services.uow import SqlUnitOfWork
from arrears.store import schema
from arrears.store.database import connect
from test_ledger_support import Book

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MARIA = Actor("user:maria", Role.MANAGER)
CARLOS = Actor("user:carlos", Role.COLLECTOR)
AUDREY = Actor("user:audrey", Role.AUDITOR)


@pytest.fixture
def ws(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A workspace whose debtor D1 owes invoice I1 (60 + 40 USD) and I2 (50 USD)."""
    root = tmp_path / "ws"
    assert main(["init", str(root)]) == 0
    engine = connect(f"sqlite:///{root / 'arrears.db'}")
    with engine.begin() as conn:
        book = Book(conn)
        book.debtor("D1")
        book.invoice("I1", "D1", ("2026-01-31", "60.00"), ("2026-02-28", "40.00"))
        book.invoice("I2", "D1", ("2026-03-31", "50.00"))
    engine.dispose()
    capsys.readouterr()
    return root


@pytest.fixture
def books(ws: Path) -> Iterator[Engine]:
    """The workspace's store, for the use cases called directly."""
    engine = connect(f"sqlite:///{ws / 'arrears.db'}")
    yield engine
    engine.dispose()


def run(ws: Path, *args: str) -> int:
    return main(["-w", str(ws), *args])


def acting(monkeypatch: pytest.MonkeyPatch, actor: Actor) -> None:
    """The command line runs as ``actor`` instead of the workspace's owner."""
    monkeypatch.setattr(ledger_cli, "cli_actor", lambda: actor)
    monkeypatch.setattr(write_offs_cli, "cli_actor", lambda: actor)
    monkeypatch.setattr(importing_cli, "cli_actor", lambda: actor)


def activity(ws: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, str]]:
    capsys.readouterr()
    assert run(ws, "activity", "--format", "json") == 0
    records: list[dict[str, str]] = json.loads(capsys.readouterr().out)
    return records


def test_the_activity_log_names_who_posted_a_payment_and_a_write_off(
    ws: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    acting(monkeypatch, MARIA)
    pay = ["payment", "add", "--debtor", "D1", "--id", "P1", "--on", "2026-02-01"]
    assert run(ws, *pay, "--amount", "70.00", "--currency", "USD") == 0
    assert run(ws, "write-off", "I2", "--on", "2026-03-01", "--reason", "goodwill") == 0
    assert "invoice I2: 50.00 USD written off" in capsys.readouterr().out

    by_kind = {r["kind"]: r for r in activity(ws, capsys)}
    assert by_kind["payment.posted"]["actor"] == "user:maria"
    assert by_kind["write_off.posted"]["actor"] == "user:maria"
    assert by_kind["invoice.created"]["actor"] == "test"  # what others did keeps its name


def test_a_collector_may_post_a_payment_but_a_write_off_waits_for_approval(
    ws: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    acting(monkeypatch, CARLOS)
    pay = ["payment", "add", "--debtor", "D1", "--id", "P1", "--on", "2026-02-01"]
    assert run(ws, *pay, "--amount", "10.00", "--currency", "USD") == 0
    capsys.readouterr()

    assert run(ws, "write-off", "I2", "--on", "2026-03-01", "--reason", "goodwill") == 0
    assert "write-off 1 of invoice I2: 50.00 USD waits for approval" in capsys.readouterr().out
    assert run(ws, "write-off", "approve", "1", "--on", "2026-03-01") == 1
    err = capsys.readouterr().err
    assert err.strip() == "error: user:carlos (collector) may not approve a write-off"
    kinds = [r["kind"] for r in activity(ws, capsys)]
    assert "payment.posted" in kinds and "write_off.proposed" in kinds
    assert "write_off.posted" not in kinds


def _counts(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(schema.activity)).scalar_one(),
            conn.execute(select(func.sum(schema.instalment.c.open_minor))).scalar_one(),
            conn.execute(select(func.count()).select_from(schema.payment)).scalar_one(),
        )


def test_a_collector_calling_write_off_is_not_allowed_and_nothing_is_written(
    books: Engine,
) -> None:
    before = _counts(books)
    with pytest.raises(NotAllowed, match=r"user:carlos \(collector\) may not write off"):
        ledger.write_off(
            SqlUnitOfWork(books),
            CARLOS,
            "I1",
            portfolio="default",
            amount=Decimal("10.00"),
            on=date(2026, 3, 1),
            reason="goodwill",
            at=AT,
        )
    assert _counts(books) == before


def test_an_auditor_cannot_record_a_payment(books: Engine) -> None:
    before = _counts(books)
    payment = Payment("P1", "D1", date(2026, 2, 1), Money(Decimal("10.00"), "USD"))
    with pytest.raises(NotAllowed, match=r"user:audrey \(auditor\) may not record a payment"):
        ledger.record_payment(SqlUnitOfWork(books), AUDREY, payment, at=AT)
    assert _counts(books) == before
    # what an auditor may do: read the log
    records = ledger.recent_activity(SqlUnitOfWork(books), AUDREY, debtor="D1", limit=1)
    assert [r.kind for r in records] == ["invoice.created"]


def test_an_import_names_who_ran_it_and_an_auditor_cannot_run_one(
    ws: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    debtors = ws.parent / "debtors.csv"
    debtors.write_text("debtor_id,name\nD7,Gamma\n", encoding="utf-8")
    acting(monkeypatch, AUDREY)
    assert run(ws, "import", "debtors", str(debtors)) == 1
    assert capsys.readouterr().err.strip() == (
        "error: user:audrey (auditor) may not import debtors"
    )
    acting(monkeypatch, Actor("user:olga", Role.ADMIN))
    assert run(ws, "import", "debtors", str(debtors), "--summary") == 0
    applied = [r for r in activity(ws, capsys) if r["kind"] == "import.applied"]
    assert [(r["actor"], json.loads(r["payload"])["created"]) for r in applied] == [
        ("user:olga", 1)
    ]
