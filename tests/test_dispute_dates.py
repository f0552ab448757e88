"""Disputes are dated by the day arrears learns of them, so that what a past day knew can be
told from what came later: the snapshot and the propensity model's history read ``disputed`` as
of a day. On SQLite and PostgreSQL, through real imports (an ERP's daily file)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, text

from arrears.domain.columns import Kind
from arrears.io.batches import ReadOptions
from arrears.io.importer import import_files
from arrears.scoring.features import debtor_features
from arrears.scoring.frames import view_at
from arrears.store.cycle.snapshot import read_snapshot
from arrears.store.portfolios import ensure_portfolio
from arrears.store.scoring.history import read_history

DEBTORS = "debtor_id,name\nD1,Acme\nD2,Beta\n"
HEADER = "invoice_id,debtor_id,issue_date,due_date,amount,disputed\n"
FIRST = HEADER + "A,D1,2026-01-01,2026-02-01,100.00,no\nB,D2,2026-01-05,2026-02-05,50.00,yes\n"
RAISED = HEADER + "A,D1,2026-01-01,2026-02-01,100.00,yes\nB,D2,2026-01-05,2026-02-05,50.00,yes\n"
AMENDED = HEADER + "A,D1,2026-01-01,2026-02-01,90.00,yes\nB,D2,2026-01-05,2026-02-05,50.00,yes\n"
LIFTED = HEADER + "A,D1,2026-01-01,2026-02-01,90.00,no\nB,D2,2026-01-05,2026-02-05,50.00,yes\n"


def _import(engine: Engine, tmp_path: Path, kind: Kind, body: str, day: date) -> None:
    path = tmp_path / f"{kind}-{day}.csv"
    path.write_text(body, encoding="utf-8")
    at = datetime(day.year, day.month, day.day, 18, 0, tzinfo=UTC)
    report = import_files(engine, kind, [path], ReadOptions(), actor="erp", at=at)
    assert report.committed and not report.problems


def _dates(engine: Engine) -> dict[str, tuple[bool, date | None, set[date | None]]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT v.external_id, v.disputed, v.disputed_on, i.disputed_on FROM invoice v "
                "JOIN instalment i ON i.invoice_id = v.id ORDER BY v.external_id"
            )
        ).all()
    out: dict[str, tuple[bool, date | None, set[date | None]]] = {}
    for ext, disputed, on, inst_on in rows:
        out.setdefault(ext, (bool(disputed), _day(on), set()))[2].add(_day(inst_on))
    return out


def _day(value: object) -> date | None:
    """A date column as read (SQLite gives ISO text)."""
    return date.fromisoformat(value) if isinstance(value, str) else value  # type: ignore[return-value]


def _disputed_as_of(engine: Engine, day: date) -> dict[int, bool]:
    frame = read_snapshot(engine, portfolio="default", as_of=day).instalments
    return dict(frame.select("invoice_id", "disputed").iter_rows())


def test_a_dispute_is_seen_from_the_day_it_came_in(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        ensure_portfolio(conn, "default", name=None, base_currency="USD", actor="t")
    _import(engine, tmp_path, Kind.DEBTORS, DEBTORS, date(2026, 1, 10))
    _import(engine, tmp_path, Kind.INVOICES, FIRST, date(2026, 1, 10))
    # B came in disputed: undated, known since it came in; A is not disputed
    assert _dates(engine) == {"A": (False, None, {None}), "B": (True, None, {None})}

    _import(engine, tmp_path, Kind.INVOICES, RAISED, date(2026, 2, 20))  # A disputed now
    assert _dates(engine)["A"] == (True, date(2026, 2, 20), {date(2026, 2, 20)})
    a_id, b_id = sorted(_disputed_as_of(engine, date(2026, 3, 1)))
    assert _disputed_as_of(engine, date(2026, 2, 19)) == {a_id: False, b_id: True}
    assert _disputed_as_of(engine, date(2026, 2, 20)) == {a_id: True, b_id: True}

    _import(engine, tmp_path, Kind.INVOICES, AMENDED, date(2026, 3, 5))  # still disputed
    assert _dates(engine)["A"] == (True, date(2026, 2, 20), {date(2026, 2, 20)})

    # the model's history: a past day's features do not see the dispute raised later
    history = read_history(engine, portfolio="default")
    assert history.instalments.filter(pl.col("invoice_id") == a_id)["disputed_on"].to_list() == [
        date(2026, 2, 20)
    ]
    before = debtor_features(view_at(history, date(2026, 2, 19)))
    after = debtor_features(view_at(history, date(2026, 2, 20)))
    d1 = before.filter(pl.col("disputed_open") == 0)["debtor_id"]
    assert d1.len() == 1 and after.filter(pl.col("debtor_id") == d1[0])["disputed_open"][0] == 1

    _import(engine, tmp_path, Kind.INVOICES, LIFTED, date(2026, 3, 9))  # dispute resolved
    assert _dates(engine)["A"] == (False, None, {None})
    assert _disputed_as_of(engine, date(2026, 3, 9))[a_id] is False
