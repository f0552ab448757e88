"""Portfolios: every debtor and document belongs to one; a workspace has a default one."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, insert, select

from arrears.domain.activity import PortfolioCreated
from arrears.domain.errors import NotFound
from arrears.domain.money import MoneyError, is_currency
from arrears.store.activity_log import Entry, record
from arrears.store.schema import portfolio


class UnknownPortfolio(NotFound):
    def __init__(self, code: str) -> None:
        super().__init__(f"no portfolio {code!r}: create it with `arrears portfolio add {code}`")


def portfolio_id(conn: Connection, code: str) -> int:
    found = conn.execute(select(portfolio.c.id).where(portfolio.c.code == code)).scalar()
    if found is None:
        raise UnknownPortfolio(code)
    return int(found)


def ensure_portfolio(
    conn: Connection, code: str, *, name: str | None, base_currency: str, actor: str
) -> int:
    """Return the portfolio's id, creating it (with its activity record) when it is new."""
    found = conn.execute(select(portfolio.c.id).where(portfolio.c.code == code)).scalar()
    if found is not None:
        return int(found)
    if not is_currency(base_currency):
        raise MoneyError(f"unknown currency {base_currency!r} for portfolio {code!r}")
    now = datetime.now(UTC)
    new_id = conn.execute(
        insert(portfolio).values(
            code=code, name=name or code, base_currency=base_currency, created_at=now
        )
    ).inserted_primary_key
    assert new_id is not None
    pid = int(new_id[0])
    record(
        conn,
        [
            Entry(
                PortfolioCreated(
                    occurred_at=now,
                    actor=actor,
                    portfolio=code,
                    debtor=None,
                    subject_kind="portfolio",
                    subject_id=code,
                    payload={"name": name or code, "base_currency": base_currency},
                    idempotency_key=f"portfolio.created:{code}",
                ),
                pid,
            )
        ],
    )
    return pid


def list_portfolios(conn: Connection) -> list[dict[str, object]]:
    rows = conn.execute(select(portfolio).order_by(portfolio.c.code)).mappings().all()
    return [dict(r) for r in rows]
