"""Promise-kept rates: of the promises to pay judged in a period, how many were kept.

The daily cycle judges each promise once, the day after its date plus grace, and records the
outcome with what was paid towards it (docs/agreements.md): ``kept`` (paid in full),
``partial`` (paid in part) or ``broken`` (nothing paid). A period's promises are those judged
in it (``outcome_on`` from its start to its end); a cancelled promise is never judged. Per group
and currency:

- ``promises_judged``; ``promises_kept``, ``promises_partial``, ``promises_broken`` (counts);
- ``promised`` and ``paid_on_promises`` (minor units: the promises' amounts and what was paid
  towards them, at most each promise's amount);
- ``promise_kept_rate`` = kept / judged (the full rate); ``promise_partial_rate`` = partial /
  judged; ``promise_paid_rate`` = paid_on_promises / promised. Null when none was judged.

The input, one row per promise (``arrears.store.scoring.history.read_promises``):
``debtor_id``, ``currency``, ``amount_minor``, ``outcome``, ``kept_minor``, ``outcome_on`` and
any grouping column.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl

#: The amounts of :func:`promise_figures` (minor units) and its counts.
PROMISE_AMOUNTS: tuple[str, ...] = ("promised", "paid_on_promises")
PROMISE_COUNTS: tuple[str, ...] = (
    "promises_judged",
    "promises_kept",
    "promises_partial",
    "promises_broken",
)


def promise_figures(
    promises: pl.DataFrame, start: date, end: date, keys: Sequence[str] = ()
) -> pl.DataFrame:
    """Counts and amounts of the promises judged from ``start`` to ``end``, per group and
    currency (groups with none judged are left out)."""
    outcome = pl.col("outcome")
    judged = promises.filter(outcome.is_not_null() & pl.col("outcome_on").is_between(start, end))
    group = [*keys, "currency"]
    return (
        judged.group_by(group)
        .agg(
            pl.len().cast(pl.Int64()).alias("promises_judged"),
            *(
                (outcome == kind).sum().cast(pl.Int64()).alias(f"promises_{kind}")
                for kind in ("kept", "partial", "broken")
            ),
            pl.col("amount_minor").sum().cast(pl.Int64()).alias("promised"),
            pl.col("kept_minor").fill_null(0).sum().cast(pl.Int64()).alias("paid_on_promises"),
        )
        .sort(group, nulls_last=True)
    )


def promise_rates() -> list[pl.Expr]:
    """The rates of each row of :func:`promise_figures` (null when none was judged)."""
    judged = pl.col("promises_judged")

    def share(part: pl.Expr, whole: pl.Expr, name: str) -> pl.Expr:
        return pl.when(whole > 0).then(part / whole).otherwise(None).alias(name)

    return [
        share(pl.col("promises_kept"), judged, "promise_kept_rate"),
        share(pl.col("promises_partial"), judged, "promise_partial_rate"),
        share(pl.col("paid_on_promises"), pl.col("promised"), "promise_paid_rate"),
    ]
