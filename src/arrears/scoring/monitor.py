"""Population stability: does today's portfolio still look like what the model learned from?

At training (:func:`reference`) every debtor feature of the score and the score itself are cut
into ten bins at the training examples' deciles (plus one bin for missing values) and the share
of examples in each bin is stored in the version's metadata (``monitor``), with each feature's
training range. :func:`drift` puts today's debtors into the same bins and gives, per feature and
for the score, the population stability index

    PSI = sum over bins of (today's share - training share) x ln(today's share / training share)

(shares floored at 0.0001), read with the usual thresholds: below 0.1 stable, 0.1 to 0.25 watch,
above 0.25 shift (the population moved: the model's figures may no longer hold; consider
training again and comparing the versions). It also counts today's values outside the training
range: a boosted tree scores a value beyond the largest it learned from as that largest, so
such a score rests on an extrapolation. Pure: no store, no clock.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

BINS = 10
#: Below: stable; up to :data:`SHIFT`: watch; above: shift.
STABLE = 0.1
SHIFT = 0.25
_FLOOR = 1e-4

Array = np.ndarray[Any, Any]


def status(psi: float | None) -> str:
    """``stable`` (< 0.1), ``watch`` (0.1-0.25), ``shift`` (> 0.25); ``-`` when unknown."""
    if psi is None:
        return "-"
    if psi < STABLE:
        return "stable"
    return "watch" if psi <= SHIFT else "shift"


def _shares(values: Array, edges: Array) -> Array:
    """The share of ``values`` in each bin cut at ``edges`` (``len(edges) + 1`` bins), then the
    share of missing values."""
    missing = np.isnan(values)
    index = np.searchsorted(edges, values[~missing], side="right")
    counts = np.bincount(index, minlength=len(edges) + 1).astype(np.float64)
    counts = np.append(counts, float(missing.sum()))
    return counts / max(len(values), 1)


def distribution(values: Array) -> dict[str, Any]:
    """What :func:`drift` compares against: decile edges, the share in each bin (the last one:
    missing values), the range and the count."""
    values = np.asarray(values, dtype=np.float64)
    known = values[~np.isnan(values)]
    if known.size == 0:
        edges = np.zeros(0)
        low = high = None
    else:
        edges = np.unique(np.quantile(known, np.linspace(0, 1, BINS + 1)[1:-1]))
        low, high = float(known.min()), float(known.max())
    return {
        "edges": [float(e) for e in edges],
        "shares": [round(float(s), 6) for s in _shares(values, edges)],
        "min": low,
        "max": high,
        "n": int(values.size),
    }


def reference(features: pl.DataFrame, names: list[str], scores: Array) -> dict[str, Any]:
    """The training distribution of each of ``names`` in ``features`` and of ``scores``."""
    return {
        "bins": BINS,
        "features": {n: distribution(_column(features, n)) for n in names},
        "score": distribution(scores),
    }


def _column(frame: pl.DataFrame, name: str) -> Array:
    return frame[name].cast(pl.Float64()).fill_nan(None).to_numpy().astype(np.float64)


def psi(ref: dict[str, Any], values: Array) -> float | None:
    """The PSI of ``values`` against the training distribution ``ref``; ``None`` when either
    side is empty."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0 or not ref.get("n"):
        return None
    expected = np.maximum(np.asarray(ref["shares"], dtype=np.float64), _FLOOR)
    actual = np.maximum(_shares(values, np.asarray(ref["edges"], dtype=np.float64)), _FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def score_psi(model_reference: dict[str, Any] | None, scores: Array) -> float | None:
    """The score's PSI (``None`` for a model trained without a reference)."""
    if not model_reference:
        return None
    return psi(model_reference["score"], scores)


def drift(model_reference: dict[str, Any], features: pl.DataFrame, scores: Array) -> pl.DataFrame:
    """Per feature of the reference, then the score (first row): ``name``, ``psi``, ``status``,
    ``out_of_range`` (today's values below the training minimum or above its maximum),
    ``share_out_of_range``, ``training_min``, ``training_max`` and ``debtors`` (today's)."""
    rows = []
    columns = {"score": np.asarray(scores, dtype=np.float64)}
    for name in model_reference["features"]:
        columns[name] = _column(features, name)
    refs = {"score": model_reference["score"], **model_reference["features"]}
    for name, values in columns.items():
        ref = refs[name]
        value = psi(ref, values)
        known = values[~np.isnan(values)]
        outside = 0
        if ref["min"] is not None and known.size:
            outside = int(((known < ref["min"]) | (known > ref["max"])).sum())
        rows.append(
            {
                "name": name,
                "psi": None if value is None else round(value, 4),
                "status": status(value),
                "out_of_range": outside,
                "share_out_of_range": round(outside / values.size, 4) if values.size else 0.0,
                "training_min": ref["min"],
                "training_max": ref["max"],
                "debtors": int(values.size),
            }
        )
    schema = {
        "name": pl.String(),
        "psi": pl.Float64(),
        "status": pl.String(),
        "out_of_range": pl.Int64(),
        "share_out_of_range": pl.Float64(),
        "training_min": pl.Float64(),
        "training_max": pl.Float64(),
        "debtors": pl.Int64(),
    }
    return pl.DataFrame(rows, schema=schema)


def outside_training(model_reference: dict[str, Any] | None, features: pl.DataFrame) -> pl.Series:
    """Per row of ``features``, the features whose value lies outside what the model saw in
    training (below its minimum or above its maximum; a missing value never is): flagged at
    scoring, not clipped (the trees treat a value beyond the range as the nearest value they
    saw, so clipping would change no score), for ``model score`` to show. Empty lists for a
    model trained without a reference."""
    texts = pl.List(pl.String())
    if not model_reference or features.is_empty():
        return pl.Series("out_of_range", [[]] * features.height, dtype=texts)
    flags = []
    for name, ref in model_reference["features"].items():
        if name not in features.columns or ref.get("min") is None:
            continue
        value = pl.col(name).cast(pl.Float64())
        outside = (value < ref["min"]) | (value > ref["max"])
        flags.append(pl.when(outside).then(pl.lit(name)))
    if not flags:
        return pl.Series("out_of_range", [[]] * features.height, dtype=texts)
    return features.select(
        pl.concat_list(flags).list.drop_nulls().alias("out_of_range")
    ).to_series()


def warning(value: float | None) -> str | None:
    """The one line ``arrears run`` prints when the score's PSI is above :data:`SHIFT`."""
    if value is None or value <= SHIFT:
        return None
    return (
        f"the score's population stability index is {value:.2f} (> {SHIFT}: the portfolio has "
        "shifted from what the model learned): see arrears model monitor"
    )
