"""Contact points of imported debtors and their consent per channel, upserted set-based.

Each imported debtor row may give an email, a phone (E.164) and a postal address. A value not
yet known for the debtor becomes a new primary contact point; values of that kind no longer in
the file stay (history) but are no longer primary. Consent is one row per contact point and
channel (email -> email; phone -> sms, whatsapp, call; postal -> letter), updated when the file
says something else (``recorded_at`` = the import's time, ``source`` = ``import:<batch id>``).
"""

from __future__ import annotations

import polars as pl
from sqlalchemy import Connection

from arrears.domain.ledger import CHANNELS_BY_CONTACT_KIND, ContactKind
from arrears.store import bulk
from arrears.store.load_context import LoadContext
from arrears.store.schema import consent, contact_point

_FIELD = {ContactKind.EMAIL: "email", ContactKind.PHONE: "phone", ContactKind.POSTAL: "address"}


def _wanted(rows: pl.DataFrame) -> pl.DataFrame:
    """One row per (debtor, kind, value, channel) with the consent status from the file."""
    parts = []
    for kind, field in _FIELD.items():
        for channel in CHANNELS_BY_CONTACT_KIND[kind]:
            parts.append(
                rows.filter(pl.col(field).is_not_null()).select(
                    pl.col("id").alias("debtor_id"),
                    pl.lit(str(kind)).alias("kind"),
                    pl.col(field).alias("value"),
                    pl.lit(str(channel)).alias("channel"),
                    pl.col(f"consent_{channel}").fill_null("unknown").alias("status"),
                )
            )
    return pl.concat(parts)


def upsert(conn: Connection, rows: pl.DataFrame, ctx: LoadContext) -> None:
    """Bring the contact points and consents of ``rows`` (typed debtor rows with ``id``) in line."""
    wanted = _wanted(rows)
    staged = bulk.stage(conn, "_cp_debtors", rows.select(pl.col("id").alias("debtor_id")))
    known = bulk.read_frame(
        conn,
        f'SELECT c.id, c.debtor_id, c.kind, c.value FROM contact_point c JOIN "{staged}" s '
        "ON s.debtor_id = c.debtor_id",
        {
            "contact_point_id": pl.Int64,
            "debtor_id": pl.Int64,
            "kind": pl.String,
            "value": pl.String,
        },
    )
    points = wanted.select("debtor_id", "kind", "value").unique(maintain_order=True)
    fresh = points.join(known, on=["debtor_id", "kind", "value"], how="anti")
    ids = bulk.reserve_ids(conn, contact_point, fresh.height).alias("contact_point_id")
    fresh = fresh.with_columns(ids)
    bulk.insert_frame(
        conn,
        contact_point,
        fresh.select(
            pl.col("contact_point_id").alias("id"),
            "debtor_id",
            "kind",
            "value",
            is_primary=pl.lit(True),
            status=pl.lit("valid"),
            created_at=pl.lit(ctx.at),
        ),
    )
    _demote(conn, known, points)
    all_points = pl.concat([known, fresh.select(known.columns)])
    _consents(conn, wanted.join(all_points, on=["debtor_id", "kind", "value"]), ctx)
    bulk.drop(conn, staged)


def _demote(conn: Connection, known: pl.DataFrame, points: pl.DataFrame) -> None:
    """Known values of a kind the file gives anew are no longer primary."""
    kinds_given = points.select("debtor_id", "kind").unique()
    stale = known.join(kinds_given, on=["debtor_id", "kind"]).join(
        points, on=["debtor_id", "kind", "value"], how="anti"
    )
    if stale.height:
        bulk.update_from_frame(
            conn,
            contact_point,
            stale.select(pl.col("contact_point_id").alias("id"), is_primary=pl.lit(False)),
        )


def _consents(conn: Connection, wanted: pl.DataFrame, ctx: LoadContext) -> None:
    staged = bulk.stage(conn, "_cp_ids", wanted.select("contact_point_id").unique())
    known = bulk.read_frame(
        conn,
        f'SELECT c.id, c.contact_point_id, c.channel, c.status FROM consent c JOIN "{staged}" s '
        "ON s.contact_point_id = c.contact_point_id",
        {
            "id": pl.Int64,
            "contact_point_id": pl.Int64,
            "channel": pl.String,
            "old_status": pl.String,
        },
    )
    bulk.drop(conn, staged)
    both = wanted.join(known, on=["contact_point_id", "channel"], how="left")
    source = f"import:{ctx.batch_id}"
    new = both.filter(pl.col("id").is_null())
    bulk.insert_frame(
        conn,
        consent,
        new.select(
            "contact_point_id",
            "channel",
            "status",
            recorded_at=pl.lit(ctx.at),
            source=pl.lit(source),
        ),
    )
    moved = both.filter(pl.col("id").is_not_null() & (pl.col("status") != pl.col("old_status")))
    if moved.height:
        bulk.update_from_frame(
            conn,
            consent,
            moved.select("id", "status", recorded_at=pl.lit(ctx.at), source=pl.lit(source)),
        )
