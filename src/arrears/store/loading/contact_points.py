"""Contact points of imported debtors and their consent per channel, upserted set-based.

Each imported debtor row may give an email, a phone (E.164) and a postal address. A value not
yet known for the debtor becomes a new primary contact point; values of that kind no longer in
the file stay (history) but are no longer primary. Consent is one row per contact point and
channel (email -> email; phone -> sms, whatsapp, call; postal -> letter), updated when the file
says something else (``recorded_at`` = the import's time, ``source`` = ``import:<batch id>``).

A refusal that did not come from an import (the debtor's opt-out link, a STOP reply, the CLI or
the web) outranks the file: the debtor's consent for that channel stays ``denied`` on every
point of the channel, a new point included (with the refusal's ``source``), whatever the file
says. An import's own ``denied`` is the file's to lift. Debtors new to the store take
:func:`insert_new` (the same rows, no reads). ``upsert`` returns, per debtor, the
changes for its ``debtor.updated`` activity and the refusals it kept. A debtor's refusal is
lifted only by :func:`grant` (``arrears compliance grant``), with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl
from sqlalchemy import Connection, insert, select, update

from arrears.domain.errors import NotFound as DomainNotFound
from arrears.domain.ledger import (
    CHANNELS_BY_CONTACT_KIND,
    CONTACT_KIND_OF_CHANNEL,
    Channel,
    ContactKind,
)
from arrears.store import bulk
from arrears.store.loading.context import LoadContext
from arrears.store.schema import activity, consent, contact_point, debtor

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


@dataclass(frozen=True, slots=True)
class Changed:
    """What an import changed of its debtors' contact points and consents, per debtor id."""

    #: ``{field: {"before": old, "after": new}}``: ``email``, ``phone``, ``address`` (the
    #: primary value) and ``consent_<channel>`` (the consent on the file's point).
    changes: dict[int, dict[str, dict[str, object]]]
    #: ``{channel: source}``: a refusal kept although the file said otherwise.
    kept: dict[int, dict[str, str]]


def upsert(conn: Connection, rows: pl.DataFrame, ctx: LoadContext) -> Changed:
    """Bring the contact points and consents of ``rows`` (typed debtor rows with ``id``) in line."""
    wanted = _wanted(rows)
    staged = bulk.stage(conn, "_cp_debtors", rows.select(pl.col("id").alias("debtor_id")))
    known = bulk.read_frame(
        conn,
        "SELECT c.id, c.debtor_id, c.kind, c.value, c.is_primary "
        f'FROM contact_point c JOIN "{staged}" s ON s.debtor_id = c.debtor_id',
        {
            "contact_point_id": pl.Int64,
            "debtor_id": pl.Int64,
            "kind": pl.String,
            "value": pl.String,
            "is_primary": pl.Boolean,
        },
    )
    points = wanted.select("debtor_id", "kind", "value").unique(maintain_order=True)
    fresh = points.join(known, on=["debtor_id", "kind", "value"], how="anti")
    fresh = _insert_points(conn, fresh, ctx)
    _demote(conn, known, points)
    all_points = pl.concat(
        [known.drop("is_primary"), fresh.select(known.drop("is_primary").columns)]
    )
    consents = _consents(
        conn, staged, wanted.join(all_points, on=["debtor_id", "kind", "value"]), ctx
    )
    bulk.drop(conn, staged)
    primary = known.filter(pl.col("is_primary"))
    values = _value_changes(primary, points)
    consent_changes = _consent_changes(primary, consents)
    return Changed(_by_debtor(pl.concat([values, consent_changes])), _kept(consents))


def insert_new(conn: Connection, rows: pl.DataFrame, ctx: LoadContext) -> None:
    """The contact points and consents of debtors created in this transaction (``rows``: typed
    debtor rows with their new ``id``): what :func:`upsert` writes for them, without its reads.
    Such a debtor has no point, consent or refusal yet, so every point is new and primary and
    every consent is the file's, and there is no change to report."""
    wanted = _wanted(rows)
    points = wanted.select("debtor_id", "kind", "value").unique(maintain_order=True)
    # their debtors were created in this transaction
    points = _insert_points(conn, points, ctx, references_checked=True)
    bulk.insert_frame(
        conn,
        consent,
        wanted.join(points, on=["debtor_id", "kind", "value"]).select(
            "contact_point_id",
            "channel",
            "status",
            recorded_at=pl.lit(ctx.at),
            source=pl.lit(f"import:{ctx.batch_id}"),
        ),
    )


def _insert_points(
    conn: Connection, points: pl.DataFrame, ctx: LoadContext, *, references_checked: bool = False
) -> pl.DataFrame:
    """Insert ``points`` (debtor, kind, value) as new primary, valid contact points: ``points``
    with the ``contact_point_id`` each was given (``references_checked``: as
    :func:`arrears.store.bulk.insert_frame`)."""
    ids = bulk.reserve_ids(conn, contact_point, points.height).alias("contact_point_id")
    points = points.with_columns(ids)
    bulk.insert_frame(
        conn,
        contact_point,
        points.select(
            pl.col("contact_point_id").alias("id"),
            "debtor_id",
            "kind",
            "value",
            is_primary=pl.lit(True),
            status=pl.lit("valid"),
            created_at=pl.lit(ctx.at),
        ),
        references_checked=references_checked,
    )
    return points


def _value_changes(primary: pl.DataFrame, points: pl.DataFrame) -> pl.DataFrame:
    """The primary value of each kind the file gives, before and after."""
    before = primary.group_by("debtor_id", "kind").agg(
        pl.col("value").sort().first().alias("before")
    )
    return (
        points.group_by("debtor_id", "kind")
        .agg(pl.col("value").first().alias("after"))
        .join(before, on=["debtor_id", "kind"], how="left")
        .filter(pl.col("before").is_null() | (pl.col("before") != pl.col("after")))
        .select(
            "debtor_id",
            pl.col("kind").replace_strict({str(k): f for k, f in _FIELD.items()}).alias("field"),
            "before",
            "after",
        )
    )


def _consent_changes(primary: pl.DataFrame, consents: pl.DataFrame) -> pl.DataFrame:
    """The consent on the file's point against the one on the old primary point of its kind."""
    old = (
        consents.join(primary.select("contact_point_id"), on="contact_point_id", how="semi")
        .filter(pl.col("old_status").is_not_null())
        .group_by("debtor_id", "channel")
        .agg(pl.col("old_status").first().alias("before"))
    )
    return (
        consents.group_by("debtor_id", "channel")
        .agg(pl.col("new_status").first().alias("after"))
        .join(old, on=["debtor_id", "channel"], how="left")
        .filter(pl.col("before").is_null() | (pl.col("before") != pl.col("after")))
        .select("debtor_id", pl.format("consent_{}", "channel").alias("field"), "before", "after")
    )


def _by_debtor(frame: pl.DataFrame) -> dict[int, dict[str, dict[str, object]]]:
    out: dict[int, dict[str, dict[str, object]]] = {}
    for debtor_id, field, before, after in frame.sort("debtor_id", "field").iter_rows():
        out.setdefault(int(debtor_id), {})[field] = {"before": before, "after": after}
    return out


def _kept(consents: pl.DataFrame) -> dict[int, dict[str, str]]:
    kept = consents.filter(pl.col("held").is_not_null() & (pl.col("status") != "denied"))
    out: dict[int, dict[str, str]] = {}
    for debtor_id, channel, held in (
        kept.select("debtor_id", "channel", "held")
        .unique()
        .sort("debtor_id", "channel")
        .iter_rows()
    ):
        out.setdefault(int(debtor_id), {})[channel] = held
    return out


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


def _consents(
    conn: Connection, staged: str, wanted: pl.DataFrame, ctx: LoadContext
) -> pl.DataFrame:
    """Write the file's consents, but for refusals that outrank it; returns ``wanted`` with
    ``old_status``, ``new_status`` and ``held`` (the source of the refusal kept, else null)."""
    known = bulk.read_frame(
        conn,
        "SELECT c.id, c.contact_point_id, p.debtor_id, c.channel, c.status, c.source "
        f'FROM consent c JOIN contact_point p ON p.id = c.contact_point_id JOIN "{staged}" s '
        "ON s.debtor_id = p.debtor_id",
        {
            "id": pl.Int64,
            "contact_point_id": pl.Int64,
            "debtor_id": pl.Int64,
            "channel": pl.String,
            "old_status": pl.String,
            "old_source": pl.String,
        },
    )
    # the debtor's own refusals of a channel (not an import's) hold on all its points
    held = (
        known.filter(
            (pl.col("old_status") == "denied") & ~pl.col("old_source").str.starts_with("import:")
        )
        .sort("id")
        .group_by("debtor_id", "channel")
        .agg(pl.col("old_source").first().alias("held"))
    )
    source = f"import:{ctx.batch_id}"
    both = (
        wanted.join(known.drop("debtor_id"), on=["contact_point_id", "channel"], how="left")
        .join(held, on=["debtor_id", "channel"], how="left")
        .with_columns(
            pl.when(pl.col("held").is_null())
            .then(pl.col("status"))
            .otherwise(pl.lit("denied"))
            .alias("new_status"),
            pl.col("held").fill_null(source).alias("new_source"),
        )
    )
    new = both.filter(pl.col("id").is_null())
    bulk.insert_frame(
        conn,
        consent,
        new.select(
            "contact_point_id",
            "channel",
            pl.col("new_status").alias("status"),
            recorded_at=pl.lit(ctx.at),
            source="new_source",
        ),
    )
    moved = both.filter(pl.col("id").is_not_null() & (pl.col("new_status") != pl.col("old_status")))
    if moved.height:
        bulk.update_from_frame(
            conn,
            consent,
            moved.select(
                "id",
                pl.col("new_status").alias("status"),
                recorded_at=pl.lit(ctx.at),
                source="new_source",
            ),
        )
    return both


class NotFound(DomainNotFound):
    """No such debtor, or no contact point of the channel's kind."""


def grant(
    conn: Connection,
    *,
    portfolio: int,
    debtor_external_id: str,
    channel: str,
    reason: str,
    actor: str,
    at: datetime,
) -> int:
    """The debtor gave their consent to ``channel`` again (in writing, on a recorded call):
    ``granted`` on every valid contact point of the channel's kind, ``source`` ``grant:<actor>``,
    and one ``consent.granted`` activity with ``reason``. The one way to lift a debtor's own
    refusal (an import cannot). Returns how many points changed."""
    kind = str(CONTACT_KIND_OF_CHANNEL[Channel(channel)])
    found = conn.execute(
        select(debtor.c.id).where(
            debtor.c.portfolio_id == portfolio, debtor.c.external_id == debtor_external_id
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no debtor {debtor_external_id!r}")
    points = list(
        conn.execute(
            select(contact_point.c.id).where(
                contact_point.c.debtor_id == found,
                contact_point.c.kind == kind,
                contact_point.c.status == "valid",
            )
        ).scalars()
    )
    if not points:
        raise NotFound(f"{debtor_external_id} has no valid {kind} contact point")
    source = f"grant:{actor}"[:64]
    changed = 0
    for point in points:
        status = conn.execute(
            select(consent.c.status).where(
                consent.c.contact_point_id == point, consent.c.channel == channel
            )
        ).scalar_one_or_none()
        if status == "granted":
            continue
        values = {"status": "granted", "recorded_at": at, "source": source}
        if status is None:
            conn.execute(insert(consent).values(contact_point_id=point, channel=channel, **values))
        else:
            conn.execute(
                update(consent)
                .where(consent.c.contact_point_id == point, consent.c.channel == channel)
                .values(**values)
            )
        changed += 1
    conn.execute(
        insert(activity).values(
            occurred_at=at, kind="consent.granted", actor=actor, portfolio_id=portfolio,
            debtor_id=found, subject_kind="consent", subject_id=channel,
            payload={"channel": channel, "reason": reason, "points": changed},
        )
    )  # fmt: skip
    return changed
