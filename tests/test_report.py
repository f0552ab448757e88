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
