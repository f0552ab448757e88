"""The monthly collections report: its aging trend, and the report itself as one self-contained
HTML page (inline CSS, charts drawn as inline SVG here; no script, no font or image fetched: it
opens without internet access), in English or Spanish.

Pure: frames and values in, text out. The figures come from :mod:`arrears.kpi.summary` and
:mod:`arrears.kpi.experiments` (assembled by ``arrears.services.insight.report``); every amount is
in
integer minor units of its currency and shown in the locale's format.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from html import escape

import polars as pl
from babel.numbers import format_decimal

from arrears.domain.money import exponent, from_minor
from arrears.kpi.aging import bucket_index, bucket_labels
from arrears.kpi.figures import open_on


def month_bounds(year: int, month: int) -> tuple[date, date]:
    """The first and last days of a calendar month."""
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def previous_month(first: date) -> tuple[date, date]:
    """The bounds of the month before the one starting on ``first``."""
    year, month = (first.year, first.month - 1) if first.month > 1 else (first.year - 1, 12)
    return month_bounds(year, month)


def aging_trend(
    instalments: pl.DataFrame,
    allocations: pl.DataFrame,
    days: Sequence[date],
    edges: Sequence[int],
) -> pl.DataFrame:
    """The receivables at the end of each of ``days`` by aging bucket of each instalment:
    ``day``, ``currency``, ``bucket`` (label), ``amount`` (minor units); every bucket of a
    currency on every day, zero when empty."""
    labels = bucket_labels(edges)
    frames = []
    for day in days:
        dpd = (pl.lit(day) - pl.col("due_date")).dt.total_days()
        frames.append(
            open_on(instalments, allocations, day)
            .filter(pl.col("open_minor") > 0)
            .with_columns(bucket_index(dpd, edges))
            .group_by("currency", "bucket")
            .agg(pl.col("open_minor").sum().alias("amount"))
            .with_columns(pl.lit(day).alias("day"))
            .collect()
        )
    found = pl.concat(frames) if frames else pl.DataFrame()
    currencies = sorted(set(found["currency"].to_list())) if not found.is_empty() else []
    grid = pl.DataFrame(
        [(day, currency, i) for day in days for currency in currencies for i in range(len(labels))],
        schema={"day": pl.Date(), "currency": pl.String(), "bucket": pl.Int32()},
        orient="row",
    )
    if found.is_empty():
        return grid.with_columns(
            pl.lit("").alias("label"), pl.lit(0, pl.Int64()).alias("amount")
        ).select("day", "currency", pl.col("label").alias("bucket"), "amount")
    joined = grid.join(
        found.select("day", "currency", pl.col("bucket").cast(pl.Int32()), "amount"),
        on=["day", "currency", "bucket"],
        how="left",
    )
    names = dict(enumerate(labels))
    return joined.select(
        "day",
        "currency",
        pl.col("bucket").replace_strict(names, return_dtype=pl.String()),
        pl.col("amount").fill_null(0).cast(pl.Int64()),
    ).sort("currency", "day")


#: The report's words, by language.
TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Collections report",
        "period": "{portfolio}, {start} to {end}, against {pstart} to {pend}",
        "headline": "Headline figures",
        "measure": "measure",
        "this_month": "this month",
        "last_month": "previous month",
        "change": "change",
        "dso": "DSO, days",
        "cei": "CEI %",
        "closing_past_due": "overdue",
        "collected": "collected",
        "cure_rate": "cure rate %",
        "aging": "Aging trend (receivables at each month end)",
        "roll": "Roll matrix (% of each bucket's balance at the start of the month)",
        "from": "from",
        "balance": "balance",
        "segments": "Recovery by segment (recovery: collected / (receivables at start + credit"
        " sales))",
        "segment": "segment",
        "sales": "credit sales",
        "closing": "receivables at end",
        "recovery_rate": "recovery %",
        "channels": "Messages by channel (sent this month)",
        "channel": "channel",
        "sent": "sent",
        "delivery_rate": "delivered %",
        "bounce_rate": "bounced %",
        "open_rate": "opened %",
        "contact_rate": "contact rate %",
        "experiments": "Experiments (debtors assigned this month)",
        "backtest": "Cash forecast backtest: the forecasts made in the four weeks before"
        " the month, against what was paid (weighted absolute % error by week ahead)",
        "horizon": "week ahead",
        "forecast_wape": "forecast error %",
        "naive_wape": "naive error %",
        "better": "forecast better",
        "backtest_none": "Not enough history: no week after the forecasts is complete yet.",
        "operations": "Calls, agreements and cost",
        "right_party_contact_rate": "right-party contact %",
        "plan_completion_rate": "plans completed %",
        "settlement_acceptance_rate": "settlements accepted %",
        "cost_to_collect": "cost to collect %",
        "experiment": "experiment",
        "rate": "rate",
        "champion": "champion",
        "challenger": "challenger",
        "difference": "difference",
        "interval": "95 % interval",
        "significant": "significant",
        "needed": "needed per arm",
        "recovery": "recovery %",
        "cure": "cure %",
        "roll_forward": "roll forward %",
        "yes": "yes",
        "no": "no",
        "nothing": "nothing to show for this month",
        "by_channel": "Recovery by channel (collected by the channel of the debtor's last contact"
        " before each payment, within 30 days)",
        "payments": "payments",
        "method": "Differences: two-proportion (Wald) interval for cure and roll-forward rates,"
        " the ratio estimator's variance for recovery; significant when the interval excludes"
        " 0. Formulas: docs/kpi.md.",
        "made": "Figures derived from the ledger as of each day; amounts per currency.",
    },
    "es": {
        "title": "Informe de cobranza",
        "period": "{portfolio}, del {start} al {end}, frente al {pstart} al {pend}",
        "headline": "Cifras principales",
        "measure": "medida",
        "this_month": "este mes",
        "last_month": "mes anterior",
        "change": "cambio",
        "dso": "DSO, días",
        "cei": "CEI %",
        "closing_past_due": "vencido",
        "collected": "recaudado",
        "cure_rate": "tasa de cura %",
        "aging": "Evolución de la cartera por edades (saldo a cada fin de mes)",
        "roll": "Matriz de rodamiento (% del saldo de cada tramo al inicio del mes)",
        "from": "desde",
        "balance": "saldo",
        "segments": "Recuperación por segmento (recuperación: recaudado / (cartera al inicio +"
        " ventas a crédito))",
        "segment": "segmento",
        "sales": "ventas a crédito",
        "closing": "cartera al cierre",
        "recovery_rate": "recuperación %",
        "channels": "Mensajes por canal (enviados este mes)",
        "channel": "canal",
        "sent": "enviados",
        "delivery_rate": "entregados %",
        "bounce_rate": "rebotados %",
        "open_rate": "abiertos %",
        "contact_rate": "tasa de contacto %",
        "experiments": "Experimentos (deudores asignados este mes)",
        "backtest": "Prueba retrospectiva de la previsión de caja: las previsiones hechas en las"
        " cuatro semanas antes del mes, frente a lo cobrado (error absoluto ponderado % por"
        " semana)",
        "horizon": "semana",
        "forecast_wape": "error de la previsión %",
        "naive_wape": "error ingenuo %",
        "better": "previsión mejor",
        "backtest_none": "Sin historia suficiente: ninguna semana posterior está completa aún.",
        "operations": "Llamadas, acuerdos y costo",
        "right_party_contact_rate": "contacto con el titular %",
        "plan_completion_rate": "planes completados %",
        "settlement_acceptance_rate": "quitas aceptadas %",
        "cost_to_collect": "costo de cobro %",
        "experiment": "experimento",
        "rate": "tasa",
        "champion": "campeón",
        "challenger": "retador",
        "difference": "diferencia",
        "interval": "intervalo 95 %",
        "significant": "significativa",
        "needed": "necesarios por brazo",
        "recovery": "recuperación %",
        "cure": "cura %",
        "roll_forward": "deterioro %",
        "yes": "sí",
        "no": "no",
        "nothing": "nada que mostrar este mes",
        "by_channel": "Recuperación por canal (recaudado según el canal del último contacto con"
        " el deudor antes de cada pago, en 30 días)",
        "payments": "pagos",
        "method": "Diferencias: intervalo de dos proporciones (Wald) para las tasas de cura y"
        " deterioro, varianza del estimador de razón para la recuperación; significativa si el"
        " intervalo excluye el 0. Fórmulas: docs/kpi.md.",
        "made": "Cifras derivadas del libro a cada fecha; importes por moneda.",
    },
}

#: The headline rows: (column, kind).
HEADLINE: tuple[tuple[str, str], ...] = (
    ("dso", "days"),
    ("cei", "days"),
    ("closing_past_due", "amount"),
    ("collected", "amount"),
    ("cure_rate", "ratio"),
)

_CSS = """
body{font-family:Helvetica,Arial,sans-serif;color:#1d2733;margin:2em auto;max-width:60em}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.8em;
border-bottom:1px solid #c9d2dc}p.sub{color:#5a6877;margin-top:0}
table{border-collapse:collapse;margin:.6em 0}th,td{padding:.25em .7em;border-bottom:1px solid
#e3e8ee;text-align:right}th:first-child,td:first-child{text-align:left}th{background:#f3f6f9}
td.up{color:#1a7f37}td.down{color:#b42318}small{color:#5a6877}svg{margin:.4em 0}
"""
_COLOURS = ("#2f7d32", "#8bc34a", "#fbc02d", "#f57c00", "#d84315", "#8e24aa", "#4e342e")


@dataclass(frozen=True, slots=True)
class ReportInput:
    """What the page shows: ``current`` / ``previous`` headlines (one row per currency),
    ``matrix`` (the month's roll matrix), ``segments`` (the headline by ``segment``),
    ``trend`` (:func:`aging_trend`), ``comparison`` (:func:`arrears.kpi.experiments.comparison`)
    and ``arms`` (:func:`arrears.kpi.experiments.arm_rates`)."""

    portfolio: str
    start: date
    end: date
    previous_start: date
    previous_end: date
    current: pl.DataFrame
    previous: pl.DataFrame
    matrix: pl.DataFrame
    segments: pl.DataFrame
    trend: pl.DataFrame
    edges: tuple[int, ...]
    comparison: pl.DataFrame
    arms: pl.DataFrame
    messages: pl.DataFrame | None = None
    #: :attr:`arrears.services.insight.forecast.Backtest.by_horizon` (None: not enough history)
    backtest: pl.DataFrame | None = None
    #: :func:`arrears.kpi.channels.channel_figures` of the month (None: not measured)
    by_channel: pl.DataFrame | None = None


def language(locale: str) -> str:
    return "es" if locale.lower().startswith("es") else "en"


def render_html(data: ReportInput, locale: str) -> str:
    """The whole report as one HTML document."""
    t = TEXT[language(locale)]
    parts = [
        f'<!DOCTYPE html>\n<html lang="{language(locale)}"><head><meta charset="utf-8">',
        f"<title>{escape(t['title'])} {data.start:%Y-%m}</title><style>{_CSS}</style></head>",
        f"<body><h1>{escape(t['title'])} {data.start:%Y-%m}</h1>",
        '<p class="sub">'
        + escape(
            t["period"].format(
                portfolio=data.portfolio,
                start=data.start.isoformat(),
                end=data.end.isoformat(),
                pstart=data.previous_start.isoformat(),
                pend=data.previous_end.isoformat(),
            )
        )
        + "</p>",
        f"<h2>{escape(t['headline'])}</h2>",
        _headline(data, t, locale),
        f"<h2>{escape(t['aging'])}</h2>",
        _trend(data, t, locale),
        f"<h2>{escape(t['roll'])}</h2>",
        _matrix(data, t, locale),
        f"<h2>{escape(t['segments'])}</h2>",
        _segments(data, t, locale),
        f"<h2>{escape(t['by_channel'])}</h2>",
        _by_channel(data, t, locale),
        f"<h2>{escape(t['channels'])}</h2>",
        _channels(data, t, locale),
        f"<h2>{escape(t['operations'])}</h2>",
        _operations(data, t, locale),
        f"<h2>{escape(t['experiments'])}</h2>",
        _experiments(data, t, locale),
        f"<h2>{escape(t['backtest'])}</h2>",
        _backtest(data, t, locale),
        f"<p><small>{escape(t['made'])}</small></p></body></html>\n",
    ]
    return "\n".join(parts)


def _amount(minor: object, currency: str, locale: str) -> str:
    if not isinstance(minor, int):
        return "n/a"
    digits = exponent(currency)
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(from_minor(minor, currency), format=pattern, locale=locale)


def _one(value: object, locale: str, scale: int = 1) -> str:
    if not isinstance(value, int | float):
        return "n/a"
    return format_decimal(Decimal(f"{value * scale:.1f}"), format="#,##0.0", locale=locale)


def _cell(value: object, kind: str, currency: str, locale: str) -> str:
    if kind == "amount":
        return _amount(value, currency, locale)
    return _one(value, locale, 100 if kind == "ratio" else 1)


def _headline(data: ReportInput, t: dict[str, str], locale: str) -> str:
    if data.current.is_empty():
        return f"<p>{escape(t['nothing'])}</p>"
    before = {str(r["currency"]): r for r in data.previous.to_dicts()}
    rows = []
    for row in data.current.to_dicts():
        currency = str(row["currency"])
        old = before.get(currency, {})
        rows.append(f'<tr><th colspan="4">{escape(currency)}</th></tr>')
        for name, kind in HEADLINE:
            now, then = row.get(name), old.get(name)
            change, css = "", ""
            if isinstance(now, int | float) and isinstance(then, int | float):
                delta = now - then
                change = (
                    _amount(int(delta), currency, locale)
                    if kind == "amount"
                    else _one(delta, locale, 100 if kind == "ratio" else 1)
                )
                good = delta < 0 if name in ("dso", "closing_past_due") else delta > 0
                css = "" if delta == 0 else (' class="up"' if good else ' class="down"')
            rows.append(
                f"<tr><td>{escape(t[name])}</td>"
                f'<td data-measure="{name}" data-currency="{escape(currency)}">'
                f"{_cell(now, kind, currency, locale)}</td>"
                f"<td>{_cell(then, kind, currency, locale)}</td><td{css}>{change}</td></tr>"
            )
    head = (
        f"<tr><th>{escape(t['measure'])}</th><th>{escape(t['this_month'])}</th>"
        f"<th>{escape(t['last_month'])}</th><th>{escape(t['change'])}</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def _trend(data: ReportInput, t: dict[str, str], locale: str) -> str:
    if data.trend.is_empty():
        return f"<p>{escape(t['nothing'])}</p>"
    labels = list(bucket_labels(data.edges))
    out = []
    for (currency,), rows in data.trend.group_by(["currency"], maintain_order=True):
        code = str(currency)
        days = rows["day"].unique(maintain_order=True).to_list()
        totals = rows.group_by("day", maintain_order=True).agg(pl.col("amount").sum())
        top = max([1, *(int(v) for v in totals["amount"])])
        width, height, bar = 80 * len(days) + 60, 260, 44
        svg = [
            f'<svg width="{width + 160}" height="{height}"'
            f' role="img" aria-label="{escape(t["aging"])} {escape(code)}">'
        ]
        for i, day in enumerate(days):
            x, y = 60 + 80 * i, float(height - 40)
            for j, label in enumerate(labels):
                amount = int(
                    rows.filter((pl.col("day") == day) & (pl.col("bucket") == label))[
                        "amount"
                    ].sum()
                )
                h = (height - 70) * amount / top
                y -= h
                colour = _COLOURS[j % len(_COLOURS)]
                svg.append(
                    f'<rect x="{x}" y="{y:.1f}" width="{bar}" height="{h:.1f}" fill="{colour}">'
                    f"<title>{escape(label)}: {_amount(amount, code, locale)}</title></rect>"
                )
            svg.append(
                f'<text x="{x + bar / 2}" y="{height - 22}" font-size="11"'
                f' text-anchor="middle">{day:%Y-%m}</text>'
            )
        for j, label in enumerate(labels):
            colour = _COLOURS[j % len(_COLOURS)]
            svg.append(
                f'<rect x="{width + 10}" y="{20 + 18 * j}" width="12" height="12"'
                f' fill="{colour}"/><text x="{width + 28}" y="{30 + 18 * j}"'
                f' font-size="11">{escape(label)}</text>'
            )
        svg.append(
            f'<text x="4" y="24" font-size="11">{escape(code)} {_amount(top, code, locale)}</text>'
        )
        svg.append("</svg>")
        table = "".join(
            f"<tr><td>{day:%Y-%m-%d}</td>"
            + "".join(
                "<td>"
                + _amount(
                    int(
                        rows.filter((pl.col("day") == day) & (pl.col("bucket") == label))[
                            "amount"
                        ].sum()
                    ),
                    code,
                    locale,
                )
                + "</td>"
                for label in labels
            )
            + "</tr>"
            for day in days
        )
        head = "".join(f"<th>{escape(label)}</th>" for label in labels)
        out.append(
            f"<h3>{escape(code)}</h3>{''.join(svg)}<table><tr><th></th>{head}</tr>{table}</table>"
        )
    return "".join(out)


def _matrix(data: ReportInput, t: dict[str, str], locale: str) -> str:
    if data.matrix.is_empty():
        return f"<p>{escape(t['nothing'])}</p>"
    out = []
    for (currency,), moves in data.matrix.group_by(["currency"], maintain_order=True):
        code = str(currency)
        froms = moves["from_bucket"].unique(maintain_order=True).to_list()
        targets = moves["to_bucket"].unique().to_list()
        order = [*bucket_labels(data.edges), "settled", "written off"]
        targets = [x for x in order if x in targets]
        head = (
            f"<tr><th>{escape(t['from'])}</th><th>{escape(t['balance'])}</th>"
            + "".join(f"<th>{escape(x)}</th>" for x in targets)
            + "</tr>"
        )
        body = []
        for source in froms:
            part = moves.filter(pl.col("from_bucket") == source)
            rates = dict(zip(part["to_bucket"], part["rate"], strict=True))
            cells = "".join(
                (
                    f'<td style="background:rgba(47,125,50,{0.1 + 0.6 * rates[x]:.2f})">'
                    f"{_one(rates[x], locale, 100)}</td>"
                    if rates.get(x) is not None
                    else "<td></td>"
                )
                for x in targets
            )
            balance = _amount(int(part["amount"].sum()), code, locale)
            body.append(f"<tr><td>{escape(str(source))}</td><td>{balance}</td>{cells}</tr>")
        out.append(f"<h3>{escape(code)}</h3><table>{head}{''.join(body)}</table>")
    return "".join(out)


def _segments(data: ReportInput, t: dict[str, str], locale: str) -> str:
    if data.segments.is_empty():
        return f"<p>{escape(t['nothing'])}</p>"
    names = ("sales", "collected", "recovery_rate", "closing", "cei", "cure_rate")
    kinds = {"cei": "days", "cure_rate": "ratio", "recovery_rate": "ratio"}
    head = (
        f"<tr><th>{escape(t['segment'])}</th><th></th>"
        + "".join(f"<th>{escape(t[n])}</th>" for n in names)
        + "</tr>"
    )
    rows = []
    for row in data.segments.to_dicts():
        code = str(row["currency"])
        segment = "(none)" if row.get("segment") is None else str(row["segment"])
        owed = int(row["opening"]) + int(row["sales"])
        row["recovery_rate"] = row["collected"] / owed if owed > 0 else None
        cells = "".join(
            f'<td data-segment="{escape(segment)}" data-currency="{escape(code)}"'
            f' data-column="{n}">{_cell(row[n], kinds.get(n, "amount"), code, locale)}</td>'
            for n in names
        )
        rows.append(f"<tr><td>{escape(segment)}</td><td>{escape(code)}</td>{cells}</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _by_channel(data: ReportInput, t: dict[str, str], locale: str) -> str:
    frame = data.by_channel
    if frame is None or frame.is_empty():
        return f"<p>{escape(t['nothing'])}</p>"
    head = "".join(
        f"<th>{escape(t[n])}</th>" for n in ("channel", "payments", "collected", "recovery_rate")
    )
    body = "".join(
        f"<tr><td>{escape(str(row['channel']))}</td><td>{escape(str(row['currency']))}</td>"
        f"<td>{row['payments']}</td>"
        f'<td data-channel="{escape(str(row["channel"]))}" data-currency='
        f'"{escape(str(row["currency"]))}" data-column="collected">'
        f"{_cell(row['collected'], 'amount', str(row['currency']), locale)}</td>"
        f'<td data-channel="{escape(str(row["channel"]))}" data-currency='
        f'"{escape(str(row["currency"]))}" data-column="recovery">'
        f"{_cell(row['recovery'], 'ratio', str(row['currency']), locale)}</td></tr>"
        for row in frame.to_dicts()
    )
    return f"<table><tr>{head.replace('</th>', '</th><th></th>', 1)}</tr>{body}</table>"


def _channels(data: ReportInput, t: dict[str, str], locale: str) -> str:
    frame = data.messages
    if frame is None or frame.filter(pl.col("sent") > 0).is_empty():
        return f"<p>{escape(t['nothing'])}</p>"
    names = ("sent", "delivery_rate", "bounce_rate", "open_rate", "contact_rate")
    head = "".join(f"<th>{escape(t[n])}</th>" for n in ("channel", *names))
    body = "".join(
        f"<tr><td>{escape(str(row['channel']))}</td><td>{row['sent']}</td>"
        + "".join(
            f'<td data-channel="{escape(str(row["channel"]))}" data-column="{n}">'
            f"{_one(row[n], locale, 100)}</td>"
            for n in names[1:]
        )
        + "</tr>"
        for row in frame.to_dicts()
    )
    return f"<table><tr>{head}</tr>{body}</table>"


#: The rates of the operations section (``arrears kpi``'s headline).
OPERATIONS = (
    "right_party_contact_rate",
    "plan_completion_rate",
    "settlement_acceptance_rate",
    "cost_to_collect",
)


def operation_rows(data: ReportInput, locale: str) -> list[list[str]]:
    """Per currency: the month's right-party contact, plan completion, settlement acceptance
    and cost-to-collect rates (``n/a`` where there is nothing to measure)."""
    return [
        [str(row["currency"]), *(_one(row.get(n), locale, 100) for n in OPERATIONS)]
        for row in data.current.to_dicts()
    ]


def _operations(data: ReportInput, t: dict[str, str], locale: str) -> str:
    rows = operation_rows(data, locale)
    if not rows:
        return f"<p>{escape(t['nothing'])}</p>"
    head = "<th></th>" + "".join(f"<th>{escape(t[n])}</th>" for n in OPERATIONS)
    body = "".join(
        f"<tr><td>{escape(r[0])}</td>"
        + "".join(
            f'<td data-currency="{escape(r[0])}" data-column="{n}">{escape(v)}</td>'
            for n, v in zip(OPERATIONS, r[1:], strict=True)
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def backtest_rows(data: ReportInput, t: dict[str, str], locale: str) -> list[list[str]]:
    """Per currency and week ahead: the forecast's and the naive baseline's WAPE."""
    if data.backtest is None:
        return []
    out = []
    for row in data.backtest.sort("currency", "week").to_dicts():
        wape, naive = row["wape"], row["naive_wape"]
        better = "" if wape is None or naive is None else t["yes" if wape < naive else "no"]
        out.append(
            [
                str(row["currency"]),
                str(row["week"]),
                _one(wape, locale, 100),
                _one(naive, locale, 100),
                better,
            ]
        )
    return out


def _backtest(data: ReportInput, t: dict[str, str], locale: str) -> str:
    rows = backtest_rows(data, t, locale)
    if not rows:
        return f"<p>{escape(t['backtest_none'])}</p>"
    names = ("horizon", "forecast_wape", "naive_wape", "better")
    head = "<th></th>" + "".join(f"<th>{escape(t[n])}</th>" for n in names)
    body = "".join(
        f"<tr><td>{escape(r[0])}</td>"
        + "".join(
            f'<td data-currency="{escape(r[0])}" data-week="{escape(r[1])}" data-column="{n}">'
            f"{escape(v)}</td>"
            for n, v in zip(names, r[1:], strict=True)
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _experiments(data: ReportInput, t: dict[str, str], locale: str) -> str:
    if data.comparison.is_empty():
        return f"<p>{escape(t['nothing'])}</p>"
    head = "".join(
        f"<th>{escape(t[n])}</th>"
        for n in (
            "experiment",
            "rate",
            "champion",
            "challenger",
            "difference",
            "interval",
            "significant",
            "needed",
        )
    )
    rows = []
    for row in data.comparison.to_dicts():
        low, high = row["low"], row["high"]
        interval = "n/a" if low is None else f"{_one(low, locale, 100)} … {_one(high, locale, 100)}"
        significant = row["significant"]
        verdict = "n/a" if significant is None else t["yes" if significant else "no"]
        needed = row["needed_per_arm"]
        rows.append(
            f"<tr><td>{escape(str(row['experiment']))} {escape(str(row['currency']))}</td>"
            f"<td>{escape(t[str(row['measure'])])}</td>"
            f"<td>{_one(row['champion'], locale, 100)}</td>"
            f"<td>{_one(row['challenger'], locale, 100)}</td>"
            f"<td>{_one(row['difference'], locale, 100)}</td><td>{interval}</td>"
            f"<td>{escape(verdict)}</td>"
            f"<td>{'n/a' if needed is None else format_decimal(needed, locale=locale)}</td></tr>"
        )
    return (
        f"<table><tr>{head}</tr>{''.join(rows)}</table><p><small>{escape(t['method'])}</small></p>"
    )
