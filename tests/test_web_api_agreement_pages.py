"""The REST API's lists of plans and settlements filter and page in SQL (``WHERE status``,
``LIMIT``/``OFFSET`` in the services' queries), with the same answers: every page together is
the whole list, newest first; a status filter keeps that status only; an unknown status is
refused."""

from __future__ import annotations

from sqlalchemy import event

from arrears.domain.agreements import PlanStatus, SettlementStatus
from test_web_api import Api, api

__all__ = ["api"]


def _owing(api: Api, count: int) -> list[str]:
    tasks = api.client.get("/api/v1/worklist", params={"limit": 200}, headers=api.headers("audit"))
    assert tasks.status_code == 200, tasks.text
    return list(dict.fromkeys(t["debtor"] for t in tasks.json()["tasks"]))[:count]


def _every_page(api: Api, path: str, key: str, top: int, **params: str) -> list[list[dict]]:  # type: ignore[type-arg]
    found, page = [], 1
    while page is not None:
        answer = api.client.get(path, params={**params, "top": top, "page": page},
                                headers=api.headers("audit"))  # fmt: skip
        assert answer.status_code == 200, answer.text
        assert answer.json()["page"] == page
        found.append(answer.json()[key])
        page = answer.json()["next_page"]
    return found


def test_plans_and_settlements_pages_and_filters(api: Api) -> None:
    crm = api.headers("crm")
    debtors = _owing(api, 4)
    assert len(debtors) == 4
    plan_ids = []
    for debtor in debtors[:4]:
        made = api.client.post("/api/v1/plans", json={"debtor": debtor, "instalments": 2},
                               headers=crm)  # fmt: skip
        assert made.status_code == 201, made.text
        plan_ids.append(made.json()["plan"]["id"])
    for plan_id in plan_ids[:2]:
        ended = api.client.post(f"/api/v1/plans/{plan_id}/cancel", json={"reason": "asked"},
                                headers=crm)  # fmt: skip
        assert ended.status_code == 200, ended.text
    for debtor in debtors[:3]:
        offered = api.client.post("/api/v1/settlements", json={"debtor": debtor, "discount": "5"},
                                  headers=crm)  # fmt: skip
        assert offered.status_code in (201, 422), offered.text  # a live plan may refuse one

    [whole] = _every_page(api, "/api/v1/plans", "plans", 1000)
    assert [p["id"] for p in whole] == sorted(plan_ids, reverse=True)  # newest first
    paged = _every_page(api, "/api/v1/plans", "plans", 3)
    assert [len(p) for p in paged] == [3, 1] and [p for page in paged for p in page] == whole
    cancelled = _every_page(api, "/api/v1/plans", "plans", 1, status=PlanStatus.CANCELLED)
    assert [p for page in cancelled for p in page] == [
        p for p in whole if p["status"] == "cancelled"
    ]
    assert len(cancelled) == 2
    [settled] = _every_page(api, "/api/v1/settlements", "settlements", 1000)
    one_by_one = _every_page(api, "/api/v1/settlements", "settlements", 1)
    assert [s for page in one_by_one for s in page] == settled
    offered = _every_page(api, "/api/v1/settlements", "settlements", 2,
                          status=SettlementStatus.OFFERED)  # fmt: skip
    assert [s for page in offered for s in page] == [s for s in settled if s["status"] == "offered"]
    refused = api.client.get("/api/v1/plans", params={"status": "lost"},
                             headers=api.headers("audit"))  # fmt: skip
    assert refused.status_code == 422


def test_the_page_is_cut_by_the_query(api: Api) -> None:
    engine = api.client.app.state.site.engine  # type: ignore[attr-defined]
    seen: list[str] = []

    def heard(conn, cursor, statement, parameters, context, many) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", heard)
    try:
        for path in ("/api/v1/plans", "/api/v1/settlements"):
            answer = api.client.get(path, params={"status": "active" if "plans" in path
                                                  else "offered", "top": 7, "page": 3},
                                    headers=api.headers("audit"))  # fmt: skip
            assert answer.status_code == 200, answer.text
    finally:
        event.remove(engine, "before_cursor_execute", heard)
    for table in ("payment_plan", "settlement"):
        [query] = [q for q in seen if f"FROM {table} JOIN debtor" in q]
        assert "LIMIT" in query and "OFFSET" in query and f"{table}.status IN" in query
