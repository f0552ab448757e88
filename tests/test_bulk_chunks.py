"""``bulk.insert_frame`` on SQLite hands the rows to ``executemany`` a slice at a time (the
Python tuples of a million-row frame are not all alive at once): every row arrives, in order,
and a bad row in a later slice leaves nothing behind (the caller's one transaction)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from sqlalchemy.exc import IntegrityError

from arrears.store import bulk
from arrears.store.database import connect


def test_a_frame_of_several_slices_is_inserted_whole_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "SQLITE_ROWS_AT_ONCE", 1_000)
    engine = connect(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, day TEXT NOT NULL)")
    frame = pl.DataFrame({"id": range(1, 2_501)}).with_columns(pl.date(2026, 11, 23).alias("day"))
    with engine.begin() as conn:
        assert bulk.insert_frame(conn, "t", frame) == 2_500
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT id, day FROM t ORDER BY id").all()
    assert [r[0] for r in rows] == list(range(1, 2_501)) and rows[-1][1] == "2026-11-23"
    again = pl.DataFrame({"id": [5_000 + i for i in range(2_000)] + [1]}).with_columns(
        pl.date(2026, 11, 24).alias("day")
    )  # the last slice repeats id 1
    with pytest.raises(IntegrityError), engine.begin() as conn:
        bulk.insert_frame(conn, "t", again)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 2_500
    engine.dispose()
