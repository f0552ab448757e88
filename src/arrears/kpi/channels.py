"""Recovery by channel (issue 17 item 1): each payment collected in the period attributed to
the channel of the debtor's last contact before it.

Contacts (:data:`CONTACT_SCHEMA`, read by :func:`arrears.store.kpi_reads.read_contacts`): the
messages the outbox sent (``email``, ``sms``, ``whatsapp``, ``letter``: the day sent, UTC) and
the contacts logged by hand (``arrears contact add --channel call|visit|...``, the account
page's call outcome: the day recorded), per debtor, whatever the currency.

The convention (docs/kpi.md, "Recovery by channel"): a payment allocated on day P (``collected``
of :func:`arrears.kpi.figures.period_figures`: allocated in the period, not reversed by its end)
counts for the channel of the debtor's **last contact on or before P and at most**
:data:`WINDOW_DAYS` **days before it**; on the same day a contact logged by hand comes after a
message sent (a person's call answers the day's reminder), and among equals the later record
wins. A payment without a contact in the window counts for :data:`NO_CONTACT`. The channels'
collected amounts add up to the period's ``collected``, and each channel's **recovery** is its
collected amount over what could be collected in the period (receivables at the start + credit
sales of the currency), so the channels' rates add up to the period's recovery rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import polars as pl

from arrears.kpi.figures import live_on

#: How far back a contact may be and still be given a payment.
WINDOW_DAYS = 30
#: The channel of a payment without a contact in the window.
NO_CONTACT = "(no contact)"

CONTACT_SCHEMA: dict[str, pl.DataType] = {
    "debtor_id": pl.Int64(),
    "on": pl.Date(),
    "channel": pl.String(),
    "logged": pl.Boolean(),  # by hand (a call, a visit), not a message the outbox sent
}
#: The columns of :func:`channel_figures` after the channel and currency.
CHANNEL_COLUMNS: tuple[str, ...] = ("payments", "debtors", "collected", "recovery")


def attributed(
    instalments: pl.DataFrame,
    allocations: pl.DataFrame,
    contacts: pl.DataFrame,
    start: date,
    end: date,
) -> pl.DataFrame:
    """One row per payment allocation collected from ``start`` to ``end``: ``debtor_id``,
    ``currency``, ``allocated_on``, ``amount_minor`` and the ``channel`` it is attributed to."""
    paid = (
        allocations.lazy()
        .filter(
            (pl.col("source_kind") == "payment") & (pl.col("allocated_on") >= start) & live_on(end)
        )
        .join(
            instalments.lazy().select("instalment_id", "debtor_id", "currency"),
            on="instalment_id",
        )
        .select("debtor_id", "currency", "allocated_on", "amount_minor")
        .with_row_index("_row")
        .sort("allocated_on")
        .collect()
    )
    ordered = (
        contacts.with_row_index("_order")
        .sort("on", "logged", "_order")
        .select(pl.col("debtor_id").cast(pl.Int64()), pl.col("on").alias("allocated_on"), "channel")
    )
    if ordered.height:
        # join_asof takes the last row of the sorted contacts on or before each payment's day
        found = paid.join_asof(
            ordered.sort("allocated_on", maintain_order=True),
            on="allocated_on",
            by="debtor_id",
            strategy="backward",
            tolerance=timedelta(days=WINDOW_DAYS),
            check_sortedness=False,
        )
    else:
        found = paid.with_columns(pl.lit(None, pl.String()).alias("channel"))
    return found.with_columns(pl.col("channel").fill_null(NO_CONTACT)).sort("_row").drop("_row")


def channel_figures(
    payments: pl.DataFrame, available: pl.DataFrame, keys: Sequence[str] = ()
) -> pl.DataFrame:
    """Per channel and currency (``keys`` before them): ``payments`` (allocations), ``debtors``,
    ``collected`` (minor units) and ``recovery`` = collected / ``available`` (the currency's
    receivables at the start + credit sales: a frame with ``currency`` and ``available``; null
    when 0). ``payments``: :func:`attributed`'s rows."""
    group = [*keys, "channel", "currency"]
    return (
        payments.group_by(group)
        .agg(
            pl.len().cast(pl.Int64()).alias("payments"),
            pl.col("debtor_id").n_unique().cast(pl.Int64()).alias("debtors"),
            pl.col("amount_minor").sum().cast(pl.Int64()).alias("collected"),
        )
        .join(available, on=[*keys, "currency"], how="left")
        .with_columns(
            pl.when(pl.col("available") > 0)
            .then(pl.col("collected") / pl.col("available"))
            .otherwise(None)
            .alias("recovery")
        )
        .select(*group, *CHANNEL_COLUMNS)
        .sort([*keys, "currency", "channel"])
    )
