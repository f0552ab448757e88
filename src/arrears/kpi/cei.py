"""Collection effectiveness index (CEI): how much of what could be collected in a period was.

Convention (the usual one, on total and current receivables, with the figures of
:func:`arrears.kpi.figures.period_figures`)::

    CEI = (opening + sales − closing) / (opening + sales − closing_current) × 100

``opening``: receivables at the start of the period; ``sales``: credit sales in it;
``closing``: receivables at its end; ``closing_current``: the part of them not yet past due.
The numerator is what left the receivables in the period (collected, credited, written off);
the denominator what could have left them (everything except what was not yet due at the end).
100 means every amount due was collected. Null when nothing could be collected (a zero
denominator). Note that write-offs count as removed, as in the usual convention: read CEI beside
the bad-debt ratio (:mod:`arrears.kpi.bad_debt`).
"""

from __future__ import annotations

import polars as pl


def collection_effectiveness() -> pl.Expr:
    """The CEI, in percent, of each row of period figures (null when nothing was collectable)."""
    available = pl.col("opening") + pl.col("sales")
    collectable = available - pl.col("closing_current")
    removed = available - pl.col("closing")
    return pl.when(collectable > 0).then(removed / collectable * 100).otherwise(None).alias("cei")
