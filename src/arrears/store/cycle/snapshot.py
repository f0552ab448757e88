"""The whole-portfolio snapshot: every instalment and debtor as Polars frames, as of a date.

This is the read side of the daily cycle (aging, strategy, KPIs): a few set-based queries read
straight into Arrow through ADBC (SQLite: ``adbc_driver_sqlite``; PostgreSQL:
``adbc_driver_postgresql``, which streams with binary ``COPY``), never row by row through
SQLAlchemy. Without ADBC (in-memory SQLite, a missing driver) the same queries run in turn on
one SQLAlchemy connection: same frames, slower.

Point in time (``as_of``): only invoices issued on or before ``as_of`` are in; an instalment's
open balance is its amount minus the allocations dated on or before ``as_of`` that were not
reversed on or before ``as_of``. It is computed from the stored balance (``open_minor``, which
counts every allocation that is not reversed) plus a small correction read with one grouped
query over the allocations dated after ``as_of`` (see ``docs/aging.md``).
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import adbc_driver_sqlite.dbapi as adbc_sqlite
import polars as pl
from sqlalchemy import Engine, text

from arrears.store.portfolios import portfolio_id

#: Connections read side by side (the machine this is tuned on has 2 cores).
READERS = 2

INSTALMENT_SCHEMA: dict[str, pl.DataType] = {
    "instalment_id": pl.Int64(),
    "invoice_id": pl.Int64(),
    "debtor_id": pl.Int64(),
    "debtor_external_id": pl.String(),
    "portfolio": pl.String(),
    "currency": pl.String(),
    "issue_date": pl.Date(),
    "due_date": pl.Date(),
    "amount_minor": pl.Int64(),
    "open_minor": pl.Int64(),
    "disputed": pl.Boolean(),
    "segment": pl.String(),
}

#: The invoice's labels and the instalment's number, only with ``read_snapshot(...,
#: invoice_labels=True)`` (after ``invoice_id``): what only a report listing invoices displays.
#: Reading them costs about a fifth of the instalment read; every column read costs about 7 %
#: of it on PostgreSQL (binary ``COPY`` sends and decodes each value on its own).
INVOICE_LABEL_SCHEMA: dict[str, pl.DataType] = {
    "invoice_external_id": pl.String(),
    "invoice_number": pl.String(),
    "seq": pl.Int32(),
}

#: Instalment columns that come from the debtors frame (joined in Polars, not in SQL).
FROM_DEBTOR = ("debtor_external_id", "portfolio", "segment")
CORRECTION_SCHEMA: dict[str, pl.DataType] = {"instalment_id": pl.Int64(), "delta": pl.Int64()}

DEBTOR_SCHEMA: dict[str, pl.DataType] = {
    "debtor_id": pl.Int64(),
    "debtor_external_id": pl.String(),
    "portfolio": pl.String(),
    "name": pl.String(),
    "kind": pl.String(),
    "country": pl.String(),
    "region": pl.String(),
    "timezone": pl.String(),
    "language": pl.String(),
    "currency": pl.String(),
    "credit_limit_minor": pl.Int64(),
    "credit_status": pl.String(),
    "do_not_contact": pl.Boolean(),
    "bankrupt": pl.Boolean(),
    "deceased": pl.Boolean(),
    "legal_representative": pl.Boolean(),
    "segment": pl.String(),
    "tags": pl.List(pl.String()),
}


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A portfolio (or all of them) as of a date, as columnar frames.

    ``instalments``: one row per instalment of an invoice issued on or before ``as_of``, with
    ``open_minor`` as of ``as_of`` (integer minor units) and the debtor's ``segment`` beside it
    (schema :func:`instalment_schema`).
    ``debtors``: one row per debtor of the portfolio (schema :data:`DEBTOR_SCHEMA`).
    """

    as_of: date
    portfolio: str | None
    instalments: pl.DataFrame
    debtors: pl.DataFrame


def instalment_schema(*, invoice_labels: bool = False) -> dict[str, pl.DataType]:
    """The instalments frame's columns and types; with the invoice labels after ``invoice_id``."""
    if not invoice_labels:
        return dict(INSTALMENT_SCHEMA)
    items = list(INSTALMENT_SCHEMA.items())
    at = list(INSTALMENT_SCHEMA).index("invoice_id") + 1
    return dict(items[:at] + list(INVOICE_LABEL_SCHEMA.items()) + items[at:])


def read_snapshot(
    engine: Engine, *, portfolio: str | None, as_of: date, invoice_labels: bool = False
) -> Snapshot:
    """Read the snapshot of ``portfolio`` (a code; ``None`` for every portfolio) as of ``as_of``.

    ``invoice_labels``: also read each instalment's ``invoice_external_id`` and
    ``invoice_number`` (for a report that lists invoices; the engine needs only ``invoice_id``).
    Raises :class:`arrears.store.portfolios.UnknownPortfolio` for a code that does not exist.
    """
    tasks, finish = snapshot_reads(
        engine, portfolio=portfolio, as_of=as_of, invoice_labels=invoice_labels
    )
    return finish(_read_all(engine, tasks))


def snapshot_reads(
    engine: Engine,
    *,
    portfolio: str | None,
    as_of: date,
    invoice_labels: bool = False,
    debtor_ids: Sequence[int] | None = None,
) -> tuple[list[Task], Callable[[list[pl.DataFrame]], Snapshot]]:
    """:func:`read_snapshot` in two halves: its queries, and what makes the snapshot of their
    frames (in the same order). A caller reading more can run them in its own pool.
    ``debtor_ids``: only those debtors' rows, read through their indexes (one debtor's page)."""
    with engine.connect() as conn:
        pid = None if portfolio is None else portfolio_id(conn, portfolio)
        bounds = conn.execute(text(ID_BOUNDS)).one()
    postgres = engine.dialect.name == "postgresql"
    schema = instalment_schema(invoice_labels=invoice_labels)
    only = None if debtor_ids is None else sql_ids(debtor_ids)
    tasks, split = _tasks(pid, as_of, bounds, postgres=postgres, labels=invoice_labels, only=only)

    def finish(frames: list[pl.DataFrame]) -> Snapshot:
        debtors, *parts, correction = frames
        instalments = _instalments(parts[:split], parts[split:], correction, debtors, schema)
        return Snapshot(as_of=as_of, portfolio=portfolio, instalments=instalments, debtors=debtors)

    return tasks, finish


Task = tuple[str, Callable[[pl.DataFrame], pl.DataFrame]]  # a query and how to type its frame


def _tasks(
    pid: int | None,
    as_of: date,
    bounds: Sequence[int | None],
    *,
    postgres: bool,
    labels: bool,
    only: str | None = None,
) -> tuple[list[Task], int]:
    """The queries: debtors, instalment ranges, (PostgreSQL, labels) invoice ranges, the correction.

    Largest pieces first, so that the readers finish together. Also returns how many
    instalment ranges there are. ``only``: those debtors (a SQL list of ids), one range.
    """
    invoices = postgres and labels  # only the labels need the invoice table; see _invoice_query
    ranges = 2 if invoices else 2 * READERS
    instalment_ranges = _id_ranges(bounds[0], bounds[1], ranges) if only is None else [EVERY_ID]
    tasks: list[Task] = [(_debtors_query(pid, postgres=postgres, only=only), _debtors)]
    tasks += [
        (_instalment_query(pid, as_of, ids, postgres=postgres, labels=labels, only=only), _part)
        for ids in instalment_ranges
    ]
    if invoices:  # SQLite joins the invoices in the instalment query; see _instalment_query
        tasks += [
            (_invoice_query(pid, as_of, ids), _part)
            for ids in _id_ranges(bounds[2], bounds[3], ranges)
        ]
    correction = _correction_query(as_of, postgres=postgres, only=only)
    tasks.append((correction, lambda raw: _conform(raw, CORRECTION_SCHEMA)))
    return tasks, len(instalment_ranges)


def _read_all(engine: Engine, tasks: list[Task], *, pooled: bool = True) -> list[pl.DataFrame]:
    """Run the tasks: side by side over ADBC, else (or not ``pooled``: a few rows each, where
    opening the readers' connections would cost more) in turn on one SQLAlchemy connection."""
    if not pooled or not _has_adbc(engine):  # (an in-memory SQLite has only one connection)
        with engine.connect() as conn:
            return [conform(_read(query, conn)) for query, conform in tasks]

    # ADBC drivers and Polars release the GIL: the pieces are read (and typed) side by side,
    # one connection per reader (a PostgreSQL connection costs ~70 ms to open). Separate
    # connections may see different commits: read while no import is running (the daily
    # cycle does).
    local = threading.local()
    opened: list[Any] = []

    def read(task: Task) -> pl.DataFrame:
        if not hasattr(local, "conn"):
            local.conn = _adbc_connect(engine)
            opened.append(local.conn)
        return task[1](_read(task[0], local.conn))

    try:
        with ThreadPoolExecutor(max_workers=READERS) as pool:
            return list(pool.map(read, tasks))
    finally:
        for conn in opened:
            conn.close()


#: The one id range of a read restricted to some debtors (their rows found by index).
EVERY_ID = (0, 2**62)


def id_range(column: str, ids: tuple[int, int]) -> str:
    """``column`` in the id range (none for :data:`EVERY_ID`: a range the planner cannot
    estimate would make it scan the primary key instead of using the debtor's index)."""
    if ids == EVERY_ID:
        return "1 = 1"
    return f"{column} BETWEEN {int(ids[0])} AND {int(ids[1])}"


def sql_ids(ids: Sequence[int]) -> str:
    """A SQL list of integer ids (rendered from ints: no injection), ``NULL`` for none."""
    return ", ".join(str(int(i)) for i in sorted(set(ids))) or "NULL"


def _id_ranges(low: int | None, high: int | None, count: int) -> list[tuple[int, int]]:
    """Split a table's ids into ``count`` contiguous ranges (primary-key range scans)."""
    if low is None or high is None:
        return [(0, 0)]
    step = (high - low) // count + 1
    return [(start, min(start + step - 1, high)) for start in range(low, high + 1, step)]


def _read(query: str, conn: Any) -> pl.DataFrame:
    return pl.read_database(query, conn)


def _has_adbc(engine: Engine) -> bool:
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return url.database not in (None, "", ":memory:")
    if url.get_backend_name() == "postgresql":
        return importlib.util.find_spec("adbc_driver_postgresql") is not None
    return False


def _adbc_connect(engine: Engine) -> Any:
    """An ADBC connection (Arrow-native) to the engine's database; see :func:`_has_adbc`."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        # Read-only, always: ADBC links its own copy of SQLite. A read-write connection of that
        # copy, on closing, believes it is the database's last one and deletes the WAL and its
        # shared memory under this process's other (Python sqlite3) connections, which then
        # fail with "disk I/O error". A read-only connection never checkpoints or deletes them.
        conn = adbc_sqlite.connect(Path(url.database or "").resolve().as_uri() + "?mode=ro")
        with conn.cursor() as cursor:  # wait, as the engine does, instead of "locked"
            cursor.execute("PRAGMA busy_timeout = 30000")
        return conn
    import adbc_driver_postgresql.dbapi as adbc_pg  # noqa: PLC0415 (optional extra)

    return adbc_pg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))


ID_BOUNDS = """SELECT (SELECT MIN(id) FROM instalment), (SELECT MAX(id) FROM instalment),
                        (SELECT MIN(id) FROM invoice), (SELECT MAX(id) FROM invoice)"""


def _instalment_query(
    pid: int | None,
    as_of: date,
    ids: tuple[int, int],
    *,
    postgres: bool,
    labels: bool,
    only: str | None = None,
) -> str:
    """One id range of the instalments of invoices issued by ``as_of``.

    The instalment repeats its invoice's issue date and dispute flag (``schema.instalment``), so
    only the labels need the invoice table: SQLite joins it by primary key for less than Polars
    would (0.03 s vs 0.28 s of CPU); PostgreSQL would hash every invoice for each range (0.9 s,
    spilling), so there the labels are read apart (``_invoice_query``) and Polars joins them.
    Dates and ints are rendered by us: no injection possible.
    """
    where = f"{id_range('i.id', ids)} AND i.issue_date <= '{as_of.isoformat()}'"
    if pid is not None:
        where += f" AND i.portfolio_id = {int(pid)}"
    if only is not None:
        where += f" AND i.debtor_id IN ({only})"
    # a dispute learnt of after ``as_of`` (``disputed_on``) was not known then
    columns = f"""i.id AS instalment_id, i.invoice_id, i.debtor_id, i.currency,
               {_day("i.issue_date", postgres)} AS issue_date,
               {_day("i.due_date", postgres)} AS due_date, i.amount_minor, i.open_minor,
               (i.disputed AND (i.disputed_on IS NULL OR i.disputed_on <= '{as_of.isoformat()}'))
                   AS disputed"""
    if labels:
        columns += ", i.seq"
    if not labels or postgres:
        return f"SELECT {columns} FROM instalment i WHERE {where}"
    return f"""
        SELECT {columns}, v.external_id AS invoice_external_id, v.number AS invoice_number
        FROM instalment i JOIN invoice v ON v.id = i.invoice_id
        WHERE {where}"""


def _invoice_query(pid: int | None, as_of: date, ids: tuple[int, int]) -> str:
    """One id range of the labels of the invoices issued by ``as_of`` (PostgreSQL)."""
    where = f"id BETWEEN {int(ids[0])} AND {int(ids[1])} AND issue_date <= '{as_of.isoformat()}'"
    if pid is not None:
        where += f" AND portfolio_id = {int(pid)}"
    return (
        "SELECT id AS invoice_id, external_id AS invoice_external_id, number AS invoice_number "
        f"FROM invoice WHERE {where}"
    )


def _day(column: str, postgres: bool) -> str:
    """A date column as read: native on PostgreSQL; days since 1970 from SQLite's ISO text
    (an integer crosses into Arrow faster than text and needs no parsing)."""
    return column if postgres else f"CAST(julianday({column}) - 2440587.5 AS INTEGER)"


def _correction_query(as_of: date, *, postgres: bool, only: str | None = None) -> str:
    """Per instalment: what ``open_minor`` lacks to be the balance as of ``as_of``.

    ``open_minor`` subtracts every allocation not reversed. As of ``as_of``, an allocation dated
    later did not happen yet (add it back), and one reversed later was still in force (subtract).
    Both are found through the allocation's date indexes (migration 0006): for today's date
    there are none, and nothing is scanned (PostgreSQL 89 ms -> 0.04 ms, SQLite 0.17 s -> 0 for
    880k allocations). SQLite would rather walk the whole table through the instalment index to
    group in its order, a random access per row, so there the rows are found first
    (``MATERIALIZED``) and grouped after.
    """
    day = f"'{as_of.isoformat()}'"
    later = f"""(reversed_on IS NULL AND allocated_on > {day})
                OR (reversed_on > {day} AND allocated_on <= {day})"""
    if only is not None:  # those debtors' instalments only
        mine = f"SELECT id FROM instalment WHERE debtor_id IN ({only})"
        later = f"({later}) AND instalment_id IN ({mine})"
    delta = """CAST(SUM(CASE WHEN reversed_on IS NULL THEN amount_minor
                             ELSE -amount_minor END) AS BIGINT) AS delta"""
    if postgres:
        return f"SELECT instalment_id, {delta} FROM allocation WHERE {later} GROUP BY instalment_id"
    return f"""
        WITH later AS MATERIALIZED (
            SELECT instalment_id, amount_minor, reversed_on FROM allocation WHERE {later})
        SELECT instalment_id, {delta} FROM later GROUP BY instalment_id"""


def _debtors_query(pid: int | None, *, postgres: bool, only: str | None = None) -> str:
    """The debtors of portfolio ``pid`` (all with None); ``only``: those ids (a SQL list)."""
    json = "::text" if postgres else ""
    where = "" if pid is None else f"WHERE d.portfolio_id = {int(pid)}"
    if only is not None:
        where = f"{where} AND d.id IN ({only})" if where else f"WHERE d.id IN ({only})"
    # COALESCE: ADBC SQLite infers a column's type from its first rows; NULL text breaks that.
    return f"""
        SELECT d.id AS debtor_id, d.external_id AS debtor_external_id, p.code AS portfolio,
               d.name, d.kind, d.country, COALESCE(d.region, '') AS region, d.timezone,
               d.language, d.currency, d.credit_limit_minor, d.credit_status,
               d.do_not_contact, d.bankrupt, d.deceased, d.legal_representative,
               d.tags{json} AS tags, d.attributes{json} AS attributes
        FROM debtor d JOIN portfolio p ON p.id = d.portfolio_id
        {where}"""


def _debtors(raw: pl.DataFrame) -> pl.DataFrame:
    frame = raw.with_columns(pl.col("region", "tags", "attributes").cast(pl.String())).with_columns(
        pl.col("region").replace("", None),
        pl.col("attributes").str.json_path_match("$.segment").alias("segment"),
        pl.col("tags").str.json_decode(pl.List(pl.String())),
    )
    return _sorted(_conform(frame, DEBTOR_SCHEMA), "debtor_id")


def _part(raw: pl.DataFrame) -> pl.DataFrame:
    """A range of instalments or invoices with the snapshot's column types."""
    schema = instalment_schema(invoice_labels=True)
    return _conform(raw, {k: v for k, v in schema.items() if k in raw.columns})


def _instalments(
    instalments: list[pl.DataFrame],
    invoices: list[pl.DataFrame],
    correction: pl.DataFrame,
    debtors: pl.DataFrame,
    schema: dict[str, pl.DataType],
) -> pl.DataFrame:
    """Instalments of the invoices issued by ``as_of``, balances as of then, debtor facts."""
    frame = pl.concat(instalments)
    if invoices:  # the labels (PostgreSQL); the instalments already say which invoices are in
        frame = frame.join(pl.concat(invoices), on="invoice_id", how="left", maintain_order="left")
    if correction.height:  # (none for today's date: nothing allocated or reversed later)
        frame = frame.join(
            correction, on="instalment_id", how="left", maintain_order="left"
        ).with_columns(pl.col("open_minor") + pl.col("delta").fill_null(0))
    frame = frame.join(
        debtors.select("debtor_id", *FROM_DEBTOR), on="debtor_id", how="left", maintain_order="left"
    )
    return _sorted(frame.select(list(schema)), "instalment_id")


def _sorted(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    """``frame`` in ``key`` order (ranges read by primary key usually arrive in order)."""
    return frame if frame[key].is_sorted() else frame.sort(key)


def _conform(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Select ``schema``'s columns with its types (SQLite gives dates as text, booleans as 0/1)."""
    columns = []
    for name, dtype in schema.items():
        col = pl.col(name)
        have = frame.schema[name]
        if dtype == pl.Date() and have == pl.String():
            col = col.str.to_date("%Y-%m-%d")
        elif dtype == pl.Date() and have.is_integer():  # days since 1970-01-01
            col = col.cast(pl.Int32())
        elif dtype == pl.Boolean() and have != pl.Boolean():
            col = col.cast(pl.Int64()) != 0
        columns.append(col.cast(dtype).alias(name))
    return frame.select(columns)
