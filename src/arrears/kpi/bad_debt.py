"""Bad-debt ratio: the part of a period's credit sales written off in it.

Convention, with the figures of :func:`arrears.kpi.figures.period_figures`::

    bad-debt ratio = written_off / sales

``written_off``: write-offs allocated in the period and not reversed by its end, whatever the
invoices' issue dates (a write-off this month of last year's invoice counts this month);
``sales``: the credit sales of the period. A ratio (0.02 is 2 %); null without sales.
"""

from __future__ import annotations

import polars as pl


def bad_debt_ratio() -> pl.Expr:
    """``written_off / sales`` of each row of period figures (null without sales)."""
    sales = pl.col("sales")
    ratio = pl.col("written_off") / sales
    return pl.when(sales > 0).then(ratio).otherwise(None).alias("bad_debt_ratio")
