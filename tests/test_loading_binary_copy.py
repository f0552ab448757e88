"""Binary COPY on PostgreSQL: a frame written by ``bulk.insert_frame`` (binary encoder) holds the
same values as the same rows written by plain INSERT statements, for every column type the
encoder knows; other pairs of types fall back to CSV."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone

import polars as pl
import pytest
from sqlalchemy import Engine, text

from arrears.store import binary_copy, bulk
from arrears.store.database import connect

pytestmark = pytest.mark.postgres

COLUMNS = (
    "big bigint, small_int integer, tiny smallint, flag boolean, day date, "
    "at timestamptz, naive timestamp, label text, code varchar(3), letter char(1), "
    "doc json, docb jsonb"
)
NAMES = [c.split()[0] for c in COLUMNS.split(", ")]
#: the columns' types as ``format_type`` names them (what ``bulk`` hands the encoder)
PG_TYPES = [
    "bigint", "integer", "smallint", "boolean", "date", "timestamp with time zone",
    "timestamp without time zone", "text", "character varying", "character", "json", "jsonb",
]  # fmt: skip


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = connect(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE t_binary ({COLUMNS})")
        conn.exec_driver_sql(f"CREATE TABLE t_expected ({COLUMNS})")
    yield engine
    engine.dispose()


def _frame() -> pl.DataFrame:
    eastern = timezone(timedelta(hours=-5))
    return pl.DataFrame(
        {
            "big": [-(2**62), 0, 2**62, None],
            "small_int": [-(2**31), 7, 2**31 - 1, None],
            "tiny": [-(2**15), 0, 2**15 - 1, None],
            "flag": [True, False, None, True],
            "day": [date(1999, 12, 31), date(1970, 1, 1), date(2026, 11, 23), None],
            "at": [
                datetime(1999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
                datetime(2026, 11, 23, 8, 30, 0, 123_456, tzinfo=eastern).astimezone(UTC),
                None,
                datetime(2000, 1, 1, tzinfo=UTC),
            ],
            "naive": [datetime(2026, 3, 29, 2, 30), None, datetime(1900, 1, 1), None],
            "label": ['a, "quoted"\nline\\', "", None, "día 🎉 ünïcode"],
            "code": ["EUR", "", None, "ñ"],
            "letter": ["x", None, "é", " "],
            "doc": ['{"a": [1, 2]}', None, '"text"', "null"],
            "docb": ['{"b": {"c": "ü"}}', "[]", None, "3.5"],
        },
        schema_overrides={"small_int": pl.Int32, "tiny": pl.Int16},
    )


@pytest.mark.parametrize("nulls", [True, False])
def test_binary_copy_writes_what_inserts_write(pg_engine: Engine, nulls: bool) -> None:
    frame = _frame()
    if not nulls:  # then the fixed-width columns go first, as one byte matrix
        frame = frame.fill_null(strategy="forward").fill_null(strategy="backward")
    assert binary_copy.encode(frame, PG_TYPES) is not None  # the binary path, not the fallback
    with pg_engine.begin() as conn:
        assert bulk.insert_frame(conn, "t_binary", frame) == frame.height
        marks = ", ".join(f":{n}" for n in NAMES)
        conn.execute(text(f"INSERT INTO t_expected VALUES ({marks})"), frame.to_dicts())
        # every column compared as the server's own text, nulls included
        as_text = ", ".join(f"{n}::text" for n in NAMES)
        for first, second in (("t_binary", "t_expected"), ("t_expected", "t_binary")):
            missing = conn.exec_driver_sql(
                f"SELECT {as_text} FROM {first} EXCEPT ALL SELECT {as_text} FROM {second}"
            ).all()
            assert missing == []
        assert conn.exec_driver_sql("SELECT count(*) FROM t_binary").scalar_one() == 4
        docs = conn.exec_driver_sql("SELECT docb FROM t_binary WHERE big = 0").scalar_one()
        assert docs == json.loads("[]")


def test_the_encoder_declines_pairs_it_does_not_know_and_values_out_of_range() -> None:
    dates_as_text = pl.DataFrame({"day": ["2026-01-02"]})
    assert binary_copy.encode(dates_as_text, ["date"]) is None
    too_big = pl.DataFrame({"n": [2**31]})
    assert binary_copy.encode(too_big, ["integer"]) is None
    amounts = pl.DataFrame({"n": [1]})
    assert binary_copy.encode(amounts, ["numeric"]) is None
    assert binary_copy.encode(amounts, ["bigint"]) is not None


def test_frames_the_encoder_declines_still_load_through_csv(pg_engine: Engine) -> None:
    with pg_engine.begin() as conn:
        bulk.insert_frame(conn, "t_binary", pl.DataFrame({"day": ["2026-01-02"], "big": [1]}))
        assert conn.exec_driver_sql("SELECT day FROM t_binary").scalar_one() == date(2026, 1, 2)
