"""``arrears model evaluate --report FILE.html``: the backtest as one self-contained HTML page,
with the propensity score's calibration plotted (inline SVG: no plotting library, no file
beside it): each bin of the score against the share that paid, the diagonal where a calibrated
score lies, the points sized by the debtor-days of the bin. Pure: a report dict in, text out.
"""

from __future__ import annotations

from html import escape
from typing import Any

_SIZE = 320
_PAD = 40


def calibration_svg(rows: list[dict[str, Any]], title: str = "calibration") -> str:
    """The calibration plot of ``rows`` (:func:`arrears.scoring.evaluate.calibration_table`:
    ``mean_score``, ``observed``, ``n``) as an SVG element."""
    side = _SIZE - 2 * _PAD

    def at(x: float, y: float) -> tuple[float, float]:
        return _PAD + x * side, _SIZE - _PAD - y * side

    biggest = max((int(r["n"]) for r in rows), default=1) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_SIZE}" height="{_SIZE}" '
        f'viewBox="0 0 {_SIZE} {_SIZE}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{_PAD}" y="{_PAD}" width="{side}" height="{side}" fill="none" stroke="#888"/>',
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#bbb" stroke-dasharray="4 3"/>'.format(
            *at(0, 0), *at(1, 1)
        ),
    ]
    for tick in (0.0, 0.5, 1.0):
        x, y = at(tick, 0)
        parts.append(
            f'<text x="{x}" y="{y + 16}" font-size="11" text-anchor="middle">{tick}</text>'
        )
        x, y = at(0, tick)
        parts.append(
            f'<text x="{x - 6}" y="{y + 4}" font-size="11" text-anchor="end">{tick}</text>'
        )
    cx, cy = at(0.5, 0)
    parts.append(f'<text x="{cx}" y="{cy + 32}" font-size="12" text-anchor="middle">score</text>')
    parts.append(
        f'<text x="12" y="{_SIZE / 2}" font-size="12" text-anchor="middle" '
        f'transform="rotate(-90 12 {_SIZE / 2})">share that paid</text>'
    )
    points = [at(float(r["mean_score"]), float(r["observed"])) for r in rows]
    if len(points) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#1f5fa8"/>')
    for (x, y), row in zip(points, rows, strict=True):
        radius = 2 + 6 * (int(row["n"]) / biggest) ** 0.5
        tip = (
            f"{row.get('bin', '')}: score {row['mean_score']}, paid {row['observed']}, n {row['n']}"
        )
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius:.1f}" fill="#1f5fa8">'
            f"<title>{escape(tip)}</title></circle>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    head = "".join(f"<th>{escape(str(c))}</th>" for c in rows[0])
    body = "".join(
        "<tr>"
        + "".join(f"<td>{escape('' if v is None else str(v))}</td>" for v in r.values())
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def report_html(report: dict[str, Any], title: str) -> str:
    """The backtest ``report`` (:func:`arrears.scoring.evaluate.backtest`) as an HTML page."""
    sections = [f"<h1>{escape(title)}</h1>"]
    debtor = report.get("debtor") or {}
    if "error" in debtor:
        sections.append(f"<p>propensity to pay: {escape(str(debtor['error']))}</p>")
    elif debtor:
        model = debtor["model"]
        interval = model.get("auc_95")
        ci = f" (95 % bootstrap interval {interval[0]}-{interval[1]})" if interval else ""
        target = (debtor.get("target") or {}).get("text")
        said = f"<p>The score's target: {escape(target)}.</p>" if target else ""
        sections.append(
            "<h2>Propensity to pay</h2>"
            f"{said}<p>{debtor['test']} debtor-days after the cutoff; AUC {model['auc']}{ci}, "
            f"Brier {model['brier']}.</p>"
        )
        rows = [
            {"model": k, **{m: debtor[k].get(m) for m in ("auc", "brier", "accuracy")}}
            for k in ("model", "past late rate", "rules", "days past due")
            if k in debtor
        ]
        sections.append(_table(rows))
        sections.append("<h2>Calibration</h2>")
        sections.append(calibration_svg(model["calibration"], "calibration of the score"))
        sections.append(_table(model["calibration"]))
        sections.append("<h2>Lift and capture by decile</h2>")
        sections.append(_table(model["lift"]))
    invoice = report.get("invoice") or {}
    if invoice and "error" not in invoice:
        late = invoice["paid_late"]
        sections.append(f"<h2>Paid late at issue ({invoice['test']} invoices)</h2>")
        metrics = ("auc", "brier", "accuracy", "precision", "recall")
        sections.append(
            _table([{"model": k, **{m: v.get(m) for m in metrics}} for k, v in late.items()])
        )
        if "calibration" in late.get("model", {}):
            sections.append(calibration_svg(late["model"]["calibration"], "calibration: paid late"))
    style = (
        "body{font-family:sans-serif;max-width:52rem;margin:2rem auto;color:#222}"
        "table{border-collapse:collapse;margin:.5rem 0 1.5rem}"
        "td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:right}"
    )
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
        f"</title><style>{style}</style></head><body>\n"
        + "\n".join(sections)
        + "\n</body></html>\n"
    )
