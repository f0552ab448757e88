"""Where demo debtors live: countries, their cities, time zones, postal codes and phone plans.

Each :class:`City` carries what is needed to write a plausible address and a phone number that
``phonenumbers.is_valid_number`` accepts: national prefixes (area codes or mobile ranges) and
the national number's length; the digits after the prefix are random, the first of them 2-9
(valid in every plan listed here, and required by the North American one).
"""

from __future__ import annotations

from typing import NamedTuple


class City(NamedTuple):
    name: str
    region: str
    timezone: str
    postal_prefix: str
    """Leading characters of the postal code; the rest are random digits (letters for GB)."""
    phone_prefixes: tuple[str, ...]
    """National prefixes: area codes or mobile ranges."""
    weight: float = 1.0


class Country(NamedTuple):
    code: str
    """ISO 3166 alpha-2."""
    currency: str
    language: str
    calling_code: str
    national_length: int
    """Digits of a national (significant) number, prefix included."""
    postal_length: int
    share: float
    """Share of the demo's debtors in this country."""
    usd_rate: float
    """Units of the currency per US dollar, to scale amounts (approximate)."""
    cities: tuple[City, ...]


_US_EAST = ("America/New_York",)
COUNTRIES: tuple[Country, ...] = (
    Country(
        "US",
        "USD",
        "en",
        "1",
        10,
        5,
        0.34,
        1.0,
        (
            City("New York", "NY", _US_EAST[0], "100", ("212", "646", "718"), 3.0),
            City("Boston", "MA", "America/New_York", "021", ("617", "857")),
            City("Chicago", "IL", "America/Chicago", "606", ("312", "773"), 2.0),
            City("Houston", "TX", "America/Chicago", "770", ("713", "832"), 1.5),
            City("Denver", "CO", "America/Denver", "802", ("303", "720")),
            City("Phoenix", "AZ", "America/Phoenix", "850", ("602", "480")),
            City("Los Angeles", "CA", "America/Los_Angeles", "900", ("213", "310"), 2.5),
            City("Seattle", "WA", "America/Los_Angeles", "981", ("206",)),
        ),
    ),
    Country(
        "CO",
        "COP",
        "es",
        "57",
        10,
        6,
        0.16,
        4000.0,
        (
            City("Bogotá", "Cundinamarca", "America/Bogota", "1101", ("300", "310", "320"), 3.0),
            City("Medellín", "Antioquia", "America/Bogota", "0500", ("301", "311", "312"), 2.0),
            City("Cali", "Valle del Cauca", "America/Bogota", "7600", ("315", "316", "317")),
            City("Barranquilla", "Atlántico", "America/Bogota", "0800", ("313", "318", "350")),
        ),
    ),
    Country(
        "MX",
        "MXN",
        "es",
        "52",
        10,
        5,
        0.12,
        17.0,
        (
            City("Ciudad de México", "CDMX", "America/Mexico_City", "06", ("55",), 3.0),
            City("Guadalajara", "Jalisco", "America/Mexico_City", "44", ("33",), 1.5),
            City("Monterrey", "Nuevo León", "America/Monterrey", "64", ("81",), 1.5),
            City("Tijuana", "Baja California", "America/Tijuana", "22", ("664",)),
        ),
    ),
    Country(
        "ES",
        "EUR",
        "es",
        "34",
        9,
        5,
        0.10,
        0.92,
        (
            City("Madrid", "Madrid", "Europe/Madrid", "280", ("6", "71"), 2.0),
            City("Barcelona", "Cataluña", "Europe/Madrid", "080", ("6", "72"), 1.5),
            City("Sevilla", "Andalucía", "Europe/Madrid", "410", ("6", "73")),
            City("Las Palmas", "Canarias", "Atlantic/Canary", "350", ("6", "74"), 0.5),
        ),
    ),
    Country(
        "DE",
        "EUR",
        "de",
        "49",
        11,
        5,
        0.10,
        0.92,
        (
            City("Berlin", "Berlin", "Europe/Berlin", "10", ("151", "160", "170"), 2.0),
            City("Hamburg", "Hamburg", "Europe/Berlin", "20", ("171", "172")),
            City("München", "Bayern", "Europe/Berlin", "80", ("175", "176"), 1.5),
        ),
    ),
    Country(
        "FR",
        "EUR",
        "fr",
        "33",
        9,
        5,
        0.08,
        0.92,
        (
            City("Paris", "Île-de-France", "Europe/Paris", "750", ("60", "61", "62", "77"), 3.0),
            City("Lyon", "Auvergne-Rhône-Alpes", "Europe/Paris", "690", ("64", "65", "76")),
            City("Marseille", "Provence-Alpes-Côte d'Azur", "Europe/Paris", "130", ("66", "67")),
        ),
    ),
    Country(
        "GB",
        "GBP",
        "en",
        "44",
        10,
        0,
        0.10,
        0.79,
        (
            City("London", "England", "Europe/London", "SW1", ("771", "772", "773"), 3.0),
            City("Manchester", "England", "Europe/London", "M1", ("774", "775")),
            City("Edinburgh", "Scotland", "Europe/London", "EH1", ("776", "777")),
        ),
    ),
)


def usd_values() -> dict[str, str]:
    """What one unit of each demo currency is worth in US dollars, from :attr:`Country.usd_rate`
    (6 significant digits): the demo workspace's ``[rates]``, to rank across currencies."""
    values: dict[str, str] = {}
    for country in COUNTRIES:
        values.setdefault(country.currency, f"{1 / country.usd_rate:.6g}")
    return dict(sorted(values.items()))
