"""Collection agencies: their terms, and the commission a placement owes them.

An agency's **commission** is a percentage of what it collects, fixed when a case is placed:

- ``flat``: one rate (``{"by": "flat", "rate": "20"}``);
- by **stage**: the rate of the case's stage at placement (``{"by": "stage", "rates":
  {"agency": "20", "legal": "30"}, "rate": "25"}``; ``rate``: any other stage);
- by **age** of the debt (its days past due at placement): the rate of the last band whose
  lower bound it reaches (``{"by": "age", "bands": [[0, "15"], [180, "25"], [365, "35"]]}``).

The commission of a remittance line is its amount times the rate, rounded half up to the
currency's minor unit (integer arithmetic: never a float).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, ClassVar

from arrears.domain.activity import Activity

MAX_RATE = Decimal(100)


@dataclass(frozen=True, slots=True)
class Terms:
    """How an agency is paid: ``by`` flat, stage or age; ``rate`` the flat (or default) rate;
    ``stages`` a rate per stage; ``bands`` (lower bound in days, rate), ascending."""

    by: str
    rate: Decimal | None = None
    stages: tuple[tuple[str, Decimal], ...] = ()
    bands: tuple[tuple[int, Decimal], ...] = ()

    def rate_for(self, *, stage: str | None, days_past_due: int) -> Decimal:
        """The commission rate (percent) of a placement of this stage and age."""
        if self.by == "stage":
            return dict(self.stages).get(stage or "", self.rate or Decimal(0))
        if self.by == "age":
            found = Decimal(0)
            for lower, rate in self.bands:
                if days_past_due >= lower:
                    found = rate
            return found
        return self.rate or Decimal(0)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"by": self.by}
        if self.rate is not None:
            out["rate"] = str(self.rate)
        if self.stages:
            out["rates"] = {name: str(rate) for name, rate in self.stages}
        if self.bands:
            out["bands"] = [[lower, str(rate)] for lower, rate in self.bands]
        return out

    def describe(self) -> str:
        """``20 %``, ``by stage: agency 20 %; else 25 %``, ``by age: 0+ days 15 %, ...``."""
        if self.by == "stage":
            text = ", ".join(f"{name} {rate} %" for name, rate in self.stages)
            return f"by stage: {text}" + (f"; else {self.rate} %" if self.rate is not None else "")
        if self.by == "age":
            return "by age: " + ", ".join(f"{lower}+ days {rate} %" for lower, rate in self.bands)
        return f"{self.rate} %"


def terms_from_json(data: dict[str, Any]) -> Terms:
    """The stored terms (see :meth:`Terms.as_json`)."""
    rate = None if data.get("rate") is None else Decimal(str(data["rate"]))
    stages = tuple((str(k), Decimal(str(v))) for k, v in dict(data.get("rates", {})).items())
    bands = tuple((int(k), Decimal(str(v))) for k, v in data.get("bands", []))
    return Terms(str(data["by"]), rate, stages, bands)


def parse_rate(text: str) -> tuple[Decimal | None, str | None]:
    """A percentage from 0 to 100 written as text, or the problem with it."""
    try:
        rate = Decimal(text.strip())
    except InvalidOperation:
        return None, f"{text!r} is not a percentage (e.g. 20 or 17.5)"
    if not rate.is_finite() or rate < 0 or rate > MAX_RATE:
        return None, f"{text!r} is not a percentage from 0 to 100"
    return rate, None


def parse_terms(
    *, flat: str | None, by_stage: str | None, by_age: str | None
) -> tuple[Terms | None, list[str]]:
    """Terms from the command line's ``--commission 20``, ``--by-stage agency=20,legal=30`` (with
    ``--commission`` as the rate of any other stage) or ``--by-age 0=15,180=25,365=35``; every
    problem at once."""
    problems: list[str] = []
    rate = None
    if flat is not None:
        rate, problem = parse_rate(flat)
        problems += [f"--commission: {problem}"] if problem else []
    if by_stage is not None and by_age is not None:
        return None, ["give --by-stage or --by-age, not both"]
    pairs: list[tuple[str, Decimal]] = []
    for option, text in (("--by-stage", by_stage), ("--by-age", by_age)):
        for part in (text or "").split(","):
            if text is None or not part.strip():
                continue
            name, sep, value = part.partition("=")
            found, problem = parse_rate(value) if sep else (None, "write NAME=RATE")
            if problem or found is None:
                problems.append(f"{option}: {part.strip()!r}: {problem}")
            else:
                pairs.append((name.strip(), found))
    if by_age is not None:
        bands: list[tuple[int, Decimal]] = []
        for lower, found in pairs:
            if not lower.isdigit():
                problems.append(f"--by-age: {lower!r} is not a number of days (0 or more)")
            else:
                bands.append((int(lower), found))
        if not pairs and not problems:
            problems.append("--by-age: give at least one band, e.g. 0=15,180=25")
        return (None if problems else Terms("age", None, (), tuple(sorted(bands)))), problems
    if by_stage is not None:
        if not pairs and not problems:
            problems.append("--by-stage: give at least one stage, e.g. agency=20")
        return (None if problems else Terms("stage", rate, tuple(pairs))), problems
    if rate is None and not problems:
        problems.append("give the commission: --commission RATE, --by-stage or --by-age")
    return (None if problems else Terms("flat", rate)), problems


def commission_minor(amount_minor: int, rate: Decimal) -> int:
    """``rate`` percent of ``amount_minor``, rounded half up to a minor unit."""
    return int((Decimal(amount_minor) * rate / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class AgencyAdded(Activity):
    """``{name, terms, recall_after_days}``."""

    kind: ClassVar[str] = "agency.added"


@dataclass(frozen=True, slots=True)
class CasePlaced(Activity):
    """A debtor's balance placed with an agency: ``{placement, agency, currency, amount,
    days_past_due, stage, commission_percent, on}``."""

    kind: ClassVar[str] = "agency.placed"


@dataclass(frozen=True, slots=True)
class CaseRecalled(Activity):
    """A placement ended; the account is back in house: ``{placement, agency, reason, on}``."""

    kind: ClassVar[str] = "agency.recalled"


@dataclass(frozen=True, slots=True)
class RemittanceImported(Activity):
    """One remittance line posted: ``{placement, agency, reference, payment, amount, currency,
    collected_on, commission, file}``."""

    kind: ClassVar[str] = "agency.remitted"
