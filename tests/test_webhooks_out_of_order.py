"""Webhooks on PostgreSQL when two transactions commit their activity records out of order (the
later id first): the earlier record, committed after ``collect`` has seen the later one, is
still delivered, once; with real concurrent connections (and a real HTTP receiver)."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, Engine, Transaction, select

from arrears.domain.activity import PaymentPosted
from arrears.domain.actor import Actor, Role
from arrears.services.outreach import webhooks
from arrears.services.uow import SqlUnitOfWork
from arrears.store.activity_log import Entry, record
from arrears.store.database import connect
from arrears.store.portfolios import ensure_portfolio
from arrears.store.schema import webhook_delivery
from test_webhooks import Hook, hook  # noqa: F401 (the receiver's fixture)

AT = datetime(2026, 12, 7, 9, tzinfo=UTC)
ADMIN = Actor("cli:test", Role.ADMIN)


@pytest.fixture
def pg(pg_url: str) -> Engine:
    return connect(pg_url)


def _happen(conn: object, pid: int, subject: str) -> None:
    entry = PaymentPosted(AT, "test", "default", None, "payment", subject, {"amount": "1.00"})
    record(conn, [Entry(entry, pid)])  # type: ignore[arg-type]


def _out_of_order(pg: Engine, receiver: Hook) -> tuple[SqlUnitOfWork, Connection, Transaction]:
    """A webhook endpoint for payments, and two payments recorded out of order: EARLY (the lower
    id) in the returned transaction, still open, then LATE (the higher id), committed."""
    with pg.begin() as conn:
        pid = ensure_portfolio(conn, "default", name=None, base_currency="USD", actor="test")
    uow = SqlUnitOfWork(pg)
    webhooks.add_endpoint(uow, ADMIN, portfolio="default", name="crm", url=receiver.url,
                          event_names=["payment.recorded"], at=AT, secret="k" * 20)  # fmt: skip
    slow = pg.connect()
    slow_tx = slow.begin()
    _happen(slow, pid, "EARLY")  # gets the lower id, commits last
    with pg.begin() as conn:
        _happen(conn, pid, "LATE")  # the higher id, committed first
    return uow, slow, slow_tx


@pytest.mark.postgres
def test_a_record_committed_after_a_later_one_is_delivered(pg: Engine, hook: Hook) -> None:  # noqa: F811
    uow, slow, slow_tx = _out_of_order(pg, hook)
    # the slow transaction is still open: LATE is delivered, EARLY waits for its commit
    assert webhooks.collect(uow, ADMIN, portfolio="default", at=AT, wait=0.2) == 1
    slow_tx.commit()
    slow.close()
    assert webhooks.collect(uow, ADMIN, portfolio="default", at=AT) == 1
    assert webhooks.collect(uow, ADMIN, portfolio="default", at=AT) == 0
    done = webhooks.deliver(uow, ADMIN, portfolio="default", clock=lambda: AT)
    assert done.delivered == 2
    sent = sorted(json.loads(r["body"])["subject"]["id"] for r in hook.requests)
    assert sent == ["EARLY", "LATE"]  # each once
    with pg.connect() as conn:
        assert len(conn.execute(select(webhook_delivery.c.id)).all()) == 2


@pytest.mark.postgres
def test_collect_waits_for_a_transaction_that_ends_soon(pg: Engine, hook: Hook) -> None:  # noqa: F811
    uow, slow, slow_tx = _out_of_order(pg, hook)

    def commit_soon() -> None:
        time.sleep(0.3)
        slow_tx.commit()

    committer = threading.Thread(target=commit_soon)
    committer.start()
    try:
        # collect waits for the open transaction, then sees both records
        assert webhooks.collect(uow, ADMIN, portfolio="default", at=AT, wait=10) == 2
    finally:
        committer.join()
        slow.close()
    assert webhooks.collect(uow, ADMIN, portfolio="default", at=AT) == 0
