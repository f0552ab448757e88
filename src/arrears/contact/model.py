"""The rule pack model: one pack of contact rules (a law, or sensible defaults), as data.

Packs are YAML files shipped in ``arrears/contact/packs/`` (see :mod:`arrears.contact.packs`)
and documented in ``docs/contact-rules.md``. Every field has a default, so a pack only says what
differs; unknown fields are refused (``extra="forbid"``) so a misspelt override fails loudly.
"""

from __future__ import annotations

from datetime import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from arrears.contact.frames import CHANNELS

Channel = Literal["email", "sms", "whatsapp", "call", "letter"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
assert set(CHANNELS) == {"email", "sms", "whatsapp", "call", "letter"}


def _timed_channels() -> list[Channel]:
    return ["email", "sms", "whatsapp", "call"]


def _call_only() -> list[Channel]:
    return ["call"]


class Window(BaseModel):
    """Allowed hours of one day, local wall-clock time: ``start`` inclusive, ``end`` exclusive
    (``"08:00-21:00"`` allows 20:59:59 and not 21:00). Written ``"HH:MM-HH:MM"`` in YAML."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: time
    end: time

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: object) -> object:
        if isinstance(value, str):
            parts = value.split("-")
            if len(parts) != 2:
                raise ValueError(f"expected 'HH:MM-HH:MM', got {value!r}")
            return {"start": parts[0].strip(), "end": parts[1].strip()}
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end <= self.start:
            raise ValueError(f"the window ends ({self.end}) before it starts ({self.start})")
        return self

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


class Cap(BaseModel):
    """At most ``max`` contacts on ``channels`` in a window of days, counting the history (cycle
    and by hand) and the earlier attempts of the same batch. Days are the debtor's local
    calendar days of the send time. ``window``: ``rolling`` = any ``days`` consecutive days
    (``days: 7`` = the send day and the six days before it; the guard also counts attempts it
    has already scheduled in the days after, so that no window of ``days`` days ever holds more
    than ``max``); ``calendar_week`` = the Monday-to-Sunday week of the send day (``days`` is
    then ignored). ``per_channel``: count each channel of ``channels`` separately (a cap per
    channel) rather than pooled."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9-]+$", description="the rule id's suffix, e.g. call-cap")
    channels: list[Channel] | None = Field(None, description="null: every channel")
    max: int = Field(ge=0)
    days: int = Field(1, ge=1)
    window: Literal["rolling", "calendar_week"] = "rolling"
    per_channel: bool = False


class Pack(BaseModel):
    """One rule pack. See ``docs/contact-rules.md`` for each pack's values and sources."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9-]+$")
    title: str = ""
    source: str = Field("", description="where the rules come from (law, regulator, practice)")
    order: int = Field(100, description="packs are tried in ascending order; default is last")
    # --- which debtors the pack applies to -------------------------------------------------
    countries: list[str] = Field(
        default_factory=list, description="ISO 3166-1 alpha-2; empty: any country"
    )
    kinds: list[Literal["person", "company"]] | None = Field(
        None, description="debtor kinds; null: any kind"
    )
    regions: list[str] | None = Field(None, description="debtor regions; null: any region")
    # --- when -------------------------------------------------------------------------------
    hours: dict[Weekday, Window | None] = Field(
        default_factory=dict,
        description="allowed hours per weekday, local time; a day missing or null is closed",
    )
    hours_channels: list[Channel] = Field(
        default_factory=_timed_channels,
        description="channels the hours and closed days apply to (letters are exempt: for "
        "email, SMS and WhatsApp the send time counts)",
    )
    holidays_closed: bool = Field(False, description="public holidays are closed days")
    holiday_regions: bool = Field(
        False, description="use the debtor's region as the holidays subdivision"
    )
    # --- how often --------------------------------------------------------------------------
    caps: list[Cap] = Field(default_factory=list)
    conversation_quiet_days: int = Field(
        0,
        ge=0,
        description="no contact on quiet_channels within this many days after a telephone "
        "conversation, the conversation day being day 1 (7: blocked through day 7, allowed on "
        "the 8th day, i.e. 7 days after); 0: no quiet period",
    )
    quiet_channels: list[Channel] = Field(default_factory=_call_only)
    one_channel_per_week: bool = Field(
        False, description="once a channel was used in a week, no other channel that week"
    )
    week: Literal["rolling", "calendar_week"] = Field(
        "rolling",
        description="for one_channel_per_week: any 7 consecutive days (strict) or the "
        "Monday-to-Sunday calendar week",
    )
    # --- who and what -----------------------------------------------------------------------
    authorised_channels_only: bool = Field(
        False,
        description="only channels whose consent is 'granted'; otherwise 'unknown' is allowed "
        "('denied', i.e. opted out, always blocks)",
    )
    require_validation_notice: bool = Field(
        False, description="the validation notice must precede the first collection contact"
    )
    statute_of_limitations_days: int | None = Field(
        None,
        ge=0,
        description="a contact that threatens legal action on a debt more days past due than "
        "this is blocked (time-barred); null: never time-barred",
    )
    breathing_space: bool = Field(
        True, description="the 'breathing_space' tag blocks all collection contact"
    )
    # --- what letters and messages must say ------------------------------------------------
    letter_notice: dict[str, str] = Field(
        default_factory=dict,
        description="the legally required text printed at the end of every letter, per "
        "language ({en: ..., es: ...}); empty: none. The shipped texts are templates to be "
        "reviewed by counsel",
    )
    message_notice: dict[str, str] = Field(
        default_factory=dict,
        description="the legally required text added at the end of every email, SMS and "
        "WhatsApp message, per language ({en: ..., es: ...}); empty: none. The shipped texts "
        "are templates to be reviewed by counsel",
    )

    @field_validator("countries")
    @classmethod
    def _upper(cls, value: list[str]) -> list[str]:
        for code in value:
            if len(code) != 2 or not code.isalpha() or not code.isupper():
                raise ValueError(f"country codes are ISO 3166-1 alpha-2, upper case: {code!r}")
        return value

    @field_validator("letter_notice", "message_notice")
    @classmethod
    def _languages(cls, value: dict[str, str]) -> dict[str, str]:
        for language in value:
            if len(language) != 2 or not language.isalpha() or not language.islower():
                raise ValueError(f"languages are ISO 639-1, lower case: {language!r}")
        return {language: text.strip() for language, text in value.items() if text.strip()}

    @model_validator(mode="after")
    def _some_window(self) -> Pack:
        if not any(self.hours.get(day) for day in WEEKDAYS):
            raise ValueError("hours: at least one day must have allowed hours")
        ids = [cap.id for cap in self.caps]
        if len(ids) != len(set(ids)):
            raise ValueError("caps: two caps have the same id")
        return self

    def window(self, day: Weekday) -> Window | None:
        """The allowed hours of ``day`` (None: closed)."""
        return self.hours.get(day)

    def notice(self, language: str) -> str:
        """The letter notice in ``language``; else in English; else in the first language the
        pack gives (the law's own language, e.g. Spanish for Colombia); else ``""``."""
        return _in_language(self.letter_notice, language)

    def message_notice_in(self, language: str) -> str:
        """The notice of emails, SMS and WhatsApp messages in ``language``, chosen as
        :meth:`notice` chooses; ``""``: none."""
        return _in_language(self.message_notice, language)


def _in_language(texts: dict[str, str], language: str) -> str:
    """``texts`` in ``language``; else in English; else the first language given; else ``""``."""
    for candidate in (language.lower()[:2], "en"):
        if candidate in texts:
            return texts[candidate]
    return next(iter(texts.values()), "")
