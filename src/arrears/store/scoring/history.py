"""The scoring models' read side: a portfolio's whole ledger history as a :class:`History`.

Every instalment (with its invoice's issue day and dispute flag) and every allocation (payment,
credit note, write-off, with its reversal day), whatever their dates: training rebuilds the
portfolio as of each past day from them (:func:`arrears.scoring.examples`). Scoring one day
reads the cycle's input instead (:func:`arrears.store.cycle.read.read_cycle_input`).

Columnar, as the snapshot: plain rows by primary-key ranges (SQLite: rowid scans), read into
Arrow over ADBC by two readers side by side (:func:`arrears.store.cycle.snapshot._read_all`), never
row by row through SQLAlchemy. The allocations are kept to the portfolio's instalments in
Polars (a semi-join), not by a join in SQL (a random instalment lookup per allocation).
"""

from __future__ import annotations

import polars as pl
from sqlalchemy import Engine, select, text

from arrears.scoring.frames import (
    HISTORY_ALLOCATION_SCHEMA,
    HISTORY_INSTALMENT_SCHEMA,
    History,
    debtor_events,
    limits_of,
)
from arrears.store.cycle.read import _NULL_DAY, _typed
from arrears.store.cycle.snapshot import (
    READERS,
    Task,
    _debtors,
    _debtors_query,
    _id_ranges,
    _read_all,
)
from arrears.store.portfolios import portfolio_id
from arrears.store.schema import debtor as debtor_table

_BOUNDS = """SELECT (SELECT MIN(id) FROM instalment), (SELECT MAX(id) FROM instalment),
                    (SELECT MIN(id) FROM allocation), (SELECT MAX(id) FROM allocation)"""
_ALLOCATION_READ: dict[str, pl.DataType] = {"id": pl.Int64(), **HISTORY_ALLOCATION_SCHEMA}


def read_history(engine: Engine, *, portfolio: str) -> History:
    """Every instalment and allocation of ``portfolio``, any date (sorted by id).

    Raises :class:`arrears.store.portfolios.UnknownPortfolio` for a code that does not exist.
    """
    with engine.connect() as conn:
        pid = int(portfolio_id(conn, portfolio))
        bounds = conn.execute(text(_BOUNDS)).one()
    pg = engine.dialect.name == "postgresql"
    inst_ranges = _id_ranges(bounds[0], bounds[1], READERS)
    alloc_ranges = _id_ranges(bounds[2], bounds[3], READERS)
    tasks: list[Task] = [
        *((_instalments(pid, ids, pg), _typed_instalments) for ids in inst_ranges),
        *((_allocations(ids, pg), _typed_allocations) for ids in alloc_ranges),
    ]
    frames = _read_all(engine, tasks)
    instalments = _sorted(pl.concat(frames[: len(inst_ranges)]), "instalment_id")
    allocations = _sorted(pl.concat(frames[len(inst_ranges) :]), "id")
    allocations = allocations.join(
        instalments.select("instalment_id"), on="instalment_id", how="semi", maintain_order="left"
    ).select(list(HISTORY_ALLOCATION_SCHEMA))
    return History(instalments, allocations)


def read_debtor_history(engine: Engine, *, portfolio: str, debtor: str) -> History | None:
    """One debtor's whole history (every instalment and allocation, any date, and its credit
    limit), by its id as imported; ``None`` for a debtor ``portfolio`` does not have. Every
    scoring feature is computed per debtor from its own ledger, so a view of this history
    scores the debtor as a view of the whole portfolio does (``arrears model explain``: one
    debtor in a fraction of a second, whatever the portfolio's size).

    Raises :class:`arrears.store.portfolios.UnknownPortfolio` for a code that does not exist.
    """
    with engine.connect() as conn:
        pid = int(portfolio_id(conn, portfolio))
        row = conn.execute(
            select(debtor_table.c.id, debtor_table.c.currency, debtor_table.c.credit_limit_minor)
            .where(debtor_table.c.portfolio_id == pid)
            .where(debtor_table.c.external_id == debtor)
        ).first()
    if row is None:
        return None
    did = int(row[0])
    pg = engine.dialect.name == "postgresql"
    instalments = f"""
        SELECT id AS instalment_id, invoice_id, debtor_id, currency,
               {_day("issue_date", pg)} AS issue_date, {_day("due_date", pg)} AS due_date,
               amount_minor, disputed, {_day("disputed_on", pg, nullable=True)} AS disputed_on
        FROM instalment
        WHERE debtor_id = {did} AND portfolio_id = {pid}"""
    allocations = f"""
        SELECT id, instalment_id, source_kind, amount_minor,
               {_day("allocated_on", pg)} AS allocated_on,
               {_day("reversed_on", pg, nullable=True)} AS reversed_on
        FROM allocation
        WHERE instalment_id IN (SELECT id FROM instalment WHERE debtor_id = {did})"""
    found, paid = _read_all(
        engine, [(instalments, _typed_instalments), (allocations, _typed_allocations)]
    )
    limits = limits_of(
        pl.DataFrame(
            {"debtor_id": [did], "currency": [row[1]], "credit_limit_minor": [row[2]]},
            schema={
                "debtor_id": pl.Int64(),
                "currency": pl.String(),
                "credit_limit_minor": pl.Int64(),
            },
        )
    )
    return History(
        _sorted(found, "instalment_id"),
        _sorted(paid, "id").select(list(HISTORY_ALLOCATION_SCHEMA)),
        limits,
        debtor_events(
            read_promises(engine, portfolio=portfolio, debtor_id=did),
            read_disputes(engine, portfolio=portfolio, debtor_id=did),
        ),
    )


def read_debtors(engine: Engine, *, portfolio: str) -> pl.DataFrame:
    """The debtors of ``portfolio`` as the snapshot reads them
    (:data:`arrears.store.cycle.snapshot.DEBTOR_SCHEMA`: ``segment``, ``country``, ...): what
    the history's measures are grouped by (the history itself has only ``debtor_id``).

    Raises :class:`arrears.store.portfolios.UnknownPortfolio` for a code that does not exist.
    """
    with engine.connect() as conn:
        pid = int(portfolio_id(conn, portfolio))
    query = _debtors_query(pid, postgres=engine.dialect.name == "postgresql")
    [debtors] = _read_all(engine, [(query, _debtors)])
    return debtors


#: One row per promise (``arrears.kpi.promises``): the outcome the cycle recorded, if any.
PROMISE_READ: dict[str, pl.DataType] = {
    "promise_id": pl.Int64(),
    "debtor_id": pl.Int64(),
    "currency": pl.String(),
    "amount_minor": pl.Int64(),
    "made_on": pl.Date(),
    "due_on": pl.Date(),
    "outcome": pl.String(),
    "kept_minor": pl.Int64(),
    "outcome_on": pl.Date(),
}


def read_promises(engine: Engine, *, portfolio: str, debtor_id: int | None = None) -> pl.DataFrame:
    """Every promise of ``portfolio`` (or of its debtor ``debtor_id``) that was not cancelled,
    with its recorded outcome (:data:`PROMISE_READ`; ``outcome`` and ``outcome_on`` null,
    ``kept_minor`` 0, until the cycle judged it): the promise history features read them
    (:func:`arrears.scoring.frames.promises_of`). Raises
    :class:`arrears.store.portfolios.UnknownPortfolio` for an unknown code.
    """
    with engine.connect() as conn:
        pid = int(portfolio_id(conn, portfolio))
    pg = engine.dialect.name == "postgresql"
    one = "" if debtor_id is None else f" AND debtor_id = {int(debtor_id)}"
    # COALESCE: ADBC SQLite infers a column's type from its first rows; _typed turns '' back
    query = f"""
        SELECT id AS promise_id, debtor_id, currency, amount_minor,
               {_day("made_on", pg)} AS made_on, {_day("due_on", pg)} AS due_on,
               COALESCE(outcome, '') AS outcome, COALESCE(kept_minor, 0) AS kept_minor,
               {_day("outcome_on", pg, nullable=True)} AS outcome_on
        FROM promise
        WHERE portfolio_id = {pid} AND cancelled_on IS NULL{one}"""
    [promises] = _read_all(engine, [(query, lambda raw: _typed(raw, PROMISE_READ))])
    return promises


#: One row per dispute (table ``dispute``, whatever its state): the day it was opened and
#: whether it is undated (a ``from_erp`` dispute of invoices that came in already disputed: a
#: first load, opened on the load's day though raised some time before).
DISPUTE_READ: dict[str, pl.DataType] = {
    "dispute_id": pl.Int64(),
    "debtor_id": pl.Int64(),
    "opened_on": pl.Date(),
    "undated": pl.Int64(),
}


def read_disputes(engine: Engine, *, portfolio: str, debtor_id: int | None = None) -> pl.DataFrame:
    """Every dispute of ``portfolio`` (or of its debtor ``debtor_id``), open or resolved
    (:data:`DISPUTE_READ`): the dispute history feature ``disputes_12m`` counts them
    (:func:`arrears.scoring.frames.disputes_of`). Raises
    :class:`arrears.store.portfolios.UnknownPortfolio` for an unknown code."""
    with engine.connect() as conn:
        pid = int(portfolio_id(conn, portfolio))
    pg = engine.dialect.name == "postgresql"
    one = "" if debtor_id is None else f" AND d.debtor_id = {int(debtor_id)}"
    query = f"""
        SELECT d.id AS dispute_id, d.debtor_id, {_day("d.opened_on", pg)} AS opened_on,
               CASE WHEN d.reason = 'from_erp' AND NOT EXISTS (
                   SELECT 1 FROM dispute_invoice di JOIN invoice i ON i.id = di.invoice_id
                   WHERE di.dispute_id = d.id AND i.disputed_on IS NOT NULL)
               THEN 1 ELSE 0 END AS undated
        FROM dispute d
        WHERE d.portfolio_id = {pid}{one}"""
    [disputes] = _read_all(engine, [(query, lambda raw: _typed(raw, DISPUTE_READ))])
    return disputes


def _day(column: str, pg: bool, *, nullable: bool = False) -> str:
    """A date as read: native on PostgreSQL; days since 1970 on SQLite (a placeholder for
    NULL: ADBC SQLite infers a column's type from its first rows)."""
    if pg:
        return column
    days = f"CAST(julianday({column}) - 2440587.5 AS INTEGER)"
    return f"COALESCE({days}, {_NULL_DAY})" if nullable else days


def _instalments(pid: int, ids: tuple[int, int], pg: bool) -> str:
    return f"""
        SELECT id AS instalment_id, invoice_id, debtor_id, currency,
               {_day("issue_date", pg)} AS issue_date, {_day("due_date", pg)} AS due_date,
               amount_minor, disputed, {_day("disputed_on", pg, nullable=True)} AS disputed_on
        FROM instalment
        WHERE id BETWEEN {int(ids[0])} AND {int(ids[1])} AND portfolio_id = {int(pid)}"""


def _allocations(ids: tuple[int, int], pg: bool) -> str:
    return f"""
        SELECT id, instalment_id, source_kind, amount_minor,
               {_day("allocated_on", pg)} AS allocated_on,
               {_day("reversed_on", pg, nullable=True)} AS reversed_on
        FROM allocation
        WHERE id BETWEEN {int(ids[0])} AND {int(ids[1])}"""


def _typed_instalments(raw: pl.DataFrame) -> pl.DataFrame:
    return _typed(raw, HISTORY_INSTALMENT_SCHEMA)


def _typed_allocations(raw: pl.DataFrame) -> pl.DataFrame:
    return _typed(raw, _ALLOCATION_READ)


def _sorted(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    return frame if frame[key].is_sorted() else frame.sort(key)
