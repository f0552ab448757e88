"""The compliance audit: every contact that was made, checked again against the rules at the
time it was made. Pure and columnar; the compliance report (``arrears compliance report``) reads
the contacts from the store and prints what this returns.

A contact is a violation when the guard, asked about it at its own local time and with the
contacts before it as history, would not have let it through then (it would have deferred or
blocked it). Consent is the consent **in force when the contact was made** (:func:`consent_at`,
from the consent history): a refusal recorded after a contact does not make it a violation, and
a consent granted after it does not excuse it.
"""

from __future__ import annotations

import polars as pl

from arrears.contact.frames import ATTEMPT_SCHEMA, UTC_TIME
from arrears.contact.guard import _to_local, guard
from arrears.contact.model import Pack

#: The contacts to audit: one row per contact made (``source``: cycle or manual; ``ref``: the
#: outbox key or the activity id).
CONTACT_MADE_SCHEMA: dict[str, pl.DataType] = {
    "debtor_id": pl.Int64(),
    "channel": pl.String(),
    "at": UTC_TIME,
    "source": pl.String(),
    "ref": pl.String(),
}

#: The debtors' contact points, one row per point and channel it serves (``created_at``: when
#: arrears learnt of the point).
POINT_SCHEMA: dict[str, pl.DataType] = {
    "debtor_id": pl.Int64(),
    "contact_point_id": pl.Int64(),
    "channel": pl.String(),
    "created_at": UTC_TIME,
}

#: Every consent ever in force, per contact point and channel (``consent_history``), in the
#: order it was recorded.
CONSENT_HISTORY_SCHEMA: dict[str, pl.DataType] = {
    "contact_point_id": pl.Int64(),
    "channel": pl.String(),
    "status": pl.String(),
    "recorded_at": UTC_TIME,
}

#: The guard's checks that come before consent (docs/contact-rules.md, "The order of checks").
_BEFORE_CONSENT = (
    "deceased",
    "do-not-contact",
    "bankrupt",
    "legal-representative",
    "cease-communication",
    "breathing-space",
    "no-timezone",
)
_CONSENT_REASONS = {
    "no-contact-point": "No usable contact point for this channel.",
    "opt-out": "The debtor had opted out of this channel.",
    "consent-required": "Only channels the debtor authorised may be used; consent was not given.",
}


def consent_at(contacts: pl.DataFrame, points: pl.DataFrame, history: pl.DataFrame) -> pl.DataFrame:
    """The consent in force for each contact (``_i``, ``debtor_id``, ``channel``, ``at``) when
    it was made: ``_consent`` in granted, denied, unknown, none (no contact point).

    Per point: the latest consent recorded at or before the contact; none yet: what arrears
    first recorded (the state before it knew), unless that was a refusal (a refusal recorded
    after a contact does not reach back), else unknown. The points that existed at the contact
    count (all of the channel's if none did yet: the contact came before arrears knew them).
    Per debtor and channel, as the guard reads consent now: granted if any point is granted,
    denied if every point is denied, else unknown."""
    pairs = contacts.select("_i", "debtor_id", "channel", "at").join(
        points.select(list(POINT_SCHEMA)).cast(POINT_SCHEMA),  # type: ignore[arg-type]
        on=["debtor_id", "channel"],
        how="inner",
    )
    pairs = pairs.filter(
        (pl.col("created_at") <= pl.col("at"))
        | ~(pl.col("created_at") <= pl.col("at")).any().over("_i")
    )
    recorded = (
        history.select(list(CONSENT_HISTORY_SCHEMA))
        .cast(CONSENT_HISTORY_SCHEMA)  # type: ignore[arg-type]
        .with_row_index("_order")
        .sort("recorded_at", "_order")
    )
    first = recorded.group_by("contact_point_id", "channel").agg(
        pl.col("status").first().alias("_first")
    )
    in_force = (
        pairs.sort("at")
        .join_asof(
            recorded.select("contact_point_id", "channel", "recorded_at", "status"),
            left_on="at",
            right_on="recorded_at",
            by=["contact_point_id", "channel"],
            strategy="backward",
            check_sortedness=False,  # both sides sorted by time above, so within each group
        )
        .join(first, on=["contact_point_id", "channel"], how="left")
        .with_columns(
            pl.coalesce(
                "status",
                pl.when(pl.col("_first") != "denied").then(pl.col("_first")),
                pl.lit("unknown"),
            ).alias("status")
        )
        .group_by("_i")
        .agg(
            pl.when((pl.col("status") == "granted").any())
            .then(pl.lit("granted"))
            .when((pl.col("status") == "denied").all())
            .then(pl.lit("denied"))
            .otherwise(pl.lit("unknown"))
            .alias("_consent")
        )
    )
    return (
        contacts.select("_i")
        .join(in_force, on="_i", how="left")
        .with_columns(pl.col("_consent").fill_null("none"))
    )


def audit(
    contacts: pl.DataFrame,
    debtors: pl.DataFrame,
    points: pl.DataFrame,
    consent_history: pl.DataFrame,
    history: pl.DataFrame,
    packs: dict[str, Pack],
) -> pl.DataFrame:
    """``contacts`` with the pack that applied, ``violation`` (bool), ``rule`` and ``reason``.

    ``points`` (POINT_SCHEMA) and ``consent_history`` (CONSENT_HISTORY_SCHEMA) give the consent
    in force at each contact; ``history``: the contacts before the first audited one
    (HISTORY_SCHEMA); the audited contacts count for each other in time order (each sees the
    ones before it)."""
    contacts = contacts.select(list(CONTACT_MADE_SCHEMA)).cast(CONTACT_MADE_SCHEMA)  # type: ignore[arg-type]
    ordered = contacts.sort("debtor_id", "at", "ref").with_row_index("_i")
    zones = ordered.join(debtors.select("debtor_id", "timezone"), on="debtor_id", how="left")
    local = _to_local(zones, "at", "timezone")
    attempts = ordered.select(
        pl.col("_i").cast(pl.Int64()).alias("attempt_id"),
        "debtor_id",
        "channel",
        local.alias("planned_local"),
        pl.col("_i").rank("ordinal").over("debtor_id").cast(pl.Int32()).alias("priority"),
        pl.lit([], pl.List(pl.String())).alias("fallback"),
        pl.lit(False).alias("legal_threat"),
        pl.lit(0, pl.Int32()).alias("days_past_due"),
        pl.lit(False).alias("validation_notice"),
    ).cast(ATTEMPT_SCHEMA)  # type: ignore[arg-type]
    # the guard is asked with consent granted (consent now is not consent then); the consent
    # in force at each contact is checked beside it, in the guard's order of checks
    granted = ordered.select("debtor_id", "channel", pl.lit("granted").alias("status")).unique()
    verdict = guard(attempts, debtors, granted, history, packs)
    out = ordered.join(
        verdict.select(
            pl.col("attempt_id").cast(pl.UInt32()).alias("_i"), "pack", "decision", "rule", "reason"
        ),
        on="_i",
        how="left",
    ).join(consent_at(ordered, points, consent_history), on="_i", how="left")
    only_authorised = {name: pack.authorised_channels_only for name, pack in packs.items()}
    consent_rule = (
        pl.when(pl.col("_consent") == "none")
        .then(pl.lit("no-contact-point"))
        .when(pl.col("_consent") == "denied")
        .then(pl.lit("opt-out"))
        .when(
            (pl.col("_consent") == "unknown")
            & pl.col("pack").replace_strict(only_authorised, return_dtype=pl.Boolean())
        )
        .then(pl.lit("consent-required"))
    )
    before_consent = pl.col("rule").str.split(".").list.last().is_in(list(_BEFORE_CONSENT))
    guard_first = ((pl.col("decision") != "allow") & before_consent).fill_null(False)
    out = out.with_columns(consent_rule.alias("_consent_rule")).with_columns(
        pl.when(pl.col("_consent_rule").is_not_null() & ~guard_first)
        .then(pl.lit("block"))
        .otherwise(pl.col("decision"))
        .alias("decision"),
        pl.when(pl.col("_consent_rule").is_not_null() & ~guard_first)
        .then(pl.format("{}.{}", "pack", "_consent_rule"))
        .otherwise(pl.col("rule"))
        .alias("rule"),
        pl.when(pl.col("_consent_rule").is_not_null() & ~guard_first)
        .then(pl.col("_consent_rule").replace_strict(_CONSENT_REASONS, return_dtype=pl.String()))
        .otherwise(pl.col("reason"))
        .alias("reason"),
    )
    # the guard counts a conversation for its whole day; a contact made before it (or the call
    # that was the conversation) is no violation: only a conversation strictly earlier counts
    quiet_days = {name: pack.conversation_quiet_days for name, pack in packs.items()}
    talks = history.filter(pl.col("kind") == "conversation").select(
        "debtor_id", pl.col("at").alias("_talk")
    )
    earlier_talk = (
        out.filter(pl.col("rule").str.ends_with(".conversation-quiet"))
        .join(talks, on="debtor_id", how="inner")
        .filter(
            (pl.col("_talk") < pl.col("at"))
            & (
                pl.col("at").dt.date() - pl.col("_talk").dt.date()
                < pl.duration(
                    days=pl.col("pack").replace_strict(quiet_days, return_dtype=pl.Int64())
                )
            )
        )
        .select("_i")
        .unique()
        .with_columns(pl.lit(True).alias("_earlier_talk"))
    )
    out = out.join(earlier_talk, on="_i", how="left")
    quiet_without_talk = (
        pl.col("rule").str.ends_with(".conversation-quiet") & pl.col("_earlier_talk").is_null()
    )
    excused = quiet_without_talk.fill_null(False)
    violation = (pl.col("decision") != "allow") & ~excused
    return out.select(
        *CONTACT_MADE_SCHEMA,
        "pack",
        violation.alias("violation"),
        pl.when(violation).then(pl.col("rule")).alias("rule"),
        pl.when(violation).then(pl.col("reason")).alias("reason"),
    ).sort("at", "debtor_id", "ref")
