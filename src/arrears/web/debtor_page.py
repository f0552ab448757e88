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
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from arrears.channels.base import debtor_of_token
from arrears.channels.letter import payment_reference
from arrears.domain.actor import Actor, debtor
from arrears.domain.agreements import LIVE_PLAN_STATUSES, LIVE_SETTLEMENT_STATUSES
from arrears.domain.disputes import ATTACHMENT_MAX_BYTES
from arrears.domain.errors import ArrearsError, Conflict, NotAllowed, NotFound
from arrears.domain.ledger import SENT_CHANNELS
from arrears.domain.money import from_minor
from arrears.domain.problems import ProblemsFound
from arrears.services.arrangements import disputes, self_agreements
from arrears.services.casework import collection
from arrears.services.outreach import messages, selfservice
from arrears.web import account as account_page
from arrears.web import checkout, error_words, i18n
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
    context = {"problems": [], "form_name": None, "done": "", "quote": None} | context
    context["problems"] = [p | {"what": error_words.said(p["what"], lang)}
                           for p in context["problems"]]  # fmt: skip
    context["values"] = defaults | context.get("values", {})
    speaker = _Speaker(lang)
    context |= _agreements(request, s, actor, who, account, speaker, context)
    base = f"/pay/{quote(token, safe='')}"
    # paying online (web/checkout.py): one link per currency with something open, for what is
    # overdue (or open, when nothing is overdue yet), when a provider is configured
    pay_online = [
        {"href": f"{base}/checkout?currency={quote(o.currency)}",
         "amount": i18n.amount(o.overdue or o.open, o.currency, lang)}
        for o in account.owed if o.open > 0
    ] if checkout.provider(s) else []  # fmt: skip
    return _render(
        lang, "debtor.html", status,
        account=account, token=token, base=base, pay_online=pay_online,
        invoices=[{"line": i, "open": i18n.amount(i.open, i.currency, lang)}
                  for i in account.invoices],
        owed=[{"o": o, "overdue": i18n.amount(o.overdue, o.currency, lang),
               "open": i18n.amount(o.open, o.currency, lang)} for o in account.owed],
        promises=[{"p": p, "amount": i18n.amount(from_minor(p.amount_minor, p.currency),
                                                 p.currency, lang)} for p in account.promises],
        pay=values, channels=CHANNELS, today=_today(s),
        attachment_mb=f"{attachment_max_bytes(s) / 1048576:g}",
        **context,
    )  # fmt: skip


@router.get("/pay/{token}", response_class=HTMLResponse)
def debtor_home(request: Request, token: str, done: str = "") -> HTMLResponse:
    try:
        return _page(request, token, done=done if done in DONE else "")
    except _Refused as exc:
        return _refusal(exc)


DONE = ("promised", "disputed", "opted_out", "plan_accepted", "settlement_accepted")


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


def attachment_max_bytes(s: Site) -> int:
    """``web.attachment_max_bytes`` (a value that is not a positive whole number: 5 MB)."""
    text = s.setting("web.attachment_max_bytes").strip().replace("_", "")
    return int(text) if text.isdigit() and int(text) > 0 else ATTACHMENT_MAX_BYTES


async def _dispute_form(
    request: Request, max_file: int
) -> tuple[dict[str, str], disputes.NewAttachment | None]:
    """The dispute form, urlencoded or ``multipart/form-data`` with an ``attachment`` file (no
    file chosen: ``None``). The body is read up to the largest file allowed and a little more:
    a longer one is not read to its end (the file too big, whatever else it has)."""
    kind = request.headers.get("content-type", "")
    if not kind.lower().startswith("multipart/form-data"):
        return await _form(request), None
    limit, body = max_file + 64 * 1024, bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return {}, disputes.NewAttachment("attachment", b"\0" * (max_file + 1))
    parsed = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + kind.encode("latin-1", "replace") + b"\r\n\r\n" + bytes(body)
    )
    fields: dict[str, str] = {}
    file = None
    for part in parsed.iter_parts() if parsed.is_multipart() else ():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(payload, bytes):
            continue
        file_name = part.get_filename()
        if name == "attachment" and file_name is not None:
            if file_name or payload:  # an empty file input sends no name and no bytes
                file = disputes.NewAttachment(file_name, payload)
        elif file_name is None and len(fields) < 50:
            fields[name] = payload.decode("utf-8", "replace")
    return fields, file


@router.post("/pay/{token}/dispute", response_class=HTMLResponse)
async def dispute(request: Request, token: str) -> Response:
    """The debtor disputes an invoice with a reason and, optionally, a file (PDF, JPEG or PNG,
    by its content, at most ``web.attachment_max_bytes``): refused, nothing is stored and the
    form says why in the debtor's language."""
    try:
        s, who, actor = _who(request, token)
        max_file = attachment_max_bytes(s)
        form, file = await _dispute_form(request, max_file)
        values = {k: form.get(k, "").strip() for k in ("invoice", "reason")}
        try:
            await run_in_threadpool(
                selfservice.dispute_invoice, s.uow(), actor, portfolio=s.portfolio, debtor=who,
                invoice_number=values["invoice"], reason=values["reason"], on=_today(s),
                at=s.clock(), attachment=file, max_attachment_bytes=max_file,
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


# Payment plans and settlements -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Speaker:
    language: str

    def text(self, key: str, **values: object) -> str:
        words = i18n.TEXT[self.language]
        return words[key].format(**values) if key in words else key


LIVE_PLANS = LIVE_PLAN_STATUSES
LIVE_OFFERS = LIVE_SETTLEMENT_STATUSES


def _policy(request: Request, s: Site) -> Any:
    try:
        return account_page.policy_of(request, s)
    except ArrearsError:  # a policy that does not pass its check: no plans offered
        return None


def _quote(s: Site, actor: Actor, who: str, policy: Any, today: date, **terms: Any) -> Any:
    """The debtor's plan quote, with the least down payment the policy asks (if any)."""
    return self_agreements.quote_own_plan(
        s.uow(), actor, portfolio=s.portfolio, debtor=who, policy=policy.policy, on=today, **terms
    )


def _agreements(
    request: Request,
    s: Site,
    actor: Actor,
    who: str,
    account: selfservice.DebtorAccount,
    speaker: _Speaker,
    context: dict[str, Any],
) -> dict[str, Any]:
    """The debtor's plans and settlements, and the plan chooser within the policy's limits."""
    lang = speaker.language
    own = self_agreements.own_agreements(s.uow(), actor, portfolio=s.portfolio, debtor=who)
    plans = [
        {"p": p, "rows": [{"seq": r["seq"], "due_on": r["due_on"],
                           "amount": i18n.amount(from_minor(int(r["amount_minor"]), p.currency),
                                                 p.currency, lang),
                           "status": r.get("status") or "due"} for r in p.schedule]}
        for p in own.plans if p.status in LIVE_PLANS
    ]  # fmt: skip
    today = _today(s)
    offers = [
        {"p": o, "amount": i18n.amount(from_minor(o.amount_minor, o.currency), o.currency, lang),
         "balance": i18n.amount(from_minor(o.balance_minor, o.currency), o.currency, lang)}
        for o in own.settlements if o.status in LIVE_OFFERS and o.expires_on >= today
    ]  # fmt: skip
    found: dict[str, Any] = {"plans": plans, "offers": offers, "chooser": None}
    policy = _policy(request, s)
    planned = {p.currency for p in own.plans if p.status in LIVE_PLANS}
    currencies = [o.currency for o in account.owed if o.open > 0 and o.currency not in planned]
    if policy is None or not currencies:
        return found
    limits = policy.policy.payment_plans
    values = {"currency": currencies[0], "instalments": "", "frequency": limits.frequencies[0],
              "first_on": (today + timedelta(days=min(7, limits.max_days_to_first))).isoformat(),
              } | context.get("plan_values", {})  # fmt: skip
    currency = values["currency"] if values["currency"] in currencies else currencies[0]
    try:
        most = _quote(s, actor, who, policy, today, currency=currency,
                      frequency=limits.frequencies[0])  # fmt: skip
    except ArrearsError:
        most = None
    count = 0 if most is None or most.needs_approval else most.terms.schedule[-1].seq
    found["chooser"] = {
        "allows": account_page.plan_allows(speaker, policy, currency, "self_plan_allows"),
        "counts": list(range(2, count + 1)),
        "frequencies": list(limits.frequencies),
        "currencies": currencies,
        "first_max": (today + timedelta(days=limits.max_days_to_first)).isoformat(),
        "values": values,
    }
    return found


PLAN_FIELDS = ("currency", "instalments", "frequency", "first_on")


@router.post("/pay/{token}/plan", response_class=HTMLResponse)
async def plan(request: Request, token: str) -> Response:
    """The debtor's plan: ``action=quote`` shows the schedule (nothing written), ``accept``
    agrees it, within the policy's limits only."""
    try:
        s, who, actor = _who(request, token)
        form = await _form(request)
        values = {k: form.get(k, "").strip()[:40] for k in PLAN_FIELDS}
        account = await run_in_threadpool(
            selfservice.debtor_account, s.uow(), actor, portfolio=s.portfolio, debtor=who,
            as_of=_today(s),
        )  # fmt: skip
        speaker = _Speaker(_language(account))
        problems: list[dict[str, str]] = []
        terms = account_page.plan_terms(speaker, values, problems)
        policy = _policy(request, s)
        if policy is None:
            raise _Refused(404, speaker.language)
        quote = None
        if not problems:
            try:
                asked = {k: v for k, v in terms.items() if k != "down"}
                if form.get("action") == "accept":  # quoted and agreed in one transaction
                    await run_in_threadpool(
                        self_agreements.accept_own_plan, s.uow(), actor, portfolio=s.portfolio,
                        debtor=who, policy=policy.policy, on=_today(s), at=s.clock(), **asked,
                    )  # fmt: skip
                    return _done(token, "plan_accepted")
                quote = await run_in_threadpool(_quote, s, actor, who, policy, _today(s), **asked)
                if quote.needs_approval:  # the chooser offers none: a changed form
                    raise ProblemsFound.of(f"plan for {who}", *quote.terms.beyond)
            except ProblemsFound as exc:
                problems, quote = _problems(exc), None
            except Conflict as exc:
                problems, quote = [{"where": "plan", "what": str(exc)}], None
            except NotAllowed as exc:
                raise _Refused(403) from exc
        status = 200 if quote is not None and not problems else 422
        shown = account_page.quote_view(speaker, quote) if quote is not None else None
        return await run_in_threadpool(
            _page, request, token, status, problems=problems, form_name="plan",
            plan_values=values, quote=shown,
        )  # fmt: skip
    except _Refused as exc:
        return _refusal(exc)


@router.post("/pay/{token}/settlements/{settlement_id}/accept", response_class=HTMLResponse)
async def accept_settlement(request: Request, token: str, settlement_id: int) -> Response:
    """The debtor accepts a settlement offered to them."""
    try:
        s, who, actor = _who(request, token)
        await _form(request)
        try:
            await run_in_threadpool(
                self_agreements.accept_own_settlement, s.uow(), actor, settlement_id,
                portfolio=s.portfolio, debtor=who, on=_today(s), at=s.clock(),
            )  # fmt: skip
        except ProblemsFound as exc:
            return await run_in_threadpool(
                _page, request, token, 422, problems=_problems(exc), form_name="settlement"
            )
        except NotFound as exc:
            raise _Refused(404) from exc
        except NotAllowed as exc:
            raise _Refused(403) from exc
        return _done(token, "settlement_accepted")
    except _Refused as exc:
        return _refusal(exc)
