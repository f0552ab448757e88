"""Importing files into the store: the ``arrears import`` use case.

``import_files`` streams each file through ``read_file`` (validated batches of bounded size) into
the store loader, all inside ONE transaction on one connection, and collects every problem: the
file-level ones (unreadable file, missing column...), the row-level ones found by the reader and
the store-level ones found by the loader (unknown debtor, allocation above an open balance...).

Atomic by default: if anything has a problem, the transaction is rolled back and nothing is
imported; the report lists every problem. With ``skip_invalid`` the valid rows are imported and
committed, and the rows with problems go to the rejects CSV (the raw row plus ``reason``). A
problem with a file as a whole (it cannot be read or decoded, has no header, repeats its header,
a quote is never closed...) is not a row to skip: it refuses the import, with or without
``skip_invalid`` (``ImportReport.refused``), however many batches were already loaded.

A record whose rows fall into several batches (an invoice's instalments, a payment's allocation
lines) is loaded whole, with the batch that brings its last row (``whole_records``): the loader
always sees all the rows of a record at once, as if the file were one batch.

The next batch is read and validated in a background thread while the current one is loaded
(``read_ahead``, at most one batch ahead); batches are still loaded one at a time, in order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from sqlalchemy import Connection, Engine, select

from arrears.domain.allocation import AllocationRule
from arrears.domain.columns import Kind
from arrears.domain.problems import Problem, ProblemsFound
from arrears.io.batches import ReadOptions
from arrears.io.read_ahead import ReadAhead
from arrears.io.reading import read_file
from arrears.io.rejects import write_rejects
from arrears.io.whole_records import HeldRows
from arrears.store.bulk import is_postgres
from arrears.store.loading.context import LoadResult, typed
from arrears.store.loading.entry import LoadContext, close_batch, load_frame, open_batch
from arrears.store.loading.invoices import DEFER_INDEXES_ROWS, InvoiceLoad, defer_indexes
from arrears.store.schema import portfolio

#: Called after every batch with the number of rows read so far in the current file.
Progress = Callable[[Path, int], None]


@dataclass(slots=True)
class ImportReport:
    kind: Kind
    files: list[str]
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    problems: list[Problem] = field(default_factory=list)
    committed: bool = False
    #: a file had a problem as a whole (not of some rows): nothing is imported, even when
    #: invalid rows are skipped
    refused: bool = False
    #: what was imported all the same but deserves a look: each column of a file that is
    #: ignored (not a column of its kind, nor a debtor attribute), with how to map it
    warnings: list[Problem] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
        }


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def import_files(
    engine: Engine,
    kind: Kind,
    paths: Sequence[Path],
    options: ReadOptions,
    *,
    skip_invalid: bool = False,
    rejects: Path | None = None,
    actor: str,
    rule: AllocationRule = AllocationRule.OLDEST_DUE_FIRST,
    at: datetime | None = None,
    progress: Progress | None = None,
    strict: bool = False,
) -> ImportReport:
    """Import ``paths`` as files of ``kind``; see the module docstring for the guarantees.
    ``strict``: a column the importer would ignore is a problem of its file (every one of them
    is reported, with how to map it) and nothing is imported, even with ``skip_invalid``."""
    at = at or datetime.now(UTC)
    report = ImportReport(kind, [str(p) for p in paths])
    if rejects is not None:
        rejects.unlink(missing_ok=True)
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            for path in paths:
                _import_file(conn, kind, path, options, report, rejects, actor, rule, at, progress)
            if strict and report.warnings:
                report.problems[:0] = [_strict(w) for w in report.warnings]
                report.warnings = []
                report.refused = True
            if report.problems and (not skip_invalid or report.refused):
                transaction.rollback()
                if skip_invalid and rejects is not None:  # rows of a file refused as a whole
                    rejects.unlink(missing_ok=True)
            else:
                transaction.commit()
                report.committed = True
        except BaseException:
            transaction.rollback()
            raise
    if report.committed and report.created + report.updated >= ANALYZE_AFTER_ROWS:
        _vacuum_analyze(engine, kind)
    return report


def _strict(warning: Problem) -> Problem:
    """An ignored column's warning as the problem ``--strict`` makes it."""
    message = warning.message.replace("column ignored: ", "unknown column (--strict): ", 1)
    return replace(warning, message=message)


#: After a load this large, PostgreSQL's tables are vacuumed and analysed at once instead of when
#: autovacuum gets to them: right after a bulk load the planner thinks the tables are small, and a
#: payments import leaves a dead version of every instalment it updated, which the next
#: whole-portfolio snapshot would otherwise scan (measured: 0.99M -> 1.08M rows/s).
ANALYZE_AFTER_ROWS = 10_000
_TABLES = {
    Kind.DEBTORS: ("debtor", "contact_point", "consent"),
    Kind.INVOICES: ("invoice", "instalment"),
    Kind.PAYMENTS: ("payment", "allocation", "instalment", "invoice"),
    Kind.CREDIT_NOTES: ("credit_note", "allocation", "instalment", "invoice"),
}


def _vacuum_analyze(engine: Engine, kind: Kind) -> None:
    """Plain VACUUM (no lock against readers or writers) needs its own autocommit connection;
    the tables are vacuumed two at a time, each on its own connection (a server process each:
    after a large load the two cores share the work instead of one doing it table by table)."""
    if engine.dialect.name != "postgresql":
        return

    def vacuum(table: str) -> None:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"VACUUM (ANALYZE) {table}")

    with ThreadPoolExecutor(2, "arrears-vacuum") as pool:
        for done in [pool.submit(vacuum, table) for table in _TABLES[kind]]:
            done.result()


def _import_file(
    conn: Connection,
    kind: Kind,
    path: Path,
    options: ReadOptions,
    report: ImportReport,
    rejects: Path | None,
    actor: str,
    rule: AllocationRule,
    at: datetime,
    progress: Progress | None,
) -> None:
    source = str(path)
    if not path.is_file():
        report.problems.append(Problem(source, None, None, "no such file"))
        report.refused = True
        return
    sha = file_sha256(path)
    batch_id = open_batch(conn, kind, file_name=source, file_sha256=sha, actor=actor, at=at)
    ctx = LoadContext(
        batch_id,
        actor,
        at,
        portfolio=options.default_portfolio,
        rule=rule,
        country=options.default_country,
        timezone=options.default_timezone,
        currency=options.base_currency,
    )
    counts = {"rows": 0, "created": 0, "updated": 0, "unchanged": 0, "rejected": 0}
    problems: list[Problem] = []
    loads = _Loads(conn, kind, ctx, counts, problems, rejects)
    try:
        with ReadAhead(read_file(path, kind, options, report.warnings)) as batches:
            held = HeldRows.for_file(conn, path, kind, options)
            try:
                for batch in batches:
                    rows, earlier = held.take(batch) if held else (batch.valid, batch.raw.head(0))
                    counts["rows"] += batch.raw.height
                    raw = (
                        pl.concat([batch.raw, earlier], how="diagonal_relaxed")
                        if earlier.height
                        else batch.raw
                    )
                    loads.add(rows, raw, batch.problems)
                    if progress is not None:
                        progress(path, counts["rows"])
            except ProblemsFound as found:  # the file as a whole: unreadable, no header...
                problems.extend(found.problems)
                report.refused = True
        loads.flush()
        if held:
            rows, raw = held.rest()
            loads.add(rows, raw, [])
        loads.finish()
    finally:
        loads.close()
    problems.sort(key=lambda p: (p.row if p.row is not None else -1, p.column or ""))
    report.problems.extend(problems)
    for name, value in counts.items():
        setattr(report, name, getattr(report, name) + value)
    pid = conn.execute(
        select(portfolio.c.id).where(portfolio.c.code == options.default_portfolio)
    ).scalar()
    close_batch(
        conn,
        ctx,
        kind,
        file_name=source,
        file_sha256=sha,
        counts=counts,
        portfolio_id=None if pid is None else int(pid),
    )


class _Loads:
    """The loads of one file's batches, in order. Invoices on PostgreSQL overlap them: a
    batch's writes (its ``COPY``s, the server's work) run on a thread while the next batch is
    computed on this one (hashes, heads, ``COPY`` bodies: the client's work). The connection is
    never used by both threads at once: the next batch's references are resolved before the
    previous batch's writes start, and those writes are waited for before ``add`` returns, so
    the caller (held rows, ``close_batch``, commit) finds the connection free. Everything stays
    in the one transaction."""

    def __init__(
        self,
        conn: Connection,
        kind: Kind,
        ctx: LoadContext,
        counts: dict[str, int],
        problems: list[Problem],
        rejects: Path | None,
    ) -> None:
        self.conn = conn
        self.kind = kind
        self.ctx = ctx
        self.counts = counts
        self.problems = problems
        self.rejects = rejects
        # SQLite reserves ids as max(id) + n: a batch's ids only once the one before is written
        self.staged = kind is Kind.INVOICES and is_postgres(conn)
        self._pool = ThreadPoolExecutor(1, "arrears-write") if self.staged else None
        #: the last batch, computed but not written yet: its load, raw rows, read problems
        self._waiting: tuple[InvoiceLoad, pl.DataFrame, list[Problem]] | None = None
        self._first = True
        #: builds the indexes a large first load went without (``defer_indexes``)
        self._build: Callable[[], None] | None = None

    def add(self, rows: pl.DataFrame, raw: pl.DataFrame, read_problems: list[Problem]) -> None:
        """Load typed ``rows``; ``raw`` holds their text (and that of rows with
        ``read_problems``)."""
        if not self.staged or rows.height == 0:
            self.flush()
            self._record(load_frame(self.conn, self.kind, rows, self.ctx), raw, read_problems)
            return
        if self._first and rows.height >= DEFER_INDEXES_ROWS:
            self._build = defer_indexes(self.conn)
        self._first = False
        load = InvoiceLoad(self.conn, typed(self.kind, rows), self.ctx)
        waiting, self._waiting = self._waiting, None
        if waiting is None or self._pool is None:  # the first batch
            assert waiting is None
            load.compute()
        else:
            writing = self._pool.submit(waiting[0].write, self.conn)
            try:
                load.compute()
            finally:
                result = writing.result()  # the connection is free again (or raises)
            self._record(result, waiting[1], waiting[2])
        self._waiting = (load, raw, read_problems)

    def flush(self) -> None:
        """Write the batch still waiting, if any."""
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            self._record(waiting[0].write(self.conn), waiting[1], waiting[2])

    def finish(self) -> None:
        """After the file's last batch: write what waits, build the deferred indexes."""
        self.flush()
        build, self._build = self._build, None
        if build is not None:
            build()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def _record(self, result: LoadResult, raw: pl.DataFrame, read_problems: list[Problem]) -> None:
        found = [*read_problems, *result.problems]
        counts = self.counts
        counts["created"] += result.created
        counts["updated"] += result.updated
        counts["unchanged"] += result.unchanged
        counts["rejected"] += len({p.row for p in found if p.row is not None})
        self.problems.extend(found)
        if self.rejects is not None and found:
            write_rejects(self.rejects, raw, found)
