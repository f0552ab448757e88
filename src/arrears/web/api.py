"""The REST API under ``/api/v1`` (docs/web.md, "The REST API"): JSON for machine clients, each
endpoint one call of a use case of :mod:`arrears.services` with the token's actor.

Every request carries ``Authorization: Bearer <token>`` (``arrears token add``); the client acts
as ``token:<name>`` with the token's role (:func:`arrears.services.tokens.authenticate_token`),
which the activity log names. A missing, unknown, expired or revoked token is 401; what the role
may not do is 403 (the services decide); bad input is 422 with every problem at once; all in the
one error shape of :mod:`arrears.web.errors`. A write that the service finds already made (the
same payment id, the same contact) answers 200 with ``changed: false`` instead of 201.

``/openapi.json`` describes all of it and ``/docs`` is a page the app renders itself from it (no
script, nothing from another site)."""

from __future__ import annotations

import html
import json
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from arrears import config
from arrears.domain.actor import Actor
from arrears.domain.ledger import Payment
from arrears.domain.money import Money, from_minor
from arrears.kpi.aging import By, bucket_labels
from arrears.services import tokens
from arrears.services.books import ledger
from arrears.services.casework import accounts, collection, explain
from arrears.services.cycle import load_compiled
from arrears.services.insight import reports
from arrears.web import api_models as m
from arrears.web import errors
from arrears.web.app import Site, site
from arrears.web.errors import ErrorResponse

PREFIX = "/api/v1"

#: What each error status of the API means, for the OpenAPI document.
MEANING = {
    401: "No valid API token: the Authorization header is missing, or its token is unknown, "
    "expired or revoked (nothing was read or changed).",
    403: "The token's role may not do this (nothing was changed).",
    404: "Not found: no debtor, invoice or portfolio with that id.",
    409: "Conflict: the state changed under the request, or does not allow it; read it again "
    "and retry.",
    422: "The request is not valid: every problem at once, each with where and what.",
    503: "Unavailable: the store cannot be used now (nothing was changed).",
}


def _answers(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": ErrorResponse, "description": MEANING[s]} for s in (401, *statuses)}


READ = _answers(403, 404, 422, 503)
WRITE = _answers(403, 404, 409, 422, 503)

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="An API token from `arrears token add NAME --role R`.",
)


def api_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The actor of the request's ``Authorization: Bearer`` token; 401 without a valid one."""
    s = site(request)
    if credentials is None or not credentials.credentials:
        raise tokens.WrongToken(
            "send Authorization: Bearer <token> (arrears token add NAME --role R makes one)"
        )
    return tokens.authenticate_token(s.uow(), credentials.credentials, at=s.clock())


ActorOf = Annotated[Actor, Depends(api_actor)]
SiteOf = Annotated[Site, Depends(site)]

router = APIRouter(prefix=PREFIX, tags=["api"])


def _today(s: Site) -> date:
    """The workspace's day at the site's clock (the one rule the CLI uses too)."""
    if s.workspace is not None:
        return s.workspace.today(s.clock())
    return config.today_in("UTC", s.clock())


def _plain(value: object) -> str | int | float | bool | None:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _amount(money: Money) -> str:
    return str(money.amount)


Shape = TypeVar("Shape", bound=BaseModel)


def _shaped(model: type[Shape], row: object, **given: Any) -> Shape:
    """``model`` from ``row``'s attributes of the same names as its fields, but ``given``'s."""
    return model(**{n: getattr(row, n) for n in model.model_fields if n not in given}, **given)


# Reads -----------------------------------------------------------------------------------------


@router.get("/debtors/{debtor}", response_model=m.Account, responses=READ)
def get_debtor(debtor: str, s: SiteOf, actor: ActorOf) -> m.Account:
    """The account: who the debtor is, and per currency the stage, the case and the explain
    view's key figures today."""
    found = accounts.debtor_summary(s.uow(), actor, portfolio=s.portfolio, debtor=debtor)
    today = _today(s)
    currencies: list[m.AccountCurrency] = []
    policy_name = None
    path = s.workspace.policy_for(s.portfolio) if s.workspace is not None else None
    if path is not None and path.is_file():
        view = explain.explain_view(
            s.uow(), actor, portfolio=s.portfolio, debtor=debtor, as_of=today,
            policy=load_compiled(path), model=s.model(),
            rates=s.workspace.rates if s.workspace is not None else None,
            reference_rates=s.workspace.reference_rates if s.workspace is not None else None,
        )  # fmt: skip
        policy_name = view.policy
        currencies = [
            m.AccountCurrency(
                currency=c.currency,
                segment=c.segment,
                stage=c.stage,
                stage_rule=c.stage_rule,
                case=c.case,
                opened_on=c.opened_on,
                awaiting_approval=c.awaiting_approval,
                arm=c.arm,
                paused_by=c.paused_by,
                paused_until=c.paused_until,
                priority=c.priority,
                score=c.score,
                score_reasons=list(c.score_reasons),
                figures={k: _plain(v) for k, v in c.features.items()},
            )
            for c in view.currencies
        ]
    return m.Account(
        debtor=m.Debtor(
            id=found.external_id,
            name=found.name,
            kind=found.kind,
            country=found.country,
            language=found.language,
            currency=found.currency,
            do_not_contact=found.do_not_contact,
        ),
        as_of=today,
        policy=policy_name,
        currencies=currencies,
    )


@router.get("/worklist", response_model=m.Worklist, responses=READ)
def get_worklist(
    s: SiteOf,
    actor: ActorOf,
    collector: Annotated[
        str | None, Query(max_length=200, description="This collector's tasks and unassigned ones.")
    ] = None,
    assignee: Annotated[
        str | None, Query(max_length=200, description="Only the tasks assigned to this name.")
    ] = None,
    top: Annotated[
        int, Query(ge=1, le=collection.MAX_COLLECTOR * 5, description="Page size.")
    ] = 50,
    page: Annotated[int, Query(ge=1, le=10_000, description="The page (from 1).")] = 1,
    queue: Annotated[str | None, Query(max_length=100, description="Only this queue.")] = None,
    stage: Annotated[str | None, Query(max_length=100, description="Only this stage.")] = None,
) -> m.Worklist:
    """The open call tasks, best first, a page of ``top`` at a time, filtered by queue and
    stage."""
    frame = collection.worklist(
        s.uow(), actor, portfolio=s.portfolio, collector=collector, top=page * top + 1,
        assignee=assignee, queue=queue, stage=stage,
    )  # fmt: skip
    more = frame.height > page * top
    frame = frame.slice((page - 1) * top, top)
    tasks = []
    for row in frame.iter_rows(named=True):
        currency, minor = row["currency"], row["overdue_minor"]
        tasks.append(
            m.Task(
                task_id=row["task_id"],
                score=row["score"],
                task_priority=row["task_priority"],
                created_on=row["created_on"],
                debtor=row["debtor"],
                name=row["name"],
                currency=currency,
                stage=row["stage"],
                overdue=None
                if minor is None or currency is None
                else str(from_minor(int(minor), currency)),
                queue=row["queue"],
                collector=row["collector"],
                step_id=row["step_id"],
                flags=(row["flags"] or "").split(),
                not_before=row["not_before"] or None,
            )
        )
    return m.Worklist(tasks=tasks, page=page, next_page=page + 1 if more else None)


@router.get("/activity", response_model=m.ActivityList, responses=READ)
def get_activity(
    s: SiteOf,
    actor: ActorOf,
    debtor: Annotated[str | None, Query(max_length=100, description="One debtor's only.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Records per page.")] = 50,
    cursor: Annotated[
        int | None, Query(ge=1, description="The next_cursor of the previous page: older records.")
    ] = None,
    kind: Annotated[
        list[str] | None,
        Query(
            max_length=64,
            description="Only kinds starting with this (promise., message.); repeat for several.",
        ),
    ] = None,
) -> m.ActivityList:
    """The activity log, newest first, a page at a time (``next_cursor`` for the next)."""
    found = accounts.timeline(
        s.uow(), actor, portfolio=s.portfolio, debtor=debtor, before=cursor, limit=limit,
        kinds=tuple(kind or ()),
    )  # fmt: skip
    return m.ActivityList(
        activity=[
            _shaped(m.ActivityItem, r, id=r.record_id, portfolio=s.portfolio) for r in found.items
        ],
        next_cursor=found.next_cursor,
    )


@router.get("/aging", response_model=m.Aging, responses=READ)
def get_aging(
    s: SiteOf,
    actor: ActorOf,
    as_of: Annotated[date | None, Query(description="Default: today.")] = None,
    by: Annotated[Literal["total", "debtor", "segment", "bucket"], Query()] = "total",
    currency: Annotated[str | None, Query(min_length=3, max_length=3)] = None,
) -> m.Aging:
    """The open receivables by days past due."""
    grouped: By = by
    report = reports.aging_report(
        s.uow(), actor, portfolio=s.portfolio, as_of=as_of or _today(s), by=grouped,
        currency=currency.upper() if currency else None,
    )  # fmt: skip
    frame = report.rows.drop("debtor_id", "invoice_id", strict=False)  # the store's own ids
    buckets = [label for label in bucket_labels(report.edges) if label in frame.columns]
    amounts = {*buckets, "total"}
    rows = []
    for row in frame.iter_rows(named=True):
        code = report.in_currency or row.get("currency")
        out: dict[str, str | int | float | None] = {}
        for key, value in row.items():
            if key in amounts and value is not None and code:
                out[key] = str(from_minor(int(value), str(code)))
            else:
                out[key] = _plain(value)
        rows.append(out)
    return m.Aging(
        portfolio=report.portfolio, as_of=report.as_of, edges=list(report.edges),
        in_currency=report.in_currency, buckets=buckets, rows=rows,
    )  # fmt: skip


# Writes ----------------------------------------------------------------------------------------


def _status(response: Response, changed: bool) -> None:
    response.status_code = 201 if changed else 200


@router.post(
    "/payments",
    response_model=m.PaymentOut,
    status_code=201,
    responses={200: {"description": "Recorded before: nothing changed."}, **WRITE},
)
def post_payment(body: m.PaymentIn, response: Response, s: SiteOf, actor: ActorOf) -> m.PaymentOut:
    """Record a payment (applied by the workspace's allocation rule, or to ``invoice``); the same
    ``external_id`` again changes nothing (200, ``changed: false``)."""
    from arrears.domain.allocation import AllocationRule  # noqa: PLC0415

    payment = Payment(
        body.external_id, body.debtor, body.received_on, Money(body.amount, body.currency.upper()),
        body.method, body.reference, s.portfolio,
    )  # fmt: skip
    rule = AllocationRule(s.workspace.get("allocation_rule")) if s.workspace else None
    posting = ledger.record_payment(
        s.uow(), actor, payment, invoice=body.invoice,
        **({"rule": rule} if rule else {}), at=s.clock(),
    )  # fmt: skip
    _status(response, posting.changed)
    code = posting.unallocated.currency
    return m.PaymentOut(
        payment=posting.document,
        changed=posting.changed,
        applied=[
            m.Applied(invoice=a.invoice, seq=a.seq, amount=str(from_minor(a.amount_minor, code)))
            for a in posting.applied
        ],
        unallocated=_amount(posting.unallocated),
        currency=code,
    )


@router.post("/promises", response_model=m.PromiseOut, status_code=201, responses=WRITE)
def post_promise(body: m.PromiseIn, s: SiteOf, actor: ActorOf) -> m.PromiseOut:
    """Record a debtor's promise to pay; an identical open promise is returned, not duplicated."""
    added = collection.add_promise(
        s.uow(), actor, portfolio=s.portfolio, debtor=body.debtor, amount=body.amount,
        due_on=body.due_on, made_on=body.made_on or _today(s), at=s.clock(),
        grace_days=body.grace_days, currency=body.currency.upper() if body.currency else None,
        note=body.note,
    )  # fmt: skip
    return m.PromiseOut(
        promise_id=added.promise_id, debtor=added.debtor, amount=_amount(added.amount),
        currency=added.amount.currency, due_on=added.due_on,
    )  # fmt: skip


@router.post("/holds", response_model=m.HoldOut, status_code=201, responses=WRITE)
def post_hold(body: m.HoldIn, s: SiteOf, actor: ActorOf) -> m.HoldOut:
    """Hold a debtor's collection until ``ends_on``; an identical hold is returned."""
    added = collection.add_hold(
        s.uow(), actor, portfolio=s.portfolio, debtor=body.debtor,
        starts_on=body.starts_on or _today(s), ends_on=body.ends_on, reason=body.reason,
        at=s.clock(),
    )  # fmt: skip
    return m.HoldOut(
        hold_id=added.hold_id, debtor=added.debtor, starts_on=added.starts_on,
        ends_on=added.ends_on,
    )  # fmt: skip


@router.post(
    "/contacts",
    response_model=m.ContactOut,
    status_code=201,
    responses={200: {"description": "Logged before: nothing changed."}, **WRITE},
)
def post_contact(body: m.ContactIn, response: Response, s: SiteOf, actor: ActorOf) -> m.ContactOut:
    """Log a contact made by hand (a call's outcome closes or reschedules its call task)."""
    logged = collection.log_contact(
        s.uow(), actor, portfolio=s.portfolio, debtor=body.debtor, channel=body.channel,
        outcome=body.outcome, on=body.on or _today(s), at=s.clock(), note=body.note,
    )  # fmt: skip
    _status(response, logged.changed)
    return m.ContactOut(
        debtor=logged.debtor, channel=logged.channel, outcome=logged.outcome, on=logged.on,
        changed=logged.changed, closed_tasks=list(logged.closed),
        rescheduled_tasks=list(logged.rescheduled),
    )  # fmt: skip


@router.post(
    "/write-offs",
    response_model=m.WriteOffOut,
    status_code=201,
    responses={200: {"description": "Written off before: nothing changed."}, **WRITE},
)
def post_write_off(
    body: m.WriteOffIn, response: Response, s: SiteOf, actor: ActorOf
) -> m.WriteOffOut:
    """Write off an invoice's open balance (or ``amount`` of it): a manager's or an admin's."""
    done = ledger.write_off(
        s.uow(), actor, body.invoice, portfolio=s.portfolio, amount=body.amount,
        on=body.on or _today(s), reason=body.reason, at=s.clock(),
    )  # fmt: skip
    _status(response, done.changed)
    return m.WriteOffOut(
        invoice=done.invoice, amount=_amount(done.amount), currency=done.amount.currency,
        changed=done.changed,
    )  # fmt: skip


# /docs -----------------------------------------------------------------------------------------


def docs_page(app: FastAPI) -> str:
    """The API's reference, rendered on the server from the OpenAPI document: every endpoint,
    its parameters, request body and answers, with the schemas (no script, no other site)."""
    spec = app.openapi()
    e = html.escape
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{e(spec['info']['title'])} API</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:auto;padding:1rem;"
        "color:#111}code,pre{background:#f3f3f3}pre{padding:.5rem;overflow:auto}"
        "h2{border-top:1px solid #999;padding-top:.5rem}</style></head><body>",
        f"<h1>{e(spec['info']['title'])} API {e(str(spec['info'].get('version', '')))}</h1>",
        "<p>Every request sends <code>Authorization: Bearer &lt;token&gt;</code> (made with "
        "<code>arrears token add NAME --role R</code>). Errors are "
        '<code>{"status": N, "problems": [{"where": ..., "what": ...}]}</code>. '
        "The machine-readable document: <a href='/openapi.json'>/openapi.json</a>.</p>",
        "<nav><ul>",
    ]
    operations = [
        (path, method, op)
        for path, item in spec["paths"].items()
        if path.startswith(PREFIX)
        for method, op in item.items()
    ]
    for path, method, _ in operations:
        anchor = e(f"{method}-{path}")
        out.append(f"<li><a href='#{anchor}'><code>{e(method.upper())} {e(path)}</code></a></li>")
    out.append("</ul></nav>")
    for path, method, op in operations:
        out.append(
            f"<h2 id='{e(f'{method}-{path}')}'><code>{e(method.upper())} {e(path)}</code></h2>"
        )
        out.append(f"<p>{e(op.get('description') or op.get('summary') or '')}</p>")
        params = op.get("parameters", [])
        if params:
            out.append("<h3>Parameters</h3><ul>")
            for p in params:
                kind = p.get("schema", {}).get("type") or "string"
                need = "required" if p.get("required") else "optional"
                out.append(
                    f"<li><code>{e(p['name'])}</code> ({e(p['in'])}, {e(kind)}, {need}) "
                    f"{e(p.get('description', ''))}</li>"
                )
            out.append("</ul>")
        body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
        if body:
            ref = body.get("schema", {}).get("$ref", "").rsplit("/", 1)[-1]
            out.append(f"<h3>Request body: <a href='#schema-{e(ref)}'>{e(ref)}</a></h3>")
        out.append("<h3>Answers</h3><ul>")
        for status, answer in op.get("responses", {}).items():
            schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
            ref = schema.get("$ref", "").rsplit("/", 1)[-1]
            link = f" <a href='#schema-{e(ref)}'>{e(ref)}</a>" if ref else ""
            out.append(f"<li><b>{e(status)}</b> {e(answer.get('description', ''))}{link}</li>")
        out.append("</ul>")
    out.append("<h2>Schemas</h2>")
    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        out.append(f"<h3 id='schema-{e(name)}'>{e(name)}</h3>")
        out.append(f"<pre>{e(json.dumps(schema, indent=2))}</pre>")
    out.append("</body></html>")
    return "".join(out)


def install(app: FastAPI) -> None:
    """The API's routes, and ``/docs`` (``/openapi.json`` is FastAPI's)."""
    from arrears.web import api_lists  # noqa: F401, PLC0415 (its routes join our router)

    app.include_router(router)

    @app.exception_handler(tokens.WrongToken)
    async def no_token(request: Request, exc: tokens.WrongToken) -> JSONResponse:
        """401 in the one error shape, with the challenge of RFC 6750."""
        return errors.response(
            request,
            401,
            [errors.Problem("header Authorization", str(exc))],
            headers={"WWW-Authenticate": 'Bearer realm="arrears"'},
        )

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    def docs() -> HTMLResponse:
        return HTMLResponse(
            docs_page(app),
            headers={
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                "frame-ancestors 'none'",
                "X-Content-Type-Options": "nosniff",
            },
        )
