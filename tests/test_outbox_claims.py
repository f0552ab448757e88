"""Claiming the outbox: several workers at once take disjoint messages (PostgreSQL: SKIP LOCKED;
SQLite: one writer), a stopped worker's claims and a crashed send are found again."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, insert, select

from arrears.store.messages import outbox as store
from arrears.store.portfolios import ensure_portfolio
from arrears.store.schema import debtor, outbox

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def _queue(engine: Engine, n: int) -> int:
    with engine.begin() as conn:
        pid = ensure_portfolio(conn, "p", name=None, base_currency="USD", actor="test")
        did = conn.execute(
            insert(debtor)
            .values(
                portfolio_id=pid, external_id="D1", name="Ana", kind="person", country="US",
                timezone="America/New_York", language="en", currency="USD", tags=[],
                attributes={}, row_hash="x", created_at=NOW, updated_at=NOW,
            )
            .returning(debtor.c.id)
        ).scalar_one()  # fmt: skip
        conn.execute(
            insert(outbox),
            [
                {
                    "key": f"k{i}", "portfolio_id": pid, "debtor_id": did, "channel": "email",
                    "template": "t", "params": {}, "created_on": date(2026, 11, 23),
                    "status": "queued", "attempts": 0, "created_at": NOW,
                    "send_at": NOW - timedelta(minutes=i % 5) if i % 7 else NOW + timedelta(1),
                }
                for i in range(n)
            ],
        )  # fmt: skip
    return int(pid)


def test_concurrent_workers_claim_disjoint_due_messages(engine: Engine) -> None:
    pid = _queue(engine, 60)
    got: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        mine: list[int] = []
        try:
            while batch := store.claim(engine, portfolio=pid, now=NOW, limit=7, worker=name):
                mine += [r.id for r in batch]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        got[name] = mine

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    claimed = [i for ids in got.values() for i in ids]
    assert len(claimed) == len(set(claimed))  # nobody got a message twice
    with engine.connect() as conn:
        due = conn.execute(select(outbox.c.id).where(outbox.c.send_at <= NOW)).scalars().all()
        statuses = set(conn.execute(select(outbox.c.status).where(outbox.c.id.in_(due))).scalars())
    assert sorted(claimed) == sorted(due) and statuses == {"claimed"}


def test_claims_of_a_stopped_worker_and_stale_sends_are_found(engine: Engine) -> None:
    pid = _queue(engine, 10)
    batch = store.claim(engine, portfolio=pid, now=NOW, limit=3, worker="w")
    assert store.release_expired_claims(engine, portfolio=pid, now=NOW, lease=60) == 0
    later = NOW + timedelta(minutes=5)
    assert store.release_expired_claims(engine, portfolio=pid, now=later, lease=60) == 3
    batch = store.claim(engine, portfolio=pid, now=NOW, limit=2, worker="w")
    with engine.begin() as conn:
        assert store.transition(
            conn, batch[0], expect="claimed", event="sending", at=NOW, actor="t",
            payload={}, status="sending", claimed_at=NOW,
        )  # fmt: skip
    assert store.stale_sending(engine, portfolio=pid, now=NOW, lease=60) == []
    (stale,) = store.stale_sending(engine, portfolio=pid, now=later, lease=60)
    assert stale.id == batch[0].id
    assert store.release(engine, [r.id for r in batch], "w") == 1  # the claimed one, not sending
