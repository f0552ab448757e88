"""Small built-in name lists per language: people, companies, streets and email domains.

Lists are short on purpose: combined at random they give enough variety for a demo while
keeping the generator free of data files.
"""

from __future__ import annotations

import unicodedata
from typing import NamedTuple


class NameList(NamedTuple):
    first: tuple[str, ...]
    last: tuple[str, ...]
    streets: tuple[str, ...]
    street_number_first: bool
    """``12 Main Street`` (True) or ``Calle Mayor 12`` (False)."""


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _items(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split("|"))


NAMES: dict[str, NameList] = {
    "en": NameList(
        _words(
            "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William "
            "Susan Olivia Noah Emma Liam Amelia Oliver Sophie Harry Grace Jack Chloe George"
        ),
        _words(
            "Smith Johnson Williams Brown Jones Miller Davis Wilson Taylor Anderson Thomas "
            "Moore Clark Lewis Walker Hall Evans Wright Roberts Green Baker Cooper Hughes Turner"
        ),
        _items(
            "Main Street | Oak Avenue | Maple Drive | Park Road | High Street | Church Lane | "
            "Elm Street | Station Road | Lake Avenue | Cedar Court"
        ),
        True,
    ),
    "es": NameList(
        _words(
            "María José Juan Ana Luis Carmen Carlos Laura Andrés Lucía Jorge Sofía Miguel "
            "Valentina Alejandro Camila Diego Paula Javier Daniela Sebastián Mariana Fernando "
            "Isabel"
        ),
        _words(
            "García Rodríguez Martínez López González Hernández Pérez Sánchez Ramírez Torres "
            "Flores Gómez Díaz Moreno Muñoz Rojas Vargas Castro Ortiz Jiménez Ruiz Álvarez Peña "
            "Ríos"
        ),
        _items(
            "Calle Mayor | Avenida Libertador | Carrera 7 | Calle 45 | Avenida Reforma | "
            "Calle del Sol | Paseo de la Castellana | Avenida Bolívar | Calle Real | "
            "Avenida Insurgentes"
        ),
        False,
    ),
    "de": NameList(
        _words(
            "Lukas Anna Jonas Lea Felix Hannah Maximilian Lena Paul Marie Leon Sophie Jürgen "
            "Ursula Stefan Sabine"
        ),
        _words(
            "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer "
            "Koch Bauer Richter Klein Wolf"
        ),
        _items(
            "Hauptstraße | Bahnhofstraße | Gartenweg | Schulstraße | Lindenallee | Bergstraße | "
            "Kirchplatz | Goethestraße"
        ),
        False,
    ),
    "fr": NameList(
        _words(
            "Jean Marie Pierre Camille Louis Léa Hugo Chloé Jules Manon Gabriel Inès Thomas "
            "Élodie Nicolas Céline"
        ),
        _words(
            "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent "
            "Lefèvre Michel Garnier Faure"
        ),
        _items(
            "rue de la Paix | avenue Victor Hugo | boulevard Voltaire | rue Pasteur | "
            "rue des Écoles | place de la République | rue du Moulin | allée des Tilleuls"
        ),
        True,
    ),
}

#: Legal-form suffixes of company names per country.
COMPANY_SUFFIXES: dict[str, tuple[str, ...]] = {
    "US": ("Inc.", "LLC", "Corp."),
    "GB": ("Ltd", "PLC", "LLP"),
    "CO": ("S.A.S.", "S.A.", "Ltda."),
    "MX": ("S.A. de C.V.", "S. de R.L."),
    "ES": ("S.L.", "S.A."),
    "DE": ("GmbH", "AG", "KG"),
    "FR": ("SARL", "SAS", "SA"),
}

#: Words that join a surname into a company name (``Baker Logistics``).
COMPANY_WORDS: dict[str, tuple[str, ...]] = {
    "en": _words("Logistics Supplies Foods Builders Consulting Retail Labs"),
    "es": _words("Distribuciones Comercial Logística Construcciones Alimentos"),
    "de": _words("Logistik Handel Bau Technik Lebensmittel"),
    "fr": _words("Distribution Transports Bâtiment Conseil Alimentaire"),
}

PERSON_EMAIL_DOMAINS = _words("gmail.com outlook.com yahoo.com icloud.com proton.me")


def slug(text: str) -> str:
    """Lower-case ASCII letters and digits of ``text`` (``"Müller S.A."`` -> ``"mullersa"``)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed.lower() if ch.isascii() and ch.isalnum())
