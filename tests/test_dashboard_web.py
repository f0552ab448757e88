"""The manager's dashboard through HTTP (docs/kpi.md, "The manager's dashboard"), on SQLite and
PostgreSQL: the headline KPIs, the aging and the forecast of tests/test_forecast.py's book,
charts as inline SVG, the drill-down from a bucket to its accounts and on to an account page;
managers, admins and auditors see it, collectors get 403; English and Spanish; bad filters
reported together."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient

from arrears import config
from arrears.cli.app import main
from arrears.domain.errors import NotAllowed
from arrears.web import create_app
from test_forecast import build

PASSWORD = "correct-horse-battery"
PERIOD = "from=2026-01-01&to=2026-03-01"


def add_user(ws: Path, monkeypatch: pytest.MonkeyPatch, name: str, role: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["-w", str(ws), "user", "add", name, "--role", role, "--password-stdin"]) == 0


@pytest.fixture
def site(tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    ws = build(tmp_path, store_url)
    for name, role in (("boss", "manager"), ("maria", "collector"), ("ana", "auditor")):
        add_user(ws, monkeypatch, name, role)
    app = create_app(config.load(ws, env={}), clock=lambda: datetime(2026, 3, 15, 12, tzinfo=UTC))
    with TestClient(app, follow_redirects=False) as client:
        yield client


def login(client: TestClient, user: str) -> None:
    page = client.get("/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token, page
    form = {"csrf": token.group(1), "username": user, "password": PASSWORD, "next": "/"}
    assert client.post("/login", data=form).status_code == 303


def text_of(html: str) -> str:
    """The page's words, tags dropped and spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_the_manager_sees_the_figures_charts_and_drills_down(site: TestClient) -> None:
    assert site.get("/dashboard").status_code == 303  # logged out: to the login page
    login(site, "boss")
    page = site.get(f"/dashboard?{PERIOD}")
    assert page.status_code == 200, page.text
    html = page.text
    assert '<a href="/dashboard">Dashboard</a>' in html  # the nav link
    assert "<script" not in html and html.count("<svg") == 4  # aging and forecast, 2 currencies
    words = text_of(html)
    assert "Portfolio default, 2026-01-01 to 2026-03-01" in words
    # the headline: EUR and USD columns; USD collected 100.00 (P1), receivables 150.00
    assert "Measure EUR USD" in words
    assert "Collected 100.00 EUR 100.00 USD" in words
    assert "Receivables at end 80.00 EUR 150.00 USD" in words
    # the aging on 03-01: USD #2 29 days late (1-30), #3 not due; the forecast's weeks
    assert "1-30 1 100.00 USD 66.7 %" in words
    assert "1 2026-03-02 2026-03-08 30.00 USD 0.00 USD 0.00 USD 0.00 USD 30.00 USD" in words
    assert "2 2026-03-09 2026-03-15 0.00 USD 0.00 USD 10.00 USD 0.00 USD 10.00 USD" in words
    assert "Forecast by payment curve." in words
    # recovery by stage and agency: no case was open at the start, so every debtor is in
    # "(no case)": USD 250.00 billed, 100.00 collected: 40.0 %
    assert "Recovery by the stage of the debtor's case at the start" in words
    assert "(no case) USD 0.00 USD 250.00 USD 100.00 USD 40.0 150.00 USD" in words
    # the 1-30 bar of USD (and its row) opens the accounts behind it
    links = re.findall(r'href="(/dashboard/accounts\?[^"]*bucket=1-30[^"]*)"', html)
    assert links and all("currency=USD" in x for x in links), links
    accounts = site.get(unescape(links[0]))
    assert accounts.status_code == 200, accounts.text
    assert "Accounts in bucket 1-30 on 2026-03-01" in accounts.text
    assert text_of(accounts.text).count("D1 100.00 USD 100.00 USD 29") == 1
    debtor = re.search(r'href="(/accounts/D1)"', accounts.text)
    assert debtor and site.get(debtor.group(1)).status_code == 200
    # in one currency at the workspace's rates: 1 EUR = 1.10 USD
    words = text_of(site.get(f"/dashboard?{PERIOD}&in=USD").text)
    assert "Receivables at end 238.00 USD" in words
    assert "2 2026-03-09 2026-03-15 0.00 USD 0.00 USD 98.00 USD 0.00 USD 98.00 USD" in words


def test_roles_languages_and_bad_filters(site: TestClient) -> None:
    login(site, "maria")  # a collector
    assert site.get(f"/dashboard?{PERIOD}").status_code == 403
    assert site.get("/dashboard/accounts?bucket=1-30").status_code == 403
    assert 'href="/dashboard"' not in site.get("/worklist").text
    login(site, "ana")  # an auditor reads it, in Spanish
    page = site.get(f"/dashboard?{PERIOD}", headers={"Accept-Language": "es"})
    assert page.status_code == 200
    words = text_of(page.text)
    assert "Panel" in words and "Cifras principales" in words
    assert "Previsión de caja: cobros esperados por semana" in words
    bad = site.get("/dashboard?from=2026-02-30&to=2026-01-01&in=XYZ")
    assert bad.status_code == 422
    words = text_of(bad.text)
    assert "from : '2026-02-30' is not a date (YYYY-MM-DD)" in words
    assert "in : 'XYZ': choose one of the workspace's rated currencies (EUR, USD)" in words
    unknown = site.get("/dashboard/accounts?bucket=7-8&to=2026-03-01")
    assert unknown.status_code == 422


def test_recovery_by_stage_partitions_the_book(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """On a generated workspace whose cycle ran on DAY: the debtors grouped by their case's
    stage that day; the groups' collected amounts add up to the period's (SQLite)."""
    from arrears.domain.actor import Actor, Role
    from arrears.services.insight.dashboard import NO_CASE, bucket_accounts, recovery_by
    from arrears.services.insight.kpi import kpi_report
    from arrears.services.uow import SqlUnitOfWork
    from channels_support import DAY, base_workspace, copy_workspace, engine_of

    ws = copy_workspace(base_workspace(tmp_path_factory.mktemp("web")), tmp_path / "ws")
    start, end = DAY + timedelta(days=1), DAY + timedelta(days=40)
    boss = Actor("user:boss", Role.MANAGER)
    uow = SqlUnitOfWork(engine_of(ws))
    # a debtor the cycle opened a case for pays 10.00 a few days later
    late = bucket_accounts(uow, boss, portfolio="default", as_of=DAY, bucket="31-60").rows
    debtor, currency = late["debtor_external_id"][0], late["currency"][0]
    pay = ["payment", "add", "--debtor", debtor, "--id", "P-DASH", "--amount", "10.00"]
    on = (DAY + timedelta(days=5)).isoformat()
    assert main(["-w", str(ws), *pay, "--currency", currency, "--on", on]) == 0
    stage, agency, _ = recovery_by(uow, boss, portfolio="default", start=start, end=end)
    kpis = kpi_report(uow, boss, portfolio="default", start=start, end=end).headline
    paid = stage.filter((pl.col("currency") == currency) & (pl.col("collected") > 0))
    assert paid.select("stage", "collected").rows() != [] and NO_CASE not in paid["stage"]
    for frame in (stage, agency):
        collected = frame.group_by("currency").agg(pl.col("collected").sum()).sort("currency")
        assert collected.rows() == kpis.select("currency", "collected").sort("currency").rows()
        assert int(frame["collected"].sum()) >= 1000
    with pytest.raises(NotAllowed):
        recovery_by(
            uow, Actor("user:maria", Role.COLLECTOR), portfolio="default", start=start, end=end
        )


def test_the_page_reads_the_history_once_and_shows_what_four_reports_show(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dashboard measures the headline and recovery by stage, agency and collector from one
    read of the ledger's history (services.insight.kpi.kpi_reports); the page, through HTTP, is the
    one
    four separate reports (one read each, as before) give, word for word (SQLite, a generated
    book whose cycle opened cases)."""
    import arrears.services.insight.dashboard as dashboard_service
    import arrears.services.insight.kpi as kpi_service
    from channels_support import DAY, base_workspace, copy_workspace

    ws = copy_workspace(base_workspace(tmp_path_factory.mktemp("web")), tmp_path / "ws")
    add_user(ws, monkeypatch, "boss", "manager")
    reads: list[str] = []
    real = kpi_service.read_history

    def counted(engine: object, *, portfolio: str) -> object:
        reads.append(portfolio)
        return real(engine, portfolio=portfolio)  # type: ignore[arg-type]

    monkeypatch.setattr(kpi_service, "read_history", counted)
    period = f"from={DAY + timedelta(days=1)}&to={DAY + timedelta(days=40)}"
    app = create_app(config.load(ws, env={}), clock=lambda: datetime(2026, 12, 1, tzinfo=UTC))
    with TestClient(app, follow_redirects=False) as client:
        login(client, "boss")
        page = client.get(f"/dashboard?{period}")
        assert page.status_code == 200, page.text
        assert reads == ["default"]  # once, not once per grouping
        words = text_of(page.text)
        assert "Recovery by the stage of the debtor's case at the start" in words

        def one_by_one(uow: object, actor: object, *, by: tuple[str, ...], **kw: object) -> object:
            return {b: kpi_service.kpi_report(uow, actor, by=b, **kw) for b in by}  # type: ignore[arg-type]

        monkeypatch.setattr(dashboard_service, "kpi_reports", one_by_one)
        reads.clear()
        before = client.get(f"/dashboard?{period}")
        assert reads == ["default"] * 4
        assert text_of(before.text) == words
