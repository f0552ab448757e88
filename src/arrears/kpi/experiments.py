"""Champion/challenger comparison: each experiment's arms' recovery, cure and roll-forward
rates, the difference between them with a 95 % confidence interval, whether it is significant,
and the debtors per arm needed to detect a given difference (docs/kpi.md, "Experiments").

Input: ``assignments``, one row per time the daily cycle recorded a debtor's case in an arm
(``debtor_id``, ``currency``, ``experiment``, ``arm`` ``champion``/``challenger``,
``assigned_on``: the cycle's day), and the ledger's history (:mod:`arrears.kpi.figures`). A
debtor counts in the arm it was first recorded in, from that day (its *assignment*), when that
day is in the period; it is followed to the period's end:

- ``open``: its balance at the end of the assignment day (the instalments issued by then);
- ``collected``: payments allocated to those instalments after that day, by the end and not
  reversed by then (so a debtor's recovery is between 0 and 1);
- *delinquent* when past due at assignment; *cured* when delinquent and, at the end, current or
  owing nothing (not by a write-off);
- *rolled forward* when at the end it is in a later aging bucket than at assignment, or a
  write-off of its was allocated after assignment.

Rates: recovery = sum(collected) / sum(open) (by amount); cure = cured / delinquent and
roll-forward = rolled / debtors (by debtors). Intervals (normal approximation, ``z`` the
``1 - (1 - confidence) / 2`` quantile):

- cure and roll-forward: the two-proportion (Wald, unpooled) interval of the difference
  ``p2 - p1 ± z·sqrt(p1(1-p1)/n1 + p2(1-p2)/n2)``;
- recovery, a ratio of sums: the same with each arm's variance of the ratio estimator
  ``s² / n``, ``s² = Σ((y - R·x) / x̄)² / (n - 1)`` (linearisation, the survey sampler's
  ratio estimator).

*Significant* when the interval excludes 0. Debtors needed per arm to detect a difference
``d`` at the given power: ``(z + z_power)² · (v1 + v2) / d²`` rounded up, with, for a
proportion, ``v1 = p1(1-p1)`` the champion's and ``v2 = p2(1-p2)`` at ``p2 = p1 + d`` (``p1 - d``
above 1); for recovery the arms' observed ``s²``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date
from fractions import Fraction
from statistics import NormalDist

import polars as pl

from arrears.kpi.aging import bucket_index
from arrears.kpi.figures import live_on
from arrears.kpi.roll import states

CHAMPION = "champion"
CHALLENGER = "challenger"
MEASURES: tuple[str, ...] = ("recovery", "cure", "roll_forward")

ASSIGNMENT_SCHEMA: dict[str, pl.DataType] = {
    "debtor_id": pl.Int64(),
    "currency": pl.String(),
    "experiment": pl.String(),
    "arm": pl.String(),
    "assigned_on": pl.Date(),
}


def first_assignments(assignments: pl.DataFrame, start: date, end: date) -> pl.DataFrame:
    """Each debtor's first assignment per experiment and currency, when it is from ``start``
    to ``end`` (a debtor first assigned before ``start`` is not the period's)."""
    first = (
        assignments.sort("assigned_on")
        .group_by("experiment", "debtor_id", "currency", maintain_order=True)
        .first()
    )
    return first.filter(pl.col("assigned_on").is_between(start, end)).select(
        list(ASSIGNMENT_SCHEMA)
    )


def debtor_outcomes(
    assigned: pl.DataFrame,
    instalments: pl.DataFrame,
    allocations: pl.DataFrame,
    end: date,
    edges: Sequence[int],
) -> pl.DataFrame:
    """One row per assignment (:func:`first_assignments`): ``experiment``, ``arm``,
    ``debtor_id``, ``currency``, ``open`` and ``collected`` (minor units), ``delinquent``,
    ``cured``, ``rolled`` (booleans)."""
    day = pl.col("assigned_on")
    at_assignment = (pl.col("allocated_on") <= day) & (
        pl.col("reversed_on").is_null() | (pl.col("reversed_on") > day)
    )
    held = assigned.lazy().join(instalments.lazy(), on=["debtor_id", "currency"])
    held = held.filter(pl.col("issue_date") <= day)
    per_instalment = (
        held.join(allocations.lazy(), on="instalment_id", how="left")
        .group_by("experiment", "debtor_id", "currency", "instalment_id")
        .agg(
            pl.col("amount_minor").first(),
            pl.col("due_date").first(),
            pl.col("assigned_on").first(),
            pl.col("amount_minor_right").filter(at_assignment).sum().alias("_before"),
            pl.col("amount_minor_right")
            .filter(
                (pl.col("allocated_on") > day) & live_on(end) & (pl.col("source_kind") == "payment")
            )
            .sum()
            .alias("_paid"),
            ((pl.col("allocated_on") > day) & live_on(end) & (pl.col("source_kind") == "write_off"))
            .any()
            .alias("_written_off"),
        )
        .with_columns((pl.col("amount_minor") - pl.col("_before")).clip(0).alias("open"))
        .with_columns(pl.min_horizontal("_paid", "open").alias("collected"))
    )
    dpd = (pl.col("assigned_on") - pl.col("due_date")).dt.total_days()
    per_debtor = per_instalment.group_by("experiment", "debtor_id", "currency").agg(
        pl.col("open").sum(),
        pl.col("collected").sum(),
        pl.col("_written_off").any(),
        bucket_index(dpd.filter(pl.col("open") > 0), edges).max().alias("_from"),
    )
    after = states(instalments, allocations, end, edges).select(
        "debtor_id", "currency", pl.col("bucket").alias("_to")
    )
    return (
        assigned.lazy()
        .join(per_debtor, on=["experiment", "debtor_id", "currency"], how="left")
        .join(after, on=["debtor_id", "currency"], how="left")
        .with_columns(
            pl.col("open", "collected").fill_null(0).cast(pl.Int64()),
            pl.col("_written_off").fill_null(False),
            pl.col("_from").fill_null(0),
        )
        .with_columns(
            (pl.col("_from") > 0).alias("delinquent"),
        )
        .with_columns(
            (
                pl.col("delinquent")
                & ~pl.col("_written_off")
                & (pl.col("_to").is_null() | (pl.col("_to") == 0))
            ).alias("cured"),
            (pl.col("_written_off") | (pl.col("_to").fill_null(-1) > pl.col("_from"))).alias(
                "rolled"
            ),
        )
        .select(
            "experiment",
            "arm",
            "debtor_id",
            "currency",
            "open",
            "collected",
            "delinquent",
            "cured",
            "rolled",
        )
        .sort("experiment", "currency", "arm", "debtor_id")
        .collect()
    )


def converted_outcomes(
    outcomes: pl.DataFrame, factors: Mapping[str, Fraction], to: str
) -> pl.DataFrame:
    """``outcomes`` with ``open`` and ``collected`` in ``to`` (each debtor's amounts converted
    and rounded to the minor unit, half to even); ``ValueError`` names currencies without a
    factor."""
    missing = sorted(set(outcomes["currency"].to_list()) - set(factors))
    if missing:
        raise ValueError(f"no rate for {', '.join(missing)}")
    currencies = outcomes["currency"].to_list()
    return outcomes.with_columns(
        *(
            pl.Series(
                name,
                [round(v * factors[c]) for v, c in zip(outcomes[name], currencies, strict=True)],
                dtype=pl.Int64(),
            )
            for name in ("open", "collected")
        ),
        pl.lit(to).alias("currency"),
    )


def arm_rates(outcomes: pl.DataFrame) -> pl.DataFrame:
    """Per experiment, currency and arm: ``debtors``, ``open``, ``collected``,
    ``recovery_rate``, ``recovery_variance`` (the ratio estimator's per-debtor ``s²``; null
    below 2 debtors), ``delinquent``, ``cured``, ``cure_rate``, ``rolled``, ``roll_rate``."""
    group = ["experiment", "currency", "arm"]
    sums = outcomes.group_by(group).agg(
        pl.len().cast(pl.Int64()).alias("debtors"),
        pl.col("open").sum(),
        pl.col("collected").sum(),
        pl.col("delinquent").sum().cast(pl.Int64()),
        pl.col("cured").sum().cast(pl.Int64()),
        pl.col("rolled").sum().cast(pl.Int64()),
    )
    rate = pl.when(pl.col("open") > 0).then(pl.col("collected") / pl.col("open"))
    sums = sums.with_columns(rate.alias("recovery_rate"))
    residual = (
        outcomes.join(sums.select(*group, "debtors", "open", "recovery_rate"), on=group)
        .with_columns(
            (
                (pl.col("collected") - pl.col("recovery_rate") * pl.col("open"))
                / (pl.col("open_right") / pl.col("debtors"))
            ).alias("_e")
        )
        .group_by(group)
        .agg(
            pl.when(pl.len() > 1)
            .then((pl.col("_e") ** 2).sum() / (pl.len() - 1))
            .alias("recovery_variance")
        )
    )
    return (
        sums.join(residual, on=group, how="left")
        .with_columns(
            pl.when(pl.col("delinquent") > 0)
            .then(pl.col("cured") / pl.col("delinquent"))
            .alias("cure_rate"),
            pl.when(pl.col("debtors") > 0)
            .then(pl.col("rolled") / pl.col("debtors"))
            .alias("roll_rate"),
        )
        .select(
            *group,
            "debtors",
            "open",
            "collected",
            "recovery_rate",
            "recovery_variance",
            "delinquent",
            "cured",
            "cure_rate",
            "rolled",
            "roll_rate",
        )
        .sort(group)
    )


def z_value(confidence: float) -> float:
    """The two-sided standard normal quantile: 1.959964 for 0.95."""
    return NormalDist().inv_cdf(1 - (1 - confidence) / 2)


def needed_per_arm(v1: float, v2: float, detect: float, confidence: float, power: float) -> int:
    """``ceil((z + z_power)² · (v1 + v2) / detect²)``."""
    z = z_value(confidence) + NormalDist().inv_cdf(power)
    return math.ceil(z * z * (v1 + v2) / (detect * detect) - 1e-9)


def proportion_needed(p1: float, detect: float, confidence: float, power: float) -> int:
    """Debtors per arm to detect ``p1`` moving by ``detect`` (to ``p1 + detect``, or
    ``p1 - detect`` when that passes 1)."""
    p2 = p1 + detect if p1 + detect <= 1 else p1 - detect
    return needed_per_arm(p1 * (1 - p1), p2 * (1 - p2), detect, confidence, power)


def comparison(
    rates: pl.DataFrame, detect: float = 0.05, confidence: float = 0.95, power: float = 0.80
) -> pl.DataFrame:
    """Per experiment, currency and measure (:data:`MEASURES`): ``champion`` and
    ``challenger`` (rates), ``difference`` (challenger - champion), ``low`` and ``high`` (the
    interval), ``significant`` and ``needed_per_arm`` (null where an arm has nothing to
    measure)."""
    if not 0 < detect < 1:
        raise ValueError(f"the difference to detect must be between 0 and 1, got {detect}")
    z = z_value(confidence)
    rows: list[dict[str, object]] = []
    arms = {(str(r["experiment"]), str(r["currency"]), str(r["arm"])): r for r in rates.to_dicts()}
    for experiment, currency in sorted({(e, c) for e, c, _ in arms}):
        one = arms.get((experiment, currency, CHAMPION))
        two = arms.get((experiment, currency, CHALLENGER))
        for measure in MEASURES:
            rows.append(
                {
                    "experiment": experiment,
                    "currency": currency,
                    "measure": measure,
                    **_compare(measure, one, two, z, detect, confidence, power),
                }
            )
    schema: dict[str, pl.DataType] = {
        "experiment": pl.String(),
        "currency": pl.String(),
        "measure": pl.String(),
        "champion": pl.Float64(),
        "challenger": pl.Float64(),
        "difference": pl.Float64(),
        "low": pl.Float64(),
        "high": pl.Float64(),
        "significant": pl.Boolean(),
        "needed_per_arm": pl.Int64(),
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


_RATE = {"recovery": "recovery_rate", "cure": "cure_rate", "roll_forward": "roll_rate"}
_SIZE = {"recovery": "debtors", "cure": "delinquent", "roll_forward": "debtors"}


def _compare(
    measure: str,
    one: dict[str, object] | None,
    two: dict[str, object] | None,
    z: float,
    detect: float,
    confidence: float,
    power: float,
) -> dict[str, object]:
    p1 = _float(one, _RATE[measure])
    p2 = _float(two, _RATE[measure])
    out: dict[str, object] = {
        "champion": p1,
        "challenger": p2,
        "difference": None if p1 is None or p2 is None else p2 - p1,
        "low": None,
        "high": None,
        "significant": None,
        "needed_per_arm": None,
    }
    if measure == "recovery":
        v1, v2 = _float(one, "recovery_variance"), _float(two, "recovery_variance")
        if v1 is not None and v2 is not None:
            out["needed_per_arm"] = needed_per_arm(v1, v2, detect, confidence, power)
    elif p1 is not None:
        out["needed_per_arm"] = proportion_needed(p1, detect, confidence, power)
    if p1 is None or p2 is None or one is None or two is None:
        return out
    n1, n2 = int(str(one[_SIZE[measure]])), int(str(two[_SIZE[measure]]))
    if measure == "recovery":
        v1, v2 = _float(one, "recovery_variance"), _float(two, "recovery_variance")
        if v1 is None or v2 is None:
            return out
    else:
        v1, v2 = p1 * (1 - p1), p2 * (1 - p2)
    half = z * math.sqrt(v1 / n1 + v2 / n2)
    low, high = p2 - p1 - half, p2 - p1 + half
    out |= {"low": low, "high": high, "significant": low > 0 or high < 0}
    return out


def _float(row: dict[str, object] | None, name: str) -> float | None:
    if row is None or row.get(name) is None:
        return None
    value = row[name]
    assert isinstance(value, int | float)
    return float(value)
