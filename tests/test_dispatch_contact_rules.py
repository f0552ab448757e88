"""A property of the dispatcher itself: over generated portfolios with a backlog of late
messages, run at random real times (frozen clocks across the US daylight-saving changes and
Colombian and Mexican holidays), every message it sends is within the law, as checked by
tests/dispatch_law.py, written apart from the guard: 0 violations. On SQLite and PostgreSQL,
through `arrears dispatch` (and `--as-of DAY`) to the file sink."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert, select

from arrears.channels.base import ChannelSettings, Message
from arrears.channels.dispatch import Dispatcher
from arrears.channels.templates import shipped_root
from arrears.cli.app import main
from arrears.contact.packs import shipped_packs
from arrears.store.schema import consent, contact_point, debtor, outbox, portfolio
from dispatch_law import Debtor, Sent, violations

#: (country, kind, time zones): US consumers (Regulation F), Colombia (Ley 2300), and debtors of
#: the default pack (a US company, a Mexican consumer).
KINDS = [
    ("US", "person", ["America/New_York", "America/Chicago", "America/Denver",
                      "America/Phoenix", "America/Los_Angeles", "Pacific/Honolulu"]),
    ("CO", "person", ["America/Bogota"]),
    ("CO", "company", ["America/Bogota"]),
    ("US", "company", ["America/New_York", "America/Los_Angeles"]),
    ("MX", "person", ["America/Mexico_City"]),
]  # fmt: skip
CHANNELS = ["email", "sms", "whatsapp", "letter"]
POINT = {"email": "email", "sms": "phone", "whatsapp": "phone", "letter": "postal"}
#: the first run's day: around the US daylight-saving changes (8 March, 1 November 2026) and
#: Colombian holidays (16 November, 8 December, 25 December; 12 January 2026 and 2027's New Year)
STARTS = [date(2026, 3, 6), date(2026, 10, 30), date(2026, 11, 13), date(2026, 12, 6),
          date(2026, 12, 23), date(2026, 12, 30), date(2026, 1, 9)]  # fmt: skip

debtor_st = st.fixed_dictionaries(
    {
        "kind": st.integers(0, len(KINDS) - 1),
        "zone": st.integers(0, 5),
        "consent": st.fixed_dictionaries(
            {
                c: st.sampled_from(["granted", "granted", "granted", "unknown", "denied"])
                for c in CHANNELS
            }
        ),
        # each message: channel, and how many minutes before the first run it was due (a
        # backlog of up to 11 days; negative: due later, queued while the backlog drains)
        "messages": st.lists(
            st.tuples(
                st.sampled_from(CHANNELS),
                st.one_of(st.integers(-2 * 24 * 60, 2 * 24 * 60), st.integers(0, 11 * 24 * 60)),
            ),
            min_size=1,
            max_size=6,
        ),
    }
)
portfolio_st = st.fixed_dictionaries(
    {
        "debtors": st.lists(debtor_st, min_size=1, max_size=5),
        "start": st.sampled_from(STARTS),
        # minutes into the start day, UTC (half the time in the Americas' working day)
        "first": st.one_of(st.integers(13 * 60, 23 * 60), st.integers(0, 48 * 60 - 1)),
        # the runs after the first: minutes since the previous one, and whether it is a
        # catch-up (`arrears dispatch --as-of DAY`) or a plain `arrears dispatch`
        "runs": st.lists(
            st.tuples(st.one_of(st.integers(0, 6 * 60), st.integers(0, 36 * 60)), st.booleans()),
            max_size=5,
        ),
    }
)

GRANTED = dict.fromkeys(CHANNELS, "granted")
#: Cases the random ones might miss, always run: the issue's night catch-up of eleven days in
#: New York and Bogota; Colombia's one contact a day across two runs of the same day; the
#: default pack's three a week over a week of daily runs; the US clocks going back (1 November
#: 15:30 UTC is 07:30 in Los Angeles, an hour before it was 08:30).
EXAMPLES = [
    {"debtors": [{"kind": 0, "zone": 0, "consent": GRANTED,
                  "messages": [(c, d * 24 * 60) for d in range(11) for c in ("email", "sms")]},
                 {"kind": 1, "zone": 0, "consent": GRANTED,
                  "messages": [(c, d * 24 * 60) for d in range(11) for c in ("email", "letter")]}],
     "start": date(2026, 11, 24), "first": 9 * 60 + 49, "runs": [(6 * 60, False)]},
    {"debtors": [{"kind": 1, "zone": 0, "consent": GRANTED,
                  "messages": [("email", 1), ("email", -60)]}],
     "start": date(2026, 11, 23), "first": 15 * 60, "runs": [(120, False)]},
    {"debtors": [{"kind": 4, "zone": 0, "consent": GRANTED,
                  "messages": [("email", -d * 24 * 60) for d in range(7)]}],
     "start": date(2026, 11, 23), "first": 16 * 60, "runs": [(24 * 60, True)] * 6},
    {"debtors": [{"kind": 0, "zone": 4, "consent": GRANTED, "messages": [("sms", 60)]}],
     "start": date(2026, 11, 1), "first": 15 * 60 + 30, "runs": []},
]  # fmt: skip

_codes = itertools.count()
TOTAL: dict[str, int] = {"sent": 0}


def _portfolio(
    engine: Engine, book: dict[str, Any], first: datetime
) -> tuple[str, dict[int, Debtor], dict[int, dict[str, str]]]:
    code = f"p{next(_codes)}"
    now = first - timedelta(days=12)
    debtors: dict[int, Debtor] = {}
    consents: dict[int, dict[str, str]] = {}
    with engine.begin() as conn:
        pid = conn.execute(
            insert(portfolio).values(code=code, name=code, base_currency="USD", created_at=now)
        ).inserted_primary_key[0]
        for n, d in enumerate(book["debtors"]):
            country, kind, zones = KINDS[d["kind"]]
            zone = zones[d["zone"] % len(zones)]
            did = conn.execute(
                insert(debtor).values(
                    portfolio_id=pid, external_id=f"D{n}", name=f"Debtor {n}", kind=kind,
                    country=country, timezone=zone, language="en", currency="USD", tags=[],
                    attributes={}, row_hash="-", created_at=now, updated_at=now,
                )
            ).inserted_primary_key[0]  # fmt: skip
            debtors[did] = Debtor(country, kind, zone)
            consents[did] = {}
            points = {}
            for kind_, value in (("email", f"d{n}@example.com"), ("phone", f"+1555000{n:04d}"),
                                 ("postal", f"{n} Main St")):  # fmt: skip
                points[kind_] = conn.execute(
                    insert(contact_point).values(
                        debtor_id=did, kind=kind_, value=value, is_primary=True, status="valid",
                        created_at=now,
                    )
                ).inserted_primary_key[0]  # fmt: skip
            for channel, status in d["consent"].items():
                conn.execute(
                    insert(consent).values(
                        contact_point_id=points[POINT[channel]], channel=channel, status=status,
                        recorded_at=now, source="test",
                    )
                )  # fmt: skip
                consents[did][channel] = status
            for m, (channel, early) in enumerate(d["messages"]):
                due = first - timedelta(minutes=early)
                conn.execute(
                    insert(outbox).values(
                        key=f"{code}:{n}:{m}", portfolio_id=pid, debtor_id=did, channel=channel,
                        template="reminder_before_due", params={}, created_on=due.date(),
                        status="queued", attempts=0, send_at=due, created_at=due,
                    )
                )  # fmt: skip
    return code, debtors, consents


def _sent(engine: Engine, code: str) -> list[Sent]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(outbox.c.debtor_id, outbox.c.channel, outbox.c.sent_at)
            .join(portfolio, portfolio.c.id == outbox.c.portfolio_id)
            .where(portfolio.c.code == code, outbox.c.status == "sent")
        ).all()
    return [
        Sent(r.debtor_id, r.channel, r.sent_at.replace(tzinfo=UTC) if r.sent_at.tzinfo is None
             else r.sent_at.astimezone(UTC))
        for r in rows
    ]  # fmt: skip


def test_every_message_the_dispatcher_sends_is_within_the_law(
    engine: Engine, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = tmp_path / "ws"
    assert main(["init", str(ws)]) == 0
    for name, value in {
        "ARREARS_DATABASE_URL": store_url,
        "ARREARS_CHANNELS_ATTACH_STATEMENT": "never",
        "ARREARS_CHANNELS_SECRET": "s",
    }.items():
        monkeypatch.setenv(name, value)

    @settings(  # each example dispatches days of a portfolio: mind the suite's budget
        max_examples=8 if store_url.startswith("sqlite") else 4,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(book=portfolio_st)
    @example(book=EXAMPLES[0])
    @example(book=EXAMPLES[1])
    @example(book=EXAMPLES[2])
    @example(book=EXAMPLES[3])
    def check(book: dict[str, Any]) -> None:
        first = datetime.combine(book["start"], datetime.min.time(), tzinfo=UTC) + timedelta(
            minutes=book["first"]
        )
        code, debtors, consents = _portfolio(engine, book, first)
        at = first
        for gap, catch_up in [(0, True), *book["runs"]]:
            at = at + timedelta(minutes=gap)
            monkeypatch.setenv("ARREARS_TEST_DISPATCH_NOW", at.isoformat())
            as_of = ["--as-of", at.date().isoformat()] if catch_up else []
            assert main(["-w", str(ws), "dispatch", "--portfolio", code, *as_of]) == 0
        sent = _sent(engine, code)
        assert violations(sent, debtors) == []
        for s in sent:  # consent: never a denied channel; Colombia: only authorised ones
            status = consents[s.debtor_id].get(s.channel, "unknown")
            assert status != "denied", s
            assert debtors[s.debtor_id].country != "CO" or status == "granted", s
        TOTAL["sent"] += len(sent)

    check()
    assert TOTAL["sent"] > 0  # the law was checked on messages that went out


def test_a_batch_still_sending_at_the_end_of_the_window_stops_there(
    engine: Engine, tmp_path: Path
) -> None:
    """A slow provider (15 s a message) with a batch that starts at 20:58:30 in New York:
    what would leave at 21:00 or later waits for the morning, whatever the batch's verdicts
    said at its start."""
    first = datetime(2026, 11, 24, 1, 58, 30, tzinfo=UTC)  # 20:58:30 EST on the 23rd
    one_each = {"kind": 0, "zone": 0, "consent": GRANTED, "messages": [("email", 30)]}
    book = {"debtors": [one_each] * 12, "start": first.date(), "first": 0, "runs": []}
    code, debtors, _ = _portfolio(engine, book, first)
    clock = {"now": first}

    class SlowProvider:
        dedup = True

        def send(self, message: Message) -> str:
            clock["now"] += timedelta(seconds=15)
            return message.idempotency_key

        def close(self) -> None:
            return None

    root = shipped_root()
    assert root is not None
    settings_ = ChannelSettings(
        {"channels.attach_statement": "never", "channels.secret": "s"}, tmp_path
    )
    dispatcher = Dispatcher(
        engine, settings_, portfolio=code, packs=shipped_packs(), template_roots=[root],
        clock=lambda: clock["now"], adapters={"email": SlowProvider()},
    )  # fmt: skip
    dispatcher.run()
    sent = _sent(engine, code)
    assert violations(sent, debtors) == []
    assert 0 < len(sent) < 12
    with engine.connect() as conn:
        waiting = (
            conn.execute(
                select(outbox.c.send_at)
                .join(portfolio, portfolio.c.id == outbox.c.portfolio_id)
                .where(portfolio.c.code == code, outbox.c.status == "queued")
            )
            .scalars()
            .all()
        )
    assert len(waiting) == 12 - len(sent)
    morning = datetime(2026, 11, 24, 13, 0, tzinfo=UTC)  # 08:00 in New York
    assert all(w.replace(tzinfo=UTC) == morning for w in waiting)
