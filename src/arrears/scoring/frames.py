"""The history the scoring models learn from, and the portfolio as of one day (a :class:`View`).

Training needs the portfolio at many past days; scoring needs it at one day. Both go through a
:class:`View`, built either from the whole :class:`History` (:func:`view_at`, for training) or
from the cycle's :class:`~arrears.cycle.frames.CycleInput` (:func:`view_from_cycle_input`, for
scoring), so the features are computed by the same code in both cases.

Point in time: :func:`view_at` keeps only invoices issued on or before ``as_of`` and allocations
dated on or before ``as_of`` that were not reversed on or before ``as_of``; settled instalments
are those settled in the 365 days up to ``as_of`` (the window the cycle's input holds). Nothing
dated after ``as_of`` can change a view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl

from arrears.cycle.frames import CycleInput

S = pl.String()
D = pl.Date()
I64 = pl.Int64()

#: Every instalment ever issued (one row each), with the facts fixed at issue.
HISTORY_INSTALMENT_SCHEMA: dict[str, pl.DataType] = {
    "instalment_id": I64,
    "invoice_id": I64,
    "debtor_id": I64,
    "currency": S,
    "issue_date": D,
    "due_date": D,
    "amount_minor": I64,
    "disputed": pl.Boolean(),
    #: the day the dispute was learnt of (null: undated, known since the invoice came in);
    #: a view of an earlier day does not see it (:func:`disputed_by`)
    "disputed_on": D,
}

#: Every allocation (payment, credit note, write-off) with its reversal day, if any.
HISTORY_ALLOCATION_SCHEMA: dict[str, pl.DataType] = {
    "instalment_id": I64,
    "source_kind": S,
    "amount_minor": I64,
    "allocated_on": D,
    "reversed_on": D,
}

#: The instalments of a view: issued on or before its day, ``open_minor`` as of that day.
VIEW_INSTALMENT_SCHEMA: dict[str, pl.DataType] = {
    **HISTORY_INSTALMENT_SCHEMA,
    "open_minor": I64,
}

#: Instalments settled (balance zero) in the 365 days up to the view's day.
VIEW_SETTLED_SCHEMA: dict[str, pl.DataType] = {
    "instalment_id": I64,
    "debtor_id": I64,
    "issue_date": D,
    "due_date": D,
    "settled_on": D,
    "disputed": pl.Boolean(),
    "disputed_on": D,
}

#: Days of settled instalments a view holds (as the cycle's input: ``as_of - 364 .. as_of``).
HISTORY_DAYS = 365


#: A debtor's credit limit (the debtors file's ``credit_limit``, in the debtor's currency, as it
#: stands: the store keeps no history of limits), for the lender features.
LIMIT_SCHEMA: dict[str, pl.DataType] = {
    "debtor_id": I64,
    "limit_currency": S,
    "credit_limit_minor": I64,
}


def limits_of(debtors: pl.DataFrame | None) -> pl.DataFrame:
    """The :data:`LIMIT_SCHEMA` rows of a debtors frame (``debtor_id``, ``currency``,
    ``credit_limit_minor``, as the snapshot reads them), only the debtors with a limit above 0;
    empty for ``None`` or a frame without limits."""
    if debtors is None or "credit_limit_minor" not in debtors.columns:
        return pl.DataFrame(schema=LIMIT_SCHEMA)
    return debtors.filter(pl.col("credit_limit_minor") > 0).select(
        pl.col("debtor_id").cast(I64),
        pl.col("currency").cast(S).alias("limit_currency"),
        pl.col("credit_limit_minor").cast(I64),
    )


#: A debtor's promises to pay (the promise history features): the day each was made and, once
#: its outcome was found (the day after its date plus grace, as the cycle records it), that day
#: (``judged_on``) and whether it was kept in full (``kept``; partly kept is not kept). A
#: feature of a day counts only what was made and judged by that day.
PROMISE_HISTORY_SCHEMA: dict[str, pl.DataType] = {
    "debtor_id": I64,
    "made_on": D,
    "judged_on": D,
    "kept": pl.Boolean(),
}


#: The promise and dispute history of the debtors (``History.promises``, ``View.promises``):
#: :data:`PROMISE_HISTORY_SCHEMA` and ``event``, ``promise`` or ``dispute``. A dispute's
#: ``made_on`` is the day it counts from (the day it was opened; an undated one, the day after
#: it was loaded), ``judged_on`` and ``kept`` are null. A frame without ``event`` holds
#: promises only.
DEBTOR_EVENT_SCHEMA: dict[str, pl.DataType] = {**PROMISE_HISTORY_SCHEMA, "event": S}


def no_promises() -> pl.DataFrame:
    return pl.DataFrame(schema=DEBTOR_EVENT_SCHEMA)


def promises_of(promises: pl.DataFrame | None) -> pl.DataFrame:
    """:data:`DEBTOR_EVENT_SCHEMA` rows of the store's promises
    (``arrears.store.scoring.history.PROMISE_READ``: ``outcome`` kept / partial / broken, or
    null while not judged, found on ``outcome_on``)."""
    if promises is None or promises.is_empty():
        return no_promises()
    judged = pl.col("outcome").is_not_null() & (pl.col("outcome") != "")
    return promises.select(
        pl.col("debtor_id").cast(I64),
        pl.col("made_on").cast(D),
        pl.when(judged).then(pl.col("outcome_on")).cast(D).alias("judged_on"),
        pl.when(judged).then(pl.col("outcome") == "kept").alias("kept"),
        pl.lit("promise").alias("event"),
    )


def disputes_of(disputes: pl.DataFrame | None) -> pl.DataFrame:
    """:data:`DEBTOR_EVENT_SCHEMA` rows of the store's disputes
    (``arrears.store.scoring.history.DISPUTE_READ``: every dispute, open or resolved): each
    counts from the day it was opened; an undated one (a first load's, opened on the day it was
    loaded though raised before) from the day after, so the day it was loaded does not see it
    (issue 18 item 5)."""
    if disputes is None or disputes.is_empty():
        return no_promises()
    undated = pl.col("undated").cast(pl.Boolean())
    return disputes.select(
        pl.col("debtor_id").cast(I64),
        (pl.col("opened_on").cast(D) + pl.duration(days=undated.cast(I64))).alias("made_on"),
        pl.lit(None, D).alias("judged_on"),
        pl.lit(None, pl.Boolean()).alias("kept"),
        pl.lit("dispute").alias("event"),
    )


def debtor_events(promises: pl.DataFrame | None, disputes: pl.DataFrame | None) -> pl.DataFrame:
    """The promise and dispute history (:data:`DEBTOR_EVENT_SCHEMA`) of the store's rows."""
    return pl.concat([promises_of(promises), disputes_of(disputes)])


def with_events(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` (promises, perhaps without ``event``) as :data:`DEBTOR_EVENT_SCHEMA`."""
    if "event" in frame.columns:
        return frame.select(list(DEBTOR_EVENT_SCHEMA))
    return frame.select(*PROMISE_HISTORY_SCHEMA, pl.lit("promise").alias("event"))


def promises_known_by(promises: pl.DataFrame, day: date) -> pl.DataFrame:
    """The promises as known at the end of ``day``: made by then, judged only if by then."""
    judged = pl.col("judged_on") <= day
    return promises.filter(pl.col("made_on") <= day).with_columns(
        pl.when(judged).then(pl.col("judged_on")).alias("judged_on"),
        pl.when(judged).then(pl.col("kept")).alias("kept"),
    )


@dataclass(frozen=True, slots=True)
class History:
    """A portfolio's whole ledger history: instalments and allocations (any date), the
    debtors' credit limits where known (:data:`LIMIT_SCHEMA`) and their promises to pay
    (:data:`PROMISE_HISTORY_SCHEMA`)."""

    instalments: pl.DataFrame
    allocations: pl.DataFrame
    limits: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=LIMIT_SCHEMA))
    promises: pl.DataFrame = field(default_factory=no_promises)

    @property
    def first_day(self) -> date | None:
        value = self.instalments["issue_date"].min()
        return value if isinstance(value, date) else None

    @property
    def last_day(self) -> date | None:
        days = [self.instalments["issue_date"].max(), self.allocations["allocated_on"].max()]
        known = [d for d in days if isinstance(d, date)]
        return max(known) if known else None


@dataclass(frozen=True, slots=True)
class View:
    """The portfolio as of ``as_of``: what a collector could have known that day."""

    as_of: date
    instalments: pl.DataFrame
    settled: pl.DataFrame
    limits: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=LIMIT_SCHEMA))
    #: the promises known by the view's day (:data:`PROMISE_HISTORY_SCHEMA`; later ones may be
    #: present: the features read only what was made and judged by the day)
    promises: pl.DataFrame = field(default_factory=no_promises)


def live_allocations(allocations: pl.DataFrame, as_of: date) -> pl.LazyFrame:
    """Allocations dated on or before ``as_of`` and not reversed on or before it."""
    return allocations.lazy().filter(
        (pl.col("allocated_on") <= as_of)
        & (pl.col("reversed_on").is_null() | (pl.col("reversed_on") > as_of))
    )


def view_at(history: History, as_of: date) -> View:
    """The portfolio as of ``as_of``, computed from the whole history (nothing later counts,
    a dispute learnt of later included)."""
    inst = (
        history.instalments.lazy()
        .filter(pl.col("issue_date") <= as_of)
        .with_columns(disputed_by(as_of))
    )
    live = live_allocations(history.allocations, as_of)
    paid = live.group_by("instalment_id").agg(
        pl.col("amount_minor").sum().alias("_paid"),
        pl.col("allocated_on").max().alias("settled_on"),
    )
    frame = (
        inst.join(paid, on="instalment_id", how="left")
        .with_columns(
            (pl.col("amount_minor") - pl.col("_paid").fill_null(0)).clip(0).alias("open_minor")
        )
        .collect()
    )
    settled = frame.filter(
        (pl.col("open_minor") == 0) & (pl.col("settled_on") > as_of - timedelta(days=HISTORY_DAYS))
    ).select(list(VIEW_SETTLED_SCHEMA))
    instalments = frame.select(list(VIEW_INSTALMENT_SCHEMA))
    return View(as_of, instalments, settled, history.limits, history.promises)


def issue_view(history: History, day: date) -> View:
    """The portfolio at the start of ``day``, with the invoices issued on ``day`` open in full.

    The examples of invoices at their issue day use it: nothing dated on or after ``day`` is
    known except the new invoices themselves (a payment received the same day is not, nor a
    dispute learnt that day).
    """
    before = view_at(history, day - timedelta(days=1))
    new = (
        history.instalments.filter(pl.col("issue_date") == day)
        .with_columns(pl.col("amount_minor").alias("open_minor"), disputed_by(before.as_of))
        .select(list(VIEW_INSTALMENT_SCHEMA))
    )
    # the promises as known the day before (a promise made or judged on ``day`` is not)
    promises = promises_known_by(history.promises, before.as_of)
    return View(day, pl.concat([before.instalments, new]), before.settled, history.limits, promises)


def disputed_by(day: pl.Expr | date) -> pl.Expr:
    """``disputed`` as known on ``day``: a dispute learnt of later (``disputed_on``) was not."""
    on = pl.col("disputed_on")
    return (pl.col("disputed") & (on.is_null() | (on <= day))).alias("disputed")


def view_from_cycle_input(
    data: CycleInput, as_of: date, disputes: pl.DataFrame | None = None
) -> View:
    """The same view from what the daily cycle reads (``read_cycle_input``: the snapshot's
    ``disputed`` is already as of its day, so ``disputed_on`` is left null); ``disputes``: the
    store's disputes (``read_disputes``, for ``disputes_12m``; none: it is 0)."""
    inst = (
        data.instalments.filter(pl.col("issue_date") <= as_of)
        .with_columns(pl.lit(None, D).alias("disputed_on"))
        .select([pl.col(n).cast(t) for n, t in VIEW_INSTALMENT_SCHEMA.items()])
    )
    settled = (
        data.settled.filter(pl.col("settled_on") <= as_of)
        .select("instalment_id", "settled_on")
        .join(
            inst.select(
                "instalment_id", "debtor_id", "issue_date", "due_date", "disputed", "disputed_on"
            ),
            on="instalment_id",
        )
        .select(list(VIEW_SETTLED_SCHEMA))
    )
    events = pl.concat([cycle_promises(data, as_of), disputes_of(disputes)])
    return View(as_of, inst, settled, limits_of(data.debtors), events)


def cycle_promises(data: CycleInput, as_of: date) -> pl.DataFrame:
    """The cycle input's promises as :data:`PROMISE_HISTORY_SCHEMA`: judged as the cycle
    judges them (:func:`arrears.cycle.features.promise_states`: kept when paid in full, on the
    day after the date plus grace), which is the outcome it records and training reads."""
    from arrears.cycle.features import promise_states  # noqa: PLC0415

    if data.promises.is_empty():
        return no_promises()
    states = promise_states(data.promises, as_of).collect()
    judged = pl.col("state") != "open"
    return states.select(
        pl.col("debtor_id").cast(I64),
        pl.col("made_on").cast(D),
        pl.col("_ends_on").cast(D).alias("judged_on"),
        pl.when(judged).then(pl.col("state") == "kept").alias("kept"),
        pl.lit("promise").alias("event"),
    )


def debtor_hash(ids: np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.uint64]]:
    """SplitMix64 of each debtor id: a fixed, well-mixed order of the debtors (the same on
    every machine and version, unlike ``pl.Series.hash``)."""
    z = ids.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)  # wraps modulo 2**64
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def sample_debtors(history: History, max_debtors: int | None) -> tuple[History, int, int]:
    """The history of at most ``max_debtors`` debtors: those with the lowest
    :func:`debtor_hash` (deterministic; a debtor stays in the sample when others are added,
    unless one with a lower hash pushes it out). Returns the history, the number of debtors
    and the number kept. Every feature is computed per debtor from its own ledger, so a
    sampled debtor's examples are exactly those of the whole history."""
    ids = history.instalments["debtor_id"].unique().to_numpy()
    if max_debtors is None or len(ids) <= max_debtors:
        return history, len(ids), len(ids)
    keep = ids[np.argsort(debtor_hash(ids), kind="stable")[:max_debtors]]
    kept = pl.Series("debtor_id", np.sort(keep))
    instalments = history.instalments.filter(pl.col("debtor_id").is_in(kept.implode()))
    allocations = history.allocations.join(
        instalments.select("instalment_id"), on="instalment_id", how="semi", maintain_order="left"
    )
    limits = history.limits.filter(pl.col("debtor_id").is_in(kept.implode()))
    promises = history.promises.filter(pl.col("debtor_id").is_in(kept.implode()))
    return History(instalments, allocations, limits, promises), len(ids), len(keep)


def empty_history() -> History:
    return History(
        pl.DataFrame(schema=HISTORY_INSTALMENT_SCHEMA),
        pl.DataFrame(schema=HISTORY_ALLOCATION_SCHEMA),
    )
