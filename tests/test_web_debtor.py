"""The debtor's own page through HTTP (docs/web.md): reached from the signed link in a real
message, nothing without a valid token (forged, another debtor's changed, expired, no secret),
rate-limited, in the debtor's language; what is owed, the statement PDF, a promise, a dispute,
an opt-out, and how to pay, each recorded as ``debtor:ID``."""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from email.message import Message
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from arrears import config
from arrears.channels.base import MissingSecret, debtor_token
from arrears.cli.app import main
from arrears.domain.actor import debtor as debtor_actor
from arrears.domain.errors import NotAllowed
from arrears.services.casework import collection
from arrears.services.outreach import selfservice
from arrears.services.uow import SqlUnitOfWork, open_store
from arrears.store.schema import consent, contact_point, invoice, promise
from arrears.store.schema import debtor as debtor_table
from arrears.web import create_app
from channels_support import SENDING_ENV, base_workspace, copy_workspace, engine_of
from test_web_app import NOW, TODAY, records

IBAN = "ES9121000418450200051332"


@dataclass
class Page:
    ws: Path
    client: TestClient
    now: list[datetime]
    secret: str

    def link(self, debtor: str) -> str:
        return f"/pay/{debtor_token(self.secret, debtor)}"


def _app(ws: Path, now: list[datetime], **env: str) -> TestClient:
    settings = config.load(ws, env={"ARREARS_CREDITOR_IBAN": IBAN, **env})
    return TestClient(create_app(settings, clock=lambda: now[0]), follow_redirects=False)


@pytest.fixture
def page(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Iterator[Page]:
    ws = copy_workspace(base_workspace(tmp_path_factory.mktemp("debtor")), tmp_path / "ws")
    now = [NOW]
    with _app(ws, now) as client:
        yield Page(ws, client, now, config.load(ws, env={}).get("channels.secret"))


def _debtor(ws: Path, language: str = "en") -> str:
    """A debtor with an open overdue invoice, speaking ``language``."""
    with engine_of(ws).connect() as conn:
        return str(
            conn.execute(
                select(debtor_table.c.external_id)
                .join(invoice, invoice.c.debtor_id == debtor_table.c.id)
                .where(invoice.c.status == "open", debtor_table.c.language.startswith(language))
                .order_by(debtor_table.c.external_id)
                .limit(1)
            ).scalar_one()
        )


def _emails(ws: Path) -> list[Message]:
    return [email.message_from_bytes(p.read_bytes()) for p in sorted(ws.rglob("*.eml"))]


def _text(msg: Message) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    return ""


def test_the_payment_link_of_a_sent_message_opens_the_debtors_page(
    page: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in SENDING_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ARREARS_WEB_PUBLIC_URL", "https://collect.example.com")
    assert main(["-w", str(page.ws), "dispatch"]) == 0
    links = {
        m.group(1)
        for msg in _emails(page.ws)
        for m in re.finditer(r"https://collect\.example\.com(/pay/[A-Za-z0-9._-]+)", _text(msg))
    }
    assert links, "the emails carry the debtor's page as their payment link"
    for link in sorted(links)[:2]:
        shown = page.client.get(link)
        assert shown.status_code == 200
        assert 'id="invoices"' in shown.text or 'id="nothing-owed"' in shown.text
        assert shown.headers["x-robots-tag"] == "noindex"
    assert "pay.example.com" not in "".join(_text(m) for m in _emails(page.ws))


def test_the_page_shows_what_is_owed_the_statement_and_how_to_pay(page: Page) -> None:
    debtor = _debtor(page.ws, "en")
    shown = page.client.get(page.link(debtor))
    assert shown.status_code == 200 and shown.text.count('<html lang="en"') == 1
    html = shown.text
    assert "What you owe" in html and debtor in html
    invoices = html.split('id="invoices"')[1].split("</table>")[0]
    assert re.search(r'class="num">\d+</td>', invoices)  # days past due
    assert IBAN in html and "Payment reference" in html
    pdf = page.client.get(page.link(debtor) + "/statement.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    spanish = page.client.get(page.link(_debtor(page.ws, "es"))).text
    assert '<html lang="es"' in spanish and "Lo que debe" in spanish


def test_without_a_valid_token_nothing_is_shown(page: Page) -> None:
    debtor, other = _debtor(page.ws, "en"), _debtor(page.ws, "es")
    token = debtor_token(page.secret, debtor)
    rest = token.partition(".")[2]
    forged = debtor_token(page.secret, other).split(".")[0] + "." + rest  # another debtor's id
    for bad in (
        forged,
        debtor_token("not the workspace's secret", debtor),
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        "x",
    ):
        refused = page.client.get(f"/pay/{bad}")
        assert refused.status_code == 403, bad
        assert debtor not in refused.text and other not in refused.text
        assert "not valid" in refused.text and "no es válido" in refused.text
        assert page.client.get(f"/pay/{bad}/statement.pdf").status_code == 403
        posted = page.client.post(
            f"/pay/{bad}/promise", data={"amount": "1", "due_on": "2030-01-01"}
        )
        assert posted.status_code == 403
    page.now[0] = NOW + timedelta(days=61)  # the link has expired
    assert page.client.get(f"/pay/{token}").status_code == 403
    page.now[0] = NOW
    assert page.client.get(f"/pay/{token}").status_code == 200
    # a server without a secret refuses every link (the empty key is known to everyone)
    with _app(page.ws, page.now, ARREARS_CHANNELS_SECRET="") as bare:
        assert bare.get(f"/pay/{token}").status_code == 403
    with pytest.raises(MissingSecret):
        debtor_token("", debtor)
    # the services refuse a debtor acting for another
    store = open_store(config.load(page.ws, env={}).database_url, checked=False)
    portfolio = config.load(page.ws, env={}).get("portfolio")
    with pytest.raises(NotAllowed):
        selfservice.debtor_account(SqlUnitOfWork(store), debtor_actor(other), portfolio=portfolio,
                                   debtor=debtor, as_of=TODAY)  # fmt: skip
    with pytest.raises(NotAllowed):
        collection.add_promise(
            SqlUnitOfWork(store), debtor_actor(other), portfolio=portfolio, debtor=debtor,
            amount=Decimal("1"), due_on=TODAY, made_on=TODAY,
            at=NOW,
        )  # fmt: skip


def test_a_debtor_promises_disputes_and_opts_out(page: Page) -> None:
    debtor = _debtor(page.ws, "en")
    link = page.link(debtor)
    due = (TODAY + timedelta(days=7)).isoformat()
    shown = page.client.get(link).text
    amount = re.search(r'id="amount" name="amount"[^>]*value="([^"]*)"', shown)
    assert amount and amount.group(1)
    bad = page.client.post(f"{link}/promise", data={"amount": "lots", "due_on": "soon"})
    assert bad.status_code == 422 and "Nothing was recorded" in bad.text
    done = page.client.post(f"{link}/promise", data={"amount": amount.group(1), "due_on": due})
    assert done.status_code == 303
    thanks = page.client.get(done.headers["location"]).text
    assert "your promise was recorded" in thanks and "You promised to pay" in thanks
    made = records(page.ws, "promise.made")
    assert [r["actor"] for r in made] == [f"debtor:{debtor}"]
    with engine_of(page.ws).connect() as conn:
        assert conn.execute(select(promise.c.due_on)).scalars().all()[-1].isoformat() == due

    number = re.search(r'<option value="([^"]+)"', shown.split('id="dispute-form"')[1])
    assert number
    empty = page.client.post(f"{link}/dispute", data={"invoice": number.group(1), "reason": ""})
    assert empty.status_code == 422 and "say why" in empty.text
    disputed = page.client.post(
        f"{link}/dispute", data={"invoice": number.group(1), "reason": "never delivered"}
    )
    assert disputed.status_code == 303
    with engine_of(page.ws).connect() as conn:
        flag = conn.execute(
            select(invoice.c.disputed, invoice.c.disputed_on).where(
                invoice.c.number == number.group(1)
            )
        ).first()
    assert flag is not None and flag.disputed and flag.disputed_on == TODAY
    mine = f"debtor:{debtor}"
    [record] = [r for r in records(page.ws, "dispute.opened") if r["actor"] == mine]
    assert (record["actor"], record["payload"]["reason"], record["payload"]["note"]) == (
        f"debtor:{debtor}",
        "other",
        "never delivered",
    )
    again = page.client.post(f"{link}/dispute", data={"invoice": number.group(1), "reason": "x"})
    assert again.status_code == 303
    assert [r for r in records(page.ws, "dispute.opened") if r["actor"] == record["actor"]] == [
        record
    ]

    out = page.client.post(f"{link}/opt-out", data={"channel": "email"})
    assert out.status_code == 303
    with engine_of(page.ws).connect() as conn:
        statuses = (
            conn.execute(
                select(consent.c.status)
                .join(contact_point, contact_point.c.id == consent.c.contact_point_id)
                .join(debtor_table, debtor_table.c.id == contact_point.c.debtor_id)
                .where(debtor_table.c.external_id == debtor, consent.c.channel == "email")
            )
            .scalars()
            .all()
        )
    assert statuses and set(statuses) == {"denied"}
    assert [r["actor"] for r in records(page.ws, "message.opted_out")] == [f"debtor:{debtor}"]


def test_the_page_is_rate_limited(page: Page) -> None:
    page.client.app.state.debtor_limiter.limit = 3  # type: ignore[attr-defined]
    link = page.link(_debtor(page.ws))
    assert [page.client.get(link).status_code for _ in range(3)] == [200, 200, 200]
    limited = page.client.get(link)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert page.client.get("/pay/forged").status_code == 429


def test_the_collector_sees_the_debtors_promise_and_dispute(page: Page) -> None:
    debtor = _debtor(page.ws, "en")
    due = (TODAY + timedelta(days=5)).isoformat()
    link = page.link(debtor)
    promised = page.client.post(f"{link}/promise", data={"amount": "1.00", "due_on": due})
    assert promised.status_code == 303
    number = re.search(
        r'<option value="([^"]+)"', page.client.get(link).text.split('id="dispute-form"')[1]
    )
    assert number
    disputed = page.client.post(
        f"{link}/dispute", data={"invoice": number.group(1), "reason": "wrong price"}
    )
    assert disputed.status_code == 303
    from test_web_app import add_user, login

    monkeypatch = pytest.MonkeyPatch()
    try:
        assert add_user(page.ws, monkeypatch, "maria", "collector") == 0
    finally:
        monkeypatch.undo()
    assert login(page.client, "maria") == 303
    account = page.client.get(f"/accounts/{debtor}").text
    timeline = account.split('id="activity"')[1]
    assert "promise.made" in timeline and f"debtor:{debtor}" in timeline
    assert "dispute.opened" in timeline and "wrong price" in timeline
    promises = account.split('id="promises"')[1].split("</table>")[0]
    assert due in promises and "open" in promises


def test_hostile_debtor_data_is_shown_as_text(page: Page) -> None:
    debtor = _debtor(page.ws, "en")
    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    with engine_of(page.ws).begin() as conn:
        conn.execute(
            update(debtor_table).where(debtor_table.c.external_id == debtor).values(name=hostile)
        )
    html = page.client.get(page.link(debtor)).text
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
