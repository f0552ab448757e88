"""The compliance audit: every contact that was made, checked again against the rules at the
time it was made. Pure and columnar; the compliance report (``arrears compliance report``) reads
the contacts from the store and prints what this returns.

A contact is a violation when the guard, asked about it at its own local time and with the
contacts before it as history, would not have let it through then (it would have deferred or
blocked it). Consent is the debtor's consent as recorded now: a refusal recorded after a
contact does not make that contact a violation (``consent_since`` says when each refusal was
recorded).
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

#: When each refusal of consent (``denied``) was recorded, per debtor and channel.
CONSENT_SINCE_SCHEMA: dict[str, pl.DataType] = {
    "debtor_id": pl.Int64(),
    "channel": pl.String(),
    "denied_since": UTC_TIME,
}

_CONSENT_RULES = ("opt-out", "consent-required")


def audit(
    contacts: pl.DataFrame,
    debtors: pl.DataFrame,
    consents: pl.DataFrame,
    consent_since: pl.DataFrame,
    history: pl.DataFrame,
    packs: dict[str, Pack],
) -> pl.DataFrame:
    """``contacts`` with the pack that applied, ``violation`` (bool), ``rule`` and ``reason``.

    ``history``: the contacts before the first audited one (HISTORY_SCHEMA); the audited
    contacts count for each other in time order (each sees the ones before it)."""
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
    verdict = guard(attempts, debtors, consents, history, packs)
    out = ordered.join(
        verdict.select(
            pl.col("attempt_id").cast(pl.UInt32()).alias("_i"), "pack", "decision", "rule", "reason"
        ),
        on="_i",
        how="left",
    ).join(consent_since, on=["debtor_id", "channel"], how="left")
    refused_later = pl.col("rule").str.split(".").list.last().is_in(list(_CONSENT_RULES)) & (
        pl.col("denied_since").is_not_null() & (pl.col("denied_since") > pl.col("at"))
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
    excused = refused_later.fill_null(False) | quiet_without_talk.fill_null(False)
    violation = (pl.col("decision") != "allow") & ~excused
    return out.select(
        *CONTACT_MADE_SCHEMA,
        "pack",
        violation.alias("violation"),
        pl.when(violation).then(pl.col("rule")).alias("rule"),
        pl.when(violation).then(pl.col("reason")).alias("reason"),
    ).sort("at", "debtor_id", "ref")
