"""The REST API's lists and agreements through HTTP (docs/web.md, "The REST API"): invoices,
payments and cases a cursor page at a time and filtered; promises, plans and settlements made,
listed, approved and cancelled over the API; errors in the caller's language."""

from __future__ import annotations

from fastapi.testclient import TestClient

from test_web_api import TODAY, Api, a_debtor_owing, api

__all__ = ["api"]


def pages(
    client: TestClient, path: str, key: str, headers: dict[str, str], **params: object
) -> list[list[dict]]:  # type: ignore[type-arg]
    """Every page of a cursor list."""
    found, cursor = [], None
    while True:
        answer = client.get(
            path, params={**params, **({"cursor": cursor} if cursor else {})}, headers=headers
        )
        assert answer.status_code == 200, answer.text
        found.append(answer.json()[key])
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            return found


def test_invoices_a_page_at_a_time_and_filtered(api: Api) -> None:
    audit = api.headers("audit")
    every = pages(api.client, "/api/v1/invoices", "invoices", audit, limit=1000)
    [whole] = every
    assert len(whole) > 3
    small = pages(api.client, "/api/v1/invoices", "invoices", audit, limit=2)
    assert len(small) == (len(whole) + 1) // 2 and all(len(p) <= 2 for p in small)
    assert [i["id"] for p in small for i in p] == [i["id"] for i in whole]
    debtor, _currency = a_debtor_owing(api)
    own = api.client.get(
        "/api/v1/invoices", params={"debtor": debtor, "status": "open"}, headers=audit
    )
    assert own.status_code == 200
    rows = own.json()["invoices"]
    assert rows and {i["debtor"] for i in rows} == {debtor}
    assert all(i["status"] == "open" and i["oldest_due"] for i in rows)
    assert any(float(i["open"]) > 0 for i in rows)
    unknown = api.client.get("/api/v1/invoices", params={"debtor": "NOPE"}, headers=audit)
    assert unknown.status_code == 404 and "NOPE" in unknown.json()["problems"][0]["what"]
    assert api.client.get("/api/v1/invoices").status_code == 401
    bad = api.client.get("/api/v1/invoices", params={"status": "lost", "limit": 0}, headers=audit)
    assert bad.status_code == 422
    assert sorted(p["where"] for p in bad.json()["problems"]) == ["query.limit", "query.status"]


def test_payments_listed_and_reversed(api: Api) -> None:
    debtor, currency = a_debtor_owing(api)
    crm, audit = api.headers("crm"), api.headers("audit")
    body = {"external_id": "LIST-P1", "debtor": debtor, "received_on": TODAY.isoformat(),
            "amount": "5.00", "currency": currency}  # fmt: skip
    assert api.client.post("/api/v1/payments", json=body, headers=crm).status_code == 201
    listed = api.client.get("/api/v1/payments", params={"debtor": debtor}, headers=audit)
    [paid] = [p for p in listed.json()["payments"] if p["id"] == "LIST-P1"]
    assert (paid["amount"], paid["status"], paid["currency"]) == ("5.00", "posted", currency)
    refused = api.client.post("/api/v1/payments/LIST-P1/reverse", json={"reason": "bounced"},
                              headers=audit)  # fmt: skip
    assert refused.status_code == 403
    done = api.client.post("/api/v1/payments/LIST-P1/reverse", json={"reason": "bounced"},
                           headers=crm)  # fmt: skip
    assert done.status_code == 200, done.text
    reversed_ = api.client.get("/api/v1/payments", params={"status": "reversed"}, headers=audit)
    assert [p["id"] for p in reversed_.json()["payments"]] == ["LIST-P1"]
    today = TODAY.isoformat()
    window = api.client.get("/api/v1/payments", params={"from": today, "to": today}, headers=audit)
    assert {p["received_on"] for p in window.json()["payments"]} == {today}


def test_cases_open_and_filtered_by_stage(api: Api) -> None:
    audit = api.headers("audit")
    listed = api.client.get("/api/v1/cases", params={"open": "true", "limit": 1000}, headers=audit)
    assert listed.status_code == 200, listed.text
    cases = listed.json()["cases"]
    assert cases and all(c["closed_on"] is None for c in cases)
    stage = cases[0]["stage"]
    same = api.client.get("/api/v1/cases", params={"stage": stage, "limit": 1000}, headers=audit)
    assert same.json()["cases"] and {c["stage"] for c in same.json()["cases"]} == {stage}


def test_agreements_made_listed_and_ended_over_the_api(api: Api) -> None:
    debtor, _currency = a_debtor_owing(api)
    crm, audit, boss = api.headers("crm"), api.headers("audit"), api.headers("boss")
    due = TODAY.isoformat()
    made = api.client.post("/api/v1/promises", json={"debtor": debtor, "amount": "3.00",
                           "due_on": due}, headers=crm)  # fmt: skip
    assert made.status_code == 201, made.text
    promise = made.json()["promise_id"]
    listed = api.client.get("/api/v1/promises", params={"debtor": debtor}, headers=audit)
    assert [p["id"] for p in listed.json()["promises"]] == [promise]
    cancelled = api.client.post(f"/api/v1/promises/{promise}/cancel", headers=crm)
    assert cancelled.status_code == 200 and cancelled.json() == {"id": promise, "changed": True}
    again = api.client.post(f"/api/v1/promises/{promise}/cancel", json={}, headers=crm)
    assert again.json()["changed"] is False
    gone = api.client.get("/api/v1/promises", params={"status": "cancelled"}, headers=audit)
    assert [p["id"] for p in gone.json()["promises"]] == [promise]

    plan = api.client.post("/api/v1/plans", json={"debtor": debtor, "instalments": 2}, headers=crm)
    assert plan.status_code == 201, plan.text
    plan_id = plan.json()["plan"]["id"]
    assert plan.json()["plan"]["status"] in ("active", "awaiting_approval")
    plans = api.client.get("/api/v1/plans", params={"debtor": debtor}, headers=audit)
    assert [p["id"] for p in plans.json()["plans"]] == [plan_id]
    ended = api.client.post(f"/api/v1/plans/{plan_id}/cancel", json={"reason": "asked"},
                            headers=crm)  # fmt: skip
    assert ended.status_code == 200 and ended.json()["status"] == "cancelled"

    offer = api.client.post("/api/v1/settlements", json={"debtor": debtor, "discount": "60",
                            "expires_on": due}, headers=crm)  # fmt: skip
    assert offer.status_code == 201, offer.text
    settlement = offer.json()["settlement"]
    assert settlement["status"] == "awaiting_approval" and settlement["beyond"]
    path = f"/api/v1/settlements/{settlement['id']}"
    assert api.client.post(f"{path}/approve", headers=crm).status_code == 403
    approved = api.client.post(f"{path}/approve", headers=boss)
    assert approved.status_code == 200 and approved.json()["settlement"]["status"] == "offered"
    accepted = api.client.post(f"{path}/accept", headers=crm)
    assert accepted.json()["settlement"]["status"] == "accepted", accepted.text
    listed_s = api.client.get("/api/v1/settlements", params={"status": "accepted"}, headers=audit)
    assert [s["id"] for s in listed_s.json()["settlements"]] == [settlement["id"]]
    missing = api.client.post("/api/v1/plans/999999/approve", headers=boss)
    assert missing.status_code == 404


def test_errors_in_the_callers_language(api: Api) -> None:
    es = {**api.headers("crm"), "Accept-Language": "es-ES,es;q=0.9,en;q=0.5"}
    bad = api.client.post(
        "/api/v1/promises", json={"amount": "-3", "due_on": "someday"}, headers=es
    )
    assert bad.status_code == 422 and bad.headers["content-language"] == "es"
    said = {p["where"]: p["what"] for p in bad.json()["problems"]}
    assert said == {
        "body.debtor": "Falta este campo",
        "body.amount": "Debe ser mayor que 0",
        "body.due_on": "Debe ser una fecha AAAA-MM-DD",
    }
    unknown = api.client.get("/api/v1/debtors/NOPE", headers=es)
    assert unknown.json()["problems"][0]["what"] == "Deudor desconocido: 'NOPE'"
    refused = api.client.post(
        "/api/v1/write-offs", json={"invoice": "X", "reason": "r"}, headers=es
    )
    assert refused.status_code == 403
    assert refused.json()["problems"][0]["what"].startswith("token:crm (rol collector) no tiene")
    anonymous = api.client.get("/api/v1/invoices", headers={"Accept-Language": "es"})
    assert anonymous.status_code == 401 and anonymous.json()["problems"][0]["what"].startswith(
        "Envíe Authorization"
    )
    english = api.client.get("/api/v1/debtors/NOPE", headers=api.headers("crm"))
    assert english.json()["problems"][0]["what"] == "unknown debtor 'NOPE'"
    assert english.headers["content-language"] == "en"
