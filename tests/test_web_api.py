"""The REST API through HTTP (docs/web.md, "The REST API"): tokens made with ``arrears token
add``, a payment posted over the API that ``arrears activity`` names ``token:NAME``, roles
enforced by the services (403), missing, wrong, expired and revoked tokens (401), bad bodies with
every problem (422), idempotent payments, and the OpenAPI document and the ``/docs`` page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from arrears import config
from arrears.cli.app import main
from arrears.store.schema import api_token, instalment, invoice
from arrears.store.schema import debtor as debtor_table
from arrears.web import create_app
from channels_support import base_workspace, copy_workspace, engine_of

NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.astimezone(ZoneInfo("America/New_York")).date()  # the workspace's day


def add_token(ws: Path, capsys: pytest.CaptureFixture[str], name: str, *args: str) -> str:
    capsys.readouterr()
    assert main(["-w", str(ws), "token", "add", name, *args]) == 0
    out = capsys.readouterr().out
    found = re.search(r"^(arr_\S+)$", out, re.M)
    assert found, out
    return found.group(1)


@dataclass
class Api:
    ws: Path
    client: TestClient
    tokens: dict[str, str]
    now: list[datetime]

    def headers(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}


@pytest.fixture
def api(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Iterator[Api]:
    ws = copy_workspace(base_workspace(tmp_path_factory.mktemp("api")), tmp_path / "ws")
    made = {
        name: add_token(ws, capsys, name, "--role", role)
        for name, role in (("crm", "collector"), ("audit", "auditor"), ("boss", "manager"))
    }
    now = [NOW]
    app = create_app(config.load(ws, env={}), clock=lambda: now[0])
    with TestClient(app) as client:
        yield Api(ws, client, made, now)


def a_debtor_owing(api: Api) -> tuple[str, str]:
    """A debtor of the worklist and its currency."""
    answer = api.client.get("/api/v1/worklist", headers=api.headers("audit"))
    assert answer.status_code == 200, answer.text
    task = answer.json()["tasks"][0]
    return task["debtor"], task["currency"]


def an_open_invoice(ws: Path, debtor: str) -> str:
    with engine_of(ws).connect() as conn:
        return str(
            conn.execute(
                select(invoice.c.external_id)
                .join(instalment, instalment.c.invoice_id == invoice.c.id)
                .join(debtor_table, debtor_table.c.id == invoice.c.debtor_id)
                .where(debtor_table.c.external_id == debtor, instalment.c.open_minor > 0)
                .limit(1)
            ).scalar_one()
        )


def test_a_payment_posted_with_a_token_is_in_the_activity_log_under_its_name(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    debtor, currency = a_debtor_owing(api)
    body = {
        "external_id": "API-P1",
        "debtor": debtor,
        "received_on": TODAY.isoformat(),
        "amount": "10.00",
        "currency": currency,
    }
    first = api.client.post("/api/v1/payments", json=body, headers=api.headers("crm"))
    assert first.status_code == 201, first.text
    assert first.json()["changed"] is True and first.json()["applied"]
    again = api.client.post("/api/v1/payments", json=body, headers=api.headers("crm"))
    assert again.status_code == 200 and again.json()["changed"] is False
    capsys.readouterr()
    assert main(["-w", str(api.ws), "activity", "--debtor", debtor, "--format", "csv"]) == 0
    out = capsys.readouterr().out
    [line] = [row for row in out.splitlines() if "API-P1" in row]
    assert "token:crm" in line
    log = api.client.get(
        "/api/v1/activity", params={"debtor": debtor}, headers=api.headers("audit")
    )
    assert log.status_code == 200
    newest = log.json()["activity"][0]
    assert (newest["actor"], newest["subject_id"]) == ("token:crm", "API-P1")


def test_reads_for_an_auditor_token(api: Api) -> None:
    debtor, currency = a_debtor_owing(api)
    account = api.client.get(f"/api/v1/debtors/{debtor}", headers=api.headers("audit"))
    assert account.status_code == 200, account.text
    found = account.json()
    assert found["debtor"]["id"] == debtor
    [own] = [c for c in found["currencies"] if c["currency"] == currency]
    assert own["stage"] and isinstance(own["figures"], dict) and own["figures"]
    aging = api.client.get("/api/v1/aging", headers=api.headers("audit"))
    assert aging.status_code == 200, aging.text
    assert aging.json()["rows"] and "total" in aging.json()["rows"][0]
    by_segment = api.client.get(
        "/api/v1/aging", params={"by": "segment"}, headers=api.headers("audit")
    )
    assert by_segment.status_code == 200, by_segment.text
    assert all(0 <= row["share"] <= 1 for row in by_segment.json()["rows"])
    by_debtor = api.client.get(
        "/api/v1/aging", params={"by": "debtor"}, headers=api.headers("audit")
    )
    row = by_debtor.json()["rows"][0]
    assert "debtor_id" not in row and row["debtor_external_id"].startswith("D")
    assert isinstance(row["total"], str) and "." in row["total"]
    missing = api.client.get("/api/v1/debtors/NOPE", headers=api.headers("audit"))
    assert missing.status_code == 404
    assert missing.json()["problems"][0]["what"] == "unknown debtor 'NOPE'"


def test_roles_are_the_services(api: Api) -> None:
    debtor, currency = a_debtor_owing(api)
    day = TODAY.isoformat()
    payment = {
        "external_id": "API-P2", "debtor": debtor, "received_on": day, "amount": "1.00",
        "currency": currency,
    }  # fmt: skip
    refused = api.client.post("/api/v1/payments", json=payment, headers=api.headers("audit"))
    assert refused.status_code == 403
    assert refused.json() == {
        "status": 403,
        "problems": [
            {"where": "request", "what": "token:audit (auditor) may not record a payment"}
        ],
    }
    invoice = an_open_invoice(api.ws, debtor)
    write_off = {"invoice": invoice, "reason": "uncollectable"}
    no = api.client.post("/api/v1/write-offs", json=write_off, headers=api.headers("crm"))
    assert no.status_code == 403 and "may not write off" in no.json()["problems"][0]["what"]
    yes = api.client.post("/api/v1/write-offs", json=write_off, headers=api.headers("boss"))
    assert yes.status_code == 201, yes.text
    assert yes.json()["changed"] is True
    # the other writes, by the collector's token
    later = (TODAY + timedelta(days=7)).isoformat()
    hold = {"debtor": debtor, "ends_on": later, "reason": "letter sent by post"}
    answer = api.client.post("/api/v1/holds", json=hold, headers=api.headers("crm"))
    assert answer.status_code == 201, answer.text
    contact = {"debtor": debtor, "channel": "call", "outcome": "no_answer"}
    answer = api.client.post("/api/v1/contacts", json=contact, headers=api.headers("crm"))
    assert answer.status_code == 201 and answer.json()["changed"] is True, answer.text
    answer = api.client.post("/api/v1/contacts", json=contact, headers=api.headers("crm"))
    assert answer.status_code == 200 and answer.json()["changed"] is False
    assert (
        api.client.post("/api/v1/holds", json=hold, headers=api.headers("audit")).status_code == 403
    )


def test_a_promise_over_the_api_and_every_problem_of_a_bad_body(api: Api) -> None:
    debtor, _ = a_debtor_owing(api)
    due = (TODAY + timedelta(days=10)).isoformat()
    ok = api.client.post(
        "/api/v1/promises", json={"debtor": debtor, "amount": "5", "due_on": due},
        headers=api.headers("crm"),
    )  # fmt: skip
    assert ok.status_code == 201, ok.text
    assert ok.json()["promise_id"] > 0
    bad = api.client.post(
        "/api/v1/promises",
        json={"debtor": debtor, "amount": "-3", "due_on": "someday", "colour": "red"},
        headers=api.headers("crm"),
    )
    assert bad.status_code == 422
    where = sorted(p["where"] for p in bad.json()["problems"])
    assert where == ["body.amount", "body.colour", "body.due_on"]
    control = {"external_id": "P\x00", "debtor": debtor, "received_on": "x", "amount": "NaN",
               "currency": "USD"}  # fmt: skip
    refused = api.client.post("/api/v1/payments", json=control, headers=api.headers("crm"))
    assert refused.status_code == 422
    assert sorted(p["where"] for p in refused.json()["problems"]) == [
        "body.amount", "body.external_id", "body.received_on",
    ]  # fmt: skip
    # the service's own problems, all at once: a past due date and more than is owed
    past = (TODAY - timedelta(days=400)).isoformat()
    too_much = api.client.post(
        "/api/v1/promises",
        json={"debtor": debtor, "amount": "99999999", "due_on": past},
        headers=api.headers("crm"),
    )
    assert too_much.status_code == 422
    what = " | ".join(p["what"] for p in too_much.json()["problems"])
    assert "before the day the promise was made" in what and "more than" in what


def test_no_valid_token_is_401(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    url = "/api/v1/worklist"
    none = api.client.get(url)
    assert none.status_code == 401
    assert none.json()["problems"][0]["where"] == "header Authorization"
    assert none.headers["WWW-Authenticate"].startswith("Bearer")
    for header in ("Bearer arr_not-a-token", "Basic dXNlcjpwYXNz", "Bearer "):
        assert api.client.get(url, headers={"Authorization": header}).status_code == 401
    assert api.client.get(url, headers=api.headers("crm")).status_code == 200
    assert main(["-w", str(api.ws), "token", "revoke", "crm"]) == 0
    revoked = api.client.get(url, headers=api.headers("crm"))
    assert revoked.status_code == 401
    assert revoked.json() == {
        "status": 401,
        "problems": [
            {
                "where": "header Authorization",
                "what": "no valid API token: send Authorization: Bearer <token>",
            }
        ],
    }
    # expiry: a token for 1 day no longer works the day after
    api.tokens["short"] = add_token(api.ws, capsys, "short", "--role", "auditor", "--expires", "1d")
    assert api.client.get(url, headers=api.headers("short")).status_code == 200
    api.now[0] = NOW + timedelta(days=2)
    assert api.client.get(url, headers=api.headers("short")).status_code == 401


def test_token_commands(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["-w", str(api.ws), "token", "add", "Bad X", "--role", "boss", "--until", "x"]) == 1
    err = capsys.readouterr().err
    assert "name: 'Bad X' is not a token name" in err
    assert "role: 'boss': one of admin, manager, collector, auditor" in err
    assert "--until: 'x': a date (YYYY-MM-DD) or days (90d)" in err
    assert main(["-w", str(api.ws), "token", "add", "crm", "--role", "auditor"]) == 1
    assert "token 'crm' exists already" in capsys.readouterr().err
    assert main(["-w", str(api.ws), "token", "revoke", "audit"]) == 0
    assert main(["-w", str(api.ws), "token", "list", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "audit,auditor,revoked," in out and "crm,collector,active," in out
    assert not any(t in out for t in api.tokens.values())
    with engine_of(api.ws).connect() as conn:  # only the SHA-256 of each token is kept
        hashes = [h for (h,) in conn.execute(select(api_token.c.token_hash))]
    assert len(hashes) == 3 and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes)
    assert not set(hashes) & set(api.tokens.values())


def test_the_openapi_document_and_the_docs_page(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    routes = {
        ("get", "/api/v1/debtors/{debtor}"), ("get", "/api/v1/worklist"),
        ("get", "/api/v1/activity"), ("get", "/api/v1/aging"), ("post", "/api/v1/payments"),
        ("post", "/api/v1/promises"), ("post", "/api/v1/holds"), ("post", "/api/v1/contacts"),
        ("post", "/api/v1/write-offs"), ("get", "/api/v1/invoices"), ("get", "/api/v1/payments"),
        ("get", "/api/v1/cases"), ("get", "/api/v1/promises"), ("get", "/api/v1/plans"),
        ("get", "/api/v1/settlements"), ("post", "/api/v1/plans"),
        ("post", "/api/v1/plans/{plan}/approve"), ("post", "/api/v1/plans/{plan}/cancel"),
        ("post", "/api/v1/settlements"), ("post", "/api/v1/settlements/{settlement}/approve"),
        ("post", "/api/v1/settlements/{settlement}/accept"),
        ("post", "/api/v1/promises/{promise}/cancel"),
        ("post", "/api/v1/payments/{payment}/reverse"),
    }  # fmt: skip
    listed = {
        (method, path)
        for path, item in spec["paths"].items()
        if path.startswith("/api/v1")
        for method in item
    }
    assert listed == routes
    error = "#/components/schemas/ErrorResponse"
    for method, path in routes:
        operation = spec["paths"][path][method]
        answers = operation["responses"]
        for status in ("401", "403", "404", "422", "503"):
            assert answers[status]["content"]["application/json"]["schema"]["$ref"] == error
        assert operation["security"] == [{"token": []}]
        if method == "post":
            assert "409" in answers
    assert spec["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    page = api.client.get("/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "POST /api/v1/payments" in page.text and "PaymentIn" in page.text
    assert "<script" not in page.text and "http" not in re.sub(r"https?://[^\s'\"]*", "", page.text)
    assert "cdn" not in page.text.lower()


def test_tokens_on_sqlite_and_postgresql(engine: Engine) -> None:
    from arrears.domain.actor import Actor, Role
    from arrears.domain.errors import Conflict, NotAllowed, NotFound
    from arrears.domain.problems import ProblemsFound
    from arrears.services import tokens
    from arrears.services.uow import SqlUnitOfWork

    uow = lambda: SqlUnitOfWork(engine)  # noqa: E731
    admin = Actor("cli:root", Role.ADMIN)
    with pytest.raises(ProblemsFound) as bad:
        tokens.add_token(uow(), admin, name="-", role="system", at=NOW, expires_at=NOW)
    assert [p.where for p in bad.value.problems] == ["name", "role", "until"]
    with pytest.raises(NotAllowed):
        tokens.add_token(uow(), Actor("user:m", Role.MANAGER), name="x", role="auditor", at=NOW)
    made, secret = tokens.add_token(
        uow(), admin, name="feed", role="collector", at=NOW, expires_at=NOW + timedelta(days=1)
    )
    with pytest.raises(Conflict):
        tokens.add_token(uow(), admin, name="feed", role="auditor", at=NOW)
    found = tokens.authenticate_token(uow(), secret, at=NOW + timedelta(hours=23))
    assert found == Actor("token:feed", Role.COLLECTOR)
    with pytest.raises(tokens.WrongToken):
        tokens.authenticate_token(uow(), secret, at=NOW + timedelta(days=1))
    with pytest.raises(tokens.WrongToken):
        tokens.authenticate_token(uow(), secret[:-1] + "x", at=NOW)
    assert tokens.revoke_token(uow(), admin, name="feed", at=NOW) is True
    assert tokens.revoke_token(uow(), admin, name="feed", at=NOW) is False
    with pytest.raises(NotFound):
        tokens.revoke_token(uow(), admin, name="nope", at=NOW)
    with pytest.raises(tokens.WrongToken):
        tokens.authenticate_token(uow(), secret, at=NOW)
    [listed] = tokens.list_tokens(uow(), admin)
    assert (listed.name, listed.state(NOW), listed.expires_at) == (
        "feed",
        "revoked",
        made.expires_at,
    )


def test_list_endpoints_page_and_filter(api: Api) -> None:
    """/activity pages back with ``next_cursor`` and filters by kind; /worklist pages with
    ``page`` and filters by stage and queue."""
    headers = api.headers("audit")
    first = api.client.get("/api/v1/activity", params={"limit": 5}, headers=headers).json()
    assert len(first["activity"]) == 5 and first["next_cursor"] == first["activity"][-1]["id"]
    second = api.client.get(
        "/api/v1/activity", params={"limit": 5, "cursor": first["next_cursor"]}, headers=headers
    ).json()
    ids = [a["id"] for a in first["activity"] + second["activity"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 10
    wanted = first["activity"][0]["kind"]
    kinds = api.client.get(
        "/api/v1/activity", params={"kind": wanted, "limit": 1000}, headers=headers
    ).json()["activity"]
    assert kinds and {a["kind"] for a in kinds} == {wanted}
    every = api.client.get("/api/v1/activity", params={"limit": 1000}, headers=headers).json()
    assert (
        len(kinds) == sum(a["kind"] == wanted for a in every["activity"]) < len(every["activity"])
    )
    unknown = api.client.get("/api/v1/activity", params={"debtor": "NOPE"}, headers=headers)
    assert unknown.status_code == 404

    everything = api.client.get("/api/v1/worklist", params={"top": 500}, headers=headers).json()
    tasks = everything["tasks"]
    assert len(tasks) > 2 and everything["next_page"] is None
    page_1 = api.client.get("/api/v1/worklist", params={"top": 2}, headers=headers).json()
    page_2 = api.client.get(
        "/api/v1/worklist", params={"top": 2, "page": 2}, headers=headers
    ).json()
    assert page_1["next_page"] == 2 and page_2["page"] == 2
    assert [t["task_id"] for t in page_1["tasks"] + page_2["tasks"]] == [
        t["task_id"] for t in tasks[:4]
    ]
    stage = tasks[0]["stage"]
    staged = api.client.get(
        "/api/v1/worklist", params={"stage": stage, "top": 500}, headers=headers
    ).json()["tasks"]
    assert staged == [t for t in tasks if t["stage"] == stage]
    none = api.client.get("/api/v1/worklist", params={"queue": "no such queue"}, headers=headers)
    assert none.json()["tasks"] == []
