"""The authorization matrix (issue 16, section 6): every principal (administrator, manager,
collector, auditor, anonymous, an API token of a collector and of an auditor, a debtor's link,
another debtor's link) against every route of the app, taken from ``app.routes`` so a new route
fails this test until its expected answers are written below; no answer is a server error.

What each outcome means:

- ``ok``: let in: any answer but 401, 403, a redirect to the login page or a server error (a
  409 or a 422 of the use case is a way of being let in);
- ``login``: a page that needs a logged-in user redirects to ``/login`` (or refuses the form
  without its CSRF token, 403: nothing is changed either way);
- ``deny``: 403, the role or the link may not;
- ``refused``: 403 or 404 (another debtor's link finds nothing of this debtor's);
- ``unauth``: 401, the API without a valid token;
- ``nobody``: a signed endpoint (provider callbacks, opt-out and tracking links, the checkout's
  notification and return, the fake provider) refuses every principal without the signature
  (401, 403, 404 or 422: nothing changes)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from arrears import config
from arrears.channels.base import debtor_token
from arrears.web import create_app
from test_web_api import add_token
from test_web_app import PASSWORD, add_user, csrf_of
from test_web_checkout import owing

STAFF = ("admin", "manager", "collector", "auditor")
OUTSIDERS = ("anonymous", "token", "token_auditor", "debtor", "other")
PRINCIPALS = STAFF + OUTSIDERS
NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.astimezone(ZoneInfo("America/New_York")).date()  # the workspace's day


def expect(default: str, **by: str) -> dict[str, str]:
    return {p: by.get(p, default) for p in PRINCIPALS}


def staff(reading: tuple[str, ...] = STAFF, outsiders: str = "login") -> dict[str, str]:
    """A collectors' page: ``reading`` roles let in, the other staff denied."""
    return {p: ("ok" if p in reading else "deny") if p in STAFF else outsiders for p in PRINCIPALS}


def api(*writers: str) -> dict[str, str]:
    """An API route: the tokens in ``writers`` (or every token for a read) let in."""
    tokens = {"token": "ok" if "token" in writers else "deny"}
    tokens["token_auditor"] = "ok" if "token_auditor" in writers else "deny"
    return {p: tokens.get(p, "unauth") for p in PRINCIPALS}


def own_link(other: str = "ok") -> dict[str, str]:
    """The debtor's page: their link lets them in; no link (a forged one) is 403."""
    return expect("deny", debtor="ok", other=other)


READ_API = api("token", "token_auditor")
WORK_API = api("token")
APPROVE_API = api()
WORK = staff(("admin", "manager", "collector"))
APPROVE = staff(("admin", "manager"))
SIGNED = expect("nobody")

#: every route's expected answer per principal
MATRIX: dict[tuple[str, str], dict[str, str]] = {
    ("GET", "/openapi.json"): expect("ok"),
    ("GET", "/docs"): expect("ok"),
    ("GET", "/health"): expect("ok"),
    ("GET", "/static"): expect("ok"),
    ("GET", "/login"): expect("ok"),
    ("POST", "/login"): expect("login"),  # no CSRF token in this request: refused
    ("POST", "/logout"): expect("login"),  # logged out: to the login page
    ("GET", "/"): expect("ok"),  # a redirect to /worklist, which then decides
    ("GET", "/worklist"): staff(),
    ("GET", "/password"): staff(),
    ("POST", "/password"): staff(),
    ("GET", "/accounts/{debtor}"): staff(),
    ("POST", "/accounts/{debtor}/promises"): WORK,
    ("POST", "/accounts/{debtor}/calls"): WORK,
    ("POST", "/accounts/{debtor}/holds"): WORK,
    ("POST", "/accounts/{debtor}/holds/{hold_id}/release"): WORK,
    ("POST", "/accounts/{debtor}/credit"): WORK,
    ("POST", "/accounts/{debtor}/notes"): WORK,
    ("POST", "/accounts/{debtor}/plans"): WORK,
    ("POST", "/accounts/{debtor}/settlements"): WORK,
    ("POST", "/accounts/{debtor}/settlements/{settlement_id}/accept"): WORK,
    ("POST", "/accounts/{debtor}/agency"): APPROVE,
    ("POST", "/accounts/{debtor}/write-offs"): WORK,
    ("POST", "/accounts/{debtor}/plans/{plan_id}/cancel"): WORK,
    ("GET", "/disputes"): staff(),
    ("POST", "/disputes"): WORK,
    ("POST", "/disputes/{dispute_id}/resolve"): WORK,
    ("GET", "/disputes/{dispute_id}/attachments/{attachment_id}"): staff(),
    ("GET", "/approvals"): APPROVE,
    ("POST", "/approvals"): APPROVE,
    ("POST", "/approvals/{kind}/{item}"): APPROVE,
    ("POST", "/approvals/write-offs/{item}/refuse"): APPROVE,
    ("GET", "/dashboard"): staff(("admin", "manager", "auditor")),
    ("GET", "/dashboard/accounts"): staff(("admin", "manager", "auditor")),
    ("GET", "/pay/{token}"): own_link(),
    ("GET", "/pay/{token}/statement.pdf"): own_link(),
    ("POST", "/pay/{token}/promise"): own_link(),
    ("POST", "/pay/{token}/dispute"): own_link(),
    ("POST", "/pay/{token}/opt-out"): own_link(),
    ("POST", "/pay/{token}/plan"): own_link(),
    # the settlement is the debtor's: another debtor's link finds no such offer of theirs
    ("POST", "/pay/{token}/settlements/{settlement_id}/accept"): own_link(other="refused"),
    ("GET", "/pay/{token}/checkout"): own_link(),
    ("GET", "/pay/{token}/checkout/return"): SIGNED,
    ("POST", "/checkout/webhook"): SIGNED,
    ("GET", "/fake-provider/checkout"): SIGNED,
    ("POST", "/fake-provider/checkout"): SIGNED,
    ("POST", "/callbacks/webhook/status"): SIGNED,
    ("POST", "/callbacks/twilio/status"): SIGNED,
    ("POST", "/inbound/webhook"): SIGNED,
    ("POST", "/inbound/twilio"): SIGNED,
    ("GET", "/opt-out"): SIGNED,
    ("POST", "/opt-out"): SIGNED,
    ("GET", "/t/open"): SIGNED,
    ("GET", "/t/click"): SIGNED,
    ("GET", "/api/v1/debtors/{debtor}"): READ_API,
    ("GET", "/api/v1/worklist"): READ_API,
    ("GET", "/api/v1/activity"): READ_API,
    ("GET", "/api/v1/aging"): READ_API,
    ("GET", "/api/v1/invoices"): READ_API,
    ("GET", "/api/v1/payments"): READ_API,
    ("GET", "/api/v1/cases"): READ_API,
    ("GET", "/api/v1/promises"): READ_API,
    ("GET", "/api/v1/plans"): READ_API,
    ("GET", "/api/v1/settlements"): READ_API,
    ("POST", "/api/v1/payments"): WORK_API,
    ("POST", "/api/v1/promises"): WORK_API,
    ("POST", "/api/v1/holds"): WORK_API,
    ("POST", "/api/v1/contacts"): WORK_API,
    ("POST", "/api/v1/plans"): WORK_API,
    ("POST", "/api/v1/plans/{plan}/cancel"): WORK_API,
    ("POST", "/api/v1/settlements"): WORK_API,
    ("POST", "/api/v1/settlements/{settlement}/accept"): WORK_API,
    ("POST", "/api/v1/promises/{promise}/cancel"): WORK_API,
    ("POST", "/api/v1/payments/{payment}/reverse"): WORK_API,
    ("POST", "/api/v1/write-offs"): APPROVE_API,
    ("POST", "/api/v1/plans/{plan}/approve"): APPROVE_API,
    ("POST", "/api/v1/settlements/{settlement}/approve"): APPROVE_API,
}


def routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) the app answers, walking included routers and mounts."""

    def walk(found: list[Any], prefix: str) -> Iterator[tuple[str, str]]:
        for route in found:
            if hasattr(route, "original_router"):  # FastAPI's included router
                extra = getattr(route.include_context, "prefix", "") or ""
                yield from walk(route.original_router.routes, prefix + extra)
            elif hasattr(route, "path"):
                for method in sorted(getattr(route, "methods", None) or {"GET"}):
                    if method != "HEAD":
                        yield method, prefix + route.path

    return sorted(set(walk(list(app.routes), "")))


@dataclass
class World:
    app: FastAPI
    clients: dict[str, TestClient]
    headers: dict[str, dict[str, str]]
    csrf: dict[str, str]
    ids: dict[str, str]


@pytest.fixture
def world(
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[World]:
    from channels_support import base_workspace, copy_workspace

    ws = copy_workspace(base_workspace(tmp_path_factory.mktemp("matrix")), tmp_path / "ws")
    for role in STAFF:
        assert add_user(ws, monkeypatch, role, role) == 0
    token = add_token(ws, capsys, "crm", "--role", "collector")
    audit = add_token(ws, capsys, "audit", "--role", "auditor")
    env = {"ARREARS_CHECKOUT_PROVIDER": "fake"}
    loaded = config.load(ws, env=env)
    app = create_app(loaded, clock=lambda: NOW)
    app.state.debtor_limiter.limit = 1_000_000  # the matrix is not about the rate limit
    secret = loaded.get("channels.secret")
    a, currency, _ = owing(ws)
    from sqlalchemy import select

    from arrears.store.schema import debtor as debtor_table
    from channels_support import engine_of

    with engine_of(ws).connect() as conn:
        b = conn.execute(
            select(debtor_table.c.external_id).where(debtor_table.c.external_id != a).limit(1)
        ).scalar_one()
    clients = {p: TestClient(app, follow_redirects=False) for p in PRINCIPALS}
    for client in clients.values():
        client.__enter__()
    csrf: dict[str, str] = {}
    for role in STAFF:
        client = clients[role]
        login = csrf_of(client.get("/login").text)
        answer = client.post("/login", data={"csrf": login, "username": role,
                             "password": PASSWORD, "next": "/worklist"})  # fmt: skip
        assert answer.status_code == 303, answer.text
        csrf[role] = csrf_of(client.get("/worklist").text)
    bearer = {"token": token, "token_auditor": audit}
    headers = {
        p: {"Authorization": f"Bearer {bearer[p]}"} if p in bearer else {} for p in PRINCIPALS
    }
    work = clients["token"]
    auth = headers["token"]
    due = (TODAY + timedelta(days=20)).isoformat()
    made = work.post("/api/v1/promises", json={"debtor": a, "amount": "1.00", "due_on": due},
                     headers=auth).json()  # fmt: skip
    hold = work.post("/api/v1/holds", json={"debtor": a, "ends_on": due, "reason": "matrix"},
                     headers=auth).json()  # fmt: skip
    plan = work.post("/api/v1/plans", json={"debtor": a, "instalments": 2}, headers=auth).json()
    offer = work.post("/api/v1/settlements", json={"debtor": a, "discount": "1",
                      "expires_on": due}, headers=auth).json()  # fmt: skip
    paid = {"external_id": "MATRIX-P1", "debtor": a, "received_on": TODAY.isoformat(),
            "amount": "1.00", "currency": currency}  # fmt: skip
    assert work.post("/api/v1/payments", json=paid, headers=auth).status_code == 201
    ids = {
        "debtor": a, "other": b, "currency": currency, "promise": str(made["promise_id"]),
        "hold_id": str(hold["hold_id"]), "plan": str(plan["plan"]["id"]),
        "settlement": str(offer["settlement"]["id"]), "payment": "MATRIX-P1",
        "a_token": debtor_token(secret, a), "b_token": debtor_token(secret, b), "due": due,
    }  # fmt: skip
    try:
        yield World(app, clients, headers, csrf, ids)
    finally:
        for client in clients.values():
            client.__exit__(None, None, None)


def fill(path: str, principal: str, ids: dict[str, str]) -> str:
    token = {"debtor": ids["a_token"], "other": ids["b_token"]}.get(principal, "forged-token")
    values = {
        "debtor": ids["debtor"], "hold_id": ids["hold_id"], "settlement_id": ids["settlement"],
        "kind": "plans", "item": ids["plan"], "token": token, "plan": ids["plan"],
        "settlement": ids["settlement"], "promise": ids["promise"], "payment": ids["payment"],
        "plan_id": ids["plan"], "dispute_id": "1", "attachment_id": "1",
    }  # fmt: skip
    path = "/static/app.css" if path == "/static" else path
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def body(method: str, path: str, ids: dict[str, str]) -> dict[str, Any]:
    """A request a principal allowed to would make: valid, so the answer is about who."""
    if method == "GET":
        if path.endswith("/checkout"):
            return {"params": {"currency": ids["currency"]}}
        return {}
    due, a, cur = ids["due"], ids["debtor"], ids["currency"]
    if path.startswith("/api/v1/"):
        api_bodies: dict[str, dict[str, Any]] = {
            "/api/v1/payments": {"external_id": "MATRIX-P2", "debtor": a,
                                 "received_on": TODAY.isoformat(), "amount": "1.00",
                                 "currency": cur},
            "/api/v1/promises": {"debtor": a, "amount": "1.00", "due_on": due},
            "/api/v1/holds": {"debtor": a, "ends_on": due, "reason": "matrix"},
            "/api/v1/contacts": {"debtor": a, "channel": "call", "outcome": "no_answer"},
            "/api/v1/write-offs": {"invoice": "NO-SUCH-INVOICE", "reason": "matrix"},
            "/api/v1/plans": {"debtor": a, "instalments": 3},
            "/api/v1/settlements": {"debtor": a, "discount": "2", "expires_on": due},
            "/api/v1/plans/{plan}/cancel": {"reason": "matrix"},
            "/api/v1/payments/{payment}/reverse": {"reason": "matrix"},
        }  # fmt: skip
        return {"json": api_bodies.get(path, {})}
    form = {"amount": "1.00", "due_on": due, "currency": cur, "reason": "matrix",
            "note": "matrix", "outcome": "no_answer", "channel": "email", "action": "hold",
            "until": due, "ends_on": due, "invoice": "x", "instalments": "2",
            "frequency": "monthly", "discount": "1", "expires_on": due, "debtor": a,
            "stage": "early", "agency": "none"}  # fmt: skip
    return {"data": form}


def outcome(status: int, location: str) -> str:
    if status >= 500:
        return "error"
    if status == 303 and location.startswith("/login"):
        return "login"
    if status == 401:
        return "unauth"
    if status == 403:
        return "deny"
    return "ok"


def accepted(expected: str, got: str, status: int) -> bool:
    if expected == "nobody":
        return status in (401, 403, 404, 422)
    if expected == "login":
        return got in ("login", "deny")
    if expected == "refused":
        return status in (403, 404)
    return got == expected


def test_every_route_is_in_the_matrix(world: World) -> None:
    answered = set(routes(world.app))
    assert answered - set(MATRIX) == set(), "new routes: add their expected answers to MATRIX"
    assert set(MATRIX) - answered == set(), "routes gone: remove them from MATRIX"


def test_every_principal_on_every_route(world: World) -> None:
    wrong = []
    for method, path in routes(world.app):
        for principal, expected in MATRIX[(method, path)].items():
            client = world.clients[principal]
            extra = body(method, path, world.ids)
            if principal in world.csrf and "data" in extra and path != "/login":
                extra["data"] = {**extra["data"], "csrf": world.csrf[principal]}
            url = fill(path, principal, world.ids)
            answer = client.request(method, url, headers=world.headers[principal], **extra)
            got = outcome(answer.status_code, answer.headers.get("location", ""))
            if not accepted(expected, got, answer.status_code):
                wrong.append(f"{method} {path} as {principal}: {answer.status_code} "
                             f"({got}), expected {expected}: {answer.text[:160]!r}")  # fmt: skip
            if principal in STAFF and (method, path) == ("POST", "/logout"):
                world.clients[principal].cookies.clear()  # logged out: log in again
                login = csrf_of(client.get("/login").text)
                client.post("/login", data={"csrf": login, "username": principal,
                            "password": PASSWORD, "next": "/worklist"})  # fmt: skip
                world.csrf[principal] = csrf_of(client.get("/worklist").text)
    assert not wrong, "\n".join(wrong)


def test_another_debtors_link_shows_nothing_of_this_debtor(world: World) -> None:
    a, b = world.ids["debtor"], world.ids["other"]
    page = world.clients["other"].get(f"/pay/{world.ids['b_token']}")
    assert page.status_code == 200 and b in page.text and a not in page.text
