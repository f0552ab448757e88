"""The pages' words in English and Spanish, and which language a request gets: the browser's
``Accept-Language`` when it names one of them, else the workspace's ``locale``, else English."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_decimal

LANGUAGES = ("en", "es")

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "skip": "Skip to the content",
        "app": "arrears",
        "worklist": "My worklist",
        "logout": "Log out",
        "signed_in_as": "Signed in as",
        "login_title": "Log in",
        "username": "Username",
        "password": "Password",
        "login_button": "Log in",
        "wrong": "Wrong username or password.",
        "too_many": "Too many wrong passwords: try again in {minutes} minutes.",
        "no_secret": "This server has no channels.secret: logging in is disabled until it is set "
        "(arrears init writes one to secrets.toml).",
        "csrf": "This form is out of date or did not come from this site (its security token is "
        "missing or wrong). Nothing was changed: reload the page and try again.",
        "forbidden": "Your role may not do this. Nothing was changed.",
        "not_found": "Not found.",
        "too_large": "The form is too large.",
        "error_title": "Cannot do that",
        "back": "Back to the worklist",
        "worklist_empty": "No open call tasks: the cycle creates them.",
        "priority": "Priority",
        "debtor": "Debtor",
        "name": "Name",
        "stage": "Stage",
        "days_past_due": "Days past due",
        "overdue": "Overdue",
        "reason": "Reason",
        "call_step": "call ({step}) in stage {stage}",
        "not_before": "not before {time}",
        "flags": "flags: {flags}",
        "account": "Account",
        "kind": "Kind",
        "country": "Country",
        "language": "Language",
        "currency": "Currency",
        "do_not_contact": "Do not contact",
        "yes": "yes",
        "no": "no",
        "why": "What the cycle does and why (on {day}, policy {policy})",
        "nothing_open": "Nothing open and no case: the cycle does nothing.",
        "segment": "Segment",
        "rule": "rule",
        "case": "Case",
        "opened_on": "opened on",
        "awaiting_approval": "Awaiting approval for",
        "paused": "Paused by",
        "until": "until",
        "score": "Score",
        "steps": "Steps",
        "step": "Step",
        "action": "Action",
        "channel": "Channel",
        "due_on": "Due on",
        "status": "Status",
        "activity": "Recent activity",
        "when": "When",
        "what": "What",
        "who": "Who",
        "details": "Details",
        "no_activity": "Nothing recorded yet.",
        "promise_title": "Record a promise to pay",
        "amount": "Amount",
        "amount_hint": "e.g. 250.00",
        "currency_hint": "blank: the debtor's ({currency})",
        "promise_due": "Promised by",
        "grace": "Days of grace",
        "note": "Note (what was said)",
        "promise_button": "Record the promise",
        "promised": "Promise {id} recorded: it is in the activity below.",
        "problems": "The promise was not recorded:",
        "read_only": "Your role ({role}) only reads accounts.",
        "where": "where",
    },
    "es": {
        "skip": "Ir al contenido",
        "app": "arrears",
        "worklist": "Mi lista de trabajo",
        "logout": "Cerrar sesión",
        "signed_in_as": "Sesión de",
        "login_title": "Iniciar sesión",
        "username": "Usuario",
        "password": "Contraseña",
        "login_button": "Entrar",
        "wrong": "Usuario o contraseña incorrectos.",
        "too_many": "Demasiadas contraseñas incorrectas: inténtelo de nuevo en {minutes} minutos.",
        "no_secret": "Este servidor no tiene channels.secret: no se puede iniciar sesión hasta "
        "que se configure (arrears init escribe uno en secrets.toml).",
        "csrf": "Este formulario está desactualizado o no viene de este sitio (falta su código de "
        "seguridad o es incorrecto). No se cambió nada: recargue la página e inténtelo de nuevo.",
        "forbidden": "Su rol no permite hacer esto. No se cambió nada.",
        "not_found": "No encontrado.",
        "too_large": "El formulario es demasiado grande.",
        "error_title": "No se puede hacer",
        "back": "Volver a la lista de trabajo",
        "worklist_empty": "No hay llamadas pendientes: el ciclo las crea.",
        "priority": "Prioridad",
        "debtor": "Deudor",
        "name": "Nombre",
        "stage": "Etapa",
        "days_past_due": "Días de mora",
        "overdue": "Vencido",
        "reason": "Motivo",
        "call_step": "llamar ({step}) en la etapa {stage}",
        "not_before": "no antes de {time}",
        "flags": "marcas: {flags}",
        "account": "Cuenta",
        "kind": "Tipo",
        "country": "País",
        "language": "Idioma",
        "currency": "Moneda",
        "do_not_contact": "No contactar",
        "yes": "sí",
        "no": "no",
        "why": "Qué hace el ciclo y por qué (el {day}, política {policy})",
        "nothing_open": "Nada abierto y sin caso: el ciclo no hace nada.",
        "segment": "Segmento",
        "rule": "regla",
        "case": "Caso",
        "opened_on": "abierto el",
        "awaiting_approval": "Espera aprobación para",
        "paused": "En pausa por",
        "until": "hasta",
        "score": "Puntaje",
        "steps": "Pasos",
        "step": "Paso",
        "action": "Acción",
        "channel": "Canal",
        "due_on": "Vence el",
        "status": "Estado",
        "activity": "Actividad reciente",
        "when": "Cuándo",
        "what": "Qué",
        "who": "Quién",
        "details": "Detalles",
        "no_activity": "Nada registrado todavía.",
        "promise_title": "Registrar una promesa de pago",
        "amount": "Monto",
        "amount_hint": "p. ej. 250.00",
        "currency_hint": "en blanco: la del deudor ({currency})",
        "promise_due": "Pagará a más tardar el",
        "grace": "Días de gracia",
        "note": "Nota (lo que se dijo)",
        "promise_button": "Registrar la promesa",
        "promised": "Promesa {id} registrada: aparece en la actividad de abajo.",
        "problems": "No se registró la promesa:",
        "read_only": "Su rol ({role}) solo consulta cuentas.",
        "where": "dónde",
    },
}


def choose(accept_language: str, workspace_locale: str) -> str:
    """The language of a page: the first of ours the browser prefers (by ``q``), else the
    workspace locale's, else English."""
    wanted: list[tuple[float, int, str]] = []
    for i, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        code = tag.strip().lower()[:2]
        if code in LANGUAGES and q > 0:
            wanted.append((-q, i, code))
    if wanted:
        return min(wanted)[2]
    own = workspace_locale.lower()[:2]
    return own if own in LANGUAGES else "en"


def amount(value: Decimal, currency: str, language: str) -> str:
    """``1,234.50 USD`` / ``1.234,50 USD``: the amount in the page's language, with its code."""
    locale = "es_ES" if language == "es" else "en_US"
    return f"{format_decimal(value, format='#,##0.00####', locale=locale)} {currency}"
