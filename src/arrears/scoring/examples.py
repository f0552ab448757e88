"""Point-in-time training examples: features as of each snapshot day, outcomes after it.

- :func:`debtor_examples`: for each snapshot day, each (debtor, currency) with an open balance
  that day of which something is due by the window's end (overdue on the day, or falling due
  in ``(day, day + window_days]``: a current account whose statement falls due in the window
  is an example as much as an overdue one), its features as of that day and the outcome in the
  window after it: ``paid`` is true when payments dated in ``(day, day + window_days]`` (not
  reversed by the window's end) to those instalments cover at least ``share`` of what was
  open of them on the day (``due_minor``). An account owing only what falls due later has no
  outcome in the window and is no example (it is scored all the same).
- :func:`invoice_examples`: each invoice on its issue day (and, optionally, each invoice still
  open on a snapshot day), its features as of that day and its outcomes: ``late`` (settled after
  its due date, or still open after it) and ``days_to_pay`` (settlement day minus the example's
  day; null while it is unsettled at the end of the history).

Features are those of :func:`arrears.scoring.frames.view_at` (a snapshot day) and
:func:`~arrears.scoring.frames.issue_view` (an issue day), which see nothing dated after the day,
computed for many days at once (:func:`arrears.scoring.features.point_rows`): a chunk of days is
one set of joins and group-bys instead of one whole view per day. ``tests/test_scoring_examples.py``
proves the values equal the per-day views'. Outcomes are read from the whole history.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, timedelta

import polars as pl

from arrears.scoring.features import (
    DEBTOR_FEATURES,
    INVOICE_FEATURES,
    KEY,
    debtor_features_at,
    invoice_features_at,
    point_rows,
)
from arrears.scoring.frames import History, live_allocations
from arrears.scoring.targets import Schedule, Target


def snapshot_days(start: date, end: date, every_days: int = 7) -> list[date]:
    """``start``, ``start + every_days``... up to ``end`` inclusive."""
    days = []
    day = start
    while day <= end:
        days.append(day)
        day += timedelta(days=every_days)
    return days


def debtor_examples(
    history: History,
    days: Iterable[date],
    *,
    window_days: int = 30,
    share: float = 0.5,
    target: Target | None = None,
    schedule: Schedule | None = None,
) -> pl.DataFrame:
    """One row per (snapshot day, debtor, currency) owing something due by the window's end;
    see the module.

    ``days``: distinct days; rows come in their order, then by debtor and currency. The days
    are computed a few at a time (:func:`_chunks`), all of a chunk at once.

    ``target`` (default: ``pays`` with ``window_days`` and ``share``): what ``paid`` means
    (:mod:`arrears.scoring.targets`; always the good outcome). ``schedule`` with ``on =
    "statements"``: of ``days``, each (debtor, currency) keeps only the days an invoice was
    issued to it (its statement days).
    """
    target = target or Target("pays", window_days, share)
    if target.kind != "pays":
        return _target_examples(history, list(days), target, schedule)
    window_days, share = target.window_days, target.share
    days = list(days)
    feature_columns = [
        *KEY,
        "open_minor",
        "overdue_minor",
        "due_minor",
        "_typical_amount",
        *DEBTOR_FEATURES,
    ]
    payments = history.allocations.lazy().filter(pl.col("source_kind") == "payment")
    frames = []
    for chunk in _chunks(days, history.instalments.height):
        rows, feats = _features_on(history, chunk)
        feats = feats.drop("state_day")
        end = pl.col("as_of") + pl.duration(days=window_days)
        # what is due by the window's end: overdue on the day, or falling due in the window
        due = rows.filter((pl.col("open_minor") > 0) & (pl.col("due_date") <= end)).select(
            "as_of", "instalment_id", *KEY, "open_minor"
        )
        owed = due.group_by("as_of", *KEY).agg(pl.col("open_minor").sum().alias("due_minor"))
        paid = (
            due.drop("open_minor")
            .join(payments, on="instalment_id")
            .filter(
                (pl.col("allocated_on") > pl.col("as_of"))
                & (pl.col("allocated_on") <= end)
                & (pl.col("reversed_on").is_null() | (pl.col("reversed_on") > end))
            )
            .group_by("as_of", *KEY)
            .agg(pl.col("amount_minor").sum().alias("paid_minor"))
        )
        frames.append(
            feats.join(owed, on=["as_of", *KEY])
            .join(paid, on=["as_of", *KEY], how="left")
            .with_columns(
                pl.col("paid_minor").fill_null(0),
                (pl.col("paid_minor").fill_null(0) >= share * pl.col("due_minor")).alias("paid"),
            )
            .collect()
        )
    frame = pl.concat(frames) if frames else pl.DataFrame()
    if frame.is_empty():
        return pl.DataFrame()
    if schedule is not None and schedule.on == "statements":
        frame = frame.join(statement_days(history), on=["as_of", *KEY], how="semi")
    order = pl.DataFrame({"as_of": days, "_order": range(len(days))}, schema=_ORDER_SCHEMA)
    return (
        frame.join(order, on="as_of")
        .sort("_order", *KEY)
        .select(*feature_columns, "paid_minor", "as_of", "paid")
    )


def statement_days(history: History) -> pl.DataFrame:
    """(``as_of``, debtor, currency): the days an invoice was issued to each account (its
    statement days, for a portfolio of monthly statements)."""
    return (
        history.instalments.select(pl.col("issue_date").alias("as_of"), *KEY)
        .unique()
        .sort("as_of", *KEY)
    )


def example_days(history: History, start: date, end: date, schedule: Schedule) -> list[date]:
    """The snapshot days of ``schedule`` in ``[start, end]``: every ``every_days`` from
    ``start``, or every day an invoice was issued (each account then keeps its own, see
    :func:`debtor_examples`)."""
    if schedule.on == "statements":
        issued = history.instalments["issue_date"].unique().sort()
        return [d for d in issued.to_list() if start <= d <= end]
    return snapshot_days(start, end, schedule.every_days)


def _features_on(history: History, days: list[date]) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """(the instalments each of ``days`` sees, :func:`point_rows`; the debtors' features as of
    each day, :func:`debtor_features_at`), every debtor on every day."""
    points = pl.DataFrame({"as_of": days, "state_day": days}, schema=_POINT_SCHEMA)
    rows = point_rows(history, points).cache()
    return rows, debtor_features_at(rows, history.limits, points=points, promises=history.promises)


_PAID_OFF = ("payment", "credit_note")


def _target_examples(
    history: History, days: list[date], target: Target, schedule: Schedule | None
) -> pl.DataFrame:
    """Examples of the ``default`` and ``cures`` targets (:mod:`arrears.scoring.targets`):
    the features as of each day, ``paid`` the good outcome (did not default; cured)."""
    feature_columns = [*KEY, "open_minor", "overdue_minor", "_typical_amount", *DEBTOR_FEATURES]
    frames = []
    for chunk in _chunks(days, history.instalments.height):
        feats = _features_on(history, chunk)[1].drop("state_day")
        if target.kind == "default":
            # an account already in default on the day has nothing left to predict
            feats = feats.filter(
                (pl.col("open_minor") > 0)
                & (pl.col("days_past_due").fill_null(0) < target.days_past_due)
            )
        else:
            feats = feats.filter(pl.col("overdue_minor") > 0)
        if schedule is not None and schedule.on == "statements":
            feats = feats.join(statement_days(history).lazy(), on=["as_of", *KEY], how="semi")
        keys = feats.select("as_of", *KEY)
        bad = (
            _defaulted(history, keys, target)
            if target.kind == "default"
            else _uncured(history, keys, target)
        )
        frames.append(
            feats.join(bad.with_columns(pl.lit(True).alias("_bad")), on=["as_of", *KEY], how="left")
            .with_columns(pl.col("_bad").is_null().alias("paid"))
            .collect()
        )
    frames = [f for f in frames if not f.is_empty()]
    if not frames:
        return pl.DataFrame()
    order = pl.DataFrame({"as_of": days, "_order": range(len(days))}, schema=_ORDER_SCHEMA)
    return (
        pl.concat(frames)
        .join(order, on="as_of")
        .sort("_order", *KEY)
        .with_columns(pl.col("overdue_minor").alias("due_minor"), pl.lit(0).alias("paid_minor"))
        .select(*feature_columns, "due_minor", "paid_minor", "as_of", "paid")
    )


def _instalments_of(history: History, keys: pl.LazyFrame) -> pl.LazyFrame:
    return keys.join(
        history.instalments.lazy().select(
            "instalment_id", *KEY, "issue_date", "due_date", "amount_minor"
        ),
        on=KEY,
    )


def _paid_by(history: History, rows: pl.LazyFrame, day: str) -> pl.LazyFrame:
    """Per (``as_of``, instalment) of ``rows``: paid or credited by its column ``day``, as
    known that day (reversals by then undone); write-offs do not count."""
    return (
        rows.select("as_of", "instalment_id", day)
        .join(
            history.allocations.lazy().filter(pl.col("source_kind").is_in(_PAID_OFF)),
            on="instalment_id",
        )
        .filter(
            (pl.col("allocated_on") <= pl.col(day))
            & (pl.col("reversed_on").is_null() | (pl.col("reversed_on") > pl.col(day)))
        )
        .group_by("as_of", "instalment_id")
        .agg(pl.col("amount_minor").sum().alias("_paid"))
    )


def _defaulted(history: History, keys: pl.LazyFrame, target: Target) -> pl.LazyFrame:
    """The (``as_of``, debtor, currency) of ``keys`` that reach ``days_past_due`` within the
    window: an instalment (issued before or after the day) that is still not paid off on the
    first day of the window it is that many days past due (``due + days_past_due``, or the
    window's first day for one already there)."""
    n, m = target.days_past_due, target.window_days
    rows = (
        _instalments_of(history, keys)
        .with_columns(
            pl.max_horizontal(
                pl.col("as_of") + timedelta(days=1), pl.col("due_date") + timedelta(days=n)
            ).alias("_at")
        )
        .filter(pl.col("_at") <= pl.col("as_of") + timedelta(days=m))
    )
    rows = rows.join(_paid_by(history, rows, "_at"), on=["as_of", "instalment_id"], how="left")
    return (
        rows.filter(pl.col("_paid").fill_null(0) < pl.col("amount_minor"))
        .select("as_of", *KEY)
        .unique()
    )


def _uncured(history: History, keys: pl.LazyFrame, target: Target) -> pl.LazyFrame:
    """The (``as_of``, debtor, currency) of ``keys`` overdue on every day of the window
    ``(as_of, as_of + window_days]``. An instalment is overdue on day ``t`` from the day after
    its due date until the day it is paid off (payments and credit notes not reversed by the
    window's end; a write-off does not cure): the account cures on a day no instalment
    covers."""
    m = target.window_days
    end = pl.col("as_of") + timedelta(days=m)
    rows = (
        _instalments_of(history, keys)
        .filter(pl.col("due_date") < end)
        .with_columns(end.alias("_end"))
    )
    allocs = (
        rows.select("as_of", "instalment_id", "amount_minor", "_end")
        .join(
            history.allocations.lazy().filter(pl.col("source_kind").is_in(_PAID_OFF)),
            on="instalment_id",
        )
        .filter(
            (pl.col("allocated_on") <= pl.col("_end"))
            & (pl.col("reversed_on").is_null() | (pl.col("reversed_on") > pl.col("_end")))
        )
        .sort("as_of", "instalment_id", "allocated_on")
        .with_columns(pl.col("amount_minor_right").cum_sum().over("as_of", "instalment_id"))
        .filter(pl.col("amount_minor_right") >= pl.col("amount_minor"))
        .group_by("as_of", "instalment_id")
        .agg(pl.col("allocated_on").min().alias("_off"))
    )
    first = pl.col("as_of") + timedelta(days=1)
    spans = (
        rows.join(allocs, on=["as_of", "instalment_id"], how="left")
        .select(
            "as_of",
            *KEY,
            pl.max_horizontal(pl.col("due_date") + timedelta(days=1), first).alias("_from"),
            pl.min_horizontal(
                pl.col("_off").fill_null(pl.col("_end") + timedelta(days=1)) - timedelta(days=1),
                pl.col("_end"),
            ).alias("_to"),
            "_end",
        )
        .filter(pl.col("_from") <= pl.col("_to"))
        .sort("as_of", *KEY, "_from")
    )
    group = ["as_of", *KEY]
    reach = pl.col("_to").cum_max().over(group)
    before = pl.col("_to").cum_max().shift(1).over(group)
    covered = (
        spans.with_columns(
            before.fill_null(pl.col("as_of")).alias("_before"), reach.alias("_reach")
        )
        .group_by(group)
        .agg(
            (pl.col("_from") > pl.col("_before") + timedelta(days=1)).any().alias("_gap"),
            pl.col("_reach").max().alias("_reach"),
            pl.col("_end").first(),
        )
        .filter(~pl.col("_gap") & (pl.col("_reach") >= pl.col("_end")))
    )
    return covered.select(*group)


def settlements(history: History) -> pl.DataFrame:
    """Per invoice: the day its balance reached zero, as the whole history stands (else null)."""
    last = history.last_day
    if last is None:
        return pl.DataFrame(schema={"invoice_id": pl.Int64(), "settled_on": pl.Date()})
    live = (
        live_allocations(history.allocations, last)
        .group_by("instalment_id")
        .agg(pl.col("amount_minor").sum().alias("_paid"), pl.col("allocated_on").max())
    )
    return (
        history.instalments.lazy()
        .join(live, on="instalment_id", how="left")
        .group_by("invoice_id")
        .agg(
            (pl.col("_paid").fill_null(0) >= pl.col("amount_minor")).all().alias("_done"),
            pl.col("allocated_on").max().alias("_last"),
        )
        .select("invoice_id", pl.when(pl.col("_done")).then(pl.col("_last")).alias("settled_on"))
        .collect()
    )


def invoice_examples(history: History, days: Iterable[date] = ()) -> pl.DataFrame:
    """Each invoice on its issue day, plus each invoice open on any of ``days``; see the module.

    ``at_issue``: whether the row is the invoice's issue-day example. Rows are sorted by day
    and invoice. Computed a few days at a time (:func:`_chunks`), all of a chunk at once.
    """
    frames = [f.with_columns(pl.lit(True).alias("at_issue")) for f in _at_issue(history)]
    for chunk in _chunks(sorted(set(days)), history.instalments.height):
        rows, debtors = _features_on(history, chunk)
        # an invoice issued on a snapshot day has its issue-day example instead
        open_rows = rows.filter(pl.col("issue_date") != pl.col("as_of"))
        frames.append(
            invoice_features_at(open_rows, debtors)
            .with_columns(pl.lit(False).alias("at_issue"))
            .collect()
        )
    frames = [f for f in frames if not f.is_empty()]
    if not frames:
        return pl.DataFrame()
    last = history.last_day
    days_late = (pl.col("settled_on") - pl.col("due_date")).dt.total_days().clip(0)
    columns = ["invoice_id", *KEY, "issue_date", "due_date", "invoice_open_minor"]
    return (
        pl.concat(frames)
        .select(*columns, *INVOICE_FEATURES, "at_issue", "as_of")
        .join(settlements(history), on="invoice_id", how="left")
        .with_columns(
            pl.when(pl.col("settled_on").is_not_null())
            .then(pl.col("settled_on") > pl.col("due_date"))
            .when(pl.lit(last) > pl.col("due_date"))
            .then(True)
            .otherwise(None)
            .alias("late"),
            (pl.col("settled_on") - pl.col("as_of"))
            .dt.total_days()
            .cast(pl.Float64())
            .alias("days_to_pay"),
            days_late.cast(pl.Float64()).alias("days_late"),
        )
        .filter(pl.col("late").is_not_null())
        .sort("as_of", "invoice_id")
    )


def _at_issue(history: History) -> list[pl.DataFrame]:
    """Invoice features of every invoice at the start of its issue day (:func:`issue_view`):
    the debtor's ledger as of the day before, its new invoices open in full."""
    points = (
        history.instalments.lazy()
        .select("debtor_id", pl.col("issue_date").alias("as_of"))
        .unique()
        .with_columns((pl.col("as_of") - timedelta(days=1)).alias("state_day"))
        .collect()
    )
    frames = []
    per_day = points.group_by("as_of").len().sort("as_of")
    for chunk in _chunks_of_points(per_day):
        mine = points.filter(pl.col("as_of").is_between(chunk[0], chunk[-1]))
        rows = point_rows(history, mine).cache()
        debtors = debtor_features_at(rows, history.limits, points=mine, promises=history.promises)
        new = rows.filter(pl.col("issue_date") == pl.col("as_of"))
        frames.append(invoice_features_at(new, debtors).collect())
    return frames


#: Instalment rows (instalments x days) computed at once: bounds the memory of a chunk of days
#: (about 100 bytes a row while a chunk is computed).
ROWS_PER_CHUNK = 12_000_000
#: Issue-day points (debtor, day) computed at once (each sees that debtor's instalments).
POINTS_PER_CHUNK = 1_000_000

_POINT_SCHEMA: dict[str, pl.DataType] = {"as_of": pl.Date(), "state_day": pl.Date()}
_ORDER_SCHEMA: dict[str, pl.DataType] = {"as_of": pl.Date(), "_order": pl.Int64()}


def _chunks(days: list[date], instalments: int) -> Iterator[list[date]]:
    """``days`` in consecutive chunks of about :data:`ROWS_PER_CHUNK` instalment rows."""
    size = max(1, ROWS_PER_CHUNK // max(1, instalments))
    for at in range(0, len(days), size):
        yield days[at : at + size]


def _chunks_of_points(per_day: pl.DataFrame) -> Iterator[list[date]]:
    """Consecutive issue days (``as_of``, ``len``) in chunks of about :data:`POINTS_PER_CHUNK`
    points."""
    chunk: list[date] = []
    count = 0
    for day, n in per_day.iter_rows():
        if chunk and count + n > POINTS_PER_CHUNK:
            yield chunk
            chunk, count = [], 0
        chunk.append(day)
        count += n
    if chunk:
        yield chunk
