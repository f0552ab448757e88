"""The contact guard on the laws' own cases, one table per pack."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from arrears.contact.frames import DECISION_SCHEMA
from arrears.contact.guard import guard, local_now
from arrears.contact.packs import effective_packs
from contact_book import attempt, attempts, consents, debtor, debtors, history

NY = "America/New_York"


def run(
    rows: list[dict[str, Any]],
    people: list[dict[str, Any]],
    *,
    consent: pl.DataFrame | None = None,
    past: pl.DataFrame | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> pl.DataFrame:
    ids = sorted({p["debtor_id"] for p in people})
    out = guard(
        attempts(rows),
        debtors(people),
        consents(ids) if consent is None else consent,
        history() if past is None else past,
        effective_packs(overrides or {}),
    )
    assert out.schema == pl.Schema(DECISION_SCHEMA)
    assert out["attempt_id"].to_list() == sorted(r["attempt_id"] for r in rows)
    return out


def one(out: pl.DataFrame, attempt_id: int = 1) -> dict[str, Any]:
    return out.filter(pl.col("attempt_id") == attempt_id).row(0, named=True)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# --- us-reg-f ----------------------------------------------------------------------------------

DAY = datetime(2026, 6, 10, 12, 0)  # a Wednesday, EDT (UTC-4)


def calls_before(n: int, first_days_ago: int) -> pl.DataFrame:
    """n call attempts, one a day from first_days_ago days before DAY (at 11:00 local)."""
    return history(
        (1, "call", utc(2026, 6, 10, 15) - timedelta(days=first_days_ago - i), "attempt")
        for i in range(n)
    )


@pytest.mark.parametrize(
    ("past", "decision"),
    [
        (calls_before(6, 6), "allow"),  # the 7th call in 7 days
        (calls_before(7, 6).vstack(calls_before(1, 3)), "block"),  # the 8th
        (calls_before(7, 7), "allow"),  # the oldest is 7 days ago: outside the window
        (calls_before(6, 6).vstack(calls_before(1, 0)), "block"),  # the 8th, one earlier today
    ],
)
def test_us_seven_calls_in_seven_days(past: pl.DataFrame, decision: str) -> None:
    out = run([attempt(1, 1, "call", DAY)], [debtor(1, "US")], past=past)
    assert one(out)["decision"] == decision
    if decision == "block":
        assert one(out)["rule"] == "us-reg-f.call-cap"


def test_us_call_cap_counts_the_batch_in_priority_order() -> None:
    rows = [attempt(i, 1, "call", DAY, priority=10 - i) for i in range(1, 3)]
    out = run(rows, [debtor(1, "US")], past=calls_before(6, 6))
    assert one(out, 2)["decision"] == "allow"  # priority 8 goes first
    assert one(out, 1)["rule"] == "us-reg-f.call-cap"
    # Emails are not calls: not capped by the call cap.
    out = run([attempt(1, 1, "email", DAY)], [debtor(1, "US")], past=calls_before(7, 6))
    assert one(out)["decision"] == "allow"


@pytest.mark.parametrize(
    ("days_after", "channel", "decision"),
    [
        (0, "call", "block"),
        (1, "call", "block"),
        (6, "call", "block"),
        (7, "call", "allow"),
        (1, "sms", "allow"),
    ],
)
def test_us_quiet_after_a_conversation(days_after: int, channel: str, decision: str) -> None:
    # The conversation on June 3 at 10:00 local is day 1; June 10 is 7 days after: allowed.
    talk = history([(1, "call", utc(2026, 6, 10, 14) - timedelta(days=days_after), "conversation")])
    out = run([attempt(1, 1, channel, DAY)], [debtor(1, "US")], past=talk)
    assert one(out)["decision"] == decision
    if decision == "block":
        assert one(out)["rule"] == "us-reg-f.conversation-quiet"


@pytest.mark.parametrize(
    ("planned", "decision", "send_local"),
    [
        (datetime(2026, 6, 10, 20, 59), "allow", datetime(2026, 6, 10, 20, 59)),
        (datetime(2026, 6, 10, 21, 0), "defer", datetime(2026, 6, 11, 8, 0)),
        (datetime(2026, 6, 10, 7, 59), "defer", datetime(2026, 6, 10, 8, 0)),
        (datetime(2026, 6, 10, 8, 0), "allow", datetime(2026, 6, 10, 8, 0)),
    ],
)
def test_us_hours(planned: datetime, decision: str, send_local: datetime) -> None:
    for channel in ("call", "sms", "email"):
        out = one(run([attempt(1, 1, channel, planned)], [debtor(1, "US")]))
        assert (out["decision"], out["send_local"]) == (decision, send_local)
        assert out["send_at"] == (send_local + timedelta(hours=4)).replace(tzinfo=UTC)
        assert out["rule"] == (None if decision == "allow" else "us-reg-f.hours")
    # A letter is exempt from the hours.
    late = one(run([attempt(1, 1, "letter", datetime(2026, 6, 10, 23))], [debtor(1, "US")]))
    assert late["decision"] == "allow"


@pytest.mark.parametrize(
    ("planned", "send_at"),
    [
        (datetime(2026, 3, 7, 6, 0), utc(2026, 3, 7, 13)),  # the day before: EST
        (datetime(2026, 3, 8, 6, 0), utc(2026, 3, 8, 12)),  # spring forward: EDT
        (datetime(2026, 3, 8, 2, 30), utc(2026, 3, 8, 12)),  # a time that does not exist
        (datetime(2026, 3, 7, 22, 0), utc(2026, 3, 8, 12)),  # deferred across the change
        (datetime(2026, 10, 31, 6, 0), utc(2026, 10, 31, 12)),  # the day before: EDT
        (datetime(2026, 11, 1, 6, 0), utc(2026, 11, 1, 13)),  # fall back: EST
        (datetime(2026, 11, 1, 1, 30), utc(2026, 11, 1, 13)),  # a time that happens twice
    ],
)
def test_new_york_clock_changes(planned: datetime, send_at: datetime) -> None:
    out = one(run([attempt(1, 1, "call", planned)], [debtor(1, "US")]))
    assert out["decision"] == "defer"
    assert out["send_at"] == send_at
    assert out["send_local"].time().hour == 8


def test_us_allowed_times_on_clock_change_days_convert_exactly() -> None:
    out = run(
        [
            attempt(1, 1, "call", datetime(2026, 3, 8, 12, 0)),
            attempt(2, 2, "call", datetime(2026, 11, 1, 12, 0)),
        ],
        [debtor(1, "US"), debtor(2, "US")],
    )
    assert out["send_at"].to_list() == [utc(2026, 3, 8, 16), utc(2026, 11, 1, 17)]


def test_time_barred_legal_threat() -> None:
    people = [debtor(1, "US")]
    rows = [
        attempt(1, 1, "letter", DAY, legal_threat=True, days_past_due=2191),
        attempt(2, 1, "letter", DAY, legal_threat=False, days_past_due=2191, priority=1),
    ]
    out = run(rows, people)
    assert one(out, 1)["rule"] == "us-reg-f.time-barred"
    assert one(out, 2)["decision"] == "allow"
    recent = run([attempt(1, 1, "letter", DAY, legal_threat=True, days_past_due=100)], people)
    assert one(recent)["decision"] == "allow"


def test_validation_notice_when_required() -> None:
    people = [debtor(1, "US")]
    needs = {"us-reg-f": {"require_validation_notice": True}}
    out = run([attempt(1, 1, "call", DAY)], people, overrides=needs)
    assert one(out)["rule"] == "us-reg-f.validation-notice"
    sent = history([(1, "letter", utc(2026, 6, 1, 15), "validation_notice")])
    assert (
        one(run([attempt(1, 1, "call", DAY)], people, past=sent, overrides=needs))["decision"]
        == "allow"
    )
    batch = [
        attempt(1, 1, "letter", DAY, validation_notice=True, priority=0),
        attempt(2, 1, "call", DAY, priority=1),
    ]
    out = run(batch, people, overrides=needs)
    assert out["decision"].to_list() == ["allow", "allow"]
    assert one(run([attempt(1, 1, "call", DAY)], people))["decision"] == "allow"  # default off


# --- consent and flags (every pack) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "status", "decision", "rule"),
    [
        ("US", "unknown", "allow", None),
        ("CO", "unknown", "block", "co-ley-2300.consent-required"),
        ("US", "denied", "block", "us-reg-f.opt-out"),
        ("CO", "denied", "block", "co-ley-2300.opt-out"),
        ("CO", "granted", "allow", None),
        ("US", "none", "block", "us-reg-f.no-contact-point"),
        ("GB", "unknown", "allow", None),
    ],
)
def test_consent(country: str, status: str, decision: str, rule: str | None) -> None:
    planned = datetime(2026, 6, 10, 12, 0)
    out = one(
        run(
            [attempt(1, 1, "sms", planned)],
            [debtor(1, country)],
            consent=consents([1], "granted", sms=status),
        )
    )
    assert (out["decision"], out["rule"]) == (decision, rule)


def test_opt_out_after_consent_blocks_that_channel_only() -> None:
    out = run(
        [attempt(1, 1, "sms", DAY), attempt(2, 1, "email", DAY, priority=1)],
        [debtor(1, "US")],
        consent=consents([1], "granted", sms="denied"),
    )
    assert one(out, 1)["rule"] == "us-reg-f.opt-out"
    assert one(out, 2)["decision"] == "allow"
    missing = run([attempt(1, 1, "email", DAY)], [debtor(1, "US")], consent=consents([]))
    assert one(missing)["rule"] == "us-reg-f.no-contact-point"


@pytest.mark.parametrize(
    ("fields", "rule"),
    [
        ({"do_not_contact": True}, "do-not-contact"),
        ({"deceased": True}, "deceased"),
        ({"bankrupt": True}, "bankrupt"),
        ({"legal_representative": True}, "legal-representative"),
        ({"tags": ["cease_communication"]}, "cease-communication"),
        ({"tags": ["breathing_space"]}, "breathing-space"),
        ({"timezone": "Mars/Olympus"}, "no-timezone"),
        ({"tags": ["forbearance"]}, None),
    ],
)
def test_flags_block_every_channel(fields: dict[str, Any], rule: str | None) -> None:
    for country, pack in (("GB", "uk-fca"), ("US", "us-reg-f")):
        rows = [attempt(1, 1, "email", DAY, fallback=["letter", "sms"])]
        out = one(run(rows, [debtor(1, country, **fields)]))
        assert out["rule"] == (None if rule is None else f"{pack}.{rule}")
        assert out["decision"] == ("allow" if rule is None else "block")
        assert out["channel"] == "email"


def test_fallback_from_a_blocked_sms_to_a_letter() -> None:
    rows = [attempt(1, 1, "sms", DAY, fallback=["whatsapp", "letter"])]
    out = one(run(rows, [debtor(1, "US")], consent=consents([1], sms="denied", whatsapp="none")))
    assert (out["decision"], out["channel"], out["fallback_from"]) == ("allow", "letter", "sms")
    assert out["rule"] is None
    # Every channel blocked: the planned channel's rule is reported.
    out = one(run(rows, [debtor(1, "US")], consent=consents([1], "denied")))
    assert (out["decision"], out["channel"], out["rule"]) == ("block", "sms", "us-reg-f.opt-out")


def test_unknown_debtor_is_blocked() -> None:
    out = one(run([attempt(1, 99, "email", DAY)], [debtor(1, "US")]))
    assert out["decision"] == "block"
    assert out["pack"] == "default"


# --- co-ley-2300 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("planned", "decision", "send_local", "rule"),
    [
        # Epiphany (observed), Monday 12 January 2026: deferred to Tuesday 07:00.
        (datetime(2026, 1, 12, 10), "defer", datetime(2026, 1, 13, 7), "holiday"),
        # Sunday: deferred to Monday 07:00.
        (datetime(2026, 1, 18, 10), "defer", datetime(2026, 1, 19, 7), "closed-day"),
        # Saturday 08:00-15:00.
        (datetime(2026, 1, 17, 7, 30), "defer", datetime(2026, 1, 17, 8), "hours"),
        (datetime(2026, 1, 17, 8, 0), "allow", datetime(2026, 1, 17, 8), None),
        (datetime(2026, 1, 17, 14, 59), "allow", datetime(2026, 1, 17, 14, 59), None),
        (datetime(2026, 1, 17, 15, 0), "defer", datetime(2026, 1, 19, 7), "hours"),
        # Monday to Friday 07:00-19:00.
        (datetime(2026, 1, 16, 6, 59), "defer", datetime(2026, 1, 16, 7), "hours"),
        (datetime(2026, 1, 16, 18, 59), "allow", datetime(2026, 1, 16, 18, 59), None),
        (datetime(2026, 1, 16, 19, 0), "defer", datetime(2026, 1, 17, 8), "hours"),
        # Saturday 3 January 2026 after hours; Monday 5 is open; Sunday skipped.
        (datetime(2026, 1, 3, 16, 0), "defer", datetime(2026, 1, 5, 7), "hours"),
        # Friday 3 April 2026 is Good Friday; Thursday 2 is Maundy Thursday: to Saturday 4.
        (datetime(2026, 4, 2, 9, 0), "defer", datetime(2026, 4, 4, 8), "holiday"),
    ],
)
def test_colombian_days_and_hours(
    planned: datetime, decision: str, send_local: datetime, rule: str | None
) -> None:
    out = one(run([attempt(1, 1, "call", planned)], [debtor(1, "CO")]))
    assert (out["decision"], out["send_local"]) == (decision, send_local)
    assert out["rule"] == (None if rule is None else f"co-ley-2300.{rule}")
    assert out["send_at"] == (send_local + timedelta(hours=5)).replace(tzinfo=UTC)


def test_colombian_saturday_start_is_a_parameter() -> None:
    early = {"co-ley-2300": {"hours": {"sat": "07:00-15:00"}}}
    out = one(
        run(
            [attempt(1, 1, "call", datetime(2026, 1, 17, 7, 30))],
            [debtor(1, "CO")],
            overrides=early,
        )
    )
    assert out["decision"] == "allow"


def test_colombian_one_contact_a_day_and_one_channel_a_week() -> None:
    people = [debtor(1, "CO")]
    monday = datetime(2026, 1, 19, 9)
    out = run(
        [
            attempt(1, 1, "call", monday),
            attempt(2, 1, "call", monday + timedelta(hours=2), priority=1),
        ],
        people,
    )
    assert out["decision"].to_list() == ["allow", "block"]
    assert one(out, 2)["rule"] == "co-ley-2300.daily-cap"
    # Another channel later in the week: blocked; the same channel the next day: allowed.
    past = history([(1, "call", utc(2026, 1, 19, 14), "attempt")])
    tuesday = monday + timedelta(days=1)
    out = run([attempt(1, 1, "email", tuesday)], people, past=past)
    assert one(out)["rule"] == "co-ley-2300.one-channel-week"
    assert one(run([attempt(1, 1, "call", tuesday)], people, past=past))["decision"] == "allow"
    # Sunday-to-Monday: a new calendar week, but within 7 days (strict default: blocked).
    saturday = history([(1, "call", utc(2026, 1, 17, 14), "attempt")])
    out = run([attempt(1, 1, "email", monday)], people, past=saturday)
    assert one(out)["rule"] == "co-ley-2300.one-channel-week"
    calendar = {"co-ley-2300": {"week": "calendar_week"}}
    out = run([attempt(1, 1, "email", monday)], people, past=saturday, overrides=calendar)
    assert one(out)["decision"] == "allow"
    # Eight days later: allowed.
    out = run([attempt(1, 1, "email", monday + timedelta(days=8))], people, past=past)
    assert one(out)["decision"] == "allow"


def test_colombian_deferred_attempt_is_capped_on_its_new_day() -> None:
    people = [debtor(1, "CO")]
    # Sunday's call is deferred to Monday 07:00, where a call was already made.
    past = history([(1, "call", utc(2026, 1, 19, 12, 30), "attempt")])
    out = run([attempt(1, 1, "call", datetime(2026, 1, 18, 10))], people, past=past)
    assert one(out)["rule"] == "co-ley-2300.daily-cap"


# --- uk-fca, eu-b2b, default ---------------------------------------------------------------------


def test_uk_breathing_space_and_hours() -> None:
    people = [debtor(1, "GB"), debtor(2, "GB", tags=["breathing_space"])]
    rows = [
        attempt(1, 1, "call", datetime(2026, 6, 14, 20, 59)),  # a Sunday, BST
        attempt(2, 2, "letter", datetime(2026, 6, 14, 12)),
        attempt(3, 1, "call", datetime(2026, 6, 14, 21, 0), priority=1),
    ]
    out = run(rows, people)
    assert one(out, 1)["send_at"] == utc(2026, 6, 14, 19, 59)
    assert one(out, 2)["rule"] == "uk-fca.breathing-space"
    assert one(out, 3)["send_local"] == datetime(2026, 6, 15, 8)
    late = {"uk-fca": {"hours": {"sun": "10:00-16:00"}}}
    out = run([attempt(1, 1, "call", datetime(2026, 6, 14, 9))], people, overrides=late)
    assert one(out)["send_local"] == datetime(2026, 6, 14, 10)


def test_eu_b2b_business_hours_and_regional_holidays() -> None:
    people = [debtor(1, "ES", region="MD"), debtor(2, "ES", region="CT")]
    # 2 May is a holiday in Madrid only (2025: a Friday).
    rows = [
        attempt(1, 1, "email", datetime(2025, 5, 2, 10)),
        attempt(2, 2, "email", datetime(2025, 5, 2, 10)),
        attempt(3, 1, "email", datetime(2025, 5, 3, 10), priority=1),  # Saturday
    ]
    out = run(rows, people)
    assert (one(out, 1)["decision"], one(out, 1)["send_local"]) == (
        "defer",
        datetime(2025, 5, 5, 8),
    )
    assert one(out, 1)["rule"] == "eu-b2b.holiday"
    assert one(out, 2)["decision"] == "allow"
    assert one(out, 3)["rule"] == "eu-b2b.closed-day"


def test_default_pack_weekly_cap() -> None:
    people = [debtor(1, "JP")]
    past = history(
        (1, ch, utc(2026, 6, 8, 3) + timedelta(days=i), "attempt")
        for i, ch in enumerate(["email", "sms", "call"])
    )
    out = run([attempt(1, 1, "email", datetime(2026, 6, 12, 12))], people, past=past)
    assert one(out)["rule"] == "default.weekly-cap"
    assert one(out)["pack"] == "default"


def test_local_now() -> None:
    frame = debtors([debtor(1, "US"), debtor(2, "CO"), debtor(3, "JP", timezone=None)])
    now = local_now(utc(2026, 3, 8, 12), frame)
    assert now.to_list() == [datetime(2026, 3, 8, 8), datetime(2026, 3, 8, 7), None]
    with pytest.raises(ValueError, match="aware"):
        local_now(datetime(2026, 3, 8, 12), frame)


def test_empty_attempts() -> None:
    out = run([], [debtor(1, "US")])
    assert out.is_empty()


def test_a_deferred_attempt_counts_on_its_new_day_for_later_rounds() -> None:
    people = [debtor(1, "CO")]
    # Sunday's email goes first and is deferred to Monday 07:00; Monday's call is then over the
    # daily cap, and Saturday's SMS would put a second channel within 7 days of it.
    rows = [
        attempt(1, 1, "email", datetime(2026, 1, 18, 10), priority=0),
        attempt(2, 1, "call", datetime(2026, 1, 19, 9), priority=1),
        attempt(3, 1, "sms", datetime(2026, 1, 17, 10), priority=2),
    ]
    out = run(rows, people)
    assert one(out, 1)["send_local"] == datetime(2026, 1, 19, 7)
    assert one(out, 2)["rule"] == "co-ley-2300.daily-cap"
    assert one(out, 3)["rule"] == "co-ley-2300.one-channel-week"


def test_rounds_follow_priority_among_many_attempts() -> None:
    # Four attempts in an order whose sorting permutation is not its own inverse.
    day = datetime(2026, 1, 19, 9)
    rows = [
        attempt(1, 1, "call", day, priority=3),
        attempt(2, 1, "call", day, priority=1),
        attempt(3, 1, "call", day, priority=0),
        attempt(4, 1, "call", day, priority=2),
    ]
    out = run(rows, [debtor(1, "CO")])
    assert out["decision"].to_list() == ["block", "block", "allow", "block"]
    rows = [attempt(i, 1, "call", DAY, priority=p) for i, p in [(1, 2), (2, 0), (3, 1)]]
    past = calls_before(5, 6)
    out = run(rows, [debtor(1, "US")], past=past)
    assert out["decision"].to_list() == ["block", "allow", "allow"]
