"""The scoring models' read side: a portfolio's whole ledger history as a :class:`History`.

Every instalment (with its invoice's issue day and dispute flag) and every allocation (payment,
credit note, write-off, with its reversal day), whatever their dates: training rebuilds the
portfolio as of each past day from them (:func:`arrears.scoring.frames.view_at`). Scoring one
day reads the cycle's input instead (:func:`arrears.store.cycle_read.read_cycle_input`).
"""

from __future__ import annotations

import polars as pl
from sqlalchemy import Engine, select

from arrears.scoring.frames import HISTORY_ALLOCATION_SCHEMA, HISTORY_INSTALMENT_SCHEMA, History
from arrears.store.portfolios import portfolio_id
from arrears.store.schema import allocation, instalment


def read_history(engine: Engine, *, portfolio: str) -> History:
    """Every instalment and allocation of ``portfolio``, any date (sorted by id).

    Raises :class:`arrears.store.portfolios.UnknownPortfolio` for a code that does not exist.
    """
    with engine.connect() as conn:
        pid = portfolio_id(conn, portfolio)
        inst_rows = conn.execute(
            select(
                instalment.c.id,
                instalment.c.invoice_id,
                instalment.c.debtor_id,
                instalment.c.currency,
                instalment.c.issue_date,
                instalment.c.due_date,
                instalment.c.amount_minor,
                instalment.c.disputed,
            )
            .where(instalment.c.portfolio_id == pid)
            .order_by(instalment.c.id)
        ).all()
        alloc_rows = conn.execute(
            select(
                allocation.c.instalment_id,
                allocation.c.source_kind,
                allocation.c.amount_minor,
                allocation.c.allocated_on,
                allocation.c.reversed_on,
            )
            .join(instalment, instalment.c.id == allocation.c.instalment_id)
            .where(instalment.c.portfolio_id == pid)
            .order_by(allocation.c.id)
        ).all()
    instalments = pl.DataFrame(
        [tuple(r) for r in inst_rows], schema=HISTORY_INSTALMENT_SCHEMA, orient="row"
    )
    allocations = pl.DataFrame(
        [tuple(r) for r in alloc_rows], schema=HISTORY_ALLOCATION_SCHEMA, orient="row"
    )
    return History(instalments, allocations)
