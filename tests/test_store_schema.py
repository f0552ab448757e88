"""The schema's invariants hold in the database itself, on SQLite and PostgreSQL."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, insert, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from arrears.store import schema
from arrears.store.portfolios import ensure_portfolio


def _debtor(conn, pid: int, external_id: str = "D1") -> int:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    return int(
        conn.execute(
            insert(schema.debtor).values(
                portfolio_id=pid,
                external_id=external_id,
                name="Acme",
                kind="company",
                country="US",
                timezone="America/New_York",
                language="en",
                currency="USD",
                tags=[],
                attributes={},
                row_hash="x",
                created_at=now,
                updated_at=now,
            )
        ).inserted_primary_key[0]
    )


def test_activity_log_is_append_only(engine: Engine) -> None:
    with engine.begin() as conn:
        ensure_portfolio(conn, "default", name=None, base_currency="USD", actor="test")
    for statement in ("UPDATE activity SET actor = 'x'", "DELETE FROM activity"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT actor FROM activity")).scalar() == "test"


def test_external_ids_are_unique_per_portfolio(engine: Engine) -> None:
    with engine.begin() as conn:
        pid = ensure_portfolio(conn, "default", name=None, base_currency="USD", actor="t")
        other = ensure_portfolio(conn, "other", name=None, base_currency="USD", actor="t")
        _debtor(conn, pid)
        _debtor(conn, other)  # same external id in another portfolio is fine
    with pytest.raises(IntegrityError), engine.begin() as conn:
        _debtor(conn, pid)


def test_open_balance_cannot_exceed_amount(engine: Engine) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        pid = ensure_portfolio(conn, "default", name=None, base_currency="USD", actor="t")
        did = _debtor(conn, pid)
        iid = conn.execute(
            insert(schema.invoice).values(
                portfolio_id=pid,
                debtor_id=did,
                external_id="I1",
                number="I1",
                issue_date=date(2026, 1, 1),
                currency="USD",
                amount_minor=100,
                row_hash="x",
                created_at=now,
                updated_at=now,
            )
        ).inserted_primary_key[0]
    values = {
        "invoice_id": iid,
        "seq": 1,
        "portfolio_id": pid,
        "debtor_id": did,
        "currency": "USD",
        "issue_date": date(2026, 1, 1),
        "due_date": date(2026, 2, 1),
        "amount_minor": 100,
    }
    for bad in ({"open_minor": 101}, {"open_minor": -1}, {"amount_minor": 0, "open_minor": 0}):
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(insert(schema.instalment).values({**values, **bad}))
