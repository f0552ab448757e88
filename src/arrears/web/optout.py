"""The signed opt-out link of every message (``channels.opt_out_url`` = ``<public URL>/opt-out``).

``GET /opt-out?d=<debtor>&c=<channel>&s=<signature>`` shows a small page in the debtor's language
(English or Spanish; others get English) asking to confirm; ``POST`` to the same URL performs
it. The POST is also RFC 8058 one-click unsubscription: a mail client posts
``List-Unsubscribe=One-Click`` to the ``List-Unsubscribe`` URL of the email (the same link), and
the signature in the link is the only authorisation needed. A link whose signature does not
match changes nothing and says so (403). Doing it twice records it once.
"""

from __future__ import annotations

from html import escape
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse

from arrears.channels.base import verify_opt_out
from arrears.domain.actor import debtor
from arrears.domain.ledger import SENT_CHANNELS
from arrears.services.outreach import messages
from arrears.web.app import Site, site
from arrears.web.errors import answers

router = APIRouter()
SiteDep = Annotated[Site, Depends(site)]
Param = Annotated[str, Query(max_length=300)]
Signature = Annotated[str, Query(alias="s", max_length=300)]

CHANNELS = tuple(str(c) for c in SENT_CHANNELS)

#: The answers besides the page (OpenAPI): the refusals are pages too, in both languages.
PAGES: dict[int | str, dict[str, object]] = {
    403: {
        "content": {"text/html": {}},
        "description": "The link's signature, debtor or channel was changed, or the server has "
        "no channels.secret: nothing was changed (a page in English and Spanish).",
    },
    404: {
        "content": {"text/html": {}},
        "description": "A signed link for a debtor the store does not have: nothing was changed.",
    },
    **answers(422),
}

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Stop messages",
        "ask": "Do you want to stop receiving {channel} about your account from {creditor}?",
        "button": "Yes, stop them",
        "done": "Done: you will not receive {channel} from {creditor} any more.",
        "again": "You had already asked: you will not receive {channel} from {creditor}.",
        "bad": "This link is not valid (it was changed or is incomplete). Nothing was changed.",
        "gone": "We could not find your account. Nothing was changed.",
        "email": "emails",
        "sms": "text messages",
        "whatsapp": "WhatsApp messages",
        "letter": "letters",
    },
    "es": {
        "title": "Dejar de recibir mensajes",
        "ask": "¿Quiere dejar de recibir {channel} sobre su cuenta de {creditor}?",
        "button": "Sí, no quiero recibirlos",
        "done": "Listo: ya no recibirá {channel} de {creditor}.",
        "again": "Ya lo había pedido: no recibirá {channel} de {creditor}.",
        "bad": "Este enlace no es válido (fue modificado o está incompleto). No se cambió nada.",
        "gone": "No encontramos su cuenta. No se cambió nada.",
        "email": "correos electrónicos",
        "sms": "mensajes de texto",
        "whatsapp": "mensajes de WhatsApp",
        "letter": "cartas",
    },
}


def _page(language: str, body: str, status: int = 200) -> HTMLResponse:
    t = TEXT[language]
    html = (
        f'<!doctype html><html lang="{language}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(t['title'])}</title>"
        "<style>body{font-family:sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}"
        "button{font-size:1rem;padding:.5rem 1rem}</style></head>"
        f"<body><h1>{escape(t['title'])}</h1>{body}</body></html>"
    )
    return HTMLResponse(
        html, status_code=status, headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}
    )


def _bad() -> HTMLResponse:
    # the link is not ours: we do not know the debtor's language, so both
    body = "".join(f'<p lang="{lang}">{escape(TEXT[lang]["bad"])}</p>' for lang in TEXT)
    return _page("en", body, 403)


def _checked(s: Site, d: str, c: str, sig: str) -> tuple[str, str] | HTMLResponse:
    """(language, channel name) for a valid link to a known debtor, else the page to show."""
    if c not in CHANNELS or not verify_opt_out(s.setting("channels.secret"), d, c, sig):
        return _bad()
    found = messages.debtor_language(s.uow(), debtor(d), portfolio=s.portfolio, debtor=d)
    if found is None:
        return _page("en", f"<p>{escape(TEXT['en']['gone'])}</p>", 404)
    language = found.lower()[:2] if found.lower()[:2] in TEXT else "en"
    return language, TEXT[language][c]


def _creditor(s: Site) -> str:
    return s.setting("channels.creditor_name") or s.setting("channels.from_name") or "us"


@router.get("/opt-out", response_class=HTMLResponse, responses=PAGES)
def confirm_page(s: SiteDep, d: Param = "", c: Param = "", s_: Signature = "") -> HTMLResponse:
    """The confirmation page (nothing changes on GET: link scanners follow links)."""
    checked = _checked(s, d, c, s_)
    if isinstance(checked, HTMLResponse):
        return checked
    language, channel = checked
    t = TEXT[language]
    action = "?" + urlencode({"d": d, "c": c, "s": s_})  # this URL, behind any proxy prefix
    body = (
        f"<p>{escape(t['ask'].format(channel=channel, creditor=_creditor(s)))}</p>"
        f'<form method="post" action="{escape(action)}">'
        f'<button type="submit" name="confirm" value="1">{escape(t["button"])}</button></form>'
    )
    return _page(language, body)


@router.post("/opt-out", response_class=HTMLResponse, responses=PAGES)
def opt_out(s: SiteDep, d: Param = "", c: Param = "", s_: Signature = "") -> HTMLResponse:
    """Perform the opt-out: the confirmation form, or RFC 8058 one-click (any body)."""
    checked = _checked(s, d, c, s_)
    if isinstance(checked, HTMLResponse):
        return checked
    language, channel = checked
    done = messages.opt_out(
        s.uow(), debtor(d), portfolio=s.portfolio, channel=c, at=s.clock(),
        source="opt-out link", debtor=d,
    )  # fmt: skip
    message = TEXT[language]["again" if done.found and not done.recorded else "done"]
    return _page(
        language, f"<p>{escape(message.format(channel=channel, creditor=_creditor(s)))}</p>"
    )
