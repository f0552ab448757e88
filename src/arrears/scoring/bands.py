"""The score's bands (A-E): a light module (no scikit-learn), so the daily cycle stores its
scores' bands without importing the model."""

from __future__ import annotations

import polars as pl

__all__ = ["BANDS", "band"]

#: The score's bands: the lowest score of each (``E`` below 0.2). A band is a fifth of the
#: probability scale, not of the portfolio: a calibrated 0.35 means about 35 % pay, so a band
#: keeps its meaning from one day, portfolio or version to the next.
BANDS: tuple[tuple[str, float], ...] = (("A", 0.8), ("B", 0.6), ("C", 0.4), ("D", 0.2))


def band(score: pl.Expr) -> pl.Expr:
    """The band of a score: A (>= 0.8, very likely to pay), B (>= 0.6), C (>= 0.4), D (>= 0.2),
    E (below 0.2, very unlikely)."""
    out = pl.lit("E")
    for name, low in reversed(BANDS):
        out = pl.when(score >= low).then(pl.lit(name)).otherwise(out)
    return out
