"""A workspace's store: setting it up, migrating its schema, and its portfolios.

``set_up_store`` is the store's part of ``arrears init``: the schema migrated to the current
revision and the workspace's default portfolio. Setting up, migrating and adding portfolios is
the workspace's administration (``ADMINISTER``); listing them and reading the schema's revision
is ``READ``. The schema functions take the store's URL: before it is migrated there is no store a
unit of work could open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from arrears.domain.actor import Actor, Permission
from arrears.services.uow import SqlUnitOfWork
from arrears.store import portfolios
from arrears.store.database import connect, current_revision, head_revision, upgrade


@dataclass(frozen=True, slots=True)
class Portfolio:
    """A creditor, business unit or agency client whose debtors and documents the store holds."""

    code: str
    name: str
    base_currency: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SchemaRevisions:
    """The store's schema revision (``None``: empty) and the one this version expects."""

    current: str | None
    expected: str | None


def set_up_store(database_url: str, actor: Actor, *, portfolio: str, base_currency: str) -> None:
    """Migrate the store at ``database_url`` (created if new) and add its default portfolio;
    running it again on a set-up store changes nothing."""
    actor.require(Permission.ADMINISTER, "set up a workspace's store")
    upgrade(database_url)
    engine = connect(database_url)
    try:
        add_portfolio(
            SqlUnitOfWork(engine), actor, portfolio, name=None, base_currency=base_currency
        )
    finally:
        engine.dispose()


def upgrade_store(database_url: str, actor: Actor) -> str | None:
    """Migrate the store to the current schema; returns its revision."""
    actor.require(Permission.ADMINISTER, "migrate the store")
    upgrade(database_url)
    return head_revision(database_url)


def schema_revisions(database_url: str, actor: Actor) -> SchemaRevisions:
    actor.require(Permission.READ, "read the store's schema revision")
    engine = connect(database_url)
    try:
        return SchemaRevisions(current_revision(engine), head_revision(database_url))
    finally:
        engine.dispose()


def add_portfolio(
    uow: SqlUnitOfWork, actor: Actor, code: str, *, name: str | None, base_currency: str
) -> int:
    """The portfolio ``code``'s id, creating it (with its activity record) when it is new."""
    actor.require(Permission.ADMINISTER, "add a portfolio")
    with uow:
        return portfolios.ensure_portfolio(
            uow.conn, code, name=name, base_currency=base_currency, actor=actor.name
        )


def list_portfolios(uow: SqlUnitOfWork, actor: Actor) -> list[Portfolio]:
    """Every portfolio, by code."""
    actor.require(Permission.READ, "list the portfolios")
    with uow:
        rows = portfolios.list_portfolios(uow.conn)
    return [
        Portfolio(
            code=str(row["code"]),
            name=str(row["name"]),
            base_currency=str(row["base_currency"]),
            created_at=row["created_at"],  # type: ignore[arg-type]
        )
        for row in rows
    ]
