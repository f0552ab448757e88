"""The contact guard: may this contact be made, and when?

``guard(attempts, debtors, consents, history, packs)`` answers, for every planned contact
(:data:`arrears.contact.frames.ATTEMPT_SCHEMA`), ``allow``, ``defer`` (to the start of the next
allowed window) or ``block`` with the rule's id (:data:`~arrears.contact.frames.DECISION_SCHEMA`,
one row per attempt, sorted by ``attempt_id``). Pure and columnar: no I/O, no clock, no Python
loop per debtor or per attempt (the loops below are over rounds, i.e. the rank of an attempt
among its debtor's attempts, over fallback positions, over packs and over time zones).

Checks, in order (the first that fails gives the rule id ``<pack>.<rule>``):

1. flags: ``deceased``, ``do-not-contact``, ``bankrupt``, ``legal-representative`` (contact
   the representative, not the debtor), ``cease-communication`` (tag), ``breathing-space``
   (tag; when the pack says so), ``no-timezone`` (the debtor's time zone is missing or unknown);
2. contact point and consent for the channel: ``no-contact-point`` (status ``none``),
   ``opt-out`` (``denied``), ``consent-required`` (``unknown`` under a pack that allows only
   authorised channels);
3. ``validation-notice``: the pack requires the validation notice before the first collection
   contact and none was sent (history, or an earlier attempt of this batch sent no later);
4. ``time-barred``: a legal threat on a debt past the statute of limitations;
5. ``conversation-quiet``: a quiet channel within the quiet period after a telephone
   conversation (the conversation day is day 1);
6. hours and days: outside the allowed hours, on a closed weekday or a public holiday, the
   contact is deferred to the start of the next allowed window (rule ``hours``,
   ``closed-day`` or ``holiday``; ``no-window``: none within 14 days, blocked); letters and
   other channels outside ``hours_channels`` are exempt;
7. on the send day (after any deferral): the pack's caps in order (``<cap id>``, e.g.
   ``call-cap``, ``daily-cap``), then ``one-channel-week``; counting the history and the
   attempts of this batch already allowed or deferred.

Attempts of one debtor are taken in rounds by ``priority`` (then ``planned_local``, then
``attempt_id``): round *n* holds each debtor's *n*-th attempt and sees what rounds before it
let through. A blocked attempt with a ``fallback`` list tries those channels in order through
the same checks. Deferrals and caps use the debtor's local calendar (zoneinfo rules, so
daylight-saving changes are exact).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib
import polars as pl

from arrears.contact.frames import (
    ATTEMPT_SCHEMA,
    CHANNELS,
    CONSENT_SCHEMA,
    DECISION_SCHEMA,
    HISTORY_SCHEMA,
    LOCAL_TIME,
    UTC_TIME,
)
from arrears.contact.model import WEEKDAYS, Pack
from arrears.contact.packs import DEFAULT_PACK, pack_for

#: How many days ahead a deferral may look for an open window.
HORIZON_DAYS = 14
_NULL_S = pl.lit(None, pl.String())
_ENTRY_SCHEMA: dict[str, pl.DataType] = {
    "debtor_id": pl.Int64(),
    "channel": pl.String(),
    "kind": pl.String(),
    "e_local": LOCAL_TIME,
}


def guard(
    attempts: pl.DataFrame,
    debtors: pl.DataFrame,
    consents: pl.DataFrame,
    history: pl.DataFrame,
    packs: dict[str, Pack],
) -> pl.DataFrame:
    """Decide every attempt (see the module's docstring). Returns one row per attempt in
    :data:`DECISION_SCHEMA`, sorted by ``attempt_id``."""
    attempts = attempts.select(list(ATTEMPT_SCHEMA)).cast(ATTEMPT_SCHEMA)  # type: ignore[arg-type]
    if attempts.is_empty():
        return pl.DataFrame(schema=DECISION_SCHEMA)
    ids = attempts.select("debtor_id").unique()
    ctx = _context(debtors.join(ids, on="debtor_id", how="semi"), packs)
    work = attempts.join(ctx, on="debtor_id", how="left").with_columns(
        pl.col("pack").fill_null(DEFAULT_PACK),
        pl.col("_known").fill_null(False),
        pl.col("fallback").fill_null([]),
        pl.col("priority").fill_null(0),
        pl.col("legal_threat").fill_null(False),
        pl.col("validation_notice").fill_null(False),
    )
    work = work.sort("debtor_id", "priority", "planned_local", "attempt_id").with_columns(
        place_in_runs("debtor_id").alias("_round")
    )
    # Consent per channel as columns (one join here rather than one per channel tried).
    by_channel = (
        consents.select(list(CONSENT_SCHEMA))
        .cast(CONSENT_SCHEMA)  # type: ignore[arg-type]
        .join(ids, on="debtor_id", how="semi")
        .group_by("debtor_id")
        .agg(
            pl.col("status").filter(pl.col("channel") == ch).first().alias(f"_c_{ch}")
            for ch in CHANNELS
        )
    )
    work = work.join(by_channel, on="debtor_id", how="left")
    entries = _history_entries(history, ctx)
    # Only what can reach a window of the attempts counts (validation notices always do).
    reach = max(
        [7, *(p.conversation_quiet_days for p in packs.values())]
        + [7 if c.window == "calendar_week" else c.days for p in packs.values() for c in p.caps]
    )
    earliest = work["planned_local"].min()
    if isinstance(earliest, datetime):
        oldest = earliest - timedelta(days=reach + 1)
        entries = entries.filter(
            (pl.col("e_local") >= oldest) | (pl.col("kind") == "validation_notice")
        )
    holidays = _holiday_frame(work, packs)
    results: list[pl.DataFrame] = []
    batch: list[pl.DataFrame] = []
    rounds = int(work["_round"].max() or 0)  # type: ignore[arg-type]
    for n in range(rounds + 1):
        todo = work.filter(pl.col("_round") == n)
        known = pl.concat([entries, *batch]) if batch else entries
        decided = _with_fallbacks(todo, known, holidays, packs)
        results.append(decided)
        accepted = decided.filter(pl.col("decision") != "block")
        if rounds > n and not accepted.is_empty():
            new = accepted.select(
                "debtor_id", "channel", pl.lit("attempt").alias("kind"), "e_local"
            )
            notices = accepted.filter(pl.col("_vn")).select(
                "debtor_id", "channel", pl.lit("validation_notice").alias("kind"), "e_local"
            )
            batch.extend([new, notices])
    out = pl.concat(results).sort("attempt_id")
    return out.select(list(DECISION_SCHEMA)).cast(DECISION_SCHEMA)  # type: ignore[arg-type]


def place_in_runs(key: str) -> pl.Expr:
    """0, 1, 2... along each run of equal ``key`` values of a frame sorted by ``key`` (Int32):
    each row's place among its key's rows, by a scan rather than a window (a window over
    hundreds of thousands of small groups costs ten times more)."""
    index = pl.int_range(pl.len(), dtype=pl.Int64())
    first = pl.col(key).ne_missing(pl.col(key).shift(1)) | (index == 0)
    start = pl.when(first).then(index).forward_fill()
    return (index - start).cast(pl.Int32())


def local_now(now_utc: datetime, debtors: pl.DataFrame) -> pl.Series:
    """``now_utc`` as each debtor's naive local wall-clock time (``planned_local`` for a contact
    made now), same length and order as ``debtors``; null for a missing or unknown time zone.
    ``now_utc`` must be timezone-aware."""
    if now_utc.tzinfo is None:
        raise ValueError("now_utc must be timezone-aware")
    zones = debtors["timezone"].unique().drop_nulls().to_list()
    mapping: dict[str, datetime] = {}
    for name in zones:
        zone = _zone(name)
        if zone is not None:
            mapping[name] = now_utc.astimezone(zone).replace(tzinfo=None)
    return debtors.select(
        pl.col("timezone")
        .replace_strict(mapping, default=None, return_dtype=LOCAL_TIME)
        .alias("now_local")
    ).to_series()


# --- context ---------------------------------------------------------------------------------


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _context(debtors: pl.DataFrame, packs: dict[str, Pack]) -> pl.DataFrame:
    zones = debtors["timezone"].unique().drop_nulls().to_list()
    valid = [z for z in zones if _zone(z) is not None]
    tags = pl.col("tags").fill_null([])
    return debtors.select(
        "debtor_id",
        pack_for(debtors, packs).alias("pack"),
        pl.when(pl.col("timezone").is_in(valid)).then(pl.col("timezone")).alias("_tz"),
        pl.col("country").str.to_uppercase().fill_null("").alias("_country"),
        pl.col("region").fill_null("").alias("_region"),
        pl.lit(True).alias("_known"),
        pl.col("deceased").fill_null(False).alias("_deceased"),
        pl.col("do_not_contact").fill_null(False).alias("_dnc"),
        pl.col("bankrupt").fill_null(False).alias("_bankrupt"),
        pl.col("legal_representative").fill_null(False).alias("_legal_rep"),
        tags.list.contains("cease_communication").alias("_cease"),
        tags.list.contains("breathing_space").alias("_breathing"),
    )


def _history_entries(history: pl.DataFrame, ctx: pl.DataFrame) -> pl.DataFrame:
    history = (
        history.select(list(HISTORY_SCHEMA))
        .cast(HISTORY_SCHEMA)  # type: ignore[arg-type]
        .join(ctx.select("debtor_id", "_tz"), on="debtor_id", how="inner")
        .filter(pl.col("_tz").is_not_null())
    )
    local = _to_local(history, "at", "_tz")
    return history.with_columns(local.alias("e_local")).select(list(_ENTRY_SCHEMA))


def _to_local(frame: pl.DataFrame, utc: str, tz: str) -> pl.Series:
    """The UTC column ``utc`` as naive local times in each row's zone ``tz`` (same order)."""
    out = pl.Series("local", [None] * frame.height, LOCAL_TIME)
    if frame.is_empty():
        return out
    indexed = frame.select(pl.int_range(pl.len()).alias("_i"), utc, tz)
    parts = []
    for (zone,), part in indexed.partition_by(tz, as_dict=True).items():
        if zone is None:
            parts.append(part.select("_i", pl.lit(None, LOCAL_TIME).alias("local")))
            continue
        parts.append(
            part.select(
                "_i",
                pl.col(utc)
                .dt.convert_time_zone(str(zone))
                .dt.replace_time_zone(None)
                .cast(LOCAL_TIME)
                .alias("local"),
            )
        )
    return pl.concat(parts).sort("_i")["local"]


def _to_utc(frame: pl.DataFrame, local: str, tz: str) -> pl.Series:
    """Naive local times as UTC in each row's zone: a time repeated when clocks go back is the
    first one; a time skipped when they go forward is moved forward by the gap (02:30 on the
    day New York springs forward is 03:30 EDT)."""
    out = pl.Series("utc", [None] * frame.height, UTC_TIME)
    if frame.is_empty():
        return out
    indexed = frame.select(pl.int_range(pl.len()).alias("_i"), local, tz)
    parts = []
    for (zone,), part in indexed.partition_by(tz, as_dict=True).items():
        if zone is None:
            parts.append(part.select("_i", pl.lit(None, UTC_TIME).alias("utc")))
            continue
        col = pl.col(local)
        exact = col.dt.replace_time_zone(str(zone), ambiguous="earliest", non_existent="null")
        shifted = (col - timedelta(hours=1)).dt.replace_time_zone(
            str(zone), ambiguous="latest", non_existent="null"
        ) + timedelta(hours=1)
        parts.append(
            part.select(
                "_i",
                pl.coalesce(exact, shifted).dt.convert_time_zone("UTC").cast(UTC_TIME).alias("utc"),
            )
        )
    return pl.concat(parts).sort("_i")["utc"]


def _holiday_frame(work: pl.DataFrame, packs: dict[str, Pack]) -> pl.DataFrame:
    """(pack, _country, _hregion, _day, _holiday) for the packs that close holidays, the
    countries and regions in play, and the years the attempts and their deferrals can reach."""
    schema = {
        "pack": pl.String(),
        "_country": pl.String(),
        "_hregion": pl.String(),
        "_day": pl.Date(),
        "_holiday": pl.String(),
    }
    closing = [p.name for p in packs.values() if p.holidays_closed]
    rows = work.filter(pl.col("pack").is_in(closing))
    if rows.is_empty():
        return pl.DataFrame(schema=schema)
    lo = rows["planned_local"].min()
    hi = rows["planned_local"].max()
    assert isinstance(lo, datetime) and isinstance(hi, datetime)
    years = list(range(lo.year, (hi + timedelta(days=HORIZON_DAYS + 1)).year + 1))
    keys = rows.select("pack", "_country", _hregion(packs).alias("_hregion")).unique()
    data: dict[str, list[Any]] = {name: [] for name in schema}
    cache: dict[tuple[str, str], dict[date, str]] = {}
    for pack, country, region in keys.iter_rows():
        if (country, region) not in cache:
            cache[(country, region)] = _country_holidays(country, region, years)
        for day, name in cache[(country, region)].items():
            data["pack"].append(pack)
            data["_country"].append(country)
            data["_hregion"].append(region)
            data["_day"].append(day)
            data["_holiday"].append(name)
    return pl.DataFrame(data, schema=schema)


def _country_holidays(country: str, region: str, years: list[int]) -> dict[date, str]:
    if not country:
        return {}
    try:
        found = holidays_lib.country_holidays(country, subdiv=region or None, years=years)
    except NotImplementedError:
        if not region:
            return {}
        return _country_holidays(country, "", years)
    return {day: str(name) for day, name in found.items()}


def _hregion(packs: dict[str, Pack]) -> pl.Expr:
    regional = [p.name for p in packs.values() if p.holiday_regions]
    return pl.when(pl.col("pack").is_in(regional)).then(pl.col("_region")).otherwise(pl.lit(""))


# --- one round ---------------------------------------------------------------------------------


def _with_fallbacks(
    todo: pl.DataFrame,
    known: pl.DataFrame,
    holidays: pl.DataFrame,
    packs: dict[str, Pack],
) -> pl.DataFrame:
    first = _evaluate(todo, known, holidays, packs)
    final = first
    longest = int(todo["fallback"].list.len().max() or 0)  # type: ignore[arg-type]
    pending = first.filter((pl.col("decision") == "block") & (pl.col("_nfb") > 0))
    for j in range(longest):
        retry_ids = pending.filter(pl.col("_nfb") > j).select("attempt_id")
        if retry_ids.is_empty():
            break
        retry = todo.join(retry_ids, on="attempt_id", how="semi").with_columns(
            pl.col("channel").alias("_from"), pl.col("fallback").list.get(j).alias("channel")
        )
        tried = _evaluate(retry, known, holidays, packs)
        ok = tried.filter(pl.col("decision") != "block")
        final = final.join(ok.select("attempt_id"), on="attempt_id", how="anti")
        final = pl.concat([final, ok.select(final.columns)], how="vertical")
        pending = pending.join(ok.select("attempt_id"), on="attempt_id", how="anti")
    return final


def _evaluate(
    todo: pl.DataFrame,
    known: pl.DataFrame,
    holidays: pl.DataFrame,
    packs: dict[str, Pack],
) -> pl.DataFrame:
    """Decide each row of ``todo`` (at most one per debtor) on its ``channel``."""
    if "_from" not in todo.columns:
        todo = todo.with_columns(_NULL_S.alias("_from"))
    todo = todo.with_columns(
        pl.coalesce([pl.when(pl.col("channel") == ch).then(pl.col(f"_c_{ch}")) for ch in CHANNELS])
        .fill_null("none")
        .alias("_consent")
    )
    parts = []
    for (name,), part in todo.partition_by("pack", as_dict=True).items():
        parts.append(_evaluate_pack(part, known, holidays, packs[str(name)]))
    return pl.concat(parts, how="vertical")


def _evaluate_pack(
    c: pl.DataFrame, known: pl.DataFrame, holidays: pl.DataFrame, pack: Pack
) -> pl.DataFrame:
    c = _send_local(c, holidays, pack)
    c = c.with_columns(_to_utc(c, "send_local", "_tz").alias("send_at"))
    c = c.with_columns(_to_local(c, "send_at", "_tz").alias("send_local"))
    c = _counts(c, known, pack)
    p = pack.name
    quiet = pack.conversation_quiet_days
    checks: list[tuple[str, pl.Expr, str]] = [
        ("deceased", pl.col("_deceased"), "The debtor is deceased."),
        ("do-not-contact", pl.col("_dnc"), "The debtor is marked do-not-contact."),
        ("bankrupt", pl.col("_bankrupt"), "The debtor is bankrupt: no collection contact."),
        (
            "legal-representative",
            pl.col("_legal_rep"),
            "The debtor has a legal representative: contact the representative, not the debtor.",
        ),
        ("cease-communication", pl.col("_cease"), "The debtor asked to cease communication."),
        (
            "breathing-space",
            pl.col("_breathing") & pl.lit(pack.breathing_space),
            "The debtor is in a breathing space: all collection contact is paused.",
        ),
        (
            "no-timezone",
            pl.col("_tz").is_null(),
            "The debtor's time zone is missing or unknown (or the debtor is unknown).",
        ),
        (
            "no-contact-point",
            pl.col("_consent") == "none",
            "No usable contact point for this channel.",
        ),
        ("opt-out", pl.col("_consent") == "denied", "The debtor opted out of this channel."),
        (
            "consent-required",
            (pl.col("_consent") == "unknown") & pl.lit(pack.authorised_channels_only),
            "Only channels the debtor authorised may be used; consent is not recorded.",
        ),
        (
            "validation-notice",
            pl.lit(pack.require_validation_notice)
            & ~pl.col("validation_notice")
            & ~pl.col("_has_notice"),
            "The validation notice must be sent before the first collection contact.",
        ),
        (
            "time-barred",
            pl.col("legal_threat")
            & pl.lit(pack.statute_of_limitations_days is not None)
            & (pl.col("days_past_due") > (pack.statute_of_limitations_days or 0)),
            "The debt is time-barred: no threat of legal action "
            f"(over {pack.statute_of_limitations_days} days past due).",
        ),
        (
            "conversation-quiet",
            pl.col("channel").is_in(pack.quiet_channels) & pl.col("_quiet"),
            f"Within {quiet} days after a telephone conversation (the conversation day is day 1).",
        ),
        (
            "no-window",
            pl.col("send_local").is_null() & pl.col("_tz").is_not_null(),
            f"No allowed window within {HORIZON_DAYS} days.",
        ),
    ]
    for i, cap in enumerate(pack.caps):
        channels = "all channels" if cap.channels is None else ", ".join(cap.channels)
        span = "the calendar week" if cap.window == "calendar_week" else f"{cap.days} days"
        each = " (each channel)" if cap.per_channel else ""
        checks.append(
            (
                cap.id,
                pl.col(f"_cap{i}"),
                f"At most {cap.max} contact(s) on {channels}{each} in {span}.",
            )
        )
    checks.append(
        (
            "one-channel-week",
            pl.col("_week"),
            "Another channel was used this week: not several channels in the same week.",
        )
    )
    c = c.with_columns(
        pl.coalesce(
            [pl.when(cond).then(pl.lit(i, pl.Int16())) for i, (_, cond, _) in enumerate(checks)]
        ).alias("_failed")
    )
    rule = pl.col("_failed").replace_strict(
        {i: f"{p}.{suffix}" for i, (suffix, _, _) in enumerate(checks)},
        default=None,
        return_dtype=pl.String(),
    )
    reason = pl.col("_failed").replace_strict(
        {i: text for i, (_, _, text) in enumerate(checks)}, default=None, return_dtype=pl.String()
    )
    blocked = pl.col("_failed").is_not_null()
    deferred = pl.col("send_local") != pl.col("planned_local")
    defer_rule = pl.lit(f"{p}.") + pl.col("_why")
    defer_reason = (
        pl.when(pl.col("_why") == "holiday")
        .then(pl.lit("Public holiday (") + pl.col("_holiday_name") + pl.lit("): deferred."))
        .when(pl.col("_why") == "closed-day")
        .then(pl.lit("No contact on this day of the week: deferred to the next allowed window."))
        .otherwise(pl.lit("Outside the allowed hours: deferred to the next allowed window."))
    )
    return c.select(
        "attempt_id",
        "debtor_id",
        "channel",
        pl.col("_from").alias("fallback_from"),
        pl.lit(p).alias("pack"),
        pl.when(blocked)
        .then(pl.lit("block"))
        .when(deferred)
        .then(pl.lit("defer"))
        .otherwise(pl.lit("allow"))
        .alias("decision"),
        pl.when(blocked).then(None).otherwise(pl.col("send_at")).alias("send_at"),
        pl.when(blocked).then(None).otherwise(pl.col("send_local")).alias("send_local"),
        pl.when(blocked).then(rule).when(deferred).then(defer_rule).alias("rule"),
        pl.when(blocked).then(reason).when(deferred).then(defer_reason).alias("reason"),
        pl.col("send_local").alias("e_local"),
        pl.col("validation_notice").alias("_vn"),
        pl.col("fallback").list.len().alias("_nfb"),
    )


def _send_local(c: pl.DataFrame, holidays: pl.DataFrame, pack: Pack) -> pl.DataFrame:
    """``send_local``: the planned time if it is inside an allowed window (or the channel is
    exempt from hours), else the start of the next allowed window (null: none within
    :data:`HORIZON_DAYS`); ``_why``: why it moved (``hours``, ``closed-day``, ``holiday``)."""
    wins = [(i + 1, pack.window(day)) for i, day in enumerate(WEEKDAYS)]
    windows = pl.DataFrame(
        {
            "_wd": [wd for wd, w in wins if w is not None],
            "_start": [_since_midnight(w.start) for _, w in wins if w is not None],
            "_end": [_since_midnight(w.end) for _, w in wins if w is not None],
        },
        schema={"_wd": pl.Int8(), "_start": pl.Duration("us"), "_end": pl.Duration("us")},
    )
    hol = holidays.filter(pl.col("pack") == pack.name).drop("pack")
    if not pack.holidays_closed:
        hol = hol.clear()
    c = c.with_columns(
        pl.int_range(pl.len()).alias("_row"),
        _hregion({pack.name: pack}).alias("_hregion"),
        pl.col("planned_local").dt.date().alias("_day"),
        (pl.col("planned_local") - pl.col("planned_local").dt.truncate("1d")).alias("_tod"),
    )
    first = (
        c.select("_row", "_country", "_hregion", "_day", "_tod")
        .with_columns(pl.col("_day").dt.weekday().alias("_wd"))
        .join(windows, on="_wd", how="left")
        .join(hol, on=["_country", "_hregion", "_day"], how="left")
        .select(
            "_row",
            pl.when(pl.col("_holiday").is_not_null())
            .then(pl.lit("holiday"))
            .when(pl.col("_start").is_null())
            .then(pl.lit("closed-day"))
            .when((pl.col("_tod") < pl.col("_start")) | (pl.col("_tod") >= pl.col("_end")))
            .then(pl.lit("hours"))
            .alias("_why"),
            pl.col("_holiday").alias("_holiday_name"),
        )
    )
    c = c.join(first, on="_row", how="left").with_columns(
        pl.when(pl.col("channel").is_in(pack.hours_channels)).then(pl.col("_why")).alias("_why")
    )
    move = c.filter(pl.col("_why").is_not_null())
    if move.is_empty():
        return c.with_columns(pl.col("planned_local").alias("send_local"))
    spread = (
        move.select("_row", "_country", "_hregion", "_day", "_tod")
        .with_columns(pl.int_ranges(0, HORIZON_DAYS, dtype=pl.Int32()).alias("_k"))
        .explode("_k")
        .with_columns(pl.col("_day") + pl.duration(days=pl.col("_k")))
        .with_columns(pl.col("_day").dt.weekday().alias("_wd"))
        .join(windows, on="_wd", how="inner")
        .join(hol, on=["_country", "_hregion", "_day"], how="anti")
        .filter((pl.col("_k") > 0) | (pl.col("_tod") < pl.col("_end")))
        .sort("_row", "_k")
        .unique("_row", keep="first", maintain_order=True)
        .select(
            "_row",
            (
                pl.col("_day").cast(LOCAL_TIME)
                + pl.when(pl.col("_k") == 0)
                .then(pl.max_horizontal("_tod", "_start"))
                .otherwise(pl.col("_start"))
            ).alias("_next"),
        )
    )
    return c.join(spread, on="_row", how="left").with_columns(
        pl.when(pl.col("_why").is_null())
        .then(pl.col("planned_local"))
        .otherwise(pl.col("_next"))
        .alias("send_local")
    )


def _since_midnight(t: Any) -> timedelta:
    return timedelta(hours=t.hour, minutes=t.minute, seconds=t.second)


def _counts(c: pl.DataFrame, known: pl.DataFrame, pack: Pack) -> pl.DataFrame:
    """Per row: ``_has_notice``, ``_quiet``, ``_cap<i>`` (over the cap) and ``_week``, from
    the known contacts (history and this batch) of the same debtor around the send day."""
    flags = ["_has_notice", "_quiet", "_week"] + [f"_cap{i}" for i in range(len(pack.caps))]
    keyed = c.select(
        "_row",
        "debtor_id",
        "channel",
        pl.col("send_local").alias("_x"),
        pl.col("send_local").dt.date().alias("_xd"),
    )
    joined = keyed.join(known, on="debtor_id", how="inner").with_columns(
        (pl.col("_xd") - pl.col("e_local").dt.date()).dt.total_days().alias("_ago"),
        (pl.col("_xd").dt.truncate("1w") == pl.col("e_local").dt.date().dt.truncate("1w")).alias(
            "_same_week"
        ),
    )
    attempt = pl.col("kind") == "attempt"
    aggs: list[pl.Expr] = [
        ((pl.col("kind") == "validation_notice") & (pl.col("e_local") <= pl.col("_x")))
        .any()
        .alias("_has_notice"),
        (
            (pl.col("kind") == "conversation")
            & (pl.col("_ago") >= 0)
            & (pl.col("_ago") < pack.conversation_quiet_days)
        )
        .any()
        .alias("_quiet"),
    ]
    near = pl.col("_same_week") if pack.week == "calendar_week" else pl.col("_ago").abs() < 7
    aggs.append(
        (
            pl.lit(pack.one_channel_per_week)
            & attempt
            & (pl.col("channel_right") != pl.col("channel"))
            & near
        )
        .any()
        .alias("_week")
    )
    for i, cap in enumerate(pack.caps):
        inside = (
            pl.col("_same_week")
            if cap.window == "calendar_week"
            else pl.col("_ago").abs() < cap.days
        )
        on = pl.lit(True) if cap.channels is None else pl.col("channel_right").is_in(cap.channels)
        if cap.per_channel:
            on = on & (pl.col("channel_right") == pl.col("channel"))
        applies = pl.lit(True) if cap.channels is None else pl.col("channel").is_in(cap.channels)
        count = (attempt & on & inside).sum()
        aggs.append((applies.first() & (count >= cap.max)).alias(f"_cap{i}"))
    if joined.is_empty():
        found = pl.DataFrame(schema={"_row": pl.Int64(), **{f: pl.Boolean() for f in flags}})
    else:
        found = joined.group_by("_row").agg(aggs)
    c = c.join(found.cast({"_row": c.schema["_row"]}), on="_row", how="left")
    fills = [pl.col(f).fill_null(False) for f in flags]
    # With no known contact at all, a cap of max 0 still blocks.
    for i, cap in enumerate(pack.caps):
        if cap.max == 0:
            applies = (
                pl.lit(True) if cap.channels is None else pl.col("channel").is_in(cap.channels)
            )
            fills[3 + i] = pl.col(f"_cap{i}").fill_null(applies)
    return c.with_columns(fills)
