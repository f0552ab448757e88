"""arrears on PostgreSQL as most deployments run it: as an ordinary role that owns its database,
not a superuser. Migrations, a large first import (its deferred indexes and its foreign-key
fast path, which needs a right such a role lacks), payments, the snapshot and the daily cycle
must all work, with the same results as the superuser's."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from arrears.domain.actor import system
from arrears.domain.columns import Kind
from arrears.io.batches import ReadOptions
from arrears.io.importer import import_files
from arrears.services.cycle import load_compiled, run_cycle
from arrears.services.uow import SqlUnitOfWork
from arrears.store.cycle.snapshot import read_snapshot
from arrears.store.database import connect, normalize_url, upgrade
from arrears.store.portfolios import ensure_portfolio
from conftest import PG_URL, admin_running
from test_import_overlap import INVOICES  # 310.00 in 5 rows, 4 invoices

pytestmark = pytest.mark.postgres

ROLE = f"arrears_app_{os.getpid()}"  # two test runs on one server do not share it
AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
POLICY = Path(__file__).resolve().parents[1] / "examples" / "policies" / "b2b.yaml"

DEBTORS = """debtor_id,name,email
D1,Acme,ap@acme.example
D2,Beta,ap@beta.example
"""
PAYMENTS = """payment_id,debtor_id,date,amount
P1,D1,2026-02-03,120.00
P2,D2,2026-02-10,10.00
"""


@pytest.fixture
def app_url() -> Iterator[str]:
    """A database owned by a role that may log in and nothing more (no superuser, no
    ``SET ON PARAMETER session_replication_role``)."""
    name = f"arrears_role_{os.getpid()}"
    admin = admin_running(
        f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
        f"DROP ROLE IF EXISTS {ROLE}",
        f"CREATE ROLE {ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE",
        f'CREATE DATABASE "{name}" OWNER {ROLE}',
    )
    url = make_url(normalize_url(PG_URL)).set(username=ROLE, database=name, password=None)
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f"DROP ROLE IF EXISTS {ROLE}"))
    admin.dispose()


def test_an_ordinary_role_migrates_imports_reads_and_runs_the_cycle(
    app_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from arrears.io import importer

    monkeypatch.setattr(importer, "DEFER_INDEXES_ROWS", 2)  # the large-first-load path
    upgrade(app_url)
    engine = connect(app_url)
    with engine.connect() as conn, pytest.raises(Exception, match="permission denied"):
        conn.execute(text("SET session_replication_role = replica"))  # no fast path here
    with engine.connect() as conn:
        assert not conn.execute(
            text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        ).scalar_one()
    with engine.begin() as conn:
        ensure_portfolio(conn, "default", name=None, base_currency="USD", actor="t")
    for kind, body in (
        (Kind.DEBTORS, DEBTORS),
        (Kind.INVOICES, INVOICES),
        (Kind.PAYMENTS, PAYMENTS),
    ):
        path = tmp_path / f"{kind}.csv"
        path.write_text(body, encoding="utf-8")
        report = import_files(engine, kind, [path], ReadOptions(batch_rows=2), actor="t", at=AT)
        assert report.committed and not report.problems, (kind, report.problems)

    snap = read_snapshot(engine, portfolio="default", as_of=date(2026, 2, 15))
    assert snap.instalments["open_minor"].sum() == 310_00 - 130_00  # invoiced, paid

    policy = load_compiled(POLICY)
    uow, cycle = SqlUnitOfWork(engine), system("cycle")
    decisions, summary = run_cycle(
        uow, cycle, portfolio="default", as_of=date(2026, 2, 15), policy=policy, at=AT
    )
    assert summary.written and decisions.cases.height == 2
    _, again = run_cycle(
        uow, cycle, portfolio="default", as_of=date(2026, 2, 15), policy=policy, at=AT
    )
    assert not again.written
    # the foreign keys hold for every writer
    with engine.connect() as conn, pytest.raises(Exception, match="foreign key"):
        conn.execute(
            text(
                "INSERT INTO instalment (invoice_id, seq, portfolio_id, debtor_id, currency, "
                "due_date, amount_minor, open_minor, issue_date, disputed) "
                "VALUES (999999, 1, 1, 1, 'USD', '2026-01-01', 1, 1, '2026-01-01', false)"
            )
        )
    with engine.connect() as conn, pytest.raises(Exception, match="append-only"):
        conn.execute(text("DELETE FROM activity"))  # its owner cannot rewrite the log either
    engine.dispose()


def test_a_large_import_as_a_role_without_the_fast_path_says_how_to_get_it(
    app_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from arrears.cli import importing
    from arrears.cli.app import main

    root = tmp_path / "ws"
    assert main(["init", str(root), "--database-url", app_url]) == 0
    (root / "debtors.csv").write_text(DEBTORS, encoding="utf-8")
    monkeypatch.setattr(importing, "LARGE_FILE_BYTES", 0)  # every file counts as large
    capsys.readouterr()
    assert main(["-w", str(root), "import", "debtors", str(root / "debtors.csv")]) == 0
    err = capsys.readouterr().err
    assert "GRANT SET ON PARAMETER session_replication_role TO <this role>" in err
