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

from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from arrears.contact.model import Pack
from arrears.domain.actor import Permission
from arrears.domain.errors import Conflict, NotAllowed, NotFound
from arrears.domain.money import from_minor
from arrears.domain.problems import ProblemsFound
from arrears.domain.write_offs import Limits
from arrears.services.arrangements import agencies, agreements, settlements, write_offs
from arrears.services.casework import accounts, collection, explain, notes
from arrears.services.cycle import load_compiled
from arrears.web import i18n
from arrears.web.app import Site
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


def policy_of(request: Request, s: Site) -> Any:
    """The portfolio's compiled policy (``None`` without one), loaded once per version of its
    file in this process (a policy that does not pass its check: :class:`ArrearsError`)."""
    if s.workspace is None:
        return None
    path = s.workspace.policy_for(s.portfolio)
    if not path.is_file():
        return None
    cache: dict[Any, Any] = request.app.state.__dict__.setdefault("policies", {})
    key = (str(path), path.stat().st_mtime_ns)
    if key not in cache:
        cache.clear()
        cache[key] = load_compiled(path)
    return cache[key]


def _policy(visit: Visit) -> Any:
    return _call(visit, policy_of, visit.request, visit.site)


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
    context.update(_agreement_context(visit, debtor, summary.currency, policy, today, invoices))
    context.update(form)
    return visit.render("account.html", status, **context)


class Speaker(Protocol):
    """What speaks to a user in their language: a page's :class:`Visit`, the debtor's page."""

    @property
    def language(self) -> str: ...

    def text(self, key: str, **values: object) -> str: ...


def _frequencies(visit: Speaker, names: Any) -> str:
    return ", ".join(visit.text(f"freq_{f}") for f in names)


def _percent(value: Decimal) -> str:
    return f"{value.normalize():f}"


def plan_allows(visit: Speaker, policy: Any, currency: str, key: str = "plan_allows") -> str:
    """What the policy's ``payment_plans`` let be agreed without a manager, in words."""
    p = policy.policy.payment_plans
    down = visit.text("plan_down", pct=_percent(p.min_down_payment)) if p.min_down_payment else ""
    fee = visit.text("plan_fee", pct=_percent(p.fee)) if p.fee else ""
    least = i18n.amount(p.min_instalment, currency, visit.language)
    return visit.text(key, max=p.max_instalments, min=least, down=down, fee=fee,
                      frequencies=_frequencies(visit, p.frequencies),
                      days=p.max_days_to_first)  # fmt: skip


def _agreement_context(
    visit: Visit, debtor: str, currency: str, policy: Any, today: date, invoices: Any
) -> dict[str, Any]:
    """What the plan, settlement, agency and write-off forms show: the policy's limits, the
    forms' defaults, the agencies and the debtor's placement."""
    s, actor = visit.site, visit.actor
    may_approve = actor.may(Permission.APPROVE)
    context: dict[str, Any] = {"may_approve": may_approve, "quote": None}
    if policy is None:
        context |= {"plan_allows": None, "settlement_allows": None, "frequencies": ()}
        first = today + timedelta(days=7)
        expires = today + timedelta(days=30)
        limits: Limits = {}
    else:
        plans_, offers = policy.policy.payment_plans, policy.policy.settlements
        context |= {
            "plan_allows": plan_allows(visit, policy, currency),
            "settlement_allows": visit.text("settlement_allows",
                discount=_percent(offers.max_discount), days=offers.max_days),
            "frequencies": tuple(plans_.frequencies),
        }  # fmt: skip
        first = today + timedelta(days=min(7, plans_.max_days_to_first))
        expires = today + timedelta(days=offers.max_days)
        limits = write_offs.limits_from(policy.policy)
    context["all_frequencies"] = ("monthly", "fortnightly", "weekly")
    frequency = (context["frequencies"] or ("monthly",))[0]
    context["plan_values"] = {"currency": "", "instalments": "", "down": "",
                              "frequency": frequency, "first_on": first.isoformat()}  # fmt: skip
    context["settlement_values"] = {"discount": "", "expires_on": expires.isoformat(),
                                    "currency": ""}  # fmt: skip
    context["write_off_values"] = {"amount": "", "currency": "", "invoice": "", "reason": ""}
    context["invoice_numbers"] = sorted({i.number for i in invoices})
    limit = write_offs.limit_for(actor, currency, limits)
    if limit is None:
        context["write_off_limit"] = visit.text("write_off_unlimited")
    elif limit <= 0:
        context["write_off_limit"] = visit.text("write_off_nothing")
    else:
        context["write_off_limit"] = visit.text(
            "write_off_limit", limit=i18n.amount(limit, currency, visit.language)
        )
    placed = [
        p for p in _call(visit, agencies.list_placements, s.uow(), actor, portfolio=s.portfolio,
                         active=True)
        if p.debtor == debtor
    ]  # fmt: skip
    context["placements"] = [
        {"p": p, "text": visit.text("agency_placed", agency=p.agency, day=p.placed_on,
            amount=i18n.amount(p.amount.amount, p.amount.currency, visit.language),
            percent=_percent(p.commission_percent))}
        for p in placed
    ]  # fmt: skip
    context["agencies"] = (
        _call(visit, agencies.list_agencies, s.uow(), actor) if may_approve and not placed else []
    )
    return context


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
    return await _called(form_name, use_case, kwargs, conflict_shown=False)


async def _called(
    form_name: str, use_case: Any, kwargs: dict[str, Any], *, conflict_shown: bool
) -> Any:
    """:func:`_act` and :func:`_attempt`: a conflict is a 409 page, or (``conflict_shown``)
    a problem above the form."""
    try:
        return await run_in_threadpool(use_case, **kwargs)
    except ProblemsFound as exc:
        raise _Invalid(form_name, _problems(exc)) from exc
    except NotAllowed as exc:
        raise PageError(403, "forbidden") from exc
    except NotFound as exc:
        raise PageError(404, str(exc)) from exc
    except Conflict as exc:
        if conflict_shown:
            raise _Invalid(form_name, [{"where": form_name, "what": str(exc)}]) from exc
        raise PageError(409, str(exc)) from exc


class _Invalid(Exception):
    def __init__(self, form_name: str, problems: list[dict[str, str]]) -> None:
        super().__init__(form_name)
        self.form_name, self.problems = form_name, problems


async def _invalid(visit: Visit, debtor: str, exc: _Invalid, **extra: Any) -> HTMLResponse:
    return await run_in_threadpool(
        _account, visit, debtor, 422, problems=exc.problems, form_name=exc.form_name, **extra
    )


async def _tried(
    visit: Visit,
    debtor: str,
    form_name: str,
    problems: list[dict[str, str]],
    attempt: Callable[[], Awaitable[str]],
    **kept: Any,
) -> Response:
    """Back to the account page with what ``attempt`` (the use case's call) answers as its
    query (``done=...``) when nothing in the form is wrong and the use case takes it; else the
    account page with the problems above ``form_name``'s form (422), ``kept`` what was typed."""
    if not problems:
        try:
            return RedirectResponse(f"{_path(debtor)}?{await attempt()}", status_code=303)
        except _Invalid as exc:
            problems = exc.problems
    return await run_in_threadpool(
        _account, visit, debtor, 422, problems=problems, form_name=form_name, **kept
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

    async def add() -> str:
        assert amount is not None and due_on is not None
        added = await _act("promise", collection.add_promise, uow=s.uow(),
            actor=visit.actor, portfolio=s.portfolio, debtor=debtor, amount=amount,
            due_on=due_on, made_on=_today(s), at=s.clock(), grace_days=grace,
            currency=values["currency"] or None, note=values["note"] or None,
        )  # fmt: skip
        return f"promised={added.promise_id}"

    return await _tried(visit, debtor, "promise", problems, add, values=values)


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
def approvals_page(request: Request, approved: str = "", refused: str = "") -> HTMLResponse:
    visit = _visit(request)
    done = visit.text("approved", debtor=approved) if approved else None
    if refused:
        done = visit.text("refused")
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


# Plans, settlements, agencies and write-offs on the account page ------------------------------

_AGREED = (
    "plan_active", "plan_waiting", "plan_cancelled", "settlement_offered", "settlement_waiting",
    "settlement_accepted", "placed", "recalled", "written_off", "write_off_waiting",
)  # fmt: skip
DONE.update({key: f"done_{key}" for key in _AGREED})


async def _attempt(form_name: str, use_case: Any, **kwargs: Any) -> Any:
    """:func:`_act` for the agreement forms: a conflict (a live plan or offer, a placement)
    is shown above the form too, with what was typed kept."""
    return await _called(form_name, use_case, kwargs, conflict_shown=True)


def _decimal(
    visit: Speaker, values: dict[str, str], key: str, problems: list[dict[str, str]]
) -> Decimal | None:
    """``values[key]`` as an amount (blank: ``None``); a problem when it is not one."""
    if not values[key]:
        return None
    try:
        found = Decimal(values[key])
        if found.is_finite():
            return found
    except InvalidOperation:
        pass
    problems.append({"where": key, "what": visit.text("bad_amount", value=values[key])})
    return None


def _day(
    visit: Speaker, values: dict[str, str], key: str, problems: list[dict[str, str]]
) -> date | None:
    if not values[key]:
        return None
    try:
        return date.fromisoformat(values[key])
    except ValueError:
        problems.append({"where": key, "what": visit.text("bad_date", value=values[key])})
        return None


def plan_terms(
    visit: Speaker, values: dict[str, str], problems: list[dict[str, str]]
) -> dict[str, Any]:
    """The plan calculator's arguments from a form (the account page's or the debtor's)."""
    count = None
    if values.get("instalments"):
        if values["instalments"].isdigit() and len(values["instalments"]) < 4:
            count = int(values["instalments"])
        else:
            what = visit.text("bad_whole", value=values["instalments"])
            problems.append({"where": "instalments", "what": what})
    down = _decimal(visit, values, "down", problems) if "down" in values else None
    return {
        "currency": values.get("currency") or None,
        "instalments": count,
        "frequency": values.get("frequency") or "monthly",
        "first_on": _day(visit, values, "first_on", problems),
        "down": down or Decimal(0),
    }


def quote_view(visit: Speaker, quote: agreements.PlanQuote) -> dict[str, Any]:
    """A quote as the pages show it: the schedule, the total, what it goes beyond."""
    terms, currency, lang = quote.terms, quote.currency, visit.language
    return {
        "rows": [
            {"seq": r.seq, "due_on": r.due_on, "amount": _money(r.amount_minor, currency, lang)}
            for r in terms.schedule
        ],
        "total": _money(terms.total_minor, currency, lang),
        "fee": _money(terms.fee_minor, currency, lang) if terms.fee_minor else "",
        "beyond": list(terms.beyond),
        "currency": currency,
        "frequency": quote.frequency,
        "count": len([r for r in terms.schedule if r.seq > 0]),
    }


PLAN_FIELDS = ("currency", "instalments", "frequency", "first_on", "down")


@router.post("/accounts/{debtor}/plans", response_class=HTMLResponse)
async def plan(request: Request, debtor: str) -> Response:
    """The plan calculator (``action=quote``: the schedule on the page, nothing written) and
    the debtor's acceptance of the plan (``action=accept``: active within the policy's limits,
    else waiting for a manager's approval)."""
    visit = _visit(request)
    form = await _checked_form(visit)
    if not visit.actor.may(Permission.WORK):
        raise PageError(403, "forbidden")
    values = {k: form.get(k, "").strip()[:40] for k in PLAN_FIELDS}
    problems: list[dict[str, str]] = []
    terms = plan_terms(visit, values, problems)
    policy = await run_in_threadpool(_policy, visit)
    if policy is None:
        raise PageError(409, "no_policy")
    s = visit.site
    if not problems:
        where = {"uow": s.uow(), "actor": visit.actor, "portfolio": s.portfolio,
                 "debtor": debtor, "policy": policy.policy, "on": _today(s), **terms}  # fmt: skip
        try:
            if form.get("action") == "accept":
                done = await _attempt("plan", agreements.accept_plan, at=s.clock(), **where)
                said = "plan_active" if done.status == "active" else "plan_waiting"
                return RedirectResponse(f"{_path(debtor)}?done={said}", status_code=303)
            quote = await _attempt("plan", agreements.quote_plan, **where)
        except _Invalid as exc:
            problems = exc.problems
        else:
            return await run_in_threadpool(
                _account, visit, debtor, 200, plan_values=values, quote=quote_view(visit, quote),
                form_name="plan",
            )  # fmt: skip
    return await run_in_threadpool(
        _account, visit, debtor, 422, problems=problems, form_name="plan", plan_values=values
    )


@router.post("/accounts/{debtor}/plans/{plan_id}/cancel", response_class=HTMLResponse)
async def cancel_plan(request: Request, debtor: str, plan_id: int) -> Response:
    """End a plan of this debtor that is active or awaiting approval, with a reason."""
    visit = _visit(request)
    form = await _checked_form(visit)
    s = visit.site
    mine = _call(visit, agreements.list_plans, s.uow(), visit.actor, portfolio=s.portfolio,
                 debtor=debtor)  # fmt: skip
    if plan_id not in {p.plan_id for p in mine}:
        raise PageError(404, visit.text("not_found"))
    try:
        await _attempt("plan", agreements.cancel_plan, uow=s.uow(), actor=visit.actor,
            plan_id=plan_id, on=_today(s), at=s.clock(), reason=form.get("reason", "")[:2000],
        )  # fmt: skip
    except _Invalid as exc:
        return await _invalid(visit, debtor, exc)
    return RedirectResponse(f"{_path(debtor)}?done=plan_cancelled", status_code=303)


@router.post("/accounts/{debtor}/settlements", response_class=HTMLResponse)
async def offer_settlement(request: Request, debtor: str) -> Response:
    """Offer a settlement: within the policy's limits the debtor may accept it at once, beyond
    them it waits for a manager's approval."""
    visit = _visit(request)
    form = await _checked_form(visit)
    values = {k: form.get(k, "").strip()[:40] for k in ("discount", "expires_on", "currency")}
    problems: list[dict[str, str]] = []
    discount = _decimal(visit, values, "discount", problems)
    expires_on = _day(visit, values, "expires_on", problems)
    if discount is None and not values["discount"]:
        problems.append({"where": "discount", "what": visit.text("bad_amount", value="")})
    if expires_on is None and not values["expires_on"]:
        problems.append({"where": "expires_on", "what": visit.text("bad_date", value="")})
    if not visit.actor.may(Permission.WORK):
        raise PageError(403, "forbidden")
    policy = await run_in_threadpool(_policy, visit)
    if policy is None:
        raise PageError(409, "no_policy")
    s = visit.site

    async def offer() -> str:
        assert discount is not None and expires_on is not None
        offered = await _attempt(
            "settlement", settlements.offer_settlement, uow=s.uow(), actor=visit.actor,
            portfolio=s.portfolio, debtor=debtor, policy=policy.policy, discount=discount,
            expires_on=expires_on, on=_today(s), at=s.clock(),
            currency=values["currency"] or None,
        )  # fmt: skip
        said = "settlement_offered" if offered.status == "offered" else "settlement_waiting"
        return f"done={said}"

    return await _tried(visit, debtor, "settlement", problems, offer, settlement_values=values)


@router.post("/accounts/{debtor}/settlements/{settlement_id}/accept", response_class=HTMLResponse)
async def accept_settlement(request: Request, debtor: str, settlement_id: int) -> Response:
    """The debtor accepted an offered settlement (on the phone): the collector records it."""
    visit = _visit(request)
    await _checked_form(visit)
    s = visit.site
    mine = _call(visit, settlements.list_settlements, s.uow(), visit.actor,
                 portfolio=s.portfolio, debtor=debtor)  # fmt: skip
    if settlement_id not in {o.settlement_id for o in mine}:
        raise PageError(404, visit.text("not_found"))
    try:
        await _attempt("settlement", settlements.accept_settlement, uow=s.uow(),
            actor=visit.actor, settlement_id=settlement_id, on=_today(s), at=s.clock(),
        )  # fmt: skip
    except _Invalid as exc:
        return await _invalid(visit, debtor, exc)
    return RedirectResponse(f"{_path(debtor)}?done=settlement_accepted", status_code=303)


@router.post("/accounts/{debtor}/agency", response_class=HTMLResponse)
async def agency(request: Request, debtor: str) -> Response:
    """Place the account with an agency (``action=place``, ``agency``) or recall it
    (``action=recall``, a reason): managers and admins."""
    visit = _visit(request)
    form = await _checked_form(visit)
    s = visit.site
    where = {"uow": s.uow(), "actor": visit.actor, "portfolio": s.portfolio, "on": _today(s),
             "at": s.clock(), "currency": form.get("currency") or None}  # fmt: skip
    try:
        if form.get("action") == "recall":
            await _attempt("agency", agencies.recall, debtor=debtor,
                           reason=form.get("reason", "")[:2000], **where)  # fmt: skip
            said = "recalled"
        else:
            await _attempt("agency", agencies.place, debtor=debtor,
                           agency=form.get("agency", ""), **where)  # fmt: skip
            said = "placed"
    except _Invalid as exc:
        return await _invalid(visit, debtor, exc)
    return RedirectResponse(f"{_path(debtor)}?done={said}", status_code=303)


@router.post("/accounts/{debtor}/write-offs", response_class=HTMLResponse)
async def propose_write_off(request: Request, debtor: str) -> Response:
    """Propose a write-off: posted at once within the role's limit (the policy's
    ``write_off_limits``), else waiting for a manager's approval."""
    visit = _visit(request)
    form = await _checked_form(visit)
    values = {k: form.get(k, "").strip() for k in ("amount", "currency", "invoice", "reason")}
    values = {k: v[:2000] if k == "reason" else v[:80] for k, v in values.items()}
    problems: list[dict[str, str]] = []
    amount = _decimal(visit, values, "amount", problems)
    if not visit.actor.may(Permission.WORK):
        raise PageError(403, "forbidden")
    policy = await run_in_threadpool(_policy, visit)
    limits = write_offs.limits_from(policy.policy) if policy is not None else {}
    s = visit.site

    async def propose() -> str:
        proposal = await _attempt(
            "write_off", write_offs.propose, uow=s.uow(), actor=visit.actor, debtor=debtor,
            portfolio=s.portfolio, on=_today(s), reason=values["reason"], limits=limits,
            at=s.clock(), currency=values["currency"] or None,
            invoice=values["invoice"] or None, amount=amount,
        )  # fmt: skip
        said = "written_off" if proposal.status == "posted" else "write_off_waiting"
        return f"done={said}"

    return await _tried(visit, debtor, "write_off", problems, propose, write_off_values=values)


@router.post("/approvals/write-offs/{item}/refuse", response_class=HTMLResponse)
async def refuse_write_off(request: Request, item: int) -> Response:
    """A manager refuses a pending write-off proposal, with a reason: nothing posts."""
    visit = _visit(request)
    form = await _checked_form(visit)
    s = visit.site
    try:
        await _act("refuse", write_offs.refuse, uow=s.uow(), actor=visit.actor,
            proposal_id=item, on=_today(s), reason=form.get("reason", "")[:2000], at=s.clock(),
        )  # fmt: skip
    except _Invalid as exc:
        raise PageError(422, "; ".join(p["what"] for p in exc.problems)) from exc
    return RedirectResponse(f"/approvals?refused={item}", status_code=303)
