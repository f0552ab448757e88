"""Set-based reads and writes between Polars frames and the store, on the caller's connection.

The loader never builds an ORM object per row. It moves whole frames:

- ``insert_frame``: PostgreSQL ``COPY ... FROM STDIN (FORMAT binary)``, the rows encoded column
  by column with NumPy (``binary_copy``; ``FORMAT csv`` fed by Polars' CSV writer for a column
  type the encoder does not know); SQLite one ``executemany`` (inside the caller's transaction).
- ``stage``: a temporary table holding a frame, for joins and ``UPDATE ... FROM``.
- ``update_from_frame``: one ``UPDATE table SET ... FROM staged WHERE table.id = staged.id``.
- ``reserve_ids``: ids for new rows known before they are written, so that children (instalments)
  can be written in the same pass (PostgreSQL: the table's sequence; SQLite: ``max(id)`` + n,
  safe because the importer holds SQLite's write lock from its first statement).
- ``read_frame``: a query's result as a typed frame.

Frames handed to these functions hold plain values: JSON columns as JSON text, dates as
``pl.Date``, times as UTC ``pl.Datetime``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import Connection, Table, text
from sqlalchemy.exc import DBAPIError

from arrears.store import binary_copy

_SQL_TYPES: dict[type[pl.DataType], tuple[str, str]] = {
    # polars type: (PostgreSQL, SQLite)
    pl.Int64: ("BIGINT", "INTEGER"),
    pl.Int32: ("BIGINT", "INTEGER"),
    pl.String: ("TEXT", "TEXT"),
    pl.Date: ("DATE", "DATE"),
    pl.Boolean: ("BOOLEAN", "BOOLEAN"),
    pl.Datetime: ("TIMESTAMPTZ", "DATETIME"),
}


def is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _sqlite_values(frame: pl.DataFrame) -> pl.DataFrame:
    """Values as SQLAlchemy stores them in SQLite: ISO text dates, naive UTC times, 0/1."""
    exprs = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if dtype == pl.Date:
            exprs.append(col.dt.strftime("%Y-%m-%d"))
        elif isinstance(dtype, pl.Datetime):
            exprs.append(col.dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%d %H:%M:%S.%6f"))
        elif dtype == pl.Boolean:
            exprs.append(col.cast(pl.Int64))
        else:
            exprs.append(col)
    return frame.select(exprs)


def _pg_types(conn: Connection, table: str, *, keep: bool) -> dict[str, str]:
    """``format_type`` of every column of ``table``; ``keep``: remembered by the connection
    (the schema's tables, not the temporary tables that are created again with other columns)."""
    key = ("arrears.pg_types", table)
    if key not in conn.info or not keep:
        conn.info[key] = dict(
            conn.execute(
                text(
                    "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute "
                    "WHERE attrelid = CAST(:t AS regclass) AND attnum > 0 AND NOT attisdropped"
                ),
                {"t": f'"{table}"'},
            ).all()
        )
    types: dict[str, str] = conn.info[key]
    return types


@dataclass(frozen=True, slots=True)
class CopyTarget:
    """What a ``COPY`` into one table needs to know from the server (its column types, whether
    the foreign-key triggers may be skipped), read before the rows are encoded, so that the
    encoding (client CPU) needs no connection: ``target(...)``, then ``encode`` anywhere, then
    ``write`` on the connection."""

    table: str
    types: dict[str, str]
    trusted: bool

    def encode(self, frame: pl.DataFrame) -> EncodedCopy:
        columns = ", ".join(f'"{c}"' for c in frame.columns)
        binary = binary_copy.encode(frame, [self.types.get(c, "") for c in frame.columns])
        if binary is not None:
            order = ", ".join(f'"{c}"' for c in binary.columns)  # the body's column order
            sql = f'COPY "{self.table}" ({order}) FROM STDIN (FORMAT binary)'
            return EncodedCopy(self, sql, binary.parts, frame.height)
        body = io.BytesIO()  # UTF-8 bytes straight from Polars: no Python string, no re-encoding
        frame.write_csv(
            body,
            include_header=False,
            datetime_format="%Y-%m-%dT%H:%M:%S%.6f%z",
            date_format="%Y-%m-%d",
        )
        sql = f'COPY "{self.table}" ({columns}) FROM STDIN (FORMAT csv)'
        return EncodedCopy(self, sql, [body.getbuffer()], frame.height)


@dataclass(frozen=True, slots=True)
class EncodedCopy:
    """A frame encoded for ``COPY`` into ``target.table``: send it with ``write``."""

    target: CopyTarget
    sql: str
    parts: list[bytes | memoryview]
    rows: int

    def write(self, conn: Connection) -> int:
        """Run the ``COPY`` on ``conn`` (raw driver calls only: no statement goes through
        SQLAlchemy, so this may run on another thread while the caller's thread does no
        database work)."""
        if self.rows == 0:
            return 0
        raw: Any = conn.connection.driver_connection
        with raw.cursor() as cur:
            if self.target.trusted:
                cur.execute("SET LOCAL session_replication_role = replica")
            with cur.copy(self.sql) as cp:
                for part in self.parts:
                    cp.write(part)
            if self.target.trusted:
                cur.execute("SET LOCAL session_replication_role = origin")
        return self.rows


def copy_target(
    conn: Connection, table: Table | str, *, references_checked: bool = False
) -> CopyTarget:
    """The ``CopyTarget`` of ``table`` on this PostgreSQL connection (see ``insert_frame`` for
    ``references_checked``)."""
    name = table if isinstance(table, str) else table.name
    trusted = references_checked and _may_skip_fk_triggers(conn, name)
    types = _pg_types(conn, name, keep=not isinstance(table, str))
    return CopyTarget(name, types, trusted)


def insert_frame(
    conn: Connection, table: Table | str, frame: pl.DataFrame, *, references_checked: bool = False
) -> int:
    """Insert every row of ``frame`` (columns named as the table's) into ``table``.

    ``references_checked=True`` is the caller's promise that every foreign key value in the frame
    was resolved in this transaction and its parent row is locked against deletion (``FOR KEY
    SHARE``, see ``lookups.lookup(lock=True)``) or was created in this transaction. PostgreSQL
    then skips the per-row foreign-key triggers during this ``COPY`` (``session_replication_role
    = replica``, only where the role may set it and the table has no other trigger): the same
    guarantee, checked once per parent instead of once per row.
    """
    name = table if isinstance(table, str) else table.name
    if frame.height == 0:
        return 0
    if is_postgres(conn):
        target = copy_target(conn, table, references_checked=references_checked)
        target.encode(frame).write(conn)
    else:
        columns = ", ".join(f'"{c}"' for c in frame.columns)
        marks = ", ".join("?" for _ in frame.columns)
        # an executemany per SQLITE_ROWS_AT_ONCE rows: never every row of a million-row frame
        # alive as Python objects at once (a first day's 2.4M staged steps at 1M debtors)
        for chunk in frame.iter_slices(SQLITE_ROWS_AT_ONCE):
            conn.exec_driver_sql(
                f'INSERT INTO "{name}" ({columns}) VALUES ({marks})', _sqlite_values(chunk).rows()
            )
    return frame.height


#: Rows of a frame made Python tuples at a time for SQLite's ``executemany``.
SQLITE_ROWS_AT_ONCE = 100_000


def _may_skip_fk_triggers(conn: Connection, table: str) -> bool:
    """Whether this connection may load ``table`` without its foreign-key triggers: the table
    has only internal (foreign-key) triggers and the role may set ``session_replication_role``."""
    key = ("arrears.trusted_copy", table)
    if key not in conn.info:
        user_triggers = conn.execute(
            text(
                "SELECT count(*) FROM pg_trigger WHERE tgrelid = CAST(:t AS regclass) "
                "AND NOT tgisinternal"
            ),
            {"t": table},
        ).scalar_one()
        conn.info[key] = user_triggers == 0 and may_skip_triggers(conn)
    return bool(conn.info[key])


def may_skip_triggers(conn: Connection) -> bool:
    """Whether this connection's role may set ``session_replication_role`` (a superuser, or
    ``GRANT SET ON PARAMETER session_replication_role`` on PostgreSQL 15+), which the trusted
    ``COPY`` needs: without it, large invoice imports run about 3x slower (200k debtors'
    1.14M invoice rows: 30,036 rows/s against 99,116 with the grant)."""
    try:
        with conn.begin_nested():
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            conn.exec_driver_sql("SET LOCAL session_replication_role = origin")
    except DBAPIError:
        return False
    return True


@contextmanager
def keyed_joins(conn: Connection) -> Iterator[None]:
    """PostgreSQL: join a batch's staged keys to the big tables through their indexes.

    A batch of 100,000 keys against a table of millions (a first load's instalments, invoices,
    debtors) is estimated cheaper as a hash join over a scan of the whole table; in one import
    transaction every batch leaves a dead version of each instalment it updates, so those scans
    grow batch after batch (a 1M-debtor first load of payments spent seconds per batch in the
    open-balance ``UPDATE``). Inside this block hash and merge joins are off for the
    transaction (``set_config(..., true)``), so the planner walks the staged rows and looks each
    one up by index; the settings are put back as they were when the block ends. SQLite: nothing
    to do (it joins by index)."""
    if not is_postgres(conn):
        yield
        return
    names = ("enable_hashjoin", "enable_mergejoin")
    before = [conn.exec_driver_sql(f"SELECT current_setting('{n}')").scalar_one() for n in names]
    for name in names:
        conn.exec_driver_sql(f"SELECT set_config('{name}', 'off', true)")
    try:
        yield
    finally:
        if not conn.invalidated and conn.in_transaction():
            try:
                for name, value in zip(names, before, strict=True):
                    conn.exec_driver_sql(
                        "SELECT set_config(%(n)s, %(v)s, true)", {"n": name, "v": value}
                    )
            except DBAPIError:
                pass  # the transaction failed: it is rolled back, and the settings with it


def keep_statistics(conn: Connection, table: str, added: int) -> None:
    """PostgreSQL: ``ANALYZE`` ``table`` once the rows this connection added to it since its
    statistics were taken outnumber the rows they describe (at least 10,000).

    A large import adds millions of rows in one transaction, and autovacuum cannot see them
    before it commits: the planner took the allocations of a first load for the empty table
    its statistics described, and checked the status of each paid invoice by scanning them
    (42 s for 24,000 payments instead of a fraction of a second). ``ANALYZE`` in the
    transaction samples its own new rows; it costs a fraction of a second, and is run each
    time the table has doubled, so a few times per load."""
    if not is_postgres(conn) or added <= 0:
        return
    known: dict[str, tuple[float, int]] = conn.info.setdefault("arrears.statistics", {})
    if table not in known:
        tuples = conn.execute(
            text("SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = CAST(:t AS regclass)"),
            {"t": table},
        ).scalar_one()
        known[table] = (float(tuples), 0)
    described, grown = known[table]
    grown += added
    if grown >= max(10_000.0, described):
        conn.exec_driver_sql(f'ANALYZE "{table}"')
        described, grown = described + grown, 0
    known[table] = (described, grown)


def stage(conn: Connection, name: str, frame: pl.DataFrame) -> str:
    """Load ``frame`` into the temporary table ``name`` (replacing it); returns the name."""
    pg = is_postgres(conn)
    columns = []
    for col, dtype in frame.schema.items():
        base = pl.Datetime if isinstance(dtype, pl.Datetime) else type(dtype)
        pg_type, lite_type = _SQL_TYPES.get(base, ("TEXT", "TEXT"))
        columns.append(f'"{col}" {pg_type if pg else lite_type}')
    conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}"')
    conn.exec_driver_sql(f'CREATE TEMPORARY TABLE "{name}" ({", ".join(columns)})')
    insert_frame(conn, name, frame)
    if pg:
        conn.exec_driver_sql(f'ANALYZE "{name}"')
    return name


def drop(conn: Connection, name: str) -> None:
    conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}"')


def update_from_frame(
    conn: Connection, table: Table, frame: pl.DataFrame, *, key: str = "id"
) -> int:
    """Set the frame's columns on the rows of ``table`` whose ``key`` matches; one statement."""
    if frame.height == 0:
        return 0
    staged = stage(conn, f"_upd_{table.name}", frame)
    cast = {
        c: f"::{table.c[c].type.compile(dialect=conn.dialect)}" if is_postgres(conn) else ""
        for c in frame.columns
    }
    sets = ", ".join(f'"{c}" = s."{c}"{cast[c]}' for c in frame.columns if c != key)
    conn.exec_driver_sql(
        f'UPDATE "{table.name}" SET {sets} FROM "{staged}" AS s '
        f'WHERE "{table.name}"."{key}" = s."{key}"'
    )
    drop(conn, staged)
    return frame.height


def reserve_ids(conn: Connection, table: Table, n: int) -> pl.Series:
    """``n`` fresh primary keys for ``table`` (Int64), to be used by ``insert_frame``."""
    if n == 0:
        return pl.Series("id", [], dtype=pl.Int64)
    if is_postgres(conn):
        sequence = conn.execute(
            text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table.name}
        ).scalar_one()
        literal = "'" + str(sequence).replace("'", "''") + "'"  # a constant: resolved once
        # the values come back as a range when they are one (nobody else drew from the sequence
        # meanwhile): three numbers instead of an array of n to print and parse
        first, last, ids = conn.execute(
            text(
                "SELECT min(v), max(v), CASE WHEN max(v) - min(v) + 1 = count(*) THEN NULL "
                "ELSE array_agg(v) END "
                f"FROM (SELECT nextval({literal}::regclass) AS v FROM generate_series(1, :n)) s"
            ),
            {"n": n},
        ).one()
        if ids is None:
            return pl.int_range(first, last + 1, eager=True, dtype=pl.Int64).alias("id")
        return pl.Series("id", ids, dtype=pl.Int64)
    start = conn.execute(text(f'SELECT COALESCE(MAX(id), 0) FROM "{table.name}"')).scalar_one()
    return pl.int_range(start + 1, start + 1 + n, eager=True, dtype=pl.Int64).alias("id")


def read_frame(
    conn: Connection,
    sql: str,
    schema: Mapping[str, pl.DataType | type[pl.DataType]],
    params: Mapping[str, Any] | None = None,
) -> pl.DataFrame:
    """Run ``sql`` and return its rows as a frame with ``schema`` (columns in select order).

    PostgreSQL streams the result with ``COPY (query) TO STDOUT`` into Polars' CSV reader.
    """
    if is_postgres(conn):
        return _read_copy(conn, sql, schema, params or {})
    rows = conn.execute(text(sql), dict(params or {})).all()
    names = list(schema)
    # SQLite returns dates as ISO text and booleans as 0/1 through the raw text query.
    plain = {k: (pl.String if v in (pl.Date,) else v) for k, v in schema.items()}
    plain = {k: (pl.Int64 if v == pl.Boolean else v) for k, v in plain.items()}
    frame = pl.DataFrame([tuple(r) for r in rows], schema=plain, orient="row")
    exprs = []
    for name in names:
        if schema[name] == pl.Date:
            exprs.append(pl.col(name).str.to_date("%Y-%m-%d"))
        elif schema[name] == pl.Boolean:
            exprs.append(pl.col(name).cast(pl.Boolean))
        else:
            exprs.append(pl.col(name))
    return frame.select(exprs)


def _read_copy(
    conn: Connection,
    sql: str,
    schema: Mapping[str, pl.DataType | type[pl.DataType]],
    params: Mapping[str, Any],
) -> pl.DataFrame:
    raw: Any = conn.connection.driver_connection
    statement = re.sub(r"(?<!:):(\w+)", r"%(\1)s", sql)
    with raw.cursor() as cur, cur.copy(f"COPY ({statement}) TO STDOUT (FORMAT csv)", params) as cp:
        body = b"".join(bytes(chunk) for chunk in cp)
    as_text = {k: (pl.String if v == pl.Boolean else v) for k, v in schema.items()}
    if not body:
        return pl.DataFrame(schema=dict(schema))
    # COPY writes NULL as an unquoted empty field and '' as "": Polars reads them back the same
    frame = pl.read_csv(io.BytesIO(body), has_header=False, schema=as_text)
    return frame.with_columns(
        pl.col(name) == "t" for name, dtype in schema.items() if dtype == pl.Boolean
    )
