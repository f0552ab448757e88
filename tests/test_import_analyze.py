"""After a large import, PostgreSQL's tables are vacuumed and their statistics refreshed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from arrears.domain.columns import Kind
from arrears.io.batches import ReadOptions
from arrears.io.importer import ANALYZE_AFTER_ROWS, import_files
from arrears.store.database import connect
from arrears.store.portfolios import ensure_portfolio


@pytest.mark.postgres
def test_large_import_analyzes_its_tables(pg_url: str, tmp_path: Path) -> None:
    engine = connect(pg_url)
    with engine.begin() as conn:
        ensure_portfolio(conn, "default", name=None, base_currency="USD", actor="t")
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    small.write_text("debtor_id,name\nD0,Debtor 0\n")
    rows = "".join(f"D{i},Debtor {i}\n" for i in range(1, ANALYZE_AFTER_ROWS + 1))
    large.write_text("debtor_id,name\n" + rows)

    def analyzed() -> bool:
        with engine.connect() as conn:
            return bool(
                conn.execute(
                    text(
                        "SELECT last_analyze IS NOT NULL AND last_vacuum IS NOT NULL "
                        "FROM pg_stat_user_tables "
                        "WHERE relname = 'debtor'"
                    )
                ).scalar_one()
            )

    assert import_files(engine, Kind.DEBTORS, [small], ReadOptions(), actor="t").committed
    assert not analyzed()
    assert import_files(engine, Kind.DEBTORS, [large], ReadOptions(), actor="t").committed
    assert analyzed()
    engine.dispose()
