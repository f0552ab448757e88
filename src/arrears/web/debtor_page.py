"""The debtor's own page (docs/web.md), reached from the payment link of every message:
``<web.public_url>/pay/<token>``, the token signed with the workspace's ``channels.secret``
(itsdangerous, timestamped; :func:`arrears.channels.base.debtor_token`) and working
:data:`~arrears.channels.base.DEBTOR_LINK_MAX_AGE` at most.

Without a valid token nothing is shown (403, the same page for a forged, changed or expired
token and for a server without a secret, in English and Spanish). With one the debtor, as
``debtor:ID``, sees what is owed per invoice, downloads the statement (PDF), promises a date,
disputes an invoice with a reason, opts out of a channel, and reads how to pay (bank transfer,
from the ``creditor.*`` settings). The token in the path is the only authorisation: forms carry
it in their URL, so another site cannot post without knowing it (no cookie is used). Requests
are rate-limited per client address (:class:`Limiter`), and the page is in the debtor's
language (English or Spanish).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from arrears.channels.base import debtor_of_token
from arrears.channels.letter import payment_reference
from arrears.domain.actor import Actor, debtor
from arrears.domain.errors import NotAllowed, NotFound
from arrears.domain.ledger import SENT_CHANNELS
from arrears.domain.money import from_minor
from arrears.domain.problems import ProblemsFound
from arrears.services import collection, messages, selfservice
from arrears.web import i18n
from arrears.web.app import Site
from arrears.web.pages import HEADERS, _form, _templates, _today

router = APIRouter(include_in_schema=False)
CHANNELS = tuple(str(c) for c in SENT_CHANNELS)


class Limiter:
    """At most ``limit`` requests per client address over ``window`` seconds, in this process
    (behind a proxy, the address uvicorn trusts: docs/web.md)."""

    def __init__(self, limit: int = 60, window: float = 60) -> None:
        self.limit, self.window = limit, window
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait(self, address: str) -> int:
        """Seconds to wait before ``address`` may be answered (0: now; the request counts)."""
        now = time.monotonic()
        with self._lock:
            seen = self._seen.setdefault(address, deque())
            while seen and seen[0] <= now - self.window:
                seen.popleft()
            if len(seen) >= self.limit:
                return max(1, math.ceil(seen[0] + self.window - now))
            seen.append(now)
            if len(self._seen) > 100_000:
                quiet = now - self.window
                for key in [k for k, v in self._seen.items() if not v or v[-1] <= quiet]:
                    del self._seen[key]
            return 0


class _Refused(Exception):
    def __init__(self, status: int, language: str | None = None, wait: int = 0) -> None:
        super().__init__(status)
        self.status, self.language, self.wait = status, language, wait


def _render(language: str, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _templates.get_template(template).render(
        t=i18n.TEXT[language], lang=language, user=None, csrf="", **context
    )
    headers = HEADERS | {"X-Robots-Tag": "noindex", "Referrer-Policy": "no-referrer"}
    return HTMLResponse(html, status_code=status, headers=headers)


def _refusal(exc: _Refused) -> HTMLResponse:
    languages = [exc.language] if exc.language else list(i18n.LANGUAGES)
    key = {403: "link_bad", 404: "link_gone", 429: "link_slow"}.get(exc.status, "link_bad")
    messages_ = [(lang, i18n.TEXT[lang][key]) for lang in languages]
    response = _render(languages[0], "debtor_refused.html", exc.status, messages=messages_)
    if exc.wait:
        response.headers["Retry-After"] = str(exc.wait)
    return response


def _who(request: Request, token: str) -> tuple[Site, str, Actor]:
    """The site, the debtor and their actor for a valid token; else :class:`_Refused`."""
    s: Site = request.app.state.site
    limiter: Limiter = request.app.state.debtor_limiter
    wait = limiter.wait(request.client.host if request.client else "unknown")
    if wait:
        raise _Refused(429, wait=wait)
    found = debtor_of_token(s.setting("channels.secret"), token, now=s.clock().timestamp())
    if found is None:
        raise _Refused(403)
    return s, found, debtor(found)


def _language(account: selfservice.DebtorAccount) -> str:
    code = account.language.lower()[:2]
    return code if code in i18n.LANGUAGES else "en"


def _page(request: Request, token: str, status: int = 200, **context: Any) -> HTMLResponse:
    s, who, actor = _who(request, token)
    try:
        account = selfservice.debtor_account(
            s.uow(), actor, portfolio=s.portfolio, debtor=who, as_of=_today(s)
        )
    except NotFound as exc:
        raise _Refused(404) from exc
    lang = _language(account)
    settings = {k: s.setting(k) for k in ("creditor.bank", "creditor.iban", "creditor.bic")}
    values = {
        "creditor": s.setting("channels.creditor_name") or s.setting("channels.from_name"),
        "reference": payment_reference(
            s.setting("creditor.payment_reference") or "{customer}", account.external_id
        ),
        **{k.split(".")[1]: v for k, v in settings.items()},
    }
    overdue = account.owed[0] if account.owed else None
    defaults = {
        "amount": str(overdue.overdue or overdue.open) if overdue else "",
        "due_on": "",
        "invoice": "",
        "reason": "",
    }
    context = {"problems": [], "form_name": None, "done": ""} | context
    context["values"] = defaults | context.get("values", {})
    return _render(
        lang, "debtor.html", status,
        account=account, token=token, base=f"/pay/{quote(token, safe='')}",
        invoices=[{"line": i, "open": i18n.amount(i.open, i.currency, lang)}
                  for i in account.invoices],
        owed=[{"o": o, "overdue": i18n.amount(o.overdue, o.currency, lang),
               "open": i18n.amount(o.open, o.currency, lang)} for o in account.owed],
        promises=[{"p": p, "amount": i18n.amount(from_minor(p.amount_minor, p.currency),
                                                 p.currency, lang)} for p in account.promises],
        pay=values, channels=CHANNELS, today=_today(s),
        **context,
    )  # fmt: skip


@router.get("/pay/{token}", response_class=HTMLResponse)
def debtor_home(request: Request, token: str, done: str = "") -> HTMLResponse:
    try:
        return _page(request, token, done=done if done in DONE else "")
    except _Refused as exc:
        return _refusal(exc)


DONE = ("promised", "disputed", "opted_out")


@router.get("/pay/{token}/statement.pdf")
def statement(request: Request, token: str) -> Response:
    try:
        s, who, actor = _who(request, token)
        try:
            pdf = selfservice.statement_pdf(
                s.uow(), actor, portfolio=s.portfolio, debtor=who, as_of=_today(s),
                settings=s.settings,
            )  # fmt: skip
        except NotFound as exc:
            raise _Refused(404) from exc
    except _Refused as exc:
        return _refusal(exc)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="statement-{_today(s).isoformat()}.pdf"',
            "Cache-Control": "no-store",
            "X-Robots-Tag": "noindex",
        },
    )


def _done(token: str, what: str) -> RedirectResponse:
    return RedirectResponse(f"/pay/{quote(token, safe='')}?done={what}", status_code=303)


def _problems(exc: ProblemsFound) -> list[dict[str, str]]:
    return [{"where": p.column or p.where, "what": p.message} for p in exc.problems]


@router.post("/pay/{token}/promise", response_class=HTMLResponse)
async def promise(request: Request, token: str) -> Response:
    try:
        s, who, actor = _who(request, token)
        form = await _form(request)
        values = {k: form.get(k, "").strip() for k in ("amount", "due_on")}
        problems = []
        amount = due_on = None
        try:
            amount = Decimal(values["amount"])
            if not amount.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            problems.append({"where": "amount", "what": f"{values['amount']!r}: 250.00"})
        try:
            due_on = date.fromisoformat(values["due_on"])
        except ValueError:
            problems.append({"where": "due_on", "what": f"{values['due_on']!r}: YYYY-MM-DD"})
        if not problems:
            assert amount is not None and due_on is not None
            try:
                await run_in_threadpool(
                    collection.add_promise, s.uow(), actor, portfolio=s.portfolio, debtor=who,
                    amount=amount, due_on=due_on, made_on=_today(s), at=s.clock(),
                    note="promised on the debtor's page",
                )  # fmt: skip
            except ProblemsFound as exc:
                problems = _problems(exc)
            except NotAllowed as exc:
                raise _Refused(403) from exc
            else:
                return _done(token, "promised")
        return await run_in_threadpool(
            _page, request, token, 422, problems=problems, form_name="promise", values=values
        )
    except _Refused as exc:
        return _refusal(exc)


@router.post("/pay/{token}/dispute", response_class=HTMLResponse)
async def dispute(request: Request, token: str) -> Response:
    try:
        s, who, actor = _who(request, token)
        form = await _form(request)
        values = {k: form.get(k, "").strip() for k in ("invoice", "reason")}
        try:
            await run_in_threadpool(
                selfservice.dispute_invoice, s.uow(), actor, portfolio=s.portfolio, debtor=who,
                invoice_number=values["invoice"], reason=values["reason"], on=_today(s),
                at=s.clock(),
            )  # fmt: skip
        except ProblemsFound as exc:
            return await run_in_threadpool(
                _page, request, token, 422, problems=_problems(exc), form_name="dispute",
                values=values,
            )  # fmt: skip
        except NotAllowed as exc:
            raise _Refused(403) from exc
        return _done(token, "disputed")
    except _Refused as exc:
        return _refusal(exc)


@router.post("/pay/{token}/opt-out", response_class=HTMLResponse)
async def opt_out(request: Request, token: str) -> Response:
    try:
        s, who, actor = _who(request, token)
        form = await _form(request)
        channel = form.get("channel", "")
        if channel not in CHANNELS:
            problems = [{"where": "channel", "what": "one of " + ", ".join(CHANNELS)}]
            return await run_in_threadpool(
                _page, request, token, 422, problems=problems, form_name="opt_out"
            )
        try:
            await run_in_threadpool(
                messages.opt_out, s.uow(), actor, portfolio=s.portfolio, channel=channel,
                at=s.clock(), source="debtor page", debtor=who,
            )  # fmt: skip
        except NotAllowed as exc:
            raise _Refused(403) from exc
        return _done(token, "opted_out")
    except _Refused as exc:
        return _refusal(exc)
