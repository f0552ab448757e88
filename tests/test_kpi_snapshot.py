"""The KPIs' monthly snapshot (docs/kpi.md, "The monthly snapshot"): each debtor's state at each
month end, derived exactly from the ledger, gives the very roll and cure rates the ledger gives,
on the hand-computed book, on generated books and through ``arrears kpi`` on a real store; the
daily run writes the month that ended, ``arrears kpi --rebuild-snapshot`` every past month, and
a month the ledger changed under is not read."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from polars.testing import assert_frame_equal
from sqlalchemy import select

from arrears.cli.app import main
from arrears.kpi.roll import month_ends, monthly_states
from arrears.kpi.summary import measures
from arrears.store.kpi_snapshot import read_snapshot, valid_months
from arrears.store.schema import kpi_snapshot_month
from arrears.store.scoring.history import read_history
from test_kpi import EDGES, END, START, book, books

D = date


def _days(start: date, end: date) -> list[date]:
    lasts = month_ends(start, end)
    return [lasts[0].replace(day=1) - timedelta(days=1), *lasts] if lasts else []


def test_the_hand_books_month_ends() -> None:
    inst, alloc = book()
    states = monthly_states(inst, alloc, _days(START, END))
    d2 = states.filter(pl.col("debtor_id") == 2).select(
        "month_end", "balance_minor", "overdue_minor", "oldest_days", "written_off_minor"
    )
    # D2: #3 300.00 due 2025-12-15, 100.00 paid 12-20, 200.00 written off on 03-15
    assert d2.rows() == [
        (D(2025, 12, 31), 200_00, 200_00, 16, 0),
        (D(2026, 1, 31), 200_00, 200_00, 47, 0),
        (D(2026, 2, 28), 200_00, 200_00, 75, 0),
        (D(2026, 3, 31), 0, 0, None, 200_00),  # owes nothing: the write-off of the month
    ]
    # D1 at February's end: #2 200.00, 14 days late (the 50.00 bounced); #4 not issued yet
    d1 = states.filter((pl.col("debtor_id") == 1) & (pl.col("month_end") == D(2026, 2, 28)))
    assert d1.select("balance_minor", "overdue_minor", "oldest_days").row(0) == (200_00, 200_00, 14)


@pytest.mark.parametrize("keys", [(), ("segment",)])
def test_the_snapshot_gives_the_ledgers_measures_on_the_hand_book(keys: tuple[str, ...]) -> None:
    inst, alloc = book()
    states = monthly_states(inst, alloc, _days(START, END))
    if keys:
        states = states.join(inst.select("debtor_id", *keys).unique(), on="debtor_id")
    ledger = measures(inst, alloc, START, END, EDGES, keys)
    snapshot = measures(inst, alloc, START, END, EDGES, keys, states=states)
    for name in ("headline", "roll", "matrix"):
        assert_frame_equal(getattr(snapshot, name), getattr(ledger, name))
    # the hand-computed cure rate of docs/kpi.md: 200 / 800
    if not keys:
        usd = snapshot.headline.filter(pl.col("currency") == "USD")
        assert usd["cure_rate"][0] == pytest.approx(0.25)


@given(books())
@settings(max_examples=60, deadline=None)
def test_the_snapshot_gives_the_ledgers_roll_rates_on_generated_books(
    case: tuple[pl.DataFrame, pl.DataFrame, date, date],
) -> None:
    inst, alloc, start, end = case
    states = monthly_states(inst, alloc, _days(start, end))
    ledger = measures(inst, alloc, start, end, (0, 10, 30))
    snapshot = measures(inst, alloc, start, end, (0, 10, 30), states=states)
    assert_frame_equal(snapshot.roll, ledger.roll)
    assert_frame_equal(snapshot.headline, ledger.headline)


def _count_snapshot_reads(monkeypatch: pytest.MonkeyPatch) -> list[list[date]]:
    """The month ends of each read of the monthly snapshot by the KPI service, from now on."""
    import arrears.services.insight.kpi as kpi_service

    reads: list[list[date]] = []
    real = kpi_service.read_snapshot

    def counted(engine: object, *, portfolio: str, months: list[date], stage: bool) -> pl.DataFrame:
        reads.append(list(months))
        return real(engine, portfolio=portfolio, months=months, stage=stage)  # type: ignore[arg-type]

    monkeypatch.setattr(kpi_service, "read_snapshot", counted)
    return reads


def _kpi_command(ws: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., str]:
    """``arrears kpi ARGS`` on the workspace ``ws``: what it printed (it must succeed)."""
    capsys.readouterr()

    def kpi(*args: str) -> str:
        assert main(["-w", str(ws), "kpi", *args]) == 0
        return capsys.readouterr().out

    return kpi


def test_through_the_command_the_run_writes_and_a_stale_month_is_not_read(
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from channels_support import DAY, base_workspace, copy_workspace, engine_of

    ws = copy_workspace(base_workspace(tmp_path_factory.mktemp("kpi")), tmp_path / "ws")
    engine = engine_of(ws)
    # the base workspace's `arrears run --as-of 2026-11-23` wrote October's end
    with engine.connect() as conn:
        written = conn.execute(select(kpi_snapshot_month.c.month_end)).scalars().all()
    assert [D.fromisoformat(str(d)[:10]) for d in written] == [D(2026, 10, 31)]
    reads = _count_snapshot_reads(monkeypatch)
    kpi = _kpi_command(ws, capsys)

    period = ["--from", "2026-08-01", "--to", "2026-10-31"]
    by_ledger = {by: kpi(*period, "--by", by, "--format", "json") for by in ("currency", "stage")}
    roll_by_ledger = kpi(*period, "--roll", "--format", "json")
    assert reads == []  # July's to September's ends are not written: derived from the ledger
    out = kpi("--rebuild-snapshot", "--to", "2026-10-31")
    assert "month ends" in out and "to 2026-10-31)" in out, out
    days = _days(D(2026, 8, 1), D(2026, 10, 31))
    assert valid_months(engine, portfolio="default", months=days) == set(days)
    # the stored rows are the ledger's month ends, exactly
    history = read_history(engine, portfolio="default")
    stored = read_snapshot(engine, portfolio="default", months=days).drop("stage")
    assert_frame_equal(stored, monthly_states(history.instalments, history.allocations, days))
    assert stored.height > 0 and int(stored["overdue_minor"].sum()) > 0
    for by, text in by_ledger.items():
        assert kpi(*period, "--by", by, "--format", "json") == text
    assert kpi(*period, "--roll", "--format", "json") == roll_by_ledger
    assert len(reads) == 3 and reads[0] == days  # read from the snapshot, the same figures
    assert json.loads(roll_by_ledger)  # a roll matrix, not empty
    # a payment dated in September, recorded now: September's and October's ends are stale
    debtor = history.instalments.sort("instalment_id").row(0, named=True)
    pay = ["payment", "add", "--debtor", _external(engine, debtor["debtor_id"]), "--id", "P-SNAP"]
    pay += ["--amount", "1.00", "--currency", debtor["currency"], "--on", "2026-09-15"]
    assert main(["-w", str(ws), *pay]) == 0
    capsys.readouterr()
    assert valid_months(engine, portfolio="default", months=days) == set(days[:2])
    reads.clear()
    after = kpi(*period, "--format", "json")
    assert reads == []  # not read: the ledger again
    assert kpi("--rebuild-snapshot", "--to", "2026-10-31")
    assert kpi(*period, "--format", "json") == after and len(reads) == 1
    assert D(2026, 10, 31) < DAY


def _external(engine: object, debtor_id: int) -> str:
    from arrears.store.schema import debtor

    with engine.connect() as conn:  # type: ignore[attr-defined]
        return str(
            conn.execute(select(debtor.c.external_id).where(debtor.c.id == debtor_id)).scalar_one()
        )


def test_the_example_book_on_both_stores(
    tmp_path: Path,
    store_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """tests/test_kpi_cli.py's book (SQLite and PostgreSQL): the same roll matrix and
    headline from the ledger and from the snapshot the rebuild wrote; the run of 04-01 writes
    March's end again after a payment dated in March."""
    from arrears.store.database import connect
    from test_kpi_cli import PERIOD, build

    root = build(tmp_path, store_url)
    reads = _count_snapshot_reads(monkeypatch)
    kpi = _kpi_command(root, capsys)

    ledger = [kpi(*PERIOD, "--format", "json"), kpi(*PERIOD, "--roll", "--format", "json")]
    assert reads == []
    assert "13 month ends" not in kpi("--rebuild-snapshot", "--to", "2026-03-31")
    assert [kpi(*PERIOD, "--format", "json"), kpi(*PERIOD, "--roll", "--format", "json")] == ledger
    assert [len(months) for months in reads] == [4, 4]
    engine = connect(store_url)
    march = D(2026, 3, 31)
    pay = ["payment", "add", "--debtor", "D3", "--id", "P-LATE", "--amount", "10.00"]
    assert main(["-w", str(root), *pay, "--currency", "USD", "--on", "2026-03-30"]) == 0
    assert march not in valid_months(engine, portfolio="default", months=[march])
    assert main(["-w", str(root), "run", "--as-of", "2026-04-01"]) == 0
    assert march in valid_months(engine, portfolio="default", months=[march])
