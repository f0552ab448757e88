"""The JSON errors' words in the caller's language (``Accept-Language``: English or Spanish;
anything else gets English, the words of the use cases).

A problem's ``where`` is a field path and stays as it is; its ``what`` is said again in Spanish:
a request FastAPI cannot validate by the error's type (``missing``, ``greater_than``...), a use
case's error by the pattern of its message (an unknown debtor, a role that may not...), and any
other message of a use case after the name of its kind ("Conflicto: ..."), so a Spanish caller
always reads what happened in Spanish, and the details as the service said them."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from arrears.web.i18n import choose

#: A validation error's type -> its Spanish text (``{...}`` from the error's ``ctx``).
VALIDATION_ES: dict[str, str] = {
    "missing": "Falta este campo",
    "extra_forbidden": "Campo no admitido",
    "greater_than": "Debe ser mayor que {gt}",
    "greater_than_equal": "Debe ser mayor o igual que {ge}",
    "less_than": "Debe ser menor que {lt}",
    "less_than_equal": "Debe ser menor o igual que {le}",
    "string_too_short": "Debe tener al menos {min_length} caracteres",
    "string_too_long": "Debe tener como mucho {max_length} caracteres",
    "string_pattern_mismatch": "No tiene la forma esperada ({pattern})",
    "string_type": "Debe ser un texto",
    "int_parsing": "Debe ser un número entero",
    "int_type": "Debe ser un número entero",
    "int_from_float": "Debe ser un número entero",
    "decimal_parsing": 'Debe ser un número decimal (por ejemplo "125.50")',
    "decimal_type": 'Debe ser un número decimal (por ejemplo "125.50")',
    "bool_parsing": "Debe ser true o false",
    "bool_type": "Debe ser true o false",
    "date_parsing": "Debe ser una fecha AAAA-MM-DD",
    "date_from_datetime_parsing": "Debe ser una fecha AAAA-MM-DD",
    "date_type": "Debe ser una fecha AAAA-MM-DD",
    "datetime_parsing": "Debe ser una fecha y hora ISO 8601",
    "literal_error": "Debe ser uno de: {expected}",
    "enum": "Debe ser uno de: {expected}",
    "json_invalid": "El cuerpo no es JSON válido",
    "model_attributes_type": "Debe ser un objeto JSON",
    "dict_type": "Debe ser un objeto JSON",
    "list_type": "Debe ser una lista",
    "finite_number": "Debe ser un número finito",
    "decimal_max_places": "Como mucho {decimal_places} decimales",
    "decimal_max_digits": "Como mucho {max_digits} cifras",
}

#: A use case's message -> its Spanish text, by pattern (the first that matches).
MESSAGES_ES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"^unknown debtor (.+)$"), lambda g: f"Deudor desconocido: {g[1]}"),
    (
        re.compile(r"^(\S+) \((\w+)\) may not (.+)$"),
        lambda g: f"{g[1]} (rol {g[2]}) no tiene permiso para esto ({g[3]})",
    ),
    (re.compile(r"^no promise (\d+)$"), lambda g: f"No existe la promesa {g[1]}"),
    (re.compile(r"^plan (\d+): no such plan$"), lambda g: f"No existe el plan {g[1]}"),
    (
        re.compile(r"^settlement (\d+): no such settlement$"),
        lambda g: f"No existe el acuerdo de quita {g[1]}",
    ),
    # a file attached to a dispute (arrears.domain.disputes.attachment_problems)
    (re.compile(r"^the file is empty$"), lambda g: "El archivo está vacío"),
    (
        re.compile(r"^the file is (\d+) bytes: at most (\d+) bytes \(([\d.]+) MB\) are accepted$"),
        lambda g: (
            f"El archivo tiene {g[1]} bytes: se aceptan como mucho {g[2]} bytes "
            f"({g[3]} MB). No se guardó nada"
        ),
    ),
    (
        re.compile(r"^the file is not a PDF, JPEG or PNG \(by its content\)$"),
        lambda g: "El archivo no es un PDF, JPEG ni PNG (según su contenido). No se guardó nada",
    ),
    (
        re.compile(r"^the file's name does not end in (.+) as its content .*$"),
        lambda g: (
            f"El nombre del archivo no termina en {g[1].replace(' or ', ' o ')}, "
            "como dice su contenido"
        ),
    ),
    (
        re.compile(r"^the file's name is longer than (\d+) characters$"),
        lambda g: f"El nombre del archivo tiene más de {g[1]} caracteres",
    ),
]

#: What each error status is, in Spanish: the lead of a message without a pattern.
KIND_ES = {
    401: "No autenticado",
    403: "No permitido",
    404: "No encontrado",
    409: "Conflicto",
    413: "Demasiado grande",
    422: "Solicitud no válida",
    503: "No disponible",
}

#: The web's own messages, in Spanish.
OWN_ES = {
    "send Authorization: Bearer <token> (arrears token add NAME --role R makes one)": (
        "Envíe Authorization: Bearer <token> (arrears token add NOMBRE --role R crea uno)"
    ),
    "no valid API token: send Authorization: Bearer <token>": (
        "No hay un token de API válido: envíe Authorization: Bearer <token>"
    ),
}


def language(headers: Mapping[str, str]) -> str:
    """``es`` when the caller's ``Accept-Language`` prefers Spanish, else ``en``."""
    return choose(headers.get("accept-language", ""), "en")


def validation(error: Mapping[str, Any], lang: str) -> str:
    """The text of one validation error of pydantic in ``lang``."""
    english = str(error["msg"])
    if lang != "es":
        return english
    text = VALIDATION_ES.get(str(error.get("type", "")))
    if text is None:
        return f"{KIND_ES[422]}: {english}"
    try:
        return text.format(**{k: str(v) for k, v in (error.get("ctx") or {}).items()})
    except (KeyError, IndexError, ValueError):
        return text.split(" {", 1)[0].split("{", 1)[0].rstrip(": (")


def said(english: str, lang: str) -> str:
    """A use case's problem for a reader of ``lang``: in Spanish when its words are known (the
    web's own or a pattern of :data:`MESSAGES_ES`), else as the use case said it."""
    if lang != "es":
        return english
    if english in OWN_ES:
        return OWN_ES[english]
    for pattern, say in MESSAGES_ES:
        found = pattern.match(english)
        if found:
            return say(found)
    return english


def message(english: str, status: int, lang: str) -> str:
    """A use case's (or the web's own) message for a caller speaking ``lang``."""
    if lang != "es":
        return english
    if english in OWN_ES:
        return OWN_ES[english]
    for pattern, say in MESSAGES_ES:
        found = pattern.match(english)
        if found:
            return say(found)
    lead = KIND_ES.get(status)
    return f"{lead}: {english}" if lead else english
