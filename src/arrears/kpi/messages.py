"""Messages by channel and the contact rate of a period (docs/kpi.md, "Messages and contact").

Input: one row per message the outbox sent (:data:`MESSAGE_SCHEMA`): its channel, debtor, the
day it was sent and the first day each delivery report or tracking event came back for it
(null: never): ``delivered_on``, ``bounced_on`` (undelivered or failed), ``opened_on`` (an
email's pixel or a click). A period's messages are those sent from its start to its end; an
event counts when it came by the end.

Per channel: ``sent``, ``delivered``, ``bounced``, ``opened`` (messages), ``delivery_rate`` and
``bounce_rate`` (of sent), ``open_rate`` (opened of sent: providers that report no delivery
still report opens), ``debtors`` (debtors sent to), ``reached`` (debtors with a message
delivered or opened) and ``contact_rate`` (reached / debtors); a last row ``all`` for every
channel together (a debtor reached on two channels counts once).
"""

from __future__ import annotations

from datetime import date

import polars as pl

ALL = "all"
MESSAGE_SCHEMA: dict[str, pl.DataType] = {
    "outbox_id": pl.Int64(),
    "debtor_id": pl.Int64(),
    "channel": pl.String(),
    "sent_on": pl.Date(),
    "delivered_on": pl.Date(),
    "bounced_on": pl.Date(),
    "opened_on": pl.Date(),
}
COUNTS = ("sent", "delivered", "bounced", "opened", "debtors", "reached")
RATES = ("delivery_rate", "bounce_rate", "open_rate", "contact_rate")


def message_rates(messages: pl.DataFrame, start: date, end: date) -> pl.DataFrame:
    """One row per channel (sorted) and ``all``: ``channel``, :data:`COUNTS`, :data:`RATES`
    (null without a message sent)."""
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    by_end = {
        name: pl.col(f"{name}_on").is_not_null() & (pl.col(f"{name}_on") <= end)
        for name in ("delivered", "bounced", "opened")
    }
    sent = messages.filter(pl.col("sent_on").is_between(start, end)).with_columns(**by_end)
    reached = pl.col("delivered") | pl.col("opened")
    sums = [
        pl.len().cast(pl.Int64()).alias("sent"),
        *(pl.col(n).sum().cast(pl.Int64()).alias(n) for n in by_end),
        pl.col("debtor_id").n_unique().cast(pl.Int64()).alias("debtors"),
        pl.col("debtor_id").filter(reached).n_unique().cast(pl.Int64()).alias("reached"),
    ]
    channels = sent.group_by("channel").agg(sums).sort("channel")
    whole = sent.select(sums).with_columns(pl.lit(ALL).alias("channel"))
    rows = pl.concat([channels, whole.select(channels.columns)])

    def ratio(top: str, bottom: str) -> pl.Expr:
        return pl.when(pl.col(bottom) > 0).then(pl.col(top) / pl.col(bottom))

    return rows.with_columns(
        ratio("delivered", "sent").alias("delivery_rate"),
        ratio("bounced", "sent").alias("bounce_rate"),
        ratio("opened", "sent").alias("open_rate"),
        ratio("reached", "debtors").alias("contact_rate"),
    ).select("channel", *COUNTS, *RATES)
