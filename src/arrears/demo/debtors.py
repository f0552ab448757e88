"""Demo debtors: people and companies in several countries, with contact points and flags.

:func:`make_debtors` builds one chunk of debtors as a Polars frame whose columns are the
canonical debtor fields (``credit_limit_minor`` in integer minor units) plus the internal
columns the invoice and payment generators need (``idx``, ``archetype``, ``term``,
``usd_rate``). Everything is vectorized; the only loops are over countries and cities.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

from arrears.demo import archetypes
from arrears.demo.geography import COUNTRIES, City, Country
from arrears.demo.names import (
    COMPANY_SUFFIXES,
    COMPANY_WORDS,
    NAMES,
    PERSON_EMAIL_DOMAINS,
    slug,
)
from arrears.domain.money import exponent

CONSENT = ("granted", "denied", "unknown")
#: Consent probabilities (granted, denied, unknown) per channel.
CONSENT_P: dict[str, tuple[float, float, float]] = {
    "email": (0.90, 0.03, 0.07),
    "sms": (0.55, 0.15, 0.30),
    "whatsapp": (0.35, 0.10, 0.55),
    "call": (0.60, 0.10, 0.30),
    "letter": (0.85, 0.02, 0.13),
}
#: WhatsApp is the usual channel in Latin America and Spain.
WHATSAPP_P_HIGH = (0.65, 0.05, 0.30)
COMPANY_SHARE = 0.6
ENTERPRISE_SHARE = 0.15
EMAIL_TLD = {"US": "com", "GB": "co.uk", "CO": "com.co", "MX": "com.mx", "ES": "es"}
EMAIL_TLD |= {"DE": "de", "FR": "fr"}

Ints = npt.NDArray[np.int64]


def _pick(rng: np.random.Generator, items: tuple[str, ...], n: int) -> pl.Series:
    return pl.Series(items, dtype=pl.String).gather(rng.integers(0, len(items), n))


def _phones(rng: np.random.Generator, country: Country, city: City, n: int) -> pl.Series:
    """E.164 numbers: a prefix of the city, then random digits (the first 2-9) to full length."""
    which = rng.integers(0, len(city.phone_prefixes), n)
    rest = np.zeros(n, dtype=np.int64)
    for i, prefix in enumerate(city.phone_prefixes):
        width = country.national_length - len(prefix)
        rest = np.where(which == i, rng.integers(2 * 10 ** (width - 1), 10**width, n), rest)
    prefixes = pl.Series(city.phone_prefixes, dtype=pl.String).gather(which)
    return "+" + country.calling_code + prefixes + pl.Series(rest).cast(pl.String)


_LETTER_PAIRS = tuple(a + b for a in "ABDEFGHJLNPQRSTUWXYZ" for b in "ABDEFGHJLNPQRSTUWXYZ")


def _postcodes(rng: np.random.Generator, country: Country, city: City, n: int) -> pl.Series:
    if country.code == "GB":
        digit = pl.Series(rng.integers(1, 10, n)).cast(pl.String)
        return city.postal_prefix + " " + digit + _pick(rng, _LETTER_PAIRS, n)
    width = country.postal_length - len(city.postal_prefix)
    suffix = pl.Series(rng.integers(1, 10**width, n)).cast(pl.String).str.zfill(width)
    return city.postal_prefix + suffix


def _names(rng: np.random.Generator, country: Country, company: pl.Series) -> pl.DataFrame:
    """``name`` and ``email`` columns: people and companies named in the country's language."""
    n = company.len()
    names = NAMES[country.language]
    first_i, last_i = rng.integers(0, len(names.first), n), rng.integers(0, len(names.last), n)
    last2_i = rng.integers(0, len(names.last), n)
    words = COMPANY_WORDS[country.language]
    word_i = rng.integers(0, len(words), n)
    first, last = pl.Series(names.first), pl.Series(names.last)
    first_slug = pl.Series([slug(x) for x in names.first])
    last_slug = pl.Series([slug(x) for x in names.last])
    word_slug = pl.Series([slug(x) for x in words])
    surname = last.gather(last_i)
    if country.language == "es":  # two surnames
        surname = surname + " " + last.gather(last2_i)
    person = first.gather(first_i) + " " + surname
    firm = (
        last.gather(last_i)
        + " "
        + pl.Series(words).gather(word_i)
        + " "
        + _pick(rng, COMPANY_SUFFIXES[country.code], n)
    )
    number = pl.Series(rng.integers(1, 100, n)).cast(pl.String)
    person_mail = (
        first_slug.gather(first_i)
        + "."
        + last_slug.gather(last_i)
        + number
        + "@"
        + _pick(rng, PERSON_EMAIL_DOMAINS, n)
    )
    firm_mail = (
        _pick(rng, ("ar", "billing", "accounts", "finance"), n)
        + "@"
        + last_slug.gather(last_i)
        + word_slug.gather(word_i)
        + "."
        + EMAIL_TLD[country.code]
    )
    frame = pl.DataFrame({"c": company, "pn": person, "fn": firm, "pm": person_mail})
    return frame.with_columns(fm=firm_mail).select(
        name=pl.when("c").then("fn").otherwise("pn"),
        email=pl.when("c").then("fm").otherwise("pm"),
    )


def _address(rng: np.random.Generator, country: Country, city: City, n: int) -> pl.Series:
    names = NAMES[country.language]
    street = _pick(rng, names.streets, n)
    number = pl.Series(rng.integers(1, 250, n)).cast(pl.String)
    line = number + " " + street if names.street_number_first else street + " " + number
    postcode = _postcodes(rng, country, city, n)
    if country.code == "US":
        return line + f", {city.name}, {city.region} " + postcode
    if country.code == "GB":
        return line + f", {city.name} " + postcode
    return line + ", " + postcode + f" {city.name}"


def _consent(rng: np.random.Generator, country: Country, n: int) -> dict[str, pl.Series]:
    out = {}
    for channel, p in CONSENT_P.items():
        high = channel == "whatsapp" and country.code in {"CO", "MX", "ES"}
        drawn = rng.choice(3, n, p=WHATSAPP_P_HIGH if high else p)
        out[f"consent_{channel}"] = pl.Series(CONSENT).gather(drawn)
    return out


def _round_2_significant(major: npt.NDArray[np.float64]) -> Ints:
    """Round positive amounts to two significant digits (credit limits look like 25000)."""
    magnitude = 10 ** np.maximum(np.floor(np.log10(np.maximum(major, 1.0))) - 1, 0)
    rounded: Ints = (np.round(major / magnitude) * magnitude).astype(np.int64)
    return rounded


def _credit_limit(
    rng: np.random.Generator, country: Country, segment: npt.NDArray[np.str_]
) -> Ints:
    median = np.select(
        [segment == "consumer", segment == "smb"], [2_000.0, 20_000.0], default=250_000.0
    )
    major = median * country.usd_rate * rng.lognormal(0.0, 0.6, segment.size)
    limit: Ints = _round_2_significant(major) * 10 ** exponent(country.currency)
    return limit


def _flags(rng: np.random.Generator, frame: pl.DataFrame) -> pl.DataFrame:
    """Flags, credit status and tags; bad payers are more often bankrupt or on hold."""
    n = frame.height
    arch = frame["attr_archetype"]
    never, chronic = arch == "never_pays", arch == "chronic_late"
    person = frame["kind"] == "person"

    def draw(p: pl.Series | float) -> pl.Series:
        return pl.Series(rng.random(n)) < p

    status = pl.Series(rng.random(n))
    on_hold = 0.03 + 0.2 * (never | chronic).cast(pl.Float64)
    yes_no = {True: "yes", False: "no"}
    tag = {
        "paperless": draw(0.5),
        "key-account": draw(0.5) & (frame["segment"] == "enterprise"),
        "new": draw(0.08),
        "reseller": draw(0.1) & ~person,
        "autopay": draw(0.15) & person,
    }
    tags = pl.DataFrame(tag).select(
        pl.concat_str(
            [pl.when(name).then(pl.lit(name)) for name in tag], separator=";", ignore_nulls=True
        )
    )
    return frame.with_columns(
        credit_status=pl.when(status < 0.01)
        .then(pl.lit("closed"))
        .when(status < 0.01 + on_hold)
        .then(pl.lit("on_hold"))
        .otherwise(pl.lit("active")),
        do_not_contact=draw(0.01).replace_strict(yes_no),
        bankrupt=draw(0.003 + 0.05 * never.cast(pl.Float64)).replace_strict(yes_no),
        deceased=(draw(0.002) & person).replace_strict(yes_no),
        legal_representative=draw(0.005).replace_strict(yes_no),
        tags=tags.to_series().replace("", None),
    )


def _city_frame(
    rng: np.random.Generator, country: Country, city: City, idx: Ints, arch: Ints
) -> pl.DataFrame:
    n = idx.size
    company = rng.random(n) < COMPANY_SHARE
    segment = np.where(
        company, np.where(rng.random(n) < ENTERPRISE_SHARE, "enterprise", "smb"), "consumer"
    )
    term = np.where(
        company,
        rng.choice([30, 45, 60], n, p=[0.6, 0.25, 0.15]),
        rng.choice([30, 45], n, p=[0.9, 0.1]),
    )
    frame = pl.DataFrame(
        {
            "idx": idx,
            "archetype": arch.astype(np.int8),
            "attr_archetype": pl.Series(archetypes.CODES).gather(arch),
            "kind": np.where(company, "company", "person"),
            "segment": segment,
            "term": term.astype(np.int32),
        }
    )
    return pl.concat(
        [
            frame,
            _names(rng, country, frame["kind"] == "company"),
            pl.DataFrame(
                {
                    "country": [country.code] * n,
                    "region": [city.region] * n,
                    "timezone": [city.timezone] * n,
                    "language": [country.language] * n,
                    "currency": [country.currency] * n,
                    "usd_rate": [country.usd_rate] * n,
                    "phone": _phones(rng, country, city, n),
                    "address": _address(rng, country, city, n),
                    **_consent(rng, country, n),
                    "credit_limit_minor": _credit_limit(rng, country, segment),
                }
            ),
        ],
        how="horizontal",
    )


def make_debtors(rng: np.random.Generator, first: int, n: int, id_width: int) -> pl.DataFrame:
    """Debtors number ``first`` .. ``first + n - 1`` (ids ``D000001``...), in id order."""
    idx = np.arange(first, first + n, dtype=np.int64)
    arch = rng.choice(len(archetypes.ARCHETYPES), n, p=archetypes.shares())
    country_p = np.array([c.share for c in COUNTRIES])
    where = rng.choice(len(COUNTRIES), n, p=country_p / country_p.sum())
    parts = []
    for ci, country in enumerate(COUNTRIES):
        weights = np.array([city.weight for city in country.cities])
        in_country = np.flatnonzero(where == ci)
        city_of = rng.choice(len(country.cities), in_country.size, p=weights / weights.sum())
        for ti, city in enumerate(country.cities):
            rows = in_country[city_of == ti]
            if rows.size:
                parts.append(_city_frame(rng, country, city, idx[rows], arch[rows]))
    frame = pl.concat(parts).sort("idx")
    frame = _flags(rng, frame)
    return frame.with_columns(
        debtor_id=pl.lit("D") + (pl.col("idx") + 1).cast(pl.String).str.zfill(id_width),
        portfolio=pl.lit(None, dtype=pl.String),
    )
