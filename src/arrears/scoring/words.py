"""A score's reasons in a collector's words: "usually pays 20 days late", "owes 3 invoices past
due, the oldest 75 days", "paid 4 of its 10 invoices late this year", never a feature's name.

:func:`reason` turns one feature of one debtor, and how much it moves the score
(:func:`arrears.scoring.model.reasons`), into a phrase; each debtor's row of features gives the
phrase its context (the number of invoices settled this year for a late rate, the oldest
invoice for a count of past-due invoices). English and Spanish (``lang="es"``), as collectors
read them. Amounts are not spelt out (the features hold no currency): a balance or a limit is
said against the typical debtor's (the training median).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

Row = Mapping[str, float | None]
Phrase = Callable[[float, Row, float | None], str]


def _n(value: float | None) -> int:
    return 0 if value is None or math.isnan(value) else round(value)


def _pct(value: float) -> int:
    return round(100 * value)


def _vs(value: float, typical: float | None, more: str, less: str) -> str:
    return more if typical is None or value > typical else less


def _plural(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


# (English, Spanish) for each feature: value, the debtor's row, the typical (median) value
_PHRASES: dict[str, tuple[Phrase, Phrase]] = {
    "log_open": (
        lambda v, _r, t: _vs(v, t, "owes more than most debtors", "owes less than most debtors"),
        lambda v, _r, t: _vs(
            v, t, "debe más que la mayoría de los deudores", "debe menos que la mayoría"
        ),
    ),
    "log_overdue": (
        lambda v, _r, t: (
            "owes nothing past due"
            if v == 0
            else _vs(v, t, "owes more past due than most debtors", "owes little past due")
        ),
        lambda v, _r, t: (
            "no debe nada vencido"
            if v == 0
            else _vs(v, t, "tiene más deuda vencida que la mayoría", "tiene poca deuda vencida")
        ),
    ),
    "overdue_share": (
        lambda v, _r, _t: f"{_pct(v)} % of what it owes is past due",
        lambda v, _r, _t: f"el {_pct(v)} % de lo que debe está vencido",
    ),
    "open_invoices": (
        lambda v, _r, _t: f"owes {_n(v)} {_plural(_n(v), 'invoice', 'invoices')}",
        lambda v, _r, _t: f"debe {_n(v)} {_plural(_n(v), 'factura', 'facturas')}",
    ),
    "overdue_invoices": (
        lambda v, r, _t: (
            "has no invoice past due"
            if _n(v) == 0
            else f"owes {_n(v)} {_plural(_n(v), 'invoice', 'invoices')} past due, "
            f"the oldest {_n(r.get('days_past_due'))} days"
        ),
        lambda v, r, _t: (
            "no tiene facturas vencidas"
            if _n(v) == 0
            else f"debe {_n(v)} {_plural(_n(v), 'factura vencida', 'facturas vencidas')}, "
            f"la más antigua de hace {_n(r.get('days_past_due'))} días"
        ),
    ),
    "days_past_due": (
        lambda v, _r, _t: (
            "has nothing past due"
            if _n(v) == 0
            else f"its oldest unpaid invoice is {_n(v)} days past due"
        ),
        lambda v, _r, _t: (
            "no tiene nada vencido"
            if _n(v) == 0
            else f"su factura impagada más antigua venció hace {_n(v)} días"
        ),
    ),
    "max_days_overdue_mean": (
        lambda v, _r, _t: (
            "has nothing past due"
            if _n(v) == 0
            else f"its past-due invoices are {_n(v)} days late on average"
        ),
        lambda v, _r, _t: (
            "no tiene nada vencido"
            if _n(v) == 0
            else f"sus facturas vencidas llevan {_n(v)} días de retraso de media"
        ),
    ),
    "disputed_open": (
        lambda v, _r, _t: "disputes an open invoice" if v else "disputes none of its invoices",
        lambda v, _r, _t: "tiene una factura en disputa" if v else "no disputa ninguna factura",
    ),
    "settled_365d": (
        lambda v, _r, _t: (
            "has paid no invoice this year"
            if _n(v) == 0
            else f"paid {_n(v)} {_plural(_n(v), 'invoice', 'invoices')} this year"
        ),
        lambda v, _r, _t: (
            "no ha pagado ninguna factura este año"
            if _n(v) == 0
            else f"pagó {_n(v)} {_plural(_n(v), 'factura', 'facturas')} este año"
        ),
    ),
    "late_rate_365d": (
        lambda v, r, _t: (
            f"paid {round(v * _n(r.get('settled_365d')))} of its "
            f"{_n(r.get('settled_365d'))} invoices this year late"
        ),
        lambda v, r, _t: (
            f"pagó tarde {round(v * _n(r.get('settled_365d')))} de sus "
            f"{_n(r.get('settled_365d'))} facturas de este año"
        ),
    ),
    "late_rate_90d": (
        lambda v, _r, _t: f"paid {_pct(v)} % of its invoices late in the last 90 days",
        lambda v, _r, _t: f"pagó tarde el {_pct(v)} % de sus facturas en los últimos 90 días",
    ),
    "avg_days_late_365d": (
        lambda v, _r, _t: (
            "usually pays on time"
            if _n(v) == 0
            else f"usually pays {_n(v)} {_plural(_n(v), 'day', 'days')} late"
        ),
        lambda v, _r, _t: (
            "suele pagar a tiempo"
            if _n(v) == 0
            else f"suele pagar con {_n(v)} {_plural(_n(v), 'día', 'días')} de retraso"
        ),
    ),
    "avg_days_late_90d": (
        lambda v, _r, _t: (
            "paid on time in the last 90 days"
            if _n(v) == 0
            else f"paid {_n(v)} days late on average in the last 90 days"
        ),
        lambda v, _r, _t: (
            "pagó a tiempo en los últimos 90 días"
            if _n(v) == 0
            else f"pagó con {_n(v)} días de retraso de media en los últimos 90 días"
        ),
    ),
    "avg_days_to_settle": (
        lambda v, _r, _t: f"takes {_n(v)} days on average to pay an invoice",
        lambda v, _r, _t: f"tarda {_n(v)} días de media en pagar una factura",
    ),
    "days_since_settlement": (
        lambda v, _r, _t: f"last paid an invoice {_n(v)} days ago",
        lambda v, _r, _t: f"pagó su última factura hace {_n(v)} días",
    ),
    "tenure_days": (
        lambda v, _r, _t: f"first invoiced {_n(v)} days ago",
        lambda v, _r, _t: f"primera factura hace {_n(v)} días",
    ),
    "issued_90d": (
        lambda v, _r, _t: f"was invoiced {_n(v)} times in the last 90 days",
        lambda v, _r, _t: f"recibió {_n(v)} facturas en los últimos 90 días",
    ),
    "disputed_share_365d": (
        lambda v, _r, _t: (
            "disputed none of the invoices it paid this year"
            if v == 0
            else f"disputed {_pct(v)} % of the invoices it paid this year"
        ),
        lambda v, _r, _t: (
            "no disputó ninguna de las facturas pagadas este año"
            if v == 0
            else f"disputó el {_pct(v)} % de las facturas pagadas este año"
        ),
    ),
    "avg_days_to_settle_undisputed": (
        lambda v, _r, _t: f"takes {_n(v)} days on average to pay an undisputed invoice",
        lambda v, _r, _t: f"tarda {_n(v)} días de media en pagar una factura sin disputa",
    ),
    "paid_share_90d": (
        lambda v, _r, _t: f"paid {_pct(v)} % of what fell due in the last 90 days",
        lambda v, _r, _t: f"pagó el {_pct(v)} % de lo que venció en los últimos 90 días",
    ),
    "log_credit_limit": (
        lambda v, _r, t: _vs(
            v, t, "has a higher credit limit than most", "has a lower credit limit than most"
        ),
        lambda v, _r, t: _vs(
            v, t, "tiene un límite de crédito mayor que la mayoría", "tiene un límite menor"
        ),
    ),
    "utilisation": (
        lambda v, _r, _t: f"uses {_pct(v)} % of its credit limit",
        lambda v, _r, _t: f"usa el {_pct(v)} % de su límite de crédito",
    ),
    "promises_made_12m": (
        lambda v, _r, _t: (
            "made no promise to pay this year"
            if _n(v) == 0
            else f"made {_n(v)} {_plural(_n(v), 'promise', 'promises')} to pay this year"
        ),
        lambda v, _r, _t: (
            "no hizo ninguna promesa de pago este año"
            if _n(v) == 0
            else f"hizo {_n(v)} {_plural(_n(v), 'promesa', 'promesas')} de pago este año"
        ),
    ),
    "promises_broken_12m": (
        lambda v, _r, _t: (
            "has broken no promise this year"
            if _n(v) == 0
            else f"has broken {_n(v)} {_plural(_n(v), 'promise', 'promises')} this year"
        ),
        lambda v, _r, _t: (
            "no ha incumplido ninguna promesa este año"
            if _n(v) == 0
            else f"ha incumplido {_n(v)} {_plural(_n(v), 'promesa', 'promesas')} este año"
        ),
    ),
    "promise_kept_rate": (
        lambda v, _r, _t: f"kept {_pct(v)} % of its promises this year",
        lambda v, _r, _t: f"cumplió el {_pct(v)} % de sus promesas este año",
    ),
    "disputes_12m": (
        lambda v, _r, _t: (
            "has opened no dispute this year"
            if _n(v) == 0
            else f"has opened {_n(v)} {_plural(_n(v), 'dispute', 'disputes')} this year"
        ),
        lambda v, _r, _t: (
            "no ha abierto ninguna disputa este año"
            if _n(v) == 0
            else f"ha abierto {_n(v)} {_plural(_n(v), 'disputa', 'disputas')} este año"
        ),
    ),
}

#: What a missing value means, per feature (a debtor with no payment this year has no late rate).
_UNKNOWN: dict[str, tuple[str, str]] = {
    "late_rate_365d": ("has no paid invoice this year", "no tiene facturas pagadas este año"),
    "late_rate_90d": (
        "has paid no invoice in the last 90 days",
        "no ha pagado ninguna factura en los últimos 90 días",
    ),
    "avg_days_late_365d": ("has no paid invoice this year", "no tiene facturas pagadas este año"),
    "avg_days_late_90d": (
        "has paid no invoice in the last 90 days",
        "no ha pagado ninguna factura en los últimos 90 días",
    ),
    "paid_share_90d": (
        "had nothing falling due in the last 90 days",
        "no tuvo vencimientos en los últimos 90 días",
    ),
    "log_credit_limit": ("has no credit limit on file", "no tiene límite de crédito registrado"),
    "utilisation": ("has no credit limit on file", "no tiene límite de crédito registrado"),
    "promise_kept_rate": (
        "has no promise to pay judged this year",
        "no tiene promesas de pago vencidas este año",
    ),
}
_NO_HISTORY = ("has no payment history", "no tiene historial de pagos")

LANGUAGES = ("en", "es")

#: The features a phrase reads beside its own (a late rate says "of its N invoices").
CONTEXT = ("days_past_due", "settled_365d")
#: Which phrase reads which of :data:`CONTEXT` (every other phrase reads its own value only).
READS: dict[str, str] = {"overdue_invoices": "days_past_due", "late_rate_365d": "settled_365d"}

#: The effect on the score, appended to each phrase.
EFFECT = {
    "en": ("raises the score", "lowers the score"),
    "es": ("sube la puntuación", "baja la puntuación"),
}


def phrase(name: str, row: Row, typical: float | None = None, lang: str = "en") -> str:
    """The feature ``name`` of the debtor whose features are ``row``, in words."""
    which = LANGUAGES.index(lang)
    value = row.get(name)
    if value is None or math.isnan(value):
        return _UNKNOWN.get(name, _NO_HISTORY)[which]
    found = _PHRASES.get(name)
    if found is None:  # a feature without words yet: its name, never a crash
        return f"{name.replace('_', ' ')} {value:g}"
    return found[which](value, row, typical)


def reason(
    name: str, row: Row, delta: float, typical: float | None = None, lang: str = "en"
) -> str:
    """``phrase`` with its effect: ``usually pays 20 days late (lowers the score by 0.21)``."""
    up, down = EFFECT[lang]
    effect = up if delta > 0 else down
    joiner = "by" if lang == "en" else "en"
    return f"{phrase(name, row, typical, lang)} ({effect} {joiner} {abs(delta):.2f})"


def has_words(name: str) -> bool:
    """Whether ``name`` is said in words (every feature the score learns from is)."""
    return name in _PHRASES
