"""The contact laws, written out again for the tests, independently of the guard: plain Python
over what was sent (the outbox rows' ``sent_at``, channel and debtor) and the debtors' country,
kind and time zone. Nothing here imports ``arrears.contact``: the hours, closed days and caps
are read off the shipped packs' sources (src/arrears/contact/packs/*.yaml) and typed in.

- United States, Regulation F (12 CFR 1006.6(b)(1)(i)), consumers: not before 8 a.m. nor at or
  after 9 p.m. local time, every day; letters are not "at a time" (exempt).
- Colombia, Ley 2300 de 2023 art. 3, every debtor: Monday to Friday 07:00-19:00, Saturday
  08:00-15:00, never on Sundays or public holidays (letters exempt from the hours); at most one
  contact a day (letters included); not several channels in the same week (any 7 consecutive
  days).
- everyone else (``default``: US companies, Mexico...): Monday to Saturday 08:00-20:00, not on
  the country's public holidays (letters exempt from the hours); at most one contact a day and
  three in any 7 consecutive days.
- United Kingdom (``uk-fca``): 08:00-21:00 every day; EU companies (``eu-b2b``): Monday to
  Friday 08:00-18:00, not on public holidays; at most five in any 7 consecutive days.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import holidays

EU = {"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT",
      "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"}  # fmt: skip
TIMED = {"email", "sms", "whatsapp", "call"}  # letters are exempt from the hours


@dataclass(frozen=True)
class Debtor:
    country: str
    kind: str
    timezone: str


@dataclass(frozen=True)
class Sent:
    debtor_id: int
    channel: str
    at: datetime  # sent_at, UTC


def _law(d: Debtor) -> str:
    if d.country == "US" and d.kind == "person":
        return "US"
    if d.country == "CO":
        return "CO"
    if d.country == "GB":
        return "GB"
    if d.country in EU and d.kind == "company":
        return "EU"
    return "default"


def _open(law: str, country: str, local: datetime) -> bool:
    """Whether a timed contact may be made at this local wall-clock time."""
    t, weekday = local.time(), local.weekday()  # Monday 0
    holiday = local.date() in holidays.country_holidays(country, years=local.year)
    if law in ("US", "GB"):
        return time(8) <= t < time(21)
    if law == "CO":
        if weekday == 6 or holiday:
            return False
        return time(8) <= t < time(15) if weekday == 5 else time(7) <= t < time(19)
    if law == "EU":
        return weekday < 5 and not holiday and time(8) <= t < time(18)
    return weekday < 6 and not holiday and time(8) <= t < time(20)


def violations(sent: list[Sent], debtors: dict[int, Debtor]) -> list[str]:
    """Every breach of the laws above by the messages sent, one line each."""
    found: list[str] = []
    days: dict[int, list[tuple[date, str]]] = defaultdict(list)
    for s in sent:
        d = debtors[s.debtor_id]
        law = _law(d)
        local = s.at.astimezone(ZoneInfo(d.timezone)).replace(tzinfo=None)
        ok = s.channel not in TIMED or _open(law, d.country, local)
        if not ok:
            found.append(f"{law} hours: debtor {s.debtor_id} {s.channel} at {local} local")
        days[s.debtor_id].append((local.date(), s.channel))
    for debtor_id, contacts in days.items():
        law = _law(debtors[debtor_id])
        per_day: dict[date, int] = defaultdict(int)
        for day, _ in contacts:
            per_day[day] += 1
        if law in ("CO", "default"):
            for day, n in per_day.items():
                if n > 1:
                    found.append(f"{law} one a day: debtor {debtor_id} {n} contacts on {day}")
        weekly = {"default": 3, "EU": 5}.get(law)
        if weekly is not None:
            for start in per_day:  # any 7 consecutive days starting on a contact day
                n = sum(k for day, k in per_day.items() if 0 <= (day - start).days < 7)
                if n > weekly:
                    found.append(f"{law} {weekly} a week: debtor {debtor_id} {n} from {start}")
        if law == "CO":
            for a_day, a_channel in contacts:
                for b_day, b_channel in contacts:
                    if a_channel != b_channel and 0 <= (b_day - a_day).days < 7:
                        found.append(
                            f"CO one channel a week: debtor {debtor_id} {a_channel} on {a_day}, "
                            f"{b_channel} on {b_day}"
                        )
    return found
