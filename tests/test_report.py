"""``arrears report --month``: the monthly report as a self-contained HTML file, through the
command line; its figures are ``arrears kpi``'s for the same month (test_kpi_cli.py's book)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from arrears.cli.app import main
from test_kpi_cli import build

MONTH = ["--month", "2026-03"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("report")
    return build(tmp, f"sqlite:///{tmp / 'arrears.db'}", promises=True)


def run(ws: Path, *args: str) -> int:
    return main(["-w", str(ws), *args])


def cells(html: str) -> dict[tuple[str, str], str]:
    found = re.findall(r'data-measure="(\w+)" data-currency="(\w+)">([^<]*)<', html)
    return {(measure, currency): text for measure, currency, text in found}


def test_the_html_report_has_kpis_figures_and_no_external_reference(
    built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "march.html"
    assert run(built, "report", *MONTH, "--out", str(target)) == 0
    assert f"wrote {target}" in capsys.readouterr().out
    html = target.read_text(encoding="utf-8")
    assert run(built, "kpi", "--from", "2026-03-01", "--to", "2026-03-31", "--format", "json") == 0
    kpis = {r["currency"]: r for r in json.loads(capsys.readouterr().out)}
    shown = cells(html)
    assert {c for _, c in shown} == set(kpis) == {"EUR", "USD"}
    for currency, row in kpis.items():
        for measure in ("dso", "cei"):
            value = row[measure]
            expected = "n/a" if value is None else f"{value:,.1f}"
            assert shown[measure, currency] == expected, (measure, currency)
        ratio = row["cure_rate"]
        assert shown["cure_rate", currency] == ("n/a" if ratio is None else f"{ratio * 100:.1f}")
        for measure in ("collected", "closing_past_due"):
            assert shown[measure, currency] == f"{float(row[measure]):,.2f}"
    # March in the book (docs/kpi.md): USD collected 200.00 (D1's 03-20), past due 200.00
    assert shown["collected", "USD"] == "200.00" and shown["closing_past_due", "USD"] == "200.00"
    # retail USD: owed 400.00 at the start (D1's #2, D2's #3) + 150.00 billed, 200.00 collected
    segment = re.findall(
        r'data-segment="(\w+)" data-currency="USD" data-column="recovery_rate">([^<]*)<', html
    )
    assert dict(segment) == {"retail": "36.4", "wholesale": "0.0"}
    for sign in ("http:", "https:", "//", "<script", "src=", "url(", "@import", "<link"):
        assert sign not in html, sign
    assert "<svg" in html and "Roll matrix" in html and "Recovery by segment" in html
    assert "Experiments" in html and "previous month" in html


def test_in_spanish(built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "es"
    ws.mkdir()
    config = (built / "arrears.toml").read_text().replace('locale = "en_US"', 'locale = "es_CO"')
    (ws / "arrears.toml").write_text(config)
    target = tmp_path / "marzo.html"
    assert run(ws, "report", *MONTH, "-o", str(target)) == 0
    html = target.read_text(encoding="utf-8")
    assert 'lang="es"' in html and "Informe de cobranza 2026-03" in html
    assert "Matriz de rodamiento" in html and "mes anterior" in html
    assert cells(html)["collected", "USD"] == "200,00"


def test_bad_input(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(built, "report", "--month", "2026-13", "--format", "doc", "--in", "X") == 1
    err = capsys.readouterr().err
    assert "--month '2026-13' is not a month" in err
    assert "--format 'doc': choose html or pdf" in err and "'X' is not an ISO 4217" in err


def test_pdf(built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pypdf import PdfReader

    target = tmp_path / "march.pdf"
    assert run(built, "report", *MONTH, "--format", "pdf", "-o", str(target)) == 0
    text = "\n".join(page.extract_text() for page in PdfReader(target).pages)
    assert "Collections report 2026-03" in text and "Roll matrix" in text
    assert "collected (USD)" in text and "200.00" in text
    assert "Messages by channel" in text and "Experiments" in text


def test_the_report_shows_the_forecast_backtest_and_the_operations(
    built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The backtest section is ``arrears forecast backtest --as-of <the day before the month>
    --origins 4``: per currency and week ahead, Σ|expected − actual| / Σ actual of the forecast
    and of the naive baseline, as the command's rows give them."""
    target = tmp_path / "march.html"
    assert run(built, "report", *MONTH, "--out", str(target)) == 0
    html = target.read_text(encoding="utf-8")
    capsys.readouterr()
    args = ["forecast", "backtest", "--as-of", "2026-02-28", "--origins", "4", "--format", "json"]
    assert run(built, *args) == 0
    rows = json.loads(capsys.readouterr().out)["weeks"]
    assert rows
    sums: dict[tuple[str, int], list[float]] = {}
    for r in rows:
        got = sums.setdefault((r["currency"], r["week"]), [0.0, 0.0, 0.0])
        actual = float(r["actual"])
        got[0] += abs(float(r["expected"]) - actual)
        got[1] += abs(float(r["naive"]) - actual)
        got[2] += actual
    shown = {
        (c, int(w), n): v
        for c, w, n, v in re.findall(
            r'data-currency="(\w+)" data-week="(\d+)" data-column="(\w+)">([^<]*)<', html
        )
    }
    assert shown
    for (currency, week), (error, naive, actual) in sums.items():
        want = "n/a" if actual == 0 else f"{error / actual * 100:,.1f}"
        assert shown[currency, week, "forecast_wape"] == want
        want = "n/a" if actual == 0 else f"{naive / actual * 100:,.1f}"
        assert shown[currency, week, "naive_wape"] == want
    assert "Cash forecast backtest" in html and "right-party contact %" in html
    ops = re.findall(r'data-currency="USD" data-column="(\w+_rate|cost_to_collect)">([^<]*)<', html)
    assert dict(ops)["right_party_contact_rate"] == "n/a"  # no call logged in the book
