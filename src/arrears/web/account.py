"""The account page (docs/web.md) and the collector's actions on it, and the managers'
approvals inbox.

``GET /accounts/{debtor}``: the debtor, contact points (consent and opt-outs), open invoices with
days past due, cases (stage, pause, experiment arm), holds, promises, what the cycle does and why
(score and reasons), "may I call now?" (the dispatcher's contact rules), and the timeline (the
activity log, newest first, ``?before=<cursor>`` for older pages). The actions each call one use
case as ``user:<name>``: a call's outcome (``collection.log_contact``, refused when the contact
rules forbid calling now), a promise (``collection.add_promise``), a hold and its release
(``collection.add_hold``, ``release_hold``), a note (``notes.add_note``). ``GET /approvals``
and ``POST /approvals``: the cases waiting for a manager's approval (``collection.approve_stage``;
the approve permission, others 403).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from arrears.contact.model import Pack
from arrears.domain.actor import Permission
from arrears.domain.errors import Conflict, NotAllowed, NotFound
from arrears.domain.money import from_minor
from arrears.domain.problems import ProblemsFound
from arrears.services import (
    accounts,
    agreements,
    collection,
    explain,
    notes,
    settlements,
    write_offs,
)
from arrears.services.cycle import load_compiled
from arrears.web import i18n
from arrears.web.pages import PageError, Visit, _call, _checked_form, _today, _visit

router = APIRouter(include_in_schema=False)

CALL_OUTCOMES = tuple(collection.CALL_OUTCOMES)
#: What ``?done=`` on the account page says (after a redirect: POST, redirect, GET).
DONE = {
    "call": "done_call",
    "hold": "done_hold",
    "released": "done_released",
    "note": "done_note",
    "credit_held": "done_credit_held",
    "credit_released": "done_credit_released",
}


def _money(minor: int, currency: str, language: str) -> str:
    return i18n.amount(from_minor(minor, currency), currency, language)


def _path(debtor: str) -> str:
    return f"/accounts/{quote(debtor, safe='')}"


def _policy(visit: Visit) -> Any:
    """The portfolio's compiled policy (``None`` without one), loaded once per version of its
    file in this process."""
    s = visit.site
    if s.workspace is None:
        return None
    path = s.workspace.policy_for(s.portfolio)
    if not path.is_file():
        return None
    cache: dict[Any, Any] = visit.request.app.state.__dict__.setdefault("policies", {})
    key = (str(path), path.stat().st_mtime_ns)
    if key not in cache:
        cache.clear()
        cache[key] = _call(visit, load_compiled, path)
    return cache[key]


def _packs(visit: Visit) -> dict[str, Pack]:
    """The contact-rule packs of the portfolio's policy (the shipped ones without one)."""
    policy = _policy(visit)
    if policy is not None:
        packs: dict[str, Pack] = policy.packs
        return packs
    from arrears.contact.packs import shipped_packs  # noqa: PLC0415

    return shipped_packs()


def _verdict(visit: Visit, debtor: str) -> dict[str, Any] | None:
    """May the collector call ``debtor`` now? ``None`` for a role that does not call."""
    if not visit.actor.may(Permission.WORK):
        return None
    s = visit.site
    found = _call(
        visit, accounts.call_check, s.uow(), visit.actor, portfolio=s.portfolio, debtor=debtor,
        at=s.clock(), packs=_packs(visit),
    )  # fmt: skip
    later = found.next_local.strftime("%Y-%m-%d %H:%M") if found.next_local else None
    return {"allowed": found.allowed, "rule": found.rule, "reason": found.reason, "next": later,
            "pack": found.pack}  # fmt: skip


def _account(visit: Visit, debtor: str, status: int = 200, **form: Any) -> HTMLResponse:
    s, actor = visit.site, visit.actor
    summary = _call(visit, accounts.debtor_summary, s.uow(), actor,
                    portfolio=s.portfolio, debtor=debtor)  # fmt: skip
    today = _today(s)
    view = None
    policy = _policy(visit)
    if s.workspace is not None and policy is not None:
        view = _call(
            visit, explain.explain_view, s.uow(), actor, portfolio=s.portfolio, debtor=debtor,
            as_of=today, policy=policy, model=s.model(), rates=s.workspace.rates,
            reference_rates=s.workspace.reference_rates,
        )  # fmt: skip
    where = {"portfolio": s.portfolio, "debtor": debtor}
    before = form.pop("before", None)
    timeline = _call(visit, accounts.timeline, s.uow(), actor, **where, before=before, limit=25)
    lang = visit.language
    invoices = _call(visit, accounts.open_invoices, s.uow(), actor, **where, as_of=today)
    promises = _call(visit, collection.list_promises, s.uow(), actor, **where)
    context = {
        "debtor": summary,
        "view": view,
        "points": _call(visit, accounts.contact_points, s.uow(), actor, **where),
        "invoices": [
            {
                "line": i,
                "amount": i18n.amount(i.amount, i.currency, lang),
                "open": i18n.amount(i.open, i.currency, lang),
            }
            for i in invoices
        ],
        "cases": _call(visit, accounts.cases, s.uow(), actor, **where),
        "holds": _call(visit, accounts.holds, s.uow(), actor, **where),
        "promises": [
            {
                "p": p,
                "amount": i18n.amount(from_minor(p.amount_minor, p.currency), p.currency, lang),
            }
            for p in promises
        ],
        "plans": [
            {"p": p, "balance": _money(p.balance_minor, p.currency, lang)}
            for p in _call(visit, agreements.list_plans, s.uow(), actor, **where)
        ],
        "settlements": [
            {"p": p, "amount": _money(p.amount_minor, p.currency, lang)}
            for p in _call(visit, settlements.list_settlements, s.uow(), actor, **where)
        ],
        "timeline": timeline,
        "before": before,
        "verdict": _verdict(visit, debtor),
        "outcomes": CALL_OUTCOMES,
        "today": today,
        "hold_until": today + timedelta(days=14),
        "may_work": actor.may(Permission.WORK),
        "done": None,
        "problems": [],
        "form_name": None,
        "values": {"amount": "", "currency": "", "due_on": "", "grace": "0", "note": ""},
    }
    context.update(form)
    return visit.render("account.html", status, **context)


@router.get("/accounts/{debtor}", response_class=HTMLResponse)
def account_page(
    request: Request, debtor: str, promised: str = "", done: str = "", before: str = ""
) -> HTMLResponse:
    visit = _visit(request)
    said = None
    if promised.isdigit():
        said = visit.text("promised", id=promised)
    elif done in DONE:
        said = visit.text(DONE[done])
    cursor = int(before) if before.isdigit() and len(before) < 19 else None
    return _account(visit, debtor, done=said, before=cursor)


def _problems(exc: ProblemsFound) -> list[dict[str, str]]:
    return [{"where": p.column or p.where, "what": p.message} for p in exc.problems]


async def _act(form_name: str, use_case: Any, **kwargs: Any) -> Any:
    """Call an action's use case: a refusal is a page (403, 404, 409), bad input the account
    page with the problems above the form (422)."""
    try:
        return await run_in_threadpool(use_case, **kwargs)
    except ProblemsFound as exc:
        raise _Invalid(form_name, _problems(exc)) from exc
    except NotAllowed as exc:
        raise PageError(403, "forbidden") from exc
    except NotFound as exc:
        raise PageError(404, str(exc)) from exc
    except Conflict as exc:
        raise PageError(409, str(exc)) from exc


class _Invalid(Exception):
    def __init__(self, form_name: str, problems: list[dict[str, str]]) -> None:
        super().__init__(form_name)
        self.form_name, self.problems = form_name, problems


async def _invalid(visit: Visit, debtor: str, exc: _Invalid, **extra: Any) -> HTMLResponse:
    return await run_in_threadpool(
        _account, visit, debtor, 422, problems=exc.problems, form_name=exc.form_name, **extra
    )


@router.post("/accounts/{debtor}/promises", response_class=HTMLResponse)
async def add_promise(request: Request, debtor: str) -> Response:
    visit = _visit(request)
    form = await _checked_form(visit)
    s = visit.site
    values = {k: form.get(k, "").strip() for k in ("amount", "currency", "due_on", "grace", "note")}
    problems: list[dict[str, str]] = []
    amount: Decimal | None = None
    try:
        amount = Decimal(values["amount"])
        if not amount.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        problems.append({"where": "amount", "what": f"{values['amount']!r} is not an amount "
                         "(digits, a point for the decimals: 250.00)"})  # fmt: skip
    due_on: date | None = None
    try:
        due_on = date.fromisoformat(values["due_on"])
    except ValueError:
        problems.append({"where": "due_on", "what": f"{values['due_on']!r} is not a date "
                         "(YYYY-MM-DD)"})  # fmt: skip
    grace = 0
    if values["grace"]:
        if values["grace"].isdigit() and len(values["grace"]) < 5:
            grace = int(values["grace"])
        else:
            problems.append({"where": "grace", "what": "a whole number of days"})
    if len(values["note"]) > 2000:
        problems.append({"where": "note", "what": "at most 2000 characters"})
    if not problems:
        assert amount is not None and due_on is not None
        try:
            added = await _act("promise", collection.add_promise, uow=s.uow(),
                actor=visit.actor, portfolio=s.portfolio, debtor=debtor, amount=amount,
                due_on=due_on, made_on=_today(s), at=s.clock(), grace_days=grace,
                currency=values["currency"] or None, note=values["note"] or None,
            )  # fmt: skip
        except _Invalid as exc:
            problems = exc.problems
        else:
            return RedirectResponse(f"{_path(debtor)}?promised={added.promise_id}", status_code=303)
    return await run_in_threadpool(
        _account, visit, debtor, 422, problems=problems, values=values, form_name="promise"
    )


@router.post("/accounts/{debtor}/calls", response_class=HTMLResponse)
async def log_call(request: Request, debtor: str) -> Response:
    """A call's outcome, once the contact rules allow calling the debtor now."""
    visit = _visit(request)
    form = await _checked_form(visit)
    s = visit.site
    outcome, note = form.get("outcome", "").strip(), form.get("note", "").strip()
    problems = []
    if outcome not in CALL_OUTCOMES:
        problems.append({"where": "outcome", "what": "one of " + ", ".join(CALL_OUTCOMES)})
    if len(note) > 2000:
        problems.append({"where": "note", "what": "at most 2000 characters"})
    if problems:
        return await _invalid(visit, debtor, _Invalid("call", problems))
    if not visit.actor.may(Permission.WORK):
        raise PageError(403, "forbidden")
    verdict = await run_in_threadpool(_verdict, visit, debtor)
    if verdict is not None and not verdict["allowed"]:
        message = visit.text("call_refused", rule=verdict["rule"] or "-",
                             reason=verdict["reason"] or "-")  # fmt: skip
        if verdict["next"]:
            message += " " + visit.text("call_next", time=verdict["next"])
        raise PageError(409, message)
    try:
        await _act("call", collection.log_contact, uow=s.uow(), actor=visit.actor,
            portfolio=s.portfolio, debtor=debtor, channel="call", outcome=outcome,
            on=_today(s), at=s.clock(), note=note or None,
        )  # fmt: skip
    except _Invalid as exc:
        return await _invalid(visit, debtor, exc)
    return RedirectResponse(f"{_path(debtor)}?done=call", status_code=303)


@router.post("/accounts/{debtor}/holds", response_class=HTMLResponse)
async def add_hold(request: Request, debtor: str) -> Response:
    visit = _visit(request)
    form = await _checked_form(visit)
    s = visit.site
    until, reason = form.get("until", "").strip(), form.get("reason", "").strip()
    try:
        ends_on = date.fromisoformat(until)
    except ValueError:
        invalid = _Invalid("hold", [{"where": "until", "what": f"{until!r} is not a date "
                                     "(YYYY-MM-DD)"}])  # fmt: skip
        return await _invalid(visit, debtor, invalid)
    try:
        await _act("hold", collection.add_hold, uow=s.uow(), actor=visit.actor,
            portfolio=s.portfolio, debtor=debtor, starts_on=_today(s), ends_on=ends_on,
            reason=reason[:2000], at=s.clock(),
        )  # fmt: skip
    except _Invalid as exc:
        return await _invalid(visit, debtor, exc)
    return RedirectResponse(f"{_path(debtor)}?done=hold", status_code=303)


@router.post("/accounts/{debtor}/holds/{hold_id}/release", response_class=HTMLResponse)
async def release_hold(request: Request, debtor: str, hold_id: int) -> Response:
    visit = _visit(request)
    await _checked_form(visit)
    s = visit.site
    mine = _call(visit, accounts.holds, s.uow(), visit.actor, portfolio=s.portfolio, debtor=debtor)
    if hold_id not in {h.hold_id for h in mine}:
        raise PageError(404, visit.text("not_found"))
    try:
        await _act("hold", collection.release_hold, uow=s.uow(), actor=visit.actor,
            hold_id=hold_id, on=_today(s), at=s.clock(),
        )  # fmt: skip
    except _Invalid as exc:
        return await _invalid(visit, debtor, exc)
    return RedirectResponse(f"{_path(debtor)}?done=released", status_code=303)


@router.post("/accounts/{debtor}/credit", response_class=HTMLResponse)
async def credit_hold(request: Request, debtor: str) -> Response:
    """Put the debtor's credit on hold (``action=hold``, a reason) or release it."""
    visit = _visit(request)
    form = await _checked_form(visit)
    s, hold = visit.site, form.get("action") == "hold"
    try:
        await _act(
            "credit", accounts.set_credit_hold, uow=s.uow(), actor=visit.actor,
            portfolio=s.portfolio, debtor=debtor, hold=hold, reason=form.get("reason", ""),
            at=s.clock(),
        )  # fmt: skip
    except _Invalid as exc:
        return await _invalid(visit, debtor, exc)
    done = "credit_held" if hold else "credit_released"
    return RedirectResponse(f"{_path(debtor)}?done={done}", status_code=303)


@router.post("/accounts/{debtor}/notes", response_class=HTMLResponse)
async def add_note(request: Request, debtor: str) -> Response:
    visit = _visit(request)
    form = await _checked_form(visit)
    s = visit.site
    try:
        await _act("note", notes.add_note, uow=s.uow(), actor=visit.actor,
            portfolio=s.portfolio, debtor=debtor, text=form.get("text", ""), at=s.clock(),
        )  # fmt: skip
    except _Invalid as exc:
        return await _invalid(visit, debtor, exc)
    return RedirectResponse(f"{_path(debtor)}?done=note", status_code=303)


# The approvals inbox ---------------------------------------------------------------------------


def _inbox(visit: Visit, status: int = 200, done: str | None = None) -> HTMLResponse:
    s, lang = visit.site, visit.language
    waiting = _call(visit, accounts.awaiting_approval, s.uow(), visit.actor, portfolio=s.portfolio)
    rows = [{"w": w, "open": i18n.amount(w.open, w.currency, lang)} for w in waiting]
    where = {"portfolio": s.portfolio}
    plans = [
        {"p": p, "balance": _money(p.balance_minor, p.currency, lang)}
        for p in _call(visit, agreements.list_plans, s.uow(), visit.actor, **where)
        if p.status == "awaiting_approval"
    ]
    offers = [
        {"p": p, "amount": _money(p.amount_minor, p.currency, lang),
         "balance": _money(p.balance_minor, p.currency, lang)}
        for p in _call(visit, settlements.list_settlements, s.uow(), visit.actor, **where)
        if p.status == "awaiting_approval"
    ]  # fmt: skip
    proposals = [
        {"p": p, "amount": i18n.amount(p.amount.amount, p.amount.currency, lang)}
        for p in _call(
            visit, write_offs.list_proposals, s.uow(), visit.actor, **where, status="pending"
        )
    ]
    return visit.render(
        "approvals.html", status, rows=rows, plans=plans, settlements=offers,
        proposals=proposals, done=done,
    )  # fmt: skip


@router.get("/approvals", response_class=HTMLResponse)
def approvals_page(request: Request, approved: str = "") -> HTMLResponse:
    visit = _visit(request)
    done = visit.text("approved", debtor=approved) if approved else None
    return _inbox(visit, done=done)


@router.post("/approvals", response_class=HTMLResponse)
async def approve(request: Request) -> Response:
    visit = _visit(request)
    form = await _checked_form(visit)
    s = visit.site
    debtor, stage = form.get("debtor", ""), form.get("stage", "")
    try:
        await _act("approve", collection.approve_stage, uow=s.uow(), actor=visit.actor,
            portfolio=s.portfolio, debtor=debtor, stage=stage, on=_today(s), at=s.clock(),
            currency=form.get("currency") or None,
        )  # fmt: skip
    except _Invalid as exc:
        raise PageError(422, "; ".join(p["what"] for p in exc.problems)) from exc
    return RedirectResponse(f"/approvals?approved={quote(debtor, safe='')}", status_code=303)


#: What a manager approves from the inbox: the use case, by the kind in the path.
APPROVE = {
    "plans": agreements.approve_plan,
    "settlements": settlements.approve_settlement,
    "write-offs": write_offs.approve,
}


@router.post("/approvals/{kind}/{item}", response_class=HTMLResponse)
async def approve_item(request: Request, kind: str, item: int) -> Response:
    """Approve a payment plan or a settlement beyond the policy's limits, or a pending
    write-off proposal."""
    visit = _visit(request)
    await _checked_form(visit)
    if kind not in APPROVE:
        raise PageError(404, visit.text("not_found"))
    s = visit.site
    try:
        await _act(
            "approve", APPROVE[kind], uow=s.uow(), actor=visit.actor, **_item_arg(kind, item),
            on=_today(s), at=s.clock(),
        )  # fmt: skip
    except _Invalid as exc:
        raise PageError(422, "; ".join(p["what"] for p in exc.problems)) from exc
    return RedirectResponse(f"/approvals?approved={kind}+{item}", status_code=303)


def _item_arg(kind: str, item: int) -> dict[str, int]:
    return {"proposal_id" if kind == "write-offs" else f"{kind[:-1]}_id": item}
