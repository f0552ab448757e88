"""Paying online from the debtor's page (docs/web.md, "Paying online"): the payment provider
adapters.

- **Bank transfer** (``checkout.provider`` empty, the default): no redirect; the debtor's page
  shows the creditor's bank details and the payment reference.
- **Hosted checkout** (``hosted``): ``GET /pay/<token>/checkout?currency=C`` sends the debtor
  (303) to ``checkout.url`` with what to collect, a reference signed by us, where to come back
  and where to notify, all signed with ``checkout.secret`` (``sig``: hex HMAC-SHA256 of the
  sorted query). The provider sends the debtor back to ``/pay/<token>/checkout/return`` (its
  query signed the same way) and notifies ``POST /checkout/webhook`` server to server:
  ``X-Checkout-Timestamp`` and ``X-Checkout-Signature: v1=<hex HMAC-SHA256 of
  "<timestamp>.<body>">`` (:mod:`arrears.webhooks.signing`), body ``{"id": <its payment id>,
  "reference": <ours>, "status": "paid", "amount": "12.50", "currency": "USD", "paid_on":
  "YYYY-MM-DD"}``. A paid notification records the payment
  (:func:`arrears.services.books.payments_online.record_provider_payment`, ``<provider>:<id>`` in
  the
  ledger): the same notification again records nothing more.
- **The fake provider** (``fake``): the same protocol, served by this app under
  ``/fake-provider/`` (a page with a *Pay* button that notifies the webhook over HTTP, then
  sends the debtor back), its secret derived from ``channels.secret``: for tests and the demo.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode

import httpx
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from itsdangerous import BadSignature, URLSafeSerializer
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from arrears.channels.base import debtor_of_token
from arrears.domain.actor import debtor as debtor_actor
from arrears.domain.actor import system
from arrears.domain.allocation import AllocationRule
from arrears.services.books import payments_online
from arrears.web.app import Site
from arrears.web.callbacks import read_body
from arrears.web.errors import Problem, WebError, answers, problems_of
from arrears.web.i18n import amount as amount_text
from arrears.webhooks import signing

router = APIRouter()
FAKE = "fake"
TIMESTAMP, SIGNATURE = "X-Checkout-Timestamp", "X-Checkout-Signature"
_pages = Environment(
    loader=PackageLoader("arrears.web", "templates"), autoescape=select_autoescape(default=True)
)

WORDS = {
    "en": {
        "title": "Pay online",
        "paid": "Thank you: your payment was received. It is applied to your oldest invoices.",
        "cancelled": "The payment was not made. Nothing was charged.",
        "back": "Back to your account",
        "fake_title": "Fake payment provider (tests and demo)",
        "fake_pay": "Pay {amount}",
        "fake_cancel": "Cancel",
        "fake_note": "No money moves: this page stands in for a card payment provider.",
    },
    "es": {
        "title": "Pagar en línea",
        "paid": "Gracias: recibimos su pago. Se aplica a sus facturas más antiguas.",
        "cancelled": "El pago no se realizó. No se cobró nada.",
        "back": "Volver a su cuenta",
        "fake_title": "Proveedor de pagos de prueba (pruebas y demostración)",
        "fake_pay": "Pagar {amount}",
        "fake_cancel": "Cancelar",
        "fake_note": "No se mueve dinero: esta página hace las veces de un proveedor de pagos.",
    },
}
HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'",
}


# The provider's settings ------------------------------------------------------------------------


def provider(s: Site) -> str:
    """``hosted``, ``fake`` or ``""`` (bank transfer only)."""
    return s.setting("checkout.provider").strip().lower()


def secret(s: Site) -> str:
    """The secret shared with the provider (the fake provider's is derived from
    ``channels.secret``); empty: nothing can be signed or verified."""
    if provider(s) == FAKE:
        base = s.setting("channels.secret")
        return (
            hmac.new(base.encode(), b"arrears fake checkout", hashlib.sha256).hexdigest()
            if base
            else ""
        )
    return s.setting("checkout.secret") if provider(s) == "hosted" else ""


def _base(s: Site, request: Request) -> str:
    return (s.setting("web.public_url") or str(request.base_url)).rstrip("/")


def sign_query(key: str, params: dict[str, str]) -> str:
    """Hex HMAC-SHA256 of ``params`` (``sig`` left out) urlencoded in key order."""
    plain = urlencode(sorted((k, v) for k, v in params.items() if k != "sig"))
    return hmac.new(key.encode(), plain.encode(), hashlib.sha256).hexdigest()


def _signed(key: str, params: dict[str, str]) -> bool:
    given = params.get("sig", "")
    return bool(key) and hmac.compare_digest(sign_query(key, params), given)


def _references(key: str) -> URLSafeSerializer:
    return URLSafeSerializer(key, salt="arrears.checkout-reference")


def _site(request: Request) -> Site:
    found: Site = request.app.state.site
    return found


def _debtor(s: Site, token: str) -> str:
    found = debtor_of_token(s.setting("channels.secret"), token, now=s.clock().timestamp())
    if found is None:
        raise WebError(403, Problem("path token", "this link is not valid (or has expired)"))
    return found


def _unavailable() -> WebError:
    return WebError(
        404, Problem("checkout.provider", "paying online is not set up: pay by bank transfer")
    )


# The debtor's side ------------------------------------------------------------------------------


@router.get("/pay/{token}/checkout", include_in_schema=False)
def start(
    request: Request,
    token: str,
    currency: Annotated[str, Query(min_length=3, max_length=3)],
) -> RedirectResponse:
    """Send the debtor to the provider's checkout for what is overdue in ``currency``."""
    s = _site(request)
    who = _debtor(s, token)
    key = secret(s)
    if provider(s) not in ("hosted", FAKE) or not key:
        raise _unavailable()
    today = s.clock().date()
    found = payments_online.checkout(
        s.uow(), debtor_actor(who), portfolio=s.portfolio, debtor=who, currency=currency,
        as_of=today,
    )  # fmt: skip
    base = _base(s, request)
    reference = _references(key).dumps(
        {
            "d": who,
            "c": found.currency,
            "a": str(found.amount.amount),
            "t": int(s.clock().timestamp()),
        }
    )
    params = {
        "reference": reference,
        "amount": str(found.amount.amount),
        "currency": found.currency,
        "language": found.language,
        "return_url": f"{base}/pay/{token}/checkout/return",
        "notify_url": f"{base}/checkout/webhook",
    }
    params["sig"] = sign_query(key, params)
    target = (
        s.setting("checkout.url") if provider(s) == "hosted" else f"{base}/fake-provider/checkout"
    )
    if not target:
        raise _unavailable()
    joiner = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{joiner}{urlencode(params)}", status_code=303)


@router.get("/pay/{token}/checkout/return", include_in_schema=False, response_class=HTMLResponse)
def came_back(request: Request, token: str) -> HTMLResponse:
    """Where the provider sends the debtor back: says whether the payment was made."""
    s = _site(request)
    _debtor(s, token)
    params = dict(request.query_params)
    if not _signed(secret(s), params):
        raise WebError(403, Problem("query sig", "not signed by the payment provider"))
    try:
        found = _references(secret(s)).loads(params.get("reference", ""))
    except BadSignature:
        raise WebError(403, Problem("query reference", "not ours")) from None
    language = params.get("language", "en") if params.get("language") in WORDS else "en"
    words = WORDS[language]
    paid = params.get("status") == "paid"
    html = _pages.get_template("checkout.html").render(
        lang=language, w=words, message=words["paid" if paid else "cancelled"],
        back=f"/pay/{token}", amount=amount_text(Decimal(found["a"]), found["c"], language),
        fake=None,
    )  # fmt: skip
    return HTMLResponse(html, headers=HEADERS)


# The provider's notification --------------------------------------------------------------------


class Notification(BaseModel):
    """What the provider notifies: its payment of one of our references."""

    model_config = ConfigDict(extra="ignore")
    id: str = Field(min_length=1, max_length=150, description="The provider's payment id.")
    reference: str = Field(min_length=1, max_length=2000, description="Ours, as sent.")
    status: Literal["paid", "failed", "cancelled", "pending"]
    amount: Decimal = Field(gt=0)
    currency: str = Field(min_length=3, max_length=3)
    paid_on: date | None = None


class Recorded(BaseModel):
    payment: str | None = Field(description="The ledger's payment id (null: not paid).")
    recorded: bool = Field(description="false: reported before, or not a payment.")


@router.post(
    "/checkout/webhook",
    response_model=Recorded,
    responses=answers(401, 403, 404, 413, 422),
    tags=["checkout"],
)
async def notified(request: Request) -> Recorded:
    """A payment provider's signed notification: a paid one is recorded in the ledger once."""
    s = _site(request)
    stamp = request.headers.get(TIMESTAMP.lower(), "").strip()
    given = request.headers.get(SIGNATURE.lower(), "").strip()
    if not stamp or not given:
        raise WebError(401, Problem(f"header {SIGNATURE}", f"missing: {TIMESTAMP} and {SIGNATURE}"))
    key = secret(s)
    if not key:
        raise WebError(403, Problem("server", "no checkout provider is set up: nothing verifies"))
    body = await read_body(request, s.max_body)
    if not signing.verify(key, stamp, body, given, now=s.clock()):
        raise WebError(
            403, Problem(f"header {SIGNATURE}", "does not match (or too old): not accepted")
        )
    try:
        note = Notification.model_validate_json(body)
    except ValidationError as exc:
        raise WebError(422, *problems_of(exc, "body.")) from None
    try:
        ours = _references(key).loads(note.reference)
    except BadSignature:
        raise WebError(403, Problem("body.reference", "not a reference of ours")) from None
    if note.status != "paid":
        return Recorded(payment=None, recorded=False)
    rule = s.workspace.get("allocation_rule") if s.workspace is not None else ""
    posting = await run_in_threadpool(
        payments_online.record_provider_payment,
        s.uow(), system("checkout"), portfolio=s.portfolio, provider=provider(s) or "hosted",
        provider_payment=note.id, debtor=str(ours["d"]), amount=note.amount,
        currency=note.currency, received_on=note.paid_on or s.clock().date(),
        reference=f"checkout {note.id}", at=s.clock(),
        **({"rule": AllocationRule(rule)} if rule else {}),
    )  # fmt: skip
    return Recorded(payment=posting.document, recorded=posting.changed)


# The fake provider ------------------------------------------------------------------------------


def _fake_only(s: Site) -> str:
    if provider(s) != FAKE or not secret(s):
        raise WebError(404, Problem("checkout.provider", "the fake provider is off"))
    return secret(s)


@router.get("/fake-provider/checkout", include_in_schema=False, response_class=HTMLResponse)
def fake_page(request: Request) -> HTMLResponse:
    """The fake provider's checkout page: what is collected and a *Pay* button."""
    s = _site(request)
    key = _fake_only(s)
    params = dict(request.query_params)
    if not _signed(key, params):
        raise WebError(403, Problem("query sig", "not signed by the creditor"))
    language = params.get("language") if params.get("language") in WORDS else "en"
    words = WORDS[str(language)]
    shown = amount_text(Decimal(params["amount"]), params["currency"], str(language))
    html = _pages.get_template("checkout.html").render(
        lang=language, w=words, message=words["fake_note"], back=None, amount=shown,
        fake={"fields": params, "pay": words["fake_pay"].format(amount=shown)},
    )  # fmt: skip
    return HTMLResponse(html, headers=HEADERS)


@router.post("/fake-provider/checkout", include_in_schema=False)
async def fake_pay(request: Request) -> RedirectResponse:
    """Pay (or cancel): notify the creditor's webhook over HTTP, as a provider does, then send
    the debtor back. The payment id is the reference's: paying twice is the same payment."""
    s = _site(request)
    key = _fake_only(s)
    raw = (await read_body(request, 64_000)).decode("utf-8", "replace")
    try:
        form = dict(parse_qsl(raw, max_num_fields=10))
        params: dict[str, Any] = json.loads(form.get("fields", ""))
    except ValueError:
        raise WebError(422, Problem("body.fields", "not the checkout's fields")) from None
    if not isinstance(params, dict) or not _signed(
        key, {str(k): str(v) for k, v in params.items()}
    ):
        raise WebError(403, Problem("body.fields", "not signed by the creditor"))
    status = "paid" if form.get("outcome", "paid") == "paid" else "cancelled"
    paid_id = "fp_" + hashlib.sha256(str(params["reference"]).encode()).hexdigest()[:24]
    if status == "paid":
        body = json.dumps(
            {"id": paid_id, "reference": params["reference"], "status": "paid",
             "amount": params["amount"], "currency": params["currency"],
             "paid_on": s.clock().date().isoformat()}
        )  # fmt: skip
        async with httpx.AsyncClient(timeout=30) as client:
            answer = await client.post(
                str(params["notify_url"]), content=body.encode(),
                headers=fake_headers(key, body, int(s.clock().timestamp())),
            )  # fmt: skip
        if answer.status_code != 200:
            raise WebError(
                503, Problem("notify_url", f"the creditor answered {answer.status_code}")
            )
    back = {"reference": str(params["reference"]), "status": status, "payment": paid_id,
            "language": str(params.get("language", "en"))}  # fmt: skip
    back["sig"] = sign_query(key, back)
    return RedirectResponse(f"{params['return_url']}?{urlencode(back)}", status_code=303)


def fake_headers(key: str, body: str, timestamp: int) -> dict[str, str]:
    """The headers of a provider's notification of ``body`` at ``timestamp``."""
    return {
        "Content-Type": "application/json",
        TIMESTAMP: str(timestamp),
        SIGNATURE: signing.signature(key, timestamp, body),
    }
