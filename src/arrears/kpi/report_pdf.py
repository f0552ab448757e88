"""The monthly report as a PDF (``arrears report --format pdf``): the same figures and words as
:func:`arrears.kpi.report.render_html`, as tables, with the aging trend drawn as stacked bars.
Made by fpdf2 with its built-in Helvetica (Latin-1: English and Spanish), no network, no font
file needed."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from arrears.kpi.aging import bucket_labels
from arrears.kpi.report import (
    HEADLINE,
    OPERATIONS,
    TEXT,
    ReportInput,
    _amount,
    _cell,
    _one,
    backtest_rows,
    language,
    operation_rows,
)

_RGB = ((47, 125, 50), (139, 195, 74), (251, 192, 45), (245, 124, 0), (216, 67, 21), (142, 36, 170))


def _latin(text: str) -> str:
    return (
        text.replace("…", " to ")
        .replace("−", "-")
        .replace("\u00a0", " ")
        .replace("\u202f", " ")
        .encode("latin-1", "replace")
        .decode("latin-1")
    )


class _Pdf(FPDF):
    def heading(self, text: str) -> None:
        self.ln(3)
        self.set_font("Helvetica", "B", 12)
        self.cell(0, 8, _latin(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font("Helvetica", "", 8)

    def grid(self, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        width = (self.w - self.l_margin - self.r_margin) / max(len(header), 1)
        self.set_font("Helvetica", "B", 8)
        for i, text in enumerate(header):
            self.cell(width, 6, _latin(text), border="B", align="L" if i == 0 else "R")
        self.ln()
        self.set_font("Helvetica", "", 8)
        for row in rows:
            if self.get_y() > self.h - 20:
                self.add_page()
            for i, text in enumerate(row):
                self.cell(width, 5, _latin(text), align="L" if i == 0 else "R")
            self.ln()


def render_pdf(data: ReportInput, locale: str) -> bytes:
    """The whole report as PDF bytes."""
    t = TEXT[language(locale)]
    pdf = _Pdf(format="A4")
    pdf.set_auto_page_break(True, 15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _latin(f"{t['title']} {data.start:%Y-%m}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "", 9)
    period = t["period"].format(
        portfolio=data.portfolio,
        start=data.start.isoformat(),
        end=data.end.isoformat(),
        pstart=data.previous_start.isoformat(),
        pend=data.previous_end.isoformat(),
    )
    pdf.cell(0, 6, _latin(period), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    pdf.heading(t["headline"])
    before = {str(r["currency"]): r for r in data.previous.to_dicts()}
    rows = []
    for row in data.current.to_dicts():
        code = str(row["currency"])
        old = before.get(code, {})
        for name, kind in HEADLINE:
            rows.append(
                [
                    f"{t[name]} ({code})",
                    _cell(row.get(name), kind, code, locale),
                    _cell(old.get(name), kind, code, locale),
                ]
            )
    pdf.grid([t["measure"], t["this_month"], t["last_month"]], rows or [[t["nothing"]]])

    pdf.heading(t["aging"])
    labels = list(bucket_labels(data.edges))
    for (currency,), part in data.trend.group_by(["currency"], maintain_order=True):
        code = str(currency)
        days = part["day"].unique(maintain_order=True).to_list()
        amounts = {(r["day"], r["bucket"]): int(r["amount"]) for r in part.to_dicts()}
        top = max([1, *(sum(amounts.get((d, b), 0) for b in labels) for d in days)])
        x0, y0, height = pdf.l_margin + 10, pdf.get_y() + 45, 40.0
        for i, day in enumerate(days):
            y = y0
            for j, label in enumerate(labels):
                h = height * amounts.get((day, label), 0) / top
                if h > 0:
                    pdf.set_fill_color(*_RGB[j % len(_RGB)])
                    pdf.rect(x0 + 22 * i, y - h, 14, h, style="F")
                y -= h
            pdf.text(x0 + 22 * i, y0 + 4, f"{day:%Y-%m}")
        for j, label in enumerate(labels):
            pdf.set_fill_color(*_RGB[j % len(_RGB)])
            pdf.rect(x0 + 22 * len(days) + 5, y0 - height + 5 * j, 3, 3, style="F")
            pdf.text(x0 + 22 * len(days) + 10, y0 - height + 5 * j + 2.5, label)
        pdf.text(pdf.l_margin, y0 - height - 2, _latin(f"{code} {_amount(top, code, locale)}"))
        pdf.set_y(y0 + 8)
        pdf.grid(
            ["", *labels],
            [
                [
                    f"{day:%Y-%m-%d}",
                    *(_amount(amounts.get((day, b), 0), code, locale) for b in labels),
                ]
                for day in days
            ],
        )

    pdf.heading(t["roll"])
    if data.matrix.is_empty():
        pdf.grid([t["from"]], [[t["nothing"]]])
    for (currency,), moves in data.matrix.group_by(["currency"], maintain_order=True):
        code = str(currency)
        order = [*labels, "settled", "written off"]
        targets = [x for x in order if x in set(moves["to_bucket"].to_list())]
        table = []
        for source in moves["from_bucket"].unique(maintain_order=True).to_list():
            out = moves.filter(pl.col("from_bucket") == source)
            rates = dict(zip(out["to_bucket"], out["rate"], strict=True))
            table.append(
                [
                    f"{source} ({code})",
                    _amount(int(out["amount"].sum()), code, locale),
                    *(_one(rates.get(x), locale, 100) if x in rates else "" for x in targets),
                ]
            )
        pdf.grid([t["from"], t["balance"], *targets], table)

    pdf.heading(t["segments"])
    names = ("sales", "collected", "recovery_rate", "closing", "cei", "cure_rate")
    kinds = {"cei": "days", "cure_rate": "ratio", "recovery_rate": "ratio"}
    table = []
    for row in data.segments.to_dicts():
        code = str(row["currency"])
        owed = int(row["opening"]) + int(row["sales"])
        row["recovery_rate"] = row["collected"] / owed if owed > 0 else None
        segment = "(none)" if row.get("segment") is None else str(row["segment"])
        table.append(
            [
                f"{segment} ({code})",
                *(_cell(row[n], kinds.get(n, "amount"), code, locale) for n in names),
            ]
        )
    pdf.grid([t["segment"], *(t[n] for n in names)], table or [[t["nothing"]]])

    pdf.heading(t["channels"])
    columns = ("sent", "delivery_rate", "bounce_rate", "open_rate", "contact_rate")
    sent = data.messages if data.messages is not None else pl.DataFrame({"sent": []})
    table = [
        [str(r["channel"]), str(r["sent"]), *(_one(r[n], locale, 100) for n in columns[1:])]
        for r in sent.filter(pl.col("sent") > 0).to_dicts()
    ]
    pdf.grid([t["channel"], *(t[n] for n in columns)], table or [[t["nothing"]]])

    pdf.heading(t["operations"])
    pdf.grid(["", *(t[n] for n in OPERATIONS)], operation_rows(data, locale) or [[t["nothing"]]])

    pdf.heading(t["backtest"])
    judged = ("horizon", "forecast_wape", "naive_wape", "better")
    pdf.grid(
        ["", *(t[n] for n in judged)], backtest_rows(data, t, locale) or [[t["backtest_none"]]]
    )

    pdf.heading(t["experiments"])
    table = []
    for row in data.comparison.to_dicts():
        low, high = row["low"], row["high"]
        significant = row["significant"]
        table.append(
            [
                f"{row['experiment']} {row['currency']} {t[str(row['measure'])]}",
                _one(row["champion"], locale, 100),
                _one(row["challenger"], locale, 100),
                "n/a" if low is None else f"{_one(low, locale, 100)} to {_one(high, locale, 100)}",
                "n/a" if significant is None else t["yes" if significant else "no"],
                "n/a" if row["needed_per_arm"] is None else str(row["needed_per_arm"]),
            ]
        )
    header = [
        t["experiment"],
        t["champion"],
        t["challenger"],
        t["interval"],
        t["significant"],
        t["needed"],
    ]
    pdf.grid(header, table or [[t["nothing"]]])
    pdf.set_font("Helvetica", "", 7)
    pdf.ln(2)
    pdf.multi_cell(0, 4, _latin(t["method"]))
    return bytes(pdf.output())
