"""``/disputes`` through HTTP: a collector opens a dispute on an invoice and resolves it (CSRF on
both forms), bad input comes back with every problem, an auditor may look but not act, and the
page speaks Spanish."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from arrears import config
from arrears.store.schema import dispute, invoice
from arrears.web import create_app
from channels_support import base_workspace, copy_workspace, engine_of
from test_web_app import NOW, Web, add_user, csrf_of, login, records


@pytest.fixture
def web(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Web]:
    ws = copy_workspace(base_workspace(tmp_path_factory.mktemp("web")), tmp_path / "ws")
    assert add_user(ws, monkeypatch, "maria", "collector") == 0
    assert add_user(ws, monkeypatch, "ana", "auditor") == 0
    now = [NOW]
    app = create_app(config.load(ws, env={}), clock=lambda: now[0])
    with TestClient(app, follow_redirects=False) as client:
        yield Web(ws, client, now)


def an_undisputed_invoice(ws: Path) -> str:
    with engine_of(ws).connect() as conn:
        number = conn.execute(
            select(invoice.c.number)
            .where(invoice.c.disputed.is_(False), invoice.c.status == "open")
            .order_by(invoice.c.id)
        ).scalar()
    assert number is not None
    return str(number)


def test_a_collector_opens_and_rejects_a_dispute(web: Web) -> None:
    assert web.client.get("/disputes").status_code == 303  # log in first
    assert login(web.client, "maria") == 303
    worklist = web.client.get("/worklist")
    assert '<a href="/disputes">Disputes</a>' in worklist.text  # reached from every page's menu
    page = web.client.get("/disputes")
    assert page.status_code == 200 and "<h1>Disputes" in page.text
    number = an_undisputed_invoice(web.ws)
    form = {"invoices": number, "reason": "quality", "note": "broken on arrival",
            "owner": "maria"}  # fmt: skip
    assert web.client.post("/disputes", data=form).status_code == 403  # no CSRF token
    token = csrf_of(page.text)
    bad = web.client.post(
        "/disputes", data={"csrf": token, "invoices": f"{number} NOPE-1", "reason": "rude"}
    )
    assert bad.status_code == 422
    assert "unknown reason" in bad.text and "unknown invoice &#39;NOPE-1&#39;" in bad.text
    opened = web.client.post("/disputes", data={"csrf": token, **form})
    assert opened.status_code == 303 and opened.headers["location"] == "/disputes"
    with engine_of(web.ws).connect() as conn:
        row = conn.execute(
            select(dispute.c.id, dispute.c.status, dispute.c.opened_by).where(
                dispute.c.reason == "quality"
            )
        ).one()
        flagged = conn.execute(select(invoice.c.disputed).where(invoice.c.number == number))
        assert flagged.scalar_one() is True
    assert (row.status, row.opened_by) == ("open", "user:maria")
    listed = web.client.get("/disputes?owner=maria").text
    assert f'id="dispute-{row.id}"' in listed and "broken on arrival" in listed
    assert f'action="/disputes/{row.id}/resolve"' in listed
    rejected = web.client.post(
        f"/disputes/{row.id}/resolve",
        data={"csrf": token, "outcome": "rejected", "note": "delivery note signed"},
    )
    assert rejected.status_code == 303
    [record] = [r for r in records(web.ws, "dispute.rejected") if r["subject_id"] == str(row.id)]
    assert record["actor"] == "user:maria"
    with engine_of(web.ws).connect() as conn:
        flagged = conn.execute(select(invoice.c.disputed).where(invoice.c.number == number))
        assert flagged.scalar_one() is False
    again = web.client.post(
        f"/disputes/{row.id}/resolve", data={"csrf": token, "outcome": "rejected"}
    )
    assert again.status_code == 409


def test_an_auditor_looks_but_does_not_act_and_the_page_speaks_spanish(web: Web) -> None:
    assert login(web.client, "ana") == 303
    page = web.client.get("/disputes", headers={"accept-language": "es"})
    assert page.status_code == 200 and "<h1>Disputas" in page.text
    number = an_undisputed_invoice(web.ws)
    refused = web.client.post(
        "/disputes",
        data={"csrf": csrf_of(page.text), "invoices": number, "reason": "other"},
    )
    assert refused.status_code == 403
