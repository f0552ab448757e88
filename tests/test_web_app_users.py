"""The users' use cases on SQLite and PostgreSQL (where ``user`` is a reserved word): adding one
(its problems at once, a taken name), logging in, and the per-user rate limit kept in the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from arrears.domain.actor import Actor, Role, system
from arrears.domain.errors import Conflict, NotAllowed
from arrears.domain.problems import ProblemsFound
from arrears.services import users
from arrears.services.uow import SqlUnitOfWork
from arrears.store.schema import activity

AT = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ADMIN = Actor("cli:root", Role.ADMIN)


def test_users_are_added_listed_and_logged_in(engine: Engine) -> None:
    uow = lambda: SqlUnitOfWork(engine)  # noqa: E731
    with pytest.raises(ProblemsFound) as bad:
        users.add_user(uow(), ADMIN, username="-x", role="system", password="short", at=AT)
    assert [p.where for p in bad.value.problems] == ["username", "role", "password"]
    with pytest.raises(NotAllowed):
        users.add_user(
            uow(), Actor("user:c", Role.COLLECTOR), username="eve", role="admin",
            password="long enough pw", at=AT,
        )  # fmt: skip
    added = users.add_user(
        uow(), system("setup"), username="maria", role="manager", password="long enough pw", at=AT
    )
    assert users.actor_of(added) == Actor("user:maria", Role.MANAGER)
    with pytest.raises(Conflict):
        users.add_user(uow(), ADMIN, username="maria", role="auditor", password="x" * 12, at=AT)
    assert [(u.username, u.role) for u in users.list_users(uow(), ADMIN)] == [
        ("maria", Role.MANAGER)
    ]
    with engine.connect() as conn:
        [record] = conn.execute(select(activity).where(activity.c.kind == "user.added")).all()
    assert record.actor == "system:setup" and record.subject_id == "maria"

    found = users.authenticate(uow(), username="maria", password="long enough pw", at=AT)
    assert found.username == "maria"
    for _ in range(users.MAX_FAILED):
        with pytest.raises(users.WrongCredentials):
            users.authenticate(uow(), username="maria", password="wrong", at=AT)
    with pytest.raises(users.TooManyAttempts) as limited:
        users.authenticate(uow(), username="maria", password="long enough pw", at=AT)
    assert limited.value.retry_after == users.LOCKOUT.total_seconds()
    later = AT + users.LOCKOUT + timedelta(seconds=1)
    assert users.authenticate(uow(), username="maria", password="long enough pw", at=later)
    # a success resets the count: one more failure is not a lockout
    with pytest.raises(users.WrongCredentials):
        users.authenticate(uow(), username="maria", password="wrong", at=later)
    assert users.authenticate(uow(), username="maria", password="long enough pw", at=later)
    with pytest.raises(users.WrongCredentials):
        users.authenticate(uow(), username="nobody", password="long enough pw", at=AT)


def test_the_account_pages_read_models(engine: Engine) -> None:
    from datetime import date

    from arrears.domain.errors import NotFound
    from arrears.services.casework import accounts
    from test_ledger_support import Book

    with engine.begin() as conn:
        book = Book(conn)
        book.debtor("D1")
        book.debtor("D2", currency="EUR")
        book.invoice("I1", "D1", ("2026-01-31", "60.00"), ("2026-02-28", "40.00"))
        book.invoice("I2", "D2", ("2026-05-31", "50.00"))
    auditor = Actor("user:ana", Role.AUDITOR)
    found = accounts.debtor_summary(
        SqlUnitOfWork(engine), auditor, portfolio="default", debtor="D2"
    )
    assert (found.external_id, found.currency) == ("D2", "EUR")
    with pytest.raises(NotFound):
        accounts.debtor_summary(SqlUnitOfWork(engine), auditor, portfolio="default", debtor="D9")
    days = accounts.days_past_due(
        SqlUnitOfWork(engine), auditor, portfolio="default", debtors=["D1", "D2", "D9"],
        as_of=date(2026, 3, 2),
    )  # fmt: skip
    assert days == {("D1", "USD"): 30}  # the oldest open instalment; D2's is not due yet
    with pytest.raises(NotAllowed):
        accounts.debtor_summary(
            SqlUnitOfWork(engine), Actor("debtor:D1", Role.DEBTOR), portfolio="default",
            debtor="D1",
        )  # fmt: skip
