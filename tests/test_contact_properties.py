"""Properties of the contact guard on generated debtors, histories, packs and times.

An independent, slow, per-row checker (plain Python, zoneinfo and the holidays library)
verifies that no contact the guard allows or defers breaks the active pack at its send time,
that every deferral lands at the start of the next allowed window, and that the guard decides a
subset of debtors as the full run does.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays as holidays_lib
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arrears.contact.frames import CONSENT_SCHEMA
from arrears.contact.guard import guard
from arrears.contact.model import WEEKDAYS, Pack
from arrears.contact.packs import effective_packs
from contact_book import attempts, debtor, debtors, history

ZONES = [
    "America/New_York",
    "America/Bogota",
    "Europe/London",
    "Europe/Madrid",
    "Asia/Tokyo",
    "America/Los_Angeles",
    "Australia/Sydney",
    "Asia/Kolkata",
]
PLACES = [
    ("US", "NY", "person"),
    ("US", "CA", "company"),
    ("CO", "DC", "person"),
    ("GB", "ENG", "person"),
    ("ES", "MD", "company"),
    ("ES", "CT", "company"),
    ("DE", "BY", "company"),
    ("JP", "", "person"),
    ("MX", "", "person"),
]
EU = {"ES", "DE", "FR", "IT"}
CHANNELS = ["email", "sms", "whatsapp", "call", "letter"]
# Days around clock changes (New York, Europe), Colombian holidays, weekends and year ends.
BASES = [
    datetime(2026, 3, 7),
    datetime(2026, 3, 28),
    datetime(2026, 10, 31),
    datetime(2026, 1, 10),
    datetime(2026, 4, 1),
    datetime(2026, 12, 30),
    datetime(2026, 6, 10),
]
OVERRIDES: list[dict[str, dict[str, Any]]] = [
    {},
    {"co-ley-2300": {"week": "calendar_week", "hours": {"sat": "07:00-15:00"}}},
    {
        "us-reg-f": {
            "require_validation_notice": True,
            "caps": [
                {"id": "call-cap", "channels": ["call"], "max": 2, "days": 7},
                {
                    "id": "sms-cap",
                    "channels": ["sms", "email"],
                    "max": 1,
                    "days": 3,
                    "per_channel": True,
                },
            ],
        }
    },
    {
        "default": {"caps": [{"id": "weekly-cap", "max": 2, "window": "calendar_week"}]},
        "uk-fca": {"hours": {"sun": None, "sat": "09:00-12:00"}, "holidays_closed": True},
    },
]


@st.composite
def worlds(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 8))
    base = draw(st.sampled_from(BASES))
    people, rows, cons, past = [], [], [], []
    aid = 0
    for d in range(1, n + 1):
        country, region, kind = draw(st.sampled_from(PLACES))
        tz = draw(st.sampled_from(ZONES))
        flags = (
            draw(st.lists(st.sampled_from(["do_not_contact", "bankrupt", "deceased"]), max_size=1))
            if draw(st.integers(0, 9)) == 0
            else []
        )
        tags = draw(st.lists(st.sampled_from(["breathing_space", "forbearance"]), max_size=1))
        people.append(
            debtor(
                d,
                country,
                region=region,
                kind=kind,
                timezone=tz,
                tags=tags,
                **dict.fromkeys(flags, True),
            )
        )
        for ch in CHANNELS:
            status = draw(st.sampled_from(["granted", "granted", "unknown", "denied", "none"]))
            cons.append({"debtor_id": d, "channel": ch, "status": status})
        for _ in range(draw(st.integers(0, 8))):
            minutes = draw(st.integers(1, 20 * 24 * 60))
            at = (base - timedelta(minutes=minutes)).replace(tzinfo=UTC) + timedelta(hours=12)
            kind_ = draw(st.sampled_from(["attempt"] * 6 + ["conversation", "validation_notice"]))
            past.append((d, draw(st.sampled_from(CHANNELS)), at, kind_))
        for _ in range(draw(st.integers(1, 4))):
            aid += 1
            planned = base + timedelta(minutes=draw(st.integers(0, 4 * 24 * 60 - 1)))
            rows.append(
                {
                    "attempt_id": aid * 7 % 1000 + d * 1000,
                    "debtor_id": d,
                    "channel": draw(st.sampled_from(CHANNELS)),
                    "planned_local": planned,
                    "priority": draw(st.integers(0, 3)),
                    "fallback": draw(st.lists(st.sampled_from(CHANNELS), max_size=2)),
                    "legal_threat": draw(st.booleans()),
                    "days_past_due": draw(st.sampled_from([10, 400, 2500])),
                    "validation_notice": draw(st.integers(0, 4)) == 0,
                }
            )
    return {
        "debtors": debtors(people),
        "attempts": attempts(rows),
        "consents": pl.DataFrame(cons, schema=CONSENT_SCHEMA),
        "history": history(past),
        "packs": effective_packs(draw(st.sampled_from(OVERRIDES))),
    }


# --- the independent checker --------------------------------------------------------------------


def expected_pack(row: dict[str, Any]) -> str:
    if row["country"] == "US" and row["kind"] == "person":
        return "us-reg-f"
    if row["country"] == "CO":
        return "co-ley-2300"
    if row["country"] == "GB":
        return "uk-fca"
    if row["country"] in EU and row["kind"] == "company":
        return "eu-b2b"
    return "default"


def closed_day(pack: Pack, day: date, who: dict[str, Any]) -> bool:
    if pack.hours.get(WEEKDAYS[day.weekday()]) is None:
        return True
    if not pack.holidays_closed:
        return False
    subdiv = who["region"] if pack.holiday_regions and who["region"] else None
    try:
        found = holidays_lib.country_holidays(who["country"], subdiv=subdiv, years=day.year)
    except NotImplementedError:
        found = holidays_lib.country_holidays(who["country"], years=day.year)
    return day in found


def in_window(pack: Pack, t: datetime, who: dict[str, Any]) -> bool:
    w = pack.hours.get(WEEKDAYS[t.weekday()])
    return w is not None and not closed_day(pack, t.date(), who) and w.start <= t.time() < w.end


def check(world: dict[str, Any], out: pl.DataFrame) -> None:
    packs: dict[str, Pack] = world["packs"]
    who = {r["debtor_id"]: r for r in world["debtors"].iter_rows(named=True)}
    consent = {
        (r["debtor_id"], r["channel"]): r["status"] for r in world["consents"].iter_rows(named=True)
    }
    planned = {r["attempt_id"]: r for r in world["attempts"].iter_rows(named=True)}
    assert sorted(planned) == out["attempt_id"].to_list()
    sent = [r for r in out.iter_rows(named=True) if r["decision"] != "block"]
    contacts: dict[int, list[tuple[str, str, datetime]]] = {d: [] for d in who}
    for r in world["history"].iter_rows(named=True):
        zone = ZoneInfo(who[r["debtor_id"]]["timezone"])
        local = r["at"].astimezone(zone).replace(tzinfo=None)
        contacts[r["debtor_id"]].append((r["kind"], r["channel"], local))
    for r in sent:
        contacts[r["debtor_id"]].append(("attempt", r["channel"], r["send_local"]))
        if planned[r["attempt_id"]]["validation_notice"]:
            contacts[r["debtor_id"]].append(("validation_notice", r["channel"], r["send_local"]))
    for r in out.iter_rows(named=True):
        a, d = planned[r["attempt_id"]], who[r["debtor_id"]]
        pack = packs[expected_pack(d)]
        assert r["pack"] == pack.name
        if r["decision"] == "block":
            assert r["send_at"] is None and r["rule"].startswith(pack.name + ".")
            continue
        ch, x = r["channel"], r["send_local"]
        assert ch == a["channel"] or (r["fallback_from"] == a["channel"] and ch in a["fallback"])
        zone = ZoneInfo(d["timezone"])
        assert r["send_at"].astimezone(zone).replace(tzinfo=None) == x
        assert x >= a["planned_local"]
        # Who and what.
        assert not (d["deceased"] or d["do_not_contact"] or d["bankrupt"])
        assert "breathing_space" not in d["tags"]
        status = consent.get((d["debtor_id"], ch), "none")
        assert status == "granted" or (status == "unknown" and not pack.authorised_channels_only)
        if a["legal_threat"] and pack.statute_of_limitations_days is not None:
            assert a["days_past_due"] <= pack.statute_of_limitations_days
        mine = contacts[d["debtor_id"]]
        if pack.require_validation_notice and not a["validation_notice"]:
            assert any(k == "validation_notice" and t <= x for k, _, t in mine)
        # When.
        if ch in pack.hours_channels:
            assert in_window(pack, x, d), (x, r)
            p = a["planned_local"]
            if r["decision"] == "allow":
                assert x == p
            else:
                assert not in_window(pack, p, d)
                day = p.date()
                while day < x.date():  # every day before the send day had no window left
                    w = pack.hours.get(WEEKDAYS[day.weekday()])
                    assert (
                        closed_day(pack, day, d)
                        or w is None
                        or (day == p.date() and p.time() >= w.end)
                    )
                    day += timedelta(days=1)
                w = pack.hours[WEEKDAYS[x.weekday()]]
                assert w is not None
                assert x.time() == (w.start if x.date() != p.date() else max(w.start, p.time()))
        else:
            assert x == a["planned_local"] and r["decision"] == "allow"
        # How often (every window that holds the send day).
        if ch in pack.quiet_channels and pack.conversation_quiet_days:
            for k, _, t in mine:
                if k == "conversation":
                    assert not 0 <= (x.date() - t.date()).days < pack.conversation_quiet_days
        tries = [(c, t.date()) for k, c, t in mine if k == "attempt"]
        for cap in pack.caps:
            if cap.channels is not None and ch not in cap.channels:
                continue
            counted = [
                day
                for c, day in tries
                if (cap.channels is None or c in cap.channels) and (not cap.per_channel or c == ch)
            ]
            if cap.window == "calendar_week":
                week = x.date().isocalendar()[:2]
                assert sum(1 for day in counted if day.isocalendar()[:2] == week) <= cap.max
            else:
                for s in range(cap.days):
                    start = x.date() - timedelta(days=s)
                    inside = [
                        day for day in counted if start <= day < start + timedelta(days=cap.days)
                    ]
                    assert len(inside) <= cap.max, (cap, r)
        if pack.one_channel_per_week:
            for c, day in tries:
                if c == ch:
                    continue
                if pack.week == "calendar_week":
                    assert day.isocalendar()[:2] != x.date().isocalendar()[:2]
                else:
                    assert abs((day - x.date()).days) >= 7


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(worlds())
def test_no_contact_let_through_breaks_its_pack(world: dict[str, Any]) -> None:
    out = guard(
        world["attempts"], world["debtors"], world["consents"], world["history"], world["packs"]
    )
    check(world, out)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(), st.data())
def test_a_subset_of_debtors_decides_like_the_full_run(world: dict[str, Any], data: Any) -> None:
    full = guard(
        world["attempts"], world["debtors"], world["consents"], world["history"], world["packs"]
    )
    ids = world["debtors"]["debtor_id"].to_list()
    subset = data.draw(st.lists(st.sampled_from(ids), unique=True, min_size=1))
    keep = pl.col("debtor_id").is_in(subset)
    part = guard(
        world["attempts"].filter(keep),
        world["debtors"].filter(keep),
        world["consents"],
        world["history"],
        world["packs"],
    )
    assert part.equals(full.filter(keep))
