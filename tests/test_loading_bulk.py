"""The bulk layer: frames in and out of the store, and the trusted COPY path on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest
from sqlalchemy import Engine, text

from arrears.store import bulk
from arrears.store.schema import import_batch

AT = datetime(2026, 11, 23, tzinfo=UTC)


def test_frames_round_trip_with_nulls_empty_text_dates_and_booleans(engine: Engine) -> None:
    frame = pl.DataFrame(
        {
            "id": [1, 2, 3],
            "name": ['a, "quoted"\nline', "", None],
            "day": [date(2026, 1, 2), None, date(2026, 12, 31)],
            "flag": [True, False, None],
        }
    )
    with engine.begin() as conn:
        bulk.stage(conn, "_t_round_trip", frame)
        back = bulk.read_frame(
            conn,
            'SELECT id, name, day, flag FROM "_t_round_trip" WHERE id >= :low ORDER BY id',
            {"id": pl.Int64, "name": pl.String, "day": pl.Date, "flag": pl.Boolean},
            {"low": 1},
        )
    assert back.equals(frame)


def test_reserved_ids_are_fresh_and_usable(engine: Engine) -> None:
    with engine.begin() as conn:
        ids = bulk.reserve_ids(conn, import_batch, 3)
        rows = pl.DataFrame(
            {"id": ids, "kind": "debtors", "file_name": "f", "file_sha256": "x"}
        ).with_columns(
            *(pl.lit(0).alias(c) for c in ("rows", "created", "updated", "unchanged", "rejected")),
            actor=pl.lit("t"),
            imported_at=pl.lit(AT),
        )
        bulk.insert_frame(conn, import_batch, rows)
        more = bulk.reserve_ids(conn, import_batch, 2)
    assert len(set(ids.to_list()) | set(more.to_list())) == 5


@pytest.mark.postgres
def test_trusted_copy_leaves_foreign_keys_enforced_afterwards(pg_url: str) -> None:
    from arrears.store.database import connect

    engine = connect(pg_url)
    orphan = pl.DataFrame({"portfolio_id": [999], "code": ["x"]})
    with engine.begin() as conn:
        assert bulk._may_skip_fk_triggers(conn, "debtor")
        assert not bulk._may_skip_fk_triggers(conn, "activity")  # it has its own triggers
        bulk.insert_frame(conn, "import_batch", pl.DataFrame(), references_checked=True)
        assert conn.execute(text("SHOW session_replication_role")).scalar() == "origin"
    with pytest.raises(Exception, match="violates foreign key"), engine.begin() as conn:
        # an untrusted insert still goes through the foreign-key triggers
        bulk.insert_frame(
            conn,
            "debtor",
            orphan.select(
                "portfolio_id",
                external_id=pl.lit("D1"),
                name=pl.lit("n"),
                kind=pl.lit("person"),
                country=pl.lit("US"),
                timezone=pl.lit("UTC"),
                language=pl.lit("en"),
                currency=pl.lit("USD"),
                tags=pl.lit("[]"),
                attributes=pl.lit("{}"),
                row_hash=pl.lit("h"),
                created_at=pl.lit(AT),
                updated_at=pl.lit(AT),
            ),
        )
    engine.dispose()
