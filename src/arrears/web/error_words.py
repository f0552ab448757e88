"""The JSON errors' words in the caller's language (``Accept-Language``: English or Spanish;
anything else gets English, the words of the use cases).

A problem's ``where`` is a field path and stays as it is; its ``what`` is said again in Spanish:
a request FastAPI cannot validate by the error's type (``missing``, ``greater_than``...), a use
case's error by the pattern of its message (an unknown debtor, a role that may not...), and any
other message of a use case after the name of its kind ("Conflicto: ..."), so a Spanish caller
always reads what happened in Spanish, and the details as the service said them."""

# ruff: noqa: E501 (the tables of words: one message a line)
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

#: The use cases' refusals a user can meet on a page or through the API (English template, ``{}``
#: where the service puts a value) -> their Spanish (``{0}``, ``{1}``... those values in order).
#: ``tests/test_refusal_words.py`` walks the services' messages and checks each has one.
REFUSALS_ES: dict[str, str] = {
    "--by-age: give at least one band, e.g. 0=15,180=25": "--by-age: indique al menos un tramo, p. ej. 0=15,180=25",
    "--by-age: {} is not a number of days (0 or more)": "--by-age: {0} no es un número de días (0 o más)",
    "--by-stage: give at least one stage, e.g. agency=20": "--by-stage: indique al menos una etapa, p. ej. agency=20",
    "--on {} is before it was placed ({})": "La fecha {0} es anterior a la asignación ({1})",
    "--recall-after is 1 to 3650 days": "--recall-after va de 1 a 3650 días",
    "a collector's name is 1 to {} characters without ':', not {}": "El nombre de un gestor tiene de 1 a {0} caracteres sin ':', no {1}",
    "a contact needs an outcome (no_answer, reached, promise...)": "Un contacto necesita un resultado (no_answer, reached, promise...)",
    "a credit hold needs a reason": "Un bloqueo de crédito necesita un motivo",
    "a discount of {} %: the policy allows at most {} %": "Un descuento del {0} %: la política permite como mucho el {1} %",
    "a down payment of {}: the policy asks at least {} % ({})": "Un pago inicial de {0}: la política pide al menos el {1} % ({2})",
    "a hold needs a reason": "Una pausa necesita un motivo",
    "a rejected dispute posts no credit note": "Una disputa rechazada no emite nota crédito",
    "a write-off needs a reason (--reason)": "Un castigo necesita un motivo",
    "a {} plan: the policy allows {}": "Un plan {0}: la política permite {1}",
    "agency {}: there is no such agency (arrears agency add)": "No existe la agencia {0}",
    "amount must be positive, not {}": "El monto debe ser positivo, no {0}",
    "an amount needs its date, and a date its amount": "Un monto necesita su fecha, y una fecha su monto",
    "at most {} characters": "Como mucho {0} caracteres",
    "at most {} dated amounts, not {}": "Como mucho {0} montos con fecha, no {1}",
    "cancelling a plan needs a reason": "Cancelar un plan necesita un motivo",
    "cannot approve on {}, before it was accepted ({})": "No se puede aprobar el {0}, antes de que se aceptara ({1})",
    "cannot cancel on {}, before it was accepted ({})": "No se puede cancelar el {0}, antes de que se aceptara ({1})",
    "cannot cancel on {}, before the promise was made ({})": "No se puede cancelar el {0}, antes de que se hiciera la promesa ({1})",
    "cannot close on {}, before the task was created ({})": "No se puede cerrar el {0}, antes de que se creara la tarea ({1})",
    "cannot read the file: {}": "No se puede leer el archivo: {0}",
    "cannot release on {}, before the hold starts ({})": "No se puede levantar el {0}, antes de que empiece la pausa ({1})",
    "cannot approve it: {}": "No se puede aprobar: {0}",
    "cannot accept it: {}": "No se puede aceptar: {0}",
    "it needs a manager's approval first (arrears settlement approve {})": "primero necesita la aprobación de un gerente (acuerdo {0})",
    "it needs no approval": "no necesita aprobación",
    "it is {}": "está {0}",
    "dispute {}: no attachment {}": "La disputa {0} no tiene el documento {1}",
    "dispute {}: no such dispute": "No existe la disputa {0}",
    "due date {} is before the day the promise was made ({})": "La fecha {0} es anterior al día de la promesa ({1})",
    "expiry in {} days: the policy allows at most {}": "Vence en {0} días: la política permite como mucho {1}",
    "give its name (--name)": "Indique su nombre (--name)",
    "give the commission: --commission RATE, --by-stage or --by-age": "Indique la comisión: --commission TASA, --by-stage o --by-age",
    "grace days must be between 0 and {}, not {}": "Los días de gracia van de 0 a {0}, no {1}",
    "instalments of {}: the policy's minimum instalment is {}": "Cuotas de {0}: la cuota mínima de la política es {1}",
    "invoice {} is already disputed (dispute {})": "La factura {0} ya está en disputa (disputa {1})",
    "invoice {} is in {}, not {}": "La factura {0} está en {1}, no en {2}",
    "invoice {} is not in the dispute": "La factura {0} no está en la disputa",
    "invoice {} is not {}'s": "La factura {0} no es de {1}",
    "invoice {} is paid: nothing to dispute": "La factura {0} está pagada: no hay nada que disputar",
    "it exists with other terms; agencies are not changed": "Ya existe con otras condiciones; las agencias no se cambian",
    "it expires on {}, before it is offered ({})": "Vence el {0}, antes de ofrecerse ({1})",
    "it is placed with {}: recall it first": "Está asignada a {0}: retírela primero",
    "it was posted by {} on {}": "Lo registró {0} el {1}",
    "it was refused by {} on {}": "Lo rechazó {0} el {1}",
    "missing column(s): {}; expected {}": "Faltan columnas: {0}; se esperan {1}",
    "name a credit for at least one invoice, or credit them in full": "Indique un crédito para al menos una factura, o acredítelas por completo",
    "name at least one invoice": "Indique al menos una factura",
    "name the stage to approve": "Indique la etapa que se aprueba",
    "nothing is open any more: refuse it instead": "Ya no queda nada abierto: recházelo",
    "nothing is owed in this currency: there is nothing to plan": "No se debe nada en esta moneda: no hay nada que planificar",
    "nothing of {} in {} was written off: record it with arrears payment add": "No se castigó nada de {0} en {1}: regístrelo como pago",
    "{} has plan {} in {} ({}): cancel it first (arrears payment-plan cancel {})": "{0} tiene el plan {1} en {2} ({3}): cancélelo primero (plan {4})",
    "plan {} is {}: it has ended already": "El plan {0} está {1}: ya terminó",
    "plan {} is {}: only a plan awaiting approval is": "El plan {0} está {1}: solo se aprueba un plan que espera aprobación",
    "promise an amount by a date, or several dated amounts": "Prometa un monto para una fecha, o varios montos con fecha",
    "say why it is recalled (--reason)": "Diga por qué se retira",
    "say why it is refused (--reason)": "Diga por qué se rechaza",
    "say why the invoice is disputed": "Diga por qué disputa la factura",
    "settlement {} in {} is {} until {}": "el acuerdo {0} en {1} está {2} hasta el {3}",
    "settlement {}: no such settlement": "No existe el acuerdo de quita {0}",
    "task {} is closed: only an open task is assigned": "La tarea {0} está cerrada: solo se asigna una tarea abierta",
    "the amount must be positive, not {}": "El monto debe ser positivo, no {0}",
    "the code is lower-case letters, digits, - or _ (the policy names it)": "El código lleva minúsculas, cifras, - o _ (la política lo nombra)",
    "the credit on {} ({}) is above its open amount ({})": "El crédito sobre {0} ({1}) supera su monto abierto ({2})",
    "the credit on {} must be more than zero": "El crédito sobre {0} debe ser mayor que cero",
    "the credit on {}: {}": "El crédito sobre {0}: {1}",
    "the discount must be a percentage, not {}": "El descuento debe ser un porcentaje, no {0}",
    "the discount must be more than 0 and less than 100 %, not {}": "El descuento debe ser mayor que 0 y menor que 100 %, no {0}",
    "the down payment must not be negative, not {}": "El pago inicial no puede ser negativo, no {0}",
    "the down payment {} covers the whole balance {}: take it as a payment, not a plan": "El pago inicial {0} cubre todo el saldo {1}: regístrelo como pago, no como plan",
    "the due date {} is before the day the dispute opens ({})": "La fecha límite {0} es anterior a la apertura de la disputa ({1})",
    "the first date is {} days away: the policy allows at most {}": "La primera fecha está a {0} días: la política permite como mucho {1}",
    "the first date {} is before the day of the quote {}": "La primera fecha {0} es anterior al día de la cotización {1}",
    "the hold must end after it starts ({}), not on {}": "La pausa debe terminar después de empezar ({0}), no el {1}",
    "the invoices are of several debtors or currencies: one dispute each": "Las facturas son de varios deudores o monedas: una disputa por cada uno",
    "the note has more than {} characters": "La nota tiene más de {0} caracteres",
    "the number of instalments must be 1 to 360, not {}": "El número de cuotas va de 1 a 360, no {0}",
    "the offer expired on {}": "La oferta venció el {0}",
    "the offer expired on {}: quote and accept a new plan": "La oferta venció el {0}: cotice y acepte un plan nuevo",
    "the promise of {} is more than {}'s open balance in {} ({}): a debtor promises at most what is owed": "La promesa de {0} supera el saldo abierto de {1} en {2} ({3}): se promete como mucho lo que se debe",
    "this invoice's dispute is handled in the ERP: no file can be added": "La disputa de esta factura se lleva en el ERP: no se puede añadir un archivo",
    "two amounts on {}: promise one amount a day": "Dos montos el {0}: prometa un monto por día",
    "unknown channel {}: one of {}": "Canal desconocido {0}: uno de {1}",
    "unknown currency {}": "Moneda desconocida: {0}",
    "unknown frequency {}: one of {}": "Frecuencia desconocida {0}: una de {1}",
    "write the note": "Escriba la nota",
    "write-off proposal {}: there is no such proposal": "No existe la propuesta de castigo {0}",
    "{} exceeds the open balance {} of {}": "{0} supera el saldo abierto {1} de {2}",
    "{} has nothing open to write off": "{0} no tiene nada abierto que castigar",
    "{} instalments: the policy allows at most {}": "{0} cuotas: la política permite como mucho {1}",
    "{} is before the offer ({})": "{0} es anterior a la oferta ({1})",
    "{} is not an ISO 4217 currency": "{0} no es una moneda ISO 4217",
    "{} is not placed with an agency in {}": "{0} no está asignado a una agencia en {1}",
    "{} may not promise for another debtor": "{0} no puede prometer por otro deudor",
    "{} may not {} of another debtor": "{0} no puede hacer esto con otro deudor ({1})",
    "{} owes nothing in {}": "{0} no debe nada en {1}",
    "{} owes nothing in {}: there is nothing to settle": "{0} no debe nada en {1}: no hay nada que saldar",
    "{}: no such dispute": "{0}: no existe esa disputa",
    "{}: resolved by someone else meanwhile": "{0}: otra persona la resolvió mientras tanto",
    "{}: {} proposed it; another person approves it": "{0}: lo propuso {1}; lo aprueba otra persona",
    "beyond what can be agreed here: {}": "Más allá de lo que se puede acordar aquí: {0}",
    "cannot {} it: {}": "No se puede ({0}): {1}",
}
#: What a refusal is about (the lead of ``"plan for D1: ..."``), in Spanish.
SOURCES_ES: dict[str, str] = {
    "plan for {}": "plan de {0}",
    "note on {}": "nota sobre {0}",
    "promises": "promesas",
    "worklist": "lista de trabajo",
    "plans": "planes",
    "settlements": "acuerdos",
    "offers": "ofertas",
    "disputes": "disputas",
    "dispute": "disputa",
    "dispute {}": "disputa {0}",
    "dispute of {}": "disputa de {0}",
    "plan {}": "plan {0}",
    "settlement {}": "acuerdo {0}",
    "settlement for {}": "acuerdo de {0}",
    "placement (or debtor)": "asignación (o deudor)",
}


def _compiled(table: Mapping[str, str]) -> list[tuple[re.Pattern[str], str]]:
    return [
        (re.compile("^" + "(.+?)".join(re.escape(part) for part in english.split("{}")) + "$"),
         spanish)
        for english, spanish in table.items()
    ]  # fmt: skip


_REFUSALS = _compiled(REFUSALS_ES)
_SOURCES = _compiled(SOURCES_ES)


def _matched(english: str, table: list[tuple[re.Pattern[str], str]]) -> str | None:
    """The first pattern's Spanish, its values said in Spanish too when they are messages."""
    for pattern, words in table:
        found = pattern.match(english)
        if found:
            return words.format(*(_inner(value) for value in found.groups()))
    return None


def _inner(value: str) -> str:
    said = spanish(value) if " " in value else None
    return value if said is None else said[:1].lower() + said[1:]


def spanish(english: str) -> str | None:
    """A use case's (or the web's own) message in Spanish, or ``None`` when it is not known:
    the web's own words, a pattern of :data:`MESSAGES_ES` or :data:`REFUSALS_ES`, or such a
    message after what it is about (``"plan for D1: ..."``, :data:`SOURCES_ES`)."""
    if english in OWN_ES:
        return OWN_ES[english]
    for pattern, say in MESSAGES_ES:
        found = pattern.match(english)
        if found:
            return say(found)
    at = english.find(": ")
    while at > 0:
        lead = _matched(english[:at], _SOURCES)
        rest = spanish(english[at + 2 :]) if lead is not None else None
        if lead is not None and rest is not None:
            return f"{lead[:1].upper()}{lead[1:]}: {rest}"
        at = english.find(": ", at + 2)
    return _matched(english, _REFUSALS)


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
    return spanish(english) or english


def message(english: str, status: int, lang: str) -> str:
    """A use case's (or the web's own) message for a caller speaking ``lang``."""
    if lang != "es":
        return english
    known = spanish(english)
    if known is not None:
        return known
    lead = KIND_ES.get(status)
    return f"{lead}: {english}" if lead else english
