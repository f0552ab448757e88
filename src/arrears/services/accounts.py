"""Read models of the collectors' web pages (docs/web.md) that no other service gives: who a
debtor is, and how many days past due the oldest open instalment of each of a few debtors is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from arrears.domain.actor import Actor, Permission
from arrears.domain.errors import NotFound
from arrears.domain.problems import printable
from arrears.services.uow import SqlUnitOfWork
from arrears.store.portfolios import portfolio_id
from arrears.store.schema import debtor as debtor_table
from arrears.store.schema import instalment


@dataclass(frozen=True, slots=True)
class DebtorSummary:
    external_id: str
    name: str
    kind: str  # person, company
    country: str
    language: str
    currency: str
    do_not_contact: bool


def debtor_summary(
    uow: SqlUnitOfWork, actor: Actor, *, portfolio: str, debtor: str
) -> DebtorSummary:
    """Who ``debtor`` (external id) is; :class:`NotFound` for an unknown one."""
    actor.require(Permission.READ, "read an account")
    with uow:
        pid = portfolio_id(uow.conn, portfolio)
        row = uow.conn.execute(
            select(debtor_table).where(
                debtor_table.c.portfolio_id == pid, debtor_table.c.external_id == debtor
            )
        ).first()
    if row is None:
        raise NotFound(printable(f"unknown debtor {debtor!r}"))
    m = row._mapping
    return DebtorSummary(
        str(m["external_id"]),
        str(m["name"]),
        str(m["kind"]),
        str(m["country"]),
        str(m["language"]),
        str(m["currency"]),
        bool(m["do_not_contact"]),
    )


def days_past_due(
    uow: SqlUnitOfWork, actor: Actor, *, portfolio: str, debtors: Sequence[str], as_of: date
) -> dict[tuple[str, str], int]:
    """``(debtor, currency)``: days from the due date of the oldest open instalment to
    ``as_of``, for the debtors named (those with nothing past due are absent)."""
    actor.require(Permission.READ, "read accounts")
    if not debtors:
        return {}
    with uow:
        pid = portfolio_id(uow.conn, portfolio)
        rows = uow.conn.execute(
            select(
                debtor_table.c.external_id, instalment.c.currency, func.min(instalment.c.due_date)
            )
            .join(debtor_table, debtor_table.c.id == instalment.c.debtor_id)
            .where(
                debtor_table.c.portfolio_id == pid,
                debtor_table.c.external_id.in_(list(debtors)),
                instalment.c.open_minor > 0,
                instalment.c.due_date < as_of,
            )
            .group_by(debtor_table.c.external_id, instalment.c.currency)
        ).all()
    found = {}
    for external_id, currency, oldest in rows:
        day = oldest if isinstance(oldest, date) else date.fromisoformat(str(oldest))
        found[(str(external_id), str(currency))] = (as_of - day).days
    return found
