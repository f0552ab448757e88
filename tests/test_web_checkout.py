"""Paying online through HTTP (docs/web.md, "Paying online"): the app served by uvicorn on a
loopback port with the fake provider; a debtor's link -> checkout -> the fake provider's page
-> Pay -> its signed notification over HTTP -> the payment in the ledger, applied to the
debtor's invoices and in the activity log; the same notification replayed records nothing
more; a bad or stale signature is refused; without a provider there is no checkout."""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from arrears import config
from arrears.channels.base import debtor_token
from arrears.store.schema import activity, instalment, payment
from arrears.store.schema import debtor as debtor_table
from arrears.web import create_app
from arrears.web.checkout import fake_headers
from channels_support import base_workspace, copy_workspace, engine_of, free_port
from test_web_endpoints import serve


@dataclass
class Shop:
    ws: Path
    base: str
    client: httpx.Client
    secret: str  # the fake provider's (derived from channels.secret)
    channels_secret: str


def served(ws: Path, provider: str) -> Iterator[Shop]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"ARREARS_WEB_PUBLIC_URL": base, "ARREARS_CHECKOUT_PROVIDER": provider}
    loaded = config.load(ws, env=env)
    app = create_app(loaded)
    from arrears.web.checkout import secret

    server, thread = serve(app, port)
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            yield Shop(ws, base, client, secret(app.state.site), loaded.get("channels.secret"))
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def ws(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Path:
    return copy_workspace(base_workspace(tmp_path_factory.mktemp("pay")), tmp_path / "ws")


@pytest.fixture
def shop(ws: Path) -> Iterator[Shop]:
    yield from served(ws, "fake")


def owing(ws: Path) -> tuple[str, str, int]:
    """A debtor with something open, its currency and what is open in it (minor units)."""
    with engine_of(ws).connect() as conn:
        row = conn.execute(
            select(
                debtor_table.c.external_id, instalment.c.currency, func.sum(instalment.c.open_minor)
            )
            .join(debtor_table, debtor_table.c.id == instalment.c.debtor_id)
            .where(instalment.c.open_minor > 0)
            .group_by(debtor_table.c.external_id, instalment.c.currency)
            .order_by(debtor_table.c.external_id)
            .limit(1)
        ).one()
    return str(row[0]), str(row[1]), int(row[2])


def open_minor(ws: Path, debtor: str, currency: str) -> int:
    with engine_of(ws).connect() as conn:
        return int(
            conn.execute(
                select(func.coalesce(func.sum(instalment.c.open_minor), 0))
                .join(debtor_table, debtor_table.c.id == instalment.c.debtor_id)
                .where(debtor_table.c.external_id == debtor, instalment.c.currency == currency)
            ).scalar_one()
        )


def online_payments(ws: Path) -> list[dict[str, object]]:
    with engine_of(ws).connect() as conn:
        return [
            dict(r._mapping)
            for r in conn.execute(
                select(payment.c.external_id, payment.c.amount_minor, payment.c.method).where(
                    payment.c.method == "online"
                )
            )
        ]


def test_a_debtor_pays_through_the_fake_provider_once(shop: Shop) -> None:
    debtor, currency, before = owing(shop.ws)
    token = debtor_token(shop.channels_secret, debtor)
    # the debtor's own page offers the card payment, per currency, and the link starts it
    own = shop.client.get(f"/pay/{token}")
    assert own.status_code == 200 and 'id="pay-online"' in own.text, own.text
    links = re.findall(r'<ul id="pay-online">.*?</ul>', own.text, re.S)[0]
    hrefs = [html.unescape(h) for h in re.findall(r'href="([^"]+)"', links)]
    [href] = [h for h in hrefs if h.endswith(f"currency={currency}")]
    assert "by card" in links or "con tarjeta" in links
    start = shop.client.get(href)
    assert start.status_code == 303, start.text
    to_provider = start.headers["location"]
    assert to_provider.startswith(f"{shop.base}/fake-provider/checkout?")
    page = shop.client.get(to_provider)
    assert page.status_code == 200 and 'id="pay"' in page.text
    fields = html.unescape(re.search(r'name="fields" value="([^"]*)"', page.text).group(1))
    sent = json.loads(fields)
    assert sent["currency"] == currency and sent["notify_url"] == f"{shop.base}/checkout/webhook"
    amount_minor = round(float(sent["amount"]) * 100) if currency != "JPY" else int(sent["amount"])

    paid = shop.client.post("/fake-provider/checkout", data={"fields": fields, "outcome": "paid"})
    assert paid.status_code == 303, paid.text
    back = shop.client.get(paid.headers["location"])
    assert back.status_code == 200 and ("Thank you" in back.text or "Gracias" in back.text)

    [recorded] = online_payments(shop.ws)
    assert str(recorded["external_id"]).startswith("fake:fp_")
    assert recorded["amount_minor"] == amount_minor
    assert open_minor(shop.ws, debtor, currency) == before - amount_minor
    with engine_of(shop.ws).connect() as conn:
        actors = (
            conn.execute(
                select(activity.c.actor).where(
                    activity.c.kind == "payment.posted",
                    activity.c.subject_id == recorded["external_id"],
                )
            )
            .scalars()
            .all()
        )
    assert actors == ["system:checkout"]

    # the provider notifies again (and the debtor presses Pay twice): nothing more
    note = json.dumps({"id": str(recorded["external_id"]).split(":", 1)[1],
                       "reference": sent["reference"], "status": "paid",
                       "amount": sent["amount"], "currency": currency})  # fmt: skip
    again = shop.client.post("/checkout/webhook", content=note,
                             headers=fake_headers(shop.secret, note, int(time.time())))  # fmt: skip
    assert again.status_code == 200 and again.json()["recorded"] is False
    twice = shop.client.post("/fake-provider/checkout", data={"fields": fields, "outcome": "paid"})
    assert twice.status_code == 303
    assert len(online_payments(shop.ws)) == 1
    assert open_minor(shop.ws, debtor, currency) == before - amount_minor


def test_notifications_without_a_good_signature_are_refused(shop: Shop) -> None:
    debtor, currency, before = owing(shop.ws)
    token = debtor_token(shop.channels_secret, debtor)
    to_provider = shop.client.get(f"/pay/{token}/checkout", params={"currency": currency})
    reference = httpx.URL(to_provider.headers["location"]).params["reference"]
    note = json.dumps({"id": "forged-1", "reference": reference, "status": "paid",
                       "amount": "1.00", "currency": currency})  # fmt: skip
    now = int(time.time())
    forged = fake_headers("not-the-secret", note, now)
    assert shop.client.post("/checkout/webhook", content=note, headers=forged).status_code == 403
    stale = fake_headers(shop.secret, note, now - 3600)
    assert shop.client.post("/checkout/webhook", content=note, headers=stale).status_code == 403
    bare = shop.client.post("/checkout/webhook", content=note,
                            headers={"Content-Type": "application/json"})  # fmt: skip
    assert bare.status_code == 401
    other = json.dumps({"id": "forged-2", "reference": "made-up", "status": "paid",
                        "amount": "1.00", "currency": currency})  # fmt: skip
    ours = fake_headers(shop.secret, other, now)
    assert shop.client.post("/checkout/webhook", content=other, headers=ours).status_code == 403
    assert online_payments(shop.ws) == []
    assert open_minor(shop.ws, debtor, currency) == before
    # a forged debtor link does not start a checkout
    assert shop.client.get("/pay/forged/checkout", params={"currency": currency}).status_code == 403


def test_without_a_provider_there_is_no_checkout(ws: Path) -> None:
    for shop in served(ws, ""):
        debtor, currency, _ = owing(ws)
        token = debtor_token(shop.channels_secret, debtor)
        own = shop.client.get(f"/pay/{token}")
        assert own.status_code == 200 and 'id="pay-online"' not in own.text
        none = shop.client.get(f"/pay/{token}/checkout", params={"currency": currency})
        assert none.status_code == 404
        assert none.json()["problems"][0]["where"] == "checkout.provider"
        assert shop.client.get("/fake-provider/checkout").status_code == 404
