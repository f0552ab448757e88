"""The manager's dashboard (docs/kpi.md, "The manager's dashboard"): ``/dashboard`` and the
accounts behind an aging bucket, ``/dashboard/accounts``.

The figures are :func:`arrears.services.insight.dashboard.dashboard`'s (the same as ``arrears kpi``,
``arrears aging --by bucket`` and ``arrears forecast``); this module parses the filters
(portfolio, one currency at the workspace's rates, the period), calls the service and draws the
charts as inline SVG on the server: no script, no CDN, nothing fetched. Managers,
administrators and auditors see it; a collector gets 403. English and Spanish.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import polars as pl
from babel.numbers import format_decimal
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape

from arrears.domain.money import from_minor, is_currency
from arrears.kpi.aging import CURRENT, bucket_labels
from arrears.kpi.roll import SETTLED, WRITTEN_OFF
from arrears.services.insight import dashboard as service
from arrears.services.insight.kpi import parse_costs
from arrears.web import i18n
from arrears.web.pages import PageError, Visit, _call, _today, _visit

router = APIRouter(include_in_schema=False)

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Dashboard",
        "intro": "Portfolio {portfolio}, {start} to {end}; aging on {end}; forecast from {end}.",
        "filters": "Filters",
        "portfolio": "Portfolio",
        "in": "Amounts in",
        "each": "each currency apart",
        "from": "From",
        "to": "To",
        "show": "Show",
        "problems": "The filters were not applied:",
        "headline": "Headline figures",
        "measure": "Measure",
        "aging": "Aging on {day}",
        "aging_hint": "Each bar and row opens the accounts behind it.",
        "bucket": "Bucket",
        "amount": "Amount",
        "share": "Share",
        "count": "Instalments",
        "roll": "Roll rates, {start} to {end} (% of each bucket's balance)",
        "roll_from": "From",
        "balance": "Balance",
        "forecast": "Cash forecast: expected collections per week",
        "forecast_by": "Forecast by {method}.",
        "week": "Week",
        "promised": "Promised",
        "agreed": "Plans, settlements",
        "invoiced": "Open invoices",
        "new": "New invoices",
        "expected": "Expected",
        "total": "Total",
        "nothing": "Nothing to show for this period.",
        "accounts": "Accounts in bucket {bucket} on {day}",
        "accounts_none": "No account owes anything in this bucket.",
        "debtor": "Debtor",
        "in_bucket": "In the bucket",
        "open": "Open",
        "oldest": "Oldest days past due",
        "back": "Back to the dashboard",
        "worklist": "Worklist",
        "collected": "Collected",
        "closing": "Receivables at end",
        "closing_past_due": "Past due at end",
        "dso": "DSO, days",
        "countback_dso": "Countback DSO, days",
        "average_days_delinquent": "Average days delinquent",
        "cei": "CEI %",
        "bad_debt_ratio": "Bad-debt ratio %",
        "cure_rate": "Cure rate %",
        "promise_kept_rate": "Promises kept %",
        "recovery_stage": "Recovery by the stage of the debtor's case at the start",
        "recovery_agency": "Recovery by the agency the case was placed with at the start",
        "recovery_collector": "Recovery by the collector who worked the account (the last"
        " call logged from 30 days before the start to the end)",
        "collector": "Collector",
        "right_party_contact_rate": "Right-party contacts % of calls",
        "plan_completion_rate": "Payment plans completed %",
        "settlement_acceptance_rate": "Settlement offers accepted %",
        "cost_to_collect": "Cost to collect %",
        "stage": "Stage",
        "agency": "Agency",
        "currency": "Currency",
        "opening": "Receivables at start",
        "sales": "Credit sales",
        "recovery": "Recovery %",
        "recovery_hint": "Recovery = collected / (receivables at start + credit sales).",
        "promises_judged": "Promises judged",
        SETTLED: "settled",
        WRITTEN_OFF: "written off",
        "bad_date": "{value!r} is not a date (YYYY-MM-DD)",
        "bad_period": "the period ends before it starts",
        "bad_in": "{value!r}: choose one of the workspace's rated currencies ({rated})",
    },
    "es": {
        "title": "Panel",
        "intro": "Cartera {portfolio}, del {start} al {end}; antigüedad al {end}; previsión"
        " desde el {end}.",
        "filters": "Filtros",
        "portfolio": "Cartera",
        "in": "Importes en",
        "each": "cada moneda por separado",
        "from": "Desde",
        "to": "Hasta",
        "show": "Mostrar",
        "problems": "No se aplicaron los filtros:",
        "headline": "Cifras principales",
        "measure": "Medida",
        "aging": "Antigüedad de saldos al {day}",
        "aging_hint": "Cada barra y fila abre las cuentas que la componen.",
        "bucket": "Tramo",
        "amount": "Importe",
        "share": "Parte",
        "count": "Cuotas",
        "roll": "Tasas de traspaso, del {start} al {end} (% del saldo de cada tramo)",
        "roll_from": "Desde",
        "balance": "Saldo",
        "forecast": "Previsión de caja: cobros esperados por semana",
        "forecast_by": "Previsión por {method}.",
        "week": "Semana",
        "promised": "Prometido",
        "agreed": "Planes, acuerdos",
        "invoiced": "Facturas abiertas",
        "new": "Facturas nuevas",
        "expected": "Esperado",
        "total": "Total",
        "nothing": "Nada que mostrar en este periodo.",
        "accounts": "Cuentas en el tramo {bucket} al {day}",
        "accounts_none": "Ninguna cuenta debe nada en este tramo.",
        "debtor": "Deudor",
        "in_bucket": "En el tramo",
        "open": "Abierto",
        "oldest": "Mayor mora en días",
        "back": "Volver al panel",
        "worklist": "Lista de trabajo",
        "collected": "Cobrado",
        "closing": "Cartera al cierre",
        "closing_past_due": "Vencido al cierre",
        "dso": "DSO, días",
        "countback_dso": "DSO por recuento, días",
        "average_days_delinquent": "Días medios de mora",
        "cei": "CEI %",
        "bad_debt_ratio": "Incobrables %",
        "cure_rate": "Tasa de cura %",
        "promise_kept_rate": "Promesas cumplidas %",
        "recovery_stage": "Recuperación según la etapa del caso del deudor al inicio",
        "recovery_agency": "Recuperación según la agencia asignada al inicio",
        "recovery_collector": "Recuperación según el gestor que trabajó la cuenta (la última"
        " llamada registrada desde 30 días antes del inicio hasta el cierre)",
        "collector": "Gestor",
        "right_party_contact_rate": "Contacto con el titular % de llamadas",
        "plan_completion_rate": "Planes de pago completados %",
        "settlement_acceptance_rate": "Ofertas de quita aceptadas %",
        "cost_to_collect": "Costo de cobro %",
        "stage": "Etapa",
        "agency": "Agencia",
        "currency": "Moneda",
        "opening": "Cartera al inicio",
        "sales": "Ventas a crédito",
        "recovery": "Recuperación %",
        "recovery_hint": "Recuperación = cobrado / (cartera al inicio + ventas a crédito).",
        "promises_judged": "Promesas evaluadas",
        SETTLED: "saldado",
        WRITTEN_OFF: "castigado",
        "bad_date": "{value!r} no es una fecha (AAAA-MM-DD)",
        "bad_period": "el periodo termina antes de empezar",
        "bad_in": "{value!r}: elija una de las monedas con tipo de cambio ({rated})",
    },
}

#: The headline rows: (column of the KPIs' headline, how it is shown).
HEADLINE: tuple[tuple[str, str], ...] = (
    ("collected", "amount"),
    ("closing", "amount"),
    ("closing_past_due", "amount"),
    ("dso", "days"),
    ("countback_dso", "days"),
    ("average_days_delinquent", "days"),
    ("cei", "percent"),
    ("bad_debt_ratio", "ratio"),
    ("cure_rate", "ratio"),
    ("promises_judged", "count"),
    ("promise_kept_rate", "ratio"),
    ("recovery", "ratio"),
    ("right_party_contact_rate", "ratio"),
    ("plan_completion_rate", "ratio"),
    ("settlement_acceptance_rate", "ratio"),
    ("cost_to_collect", "ratio"),
)
#: Colours of the charts (the pages' palette), by bucket position and forecast part.
BUCKET_FILL = ("#0a5c2c", "#6b8e23", "#c98f00", "#d2691e", "#a4000f", "#5c0008")
PART_FILL = {"promised": "#0a5c2c", "agreed": "#6b8e23", "invoiced": "#0b4f8a", "new": "#8aa9c8"}
PARTS = tuple(PART_FILL)


@dataclass(frozen=True, slots=True)
class Filters:
    portfolio: str
    start: date
    end: date
    in_currency: str | None

    def query(self, **more: str) -> str:
        values = {
            "portfolio": self.portfolio,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            **({"in": self.in_currency} if self.in_currency else {}),
            **more,
        }
        return urlencode(values)


def _words(visit: Visit) -> dict[str, str]:
    return WORDS[visit.language]


def _quarter_start(end: date) -> date:
    year, month = (end.year, end.month - 2) if end.month > 2 else (end.year - 1, end.month + 10)
    return date(year, month, 1)


def _filters(visit: Visit) -> tuple[Filters, list[dict[str, str]]]:
    """The filters of the query string, and every problem with them at once."""
    w, params, s = _words(visit), visit.request.query_params, visit.site
    problems: list[dict[str, str]] = []
    end = _today(s)
    start = _quarter_start(end)
    days: dict[str, date] = {}
    for name in ("to", "from"):
        text = params.get(name, "").strip()
        if text:
            try:
                days[name] = date.fromisoformat(text)
            except ValueError:
                problems.append({"where": name, "what": w["bad_date"].format(value=text)})
    end = days.get("to", end)
    start = days.get("from", _quarter_start(end) if "to" in days else start)
    if end < start:
        problems.append({"where": "from", "what": w["bad_period"]})
    rated = sorted(s.workspace.rates) if s.workspace is not None else []
    code = params.get("in", "").strip().upper() or None
    if code is not None and (not is_currency(code) or code not in rated):
        problems.append(
            {"where": "in", "what": w["bad_in"].format(value=code, rated=", ".join(rated) or "-")}
        )
        code = None
    portfolio = params.get("portfolio", "").strip() or s.portfolio
    return Filters(portfolio, start, end, code), problems


def _money(value: int, currency: str, language: str) -> str:
    return i18n.amount(from_minor(value, currency), currency, language)


def _number(value: object, how: str, language: str) -> str:
    if value is None:
        return "n/a"
    if how == "count":
        return str(value)
    assert isinstance(value, int | float)
    number = value * 100 if how == "ratio" else value
    locale = "es_ES" if language == "es" else "en_US"
    return format_decimal(Decimal(f"{number:.1f}"), format="#,##0.0", locale=locale)


# Charts ----------------------------------------------------------------------------------------


def bar_chart(
    bars: list[tuple[str, list[tuple[float, str]], str | None]],
    *,
    label: str,
    width: int = 640,
    height: int = 220,
) -> Markup:
    """Stacked vertical bars as inline SVG: each bar is (its label, its segments as (value,
    fill), a link or None); bars with a link are ``<a>`` elements. Nothing is fetched."""
    top = max((sum(v for v, _ in segs) for _, segs, _ in bars), default=0.0) or 1.0
    pad, base = 8, height - 28
    slot = (width - 2 * pad) / max(len(bars), 1)
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(label)}" viewBox="0 0 {width} '
        f'{height}" width="100%" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{pad}" y1="{base}" x2="{width - pad}" y2="{base}" stroke="#555"/>',
    ]
    for i, (name, segments, href) in enumerate(bars):
        x = pad + i * slot + slot * 0.15
        y = float(base)
        shapes = []
        for value, fill in segments:
            h = (base - 10) * value / top
            y -= h
            shapes.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" '
                f'fill="{escape(fill)}"><title>{escape(name)}</title></rect>'
            )
        text = (
            f'<text x="{x + slot * 0.35:.1f}" y="{height - 10}" text-anchor="middle" '
            f'font-size="12">{escape(name)}</text>'
        )
        body = "".join(shapes) + text
        parts.append(f'<a href="{escape(href)}">{body}</a>' if href else body)
    parts.append("</svg>")
    return Markup("".join(parts))  # every value above is escaped


# Pages -----------------------------------------------------------------------------------------


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(request: Request) -> HTMLResponse:
    visit = _visit(request)
    w, s = _words(visit), visit.site
    _require_role(visit)
    filters, problems = _filters(visit)
    context: dict[str, Any] = {"d": w, "f": filters, "problems": problems, "rated": []}
    if s.workspace is not None:
        context["rated"] = sorted(s.workspace.rates)
    if problems:
        return visit.render("dashboard.html", 422, view=None, **context)
    view = _call(
        visit,
        service.dashboard,
        s.uow(),
        visit.actor,
        portfolio=filters.portfolio,
        start=filters.start,
        end=filters.end,
        in_currency=filters.in_currency,
        rates=s.workspace.rates if s.workspace is not None else {},
        model=s.model(),
        costs=parse_costs(s.workspace.values) if s.workspace is not None else None,
    )
    return visit.render("dashboard.html", view=_present(view, filters, visit), **context)


def _require_role(visit: Visit) -> None:
    assert visit.user is not None
    if visit.user.role not in service.ROLES:
        raise PageError(403, "forbidden")


def _present(view: service.Dashboard, f: Filters, visit: Visit) -> dict[str, Any]:
    """The page's tables and charts from the service's frames."""
    w, lang = _words(visit), visit.language
    headline = view.kpis.headline
    currencies = headline["currency"].to_list()
    rows = []
    for name, how in HEADLINE:
        cells = [
            _money(v, c, lang) if how == "amount" and v is not None else _number(v, how, lang)
            for v, c in zip(headline[name], currencies, strict=True)
        ]
        rows.append({"label": w[name], "cells": cells})
    labels = bucket_labels(view.aging.edges)
    aging = []
    charts = []
    for (currency,), part in view.aging.rows.group_by(["currency"], maintain_order=True):
        c = str(currency)
        items = []
        for row in part.to_dicts():
            link = "/dashboard/accounts?" + f.query(
                bucket=row["bucket"], **({} if f.in_currency else {"currency": c})
            )
            items.append(
                {
                    "bucket": row["bucket"],
                    "count": row["count"],
                    "amount": _money(row["total"], c, lang),
                    "share": _number(row["share"], "ratio", lang),
                    "href": link,
                    "value": row["total"],
                }
            )
        bars = [
            (
                item["bucket"],
                [(float(item["value"]), BUCKET_FILL[labels.index(item["bucket"]) % 6])],
                item["href"],
            )
            for item in items
        ]
        chart = bar_chart(bars, label=w["aging"].format(day=view.end) + f" {c}")
        aging.append({"currency": c, "rows": items, "chart": chart})
        charts.append(chart)
    roll = _roll(view, w, lang)
    forecast = []
    for (currency,), part in view.forecast.rows.group_by(["currency"], maintain_order=True):
        c = str(currency)
        weeks = part.to_dicts()
        bars = [
            (
                str(r["week"]),
                [(float(r[p]), PART_FILL[p]) for p in PARTS],
                None,
            )
            for r in weeks
        ]
        forecast.append(
            {
                "currency": c,
                "chart": bar_chart(bars, label=w["forecast"] + f" {c}"),
                "rows": [
                    {
                        "week": r["week"],
                        "start": r["start"].isoformat(),
                        "end": r["end"].isoformat(),
                        **{p: _money(r[p], c, lang) for p in PARTS},
                        "expected": _money(r["expected"], c, lang),
                    }
                    for r in weeks
                ],
                "total": _money(int(part["expected"].sum()), c, lang),
            }
        )
    recovery = [
        {"title": w[f"recovery_{key}"], "group": w[key], "rows": _recovery(frame, key, lang)}
        for key, frame in (
            ("stage", view.by_stage),
            ("agency", view.by_agency),
            ("collector", view.by_collector),
        )
    ]
    return {
        "start": view.start,
        "end": view.end,
        "recovery": recovery,
        "currencies": currencies,
        "headline": rows,
        "aging": aging,
        "roll": roll,
        "forecast": forecast,
        "method": view.forecast.method,
        "fills": PART_FILL,
    }


def _roll(view: service.Dashboard, w: dict[str, str], lang: str) -> list[dict[str, Any]]:
    matrix = view.kpis.matrix
    targets = [*bucket_labels(view.kpis.edges), SETTLED, WRITTEN_OFF]
    out = []
    for (currency,), moves in matrix.group_by(["currency"], maintain_order=True):
        c = str(currency)
        froms = moves["from_bucket"].unique(maintain_order=True).to_list()
        used = [t for t in targets if t in set(moves["to_bucket"].to_list())]
        lines = []
        for source in froms:
            mine = moves.filter(pl.col("from_bucket") == source)
            rates = dict(zip(mine["to_bucket"], mine["rate"], strict=True))
            lines.append(
                {
                    "from": source,
                    "balance": _money(int(mine["amount"].sum()), c, lang),
                    "cells": [
                        "" if rates.get(t) is None else _number(rates[t], "ratio", lang)
                        for t in used
                    ],
                }
            )
        out.append({"currency": c, "targets": [w.get(t, t) for t in used], "lines": lines})
    return out


def _recovery(frame: pl.DataFrame, key: str, lang: str) -> list[dict[str, Any]]:
    rows = []
    for r in frame.sort(key, "currency").to_dicts():
        c = r["currency"]
        rows.append(
            {
                "group": r[key],
                "currency": c,
                **{n: _money(r[n], c, lang) for n in ("opening", "sales", "collected", "closing")},
                "recovery": _number(r["recovery"], "ratio", lang),
                "cure_rate": _number(r["cure_rate"], "ratio", lang),
            }
        )
    return rows


@router.get("/dashboard/accounts", response_class=HTMLResponse)
def bucket_accounts_page(request: Request) -> HTMLResponse:
    visit = _visit(request)
    w, s = _words(visit), visit.site
    _require_role(visit)
    filters, problems = _filters(visit)
    bucket = request.query_params.get("bucket", CURRENT)
    currency = request.query_params.get("currency", "").strip().upper() or None
    context: dict[str, Any] = {"d": w, "f": filters, "problems": problems}
    if problems:
        return visit.render("dashboard_accounts.html", 422, rows=[], bucket=bucket, **context)
    found = _call(
        visit,
        service.bucket_accounts,
        s.uow(),
        visit.actor,
        portfolio=filters.portfolio,
        as_of=filters.end,
        bucket=bucket,
        currency=currency,
        in_currency=filters.in_currency,
        rates=s.workspace.rates if s.workspace is not None else {},
    )
    lang = visit.language
    rows = [
        {
            "debtor": r["debtor_external_id"],
            "currency": r["currency"],
            "amount": _money(r["amount"], r["currency"], lang),
            "total": _money(r["total"], r["currency"], lang),
            "oldest": r["oldest_days_past_due"],
        }
        for r in found.rows.to_dicts()
    ]
    return visit.render("dashboard_accounts.html", rows=rows, bucket=bucket, **context)


__all__ = ["router"]
