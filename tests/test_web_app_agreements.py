"""The account page's agreement actions through HTTP (docs/web.md): the plan calculator (the
schedule shown, agreed within the policy's limits or sent to a manager beyond them), a
settlement offer (the same), a write-off proposed within or beyond the role's limit and a
manager approving or refusing it, placing with and recalling from an agency (managers only);
each refusing what the role or the policy forbids with a clear message, in English and Spanish,
and nothing written; hostile text shown as text on every page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from arrears import config
from arrears.cli.app import main
from arrears.store.schema import debtor as debtor_table
from arrears.store.schema import instalment, payment_plan, settlement, write_off_proposal
from arrears.web import create_app
from channels_support import base_workspace, copy_workspace, engine_of
from test_web_app import NOW, TODAY, Web, add_user, csrf_of, login, records

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def web(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Web]:
    ws = copy_workspace(base_workspace(tmp_path_factory.mktemp("web")), tmp_path / "ws")
    for name, role in (("maria", "collector"), ("ana", "auditor"), ("max", "manager"),
                       ("mia", "manager")):  # fmt: skip
        assert add_user(ws, monkeypatch, name, role) == 0
    now = [NOW]
    app = create_app(config.load(ws, env={}), clock=lambda: now[0])
    with TestClient(app, follow_redirects=False) as client:
        yield Web(ws, client, now)


def _post(web: Web, path: str, data: dict[str, str]) -> Any:
    token = csrf_of(web.client.get("/password").text)
    return web.client.post(path, data={"csrf": token, **data})


def _as(web: Web, user: str) -> None:
    web.client.cookies.clear()
    assert login(web.client, user) == 303


def big_debtor(ws: Path, rank: int = 0) -> str:
    """The debtor who owes the most (``rank`` 1: the next one), enough for a plan of several
    instalments of the policy's minimum."""
    with engine_of(ws).connect() as conn:
        owed = func.sum(instalment.c.open_minor)
        rows = conn.execute(
            select(debtor_table.c.external_id)
            .join(instalment, instalment.c.debtor_id == debtor_table.c.id)
            .where(instalment.c.currency == debtor_table.c.currency)
            .group_by(debtor_table.c.external_id)
            .order_by(owed.desc(), debtor_table.c.external_id)
            .limit(rank + 1)
        ).all()
    return str(rows[rank][0])


def _rows(ws: Path, table: Any) -> list[dict[str, Any]]:
    with engine_of(ws).connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(table))]


def _section(page: str, ident: str) -> str:
    return page.split(f'id="{ident}"')[1].split("</section>", maxsplit=1)[0]


def test_a_collector_builds_a_plan_with_the_calculator_and_agrees_it(web: Web) -> None:
    _as(web, "maria")
    debtor = big_debtor(web.ws)
    page = web.client.get(f"/accounts/{debtor}").text
    allows = page.split('id="plan-allows">')[1].split("</p>")[0]
    assert "up to 6 instalments" in allows and "monthly" in allows and "30 days" in allows
    first = (TODAY + timedelta(days=10)).isoformat()
    terms = {"instalments": "2", "frequency": "monthly", "first_on": first, "down": ""}
    quoted = _post(web, f"/accounts/{debtor}/plans", {"action": "quote", **terms})
    assert quoted.status_code == 200
    schedule = quoted.text.split('id="plan-quote"')[1].split("</table>")[0]
    assert first in schedule and schedule.count("<tr>") == 4  # header, 2 rows, total
    assert 'id="plan-within"' in quoted.text and not _rows(web.ws, payment_plan)  # nothing yet
    # the acceptance form carries the same terms
    accept = quoted.text.split('id="plan-accept-form"')[1].split("</form>")[0]
    assert f'name="first_on" value="{first}"' in accept
    done = _post(web, f"/accounts/{debtor}/plans", {"action": "accept", **terms})
    assert done.status_code == 303 and done.headers["location"].endswith("done=plan_active")
    after = web.client.get(done.headers["location"]).text
    assert "The plan is active" in after
    plans = _rows(web.ws, payment_plan)
    assert [(p["status"], p["instalments"], p["actor"]) for p in plans] == [
        ("active", 2, "user:maria")
    ]
    assert [r["actor"] for r in records(web.ws, "plan.accepted")] == ["user:maria"]
    assert "plan.accepted" in after.split('id="activity"')[1]
    # the same acceptance again the same day changes nothing; another plan the next day is
    # refused on the form while this one lives, nothing written
    assert _post(web, f"/accounts/{debtor}/plans", {"action": "accept", **terms}).status_code == 303
    web.now[0] = NOW + timedelta(days=1)
    again = _post(web, f"/accounts/{debtor}/plans", {"action": "accept", **terms})
    assert again.status_code == 422 and "cancel it first" in again.text
    assert len(_rows(web.ws, payment_plan)) == 1
    # cancelled from the page (with a reason; only this debtor's plan), a new one may be agreed
    plan_id = plans[0]["id"]
    assert f'id="cancel-plan-{plan_id}"' in again.text
    other = big_debtor(web.ws, 1)
    assert (
        _post(web, f"/accounts/{other}/plans/{plan_id}/cancel", {"reason": "x"}).status_code == 404
    )
    no_reason = _post(web, f"/accounts/{debtor}/plans/{plan_id}/cancel", {"reason": " "})
    assert no_reason.status_code == 422 and "needs a reason" in no_reason.text
    cancelled = _post(web, f"/accounts/{debtor}/plans/{plan_id}/cancel", {"reason": "lost job"})
    assert cancelled.headers["location"].endswith("done=plan_cancelled")
    assert [r["actor"] for r in records(web.ws, "plan.cancelled")] == ["user:maria"]
    renewed = _post(web, f"/accounts/{debtor}/plans", {"action": "accept", **terms})
    assert renewed.headers["location"].endswith("done=plan_active")


def test_a_plan_beyond_the_limits_waits_for_a_manager_who_approves_it(web: Web) -> None:
    _as(web, "maria")
    debtor = big_debtor(web.ws)
    terms = {"instalments": "12", "frequency": "weekly",
             "first_on": (TODAY + timedelta(days=3)).isoformat()}  # fmt: skip
    quoted = _post(web, f"/accounts/{debtor}/plans", {"action": "quote", **terms})
    beyond = quoted.text.split('id="plan-beyond"')[1].split("</div>")[0]
    assert "waits for a manager" in beyond and "at most 6" in beyond and "weekly" in beyond
    done = _post(web, f"/accounts/{debtor}/plans", {"action": "accept", **terms})
    assert done.headers["location"].endswith("done=plan_waiting")
    (plan,) = _rows(web.ws, payment_plan)
    assert plan["status"] == "awaiting_approval"
    # the collector cannot approve it; the manager does, from the inbox
    assert web.client.get("/approvals").status_code == 403
    assert _post(web, f"/approvals/plans/{plan['id']}", {}).status_code == 403
    _as(web, "max")
    inbox = web.client.get("/approvals").text
    assert f"/approvals/plans/{plan['id']}" in inbox.split('id="approval-plans"')[1]
    assert _post(web, f"/approvals/plans/{plan['id']}", {}).status_code == 303
    assert _rows(web.ws, payment_plan)[0]["status"] == "active"
    assert [r["actor"] for r in records(web.ws, "plan.approved")] == ["user:max"]


def test_bad_plan_input_is_shown_every_problem_at_once_in_spanish(web: Web) -> None:
    _as(web, "maria")
    debtor = big_debtor(web.ws)
    spanish = {"Accept-Language": "es"}
    token = csrf_of(web.client.get("/password").text)
    bad = web.client.post(
        f"/accounts/{debtor}/plans",
        data={"csrf": token, "action": "accept", "instalments": "tres", "first_on": "mañana",
              "down": "x"},
        headers=spanish,
    )  # fmt: skip
    assert bad.status_code == 422
    problems = bad.text.split('id="problems-plan"')[1].split("</div>")[0]
    assert "no es un número entero" in problems and "no es una fecha" in problems
    assert "«x» no es un monto" in problems
    assert "La política le permite acordar solo" in bad.text
    assert not _rows(web.ws, payment_plan)


def test_a_settlement_offer_within_and_beyond_the_limits(web: Web) -> None:
    _as(web, "maria")
    debtor, other = big_debtor(web.ws), big_debtor(web.ws, 1)
    page = web.client.get(f"/accounts/{debtor}").text
    assert "up to 10 % off the balance, expiring within 30 days" in page
    expires = (TODAY + timedelta(days=20)).isoformat()
    done = _post(web, f"/accounts/{debtor}/settlements", {"discount": "5", "expires_on": expires})
    assert done.headers["location"].endswith("done=settlement_offered")
    waiting = _post(web, f"/accounts/{other}/settlements",
                    {"discount": "35", "expires_on": expires})  # fmt: skip
    assert waiting.headers["location"].endswith("done=settlement_waiting")
    offers = {o["discount"]: o for o in _rows(web.ws, settlement)}
    assert offers["5"]["status"] == "offered" and offers["35"]["status"] == "awaiting_approval"
    bad = _post(web, f"/accounts/{debtor}/settlements", {"discount": "120", "expires_on": "no"})
    assert bad.status_code == 422
    problems = bad.text.split('id="problems-settlement"')[1].split("</div>")[0]
    assert "is not a date" in problems
    # the debtor agreed on the phone: the collector records it
    page = web.client.get(f"/accounts/{debtor}").text
    button = re.search(r'/settlements/(\d+)/accept"', page)
    assert button
    # not through another debtor's page
    assert (
        _post(web, f"/accounts/{other}/settlements/{button.group(1)}/accept", {}).status_code == 404
    )
    accepted = _post(web, f"/accounts/{debtor}/settlements/{button.group(1)}/accept", {})
    assert accepted.headers["location"].endswith("done=settlement_accepted")
    assert [r["actor"] for r in records(web.ws, "settlement.accepted")] == ["user:maria"]
    # the manager approves the one beyond the limits from the inbox
    _as(web, "max")
    approve = _post(web, f"/approvals/settlements/{offers['35']['id']}", {})
    assert approve.status_code == 303
    assert {o["discount"]: o["status"] for o in _rows(web.ws, settlement)}["35"] == "offered"


def test_write_offs_within_and_beyond_the_role_limit_approved_and_refused(web: Web) -> None:
    _as(web, "maria")
    debtor, other = big_debtor(web.ws), big_debtor(web.ws, 1)
    page = web.client.get(f"/accounts/{debtor}").text
    assert "may write off nothing at once" in page.split('id="write-off-limit">')[1]
    done = _post(web, f"/accounts/{debtor}/write-offs", {"amount": "10", "reason": "goodwill"})
    assert done.headers["location"].endswith("done=write_off_waiting")
    more = _post(web, f"/accounts/{other}/write-offs", {"amount": "", "reason": "bankrupt"})
    assert more.headers["location"].endswith("done=write_off_waiting")
    bad = _post(web, f"/accounts/{debtor}/write-offs", {"amount": "99999999", "reason": " "})
    assert bad.status_code == 422
    problems = bad.text.split('id="problems-write_off"')[1].split("</div>")[0]
    assert "needs a reason" in problems
    proposals = {p["reason"]: p for p in _rows(web.ws, write_off_proposal)}
    assert {p["status"] for p in proposals.values()} == {"pending"}
    _as(web, "max")  # a manager: no limit, posts at once
    assert "without a limit" in web.client.get(f"/accounts/{debtor}").text
    inbox = web.client.get("/approvals").text.split('id="approval-write-offs"')[1]
    assert "goodwill" in inbox and "/refuse" in inbox
    assert _post(web, f"/approvals/write-offs/{proposals['goodwill']['id']}", {}).status_code == 303
    refused = _post(web, f"/approvals/write-offs/{proposals['bankrupt']['id']}/refuse",
                    {"reason": "not proven"})  # fmt: skip
    assert refused.status_code == 303
    assert "nothing was written off" in web.client.get(refused.headers["location"]).text
    status = {p["reason"]: p["status"] for p in _rows(web.ws, write_off_proposal)}
    assert status == {"goodwill": "posted", "bankrupt": "refused"}
    assert [r["actor"] for r in records(web.ws, "write_off.refused")] == ["user:max"]
    own = _post(web, f"/accounts/{debtor}/write-offs", {"amount": "5", "reason": "rounding"})
    assert own.headers["location"].endswith("done=written_off")


def test_placing_with_an_agency_needs_a_manager(web: Web) -> None:
    add = ["agency", "add", "recoverco", "--name", "RecoverCo", "--commission", "20"]
    assert main(["-w", str(web.ws), *add]) == 0
    _as(web, "maria")
    debtor = big_debtor(web.ws)
    page = web.client.get(f"/accounts/{debtor}").text
    assert "needs a manager" in _section(page, "agency-title") and 'id="place-form"' not in page
    refused = _post(web, f"/accounts/{debtor}/agency", {"action": "place", "agency": "recoverco"})
    assert refused.status_code == 403 and not records(web.ws, "agency.placed")
    _as(web, "max")
    page = web.client.get(f"/accounts/{debtor}").text
    assert "RecoverCo (recoverco)" in page.split('id="place-form"')[1]
    placed = _post(web, f"/accounts/{debtor}/agency", {"action": "place", "agency": "recoverco"})
    assert placed.headers["location"].endswith("done=placed")
    page = web.client.get(placed.headers["location"]).text
    assert "Placed with recoverco" in page and "commission 20 %" in page
    assert 'id="recall-form"' in page
    no_reason = _post(web, f"/accounts/{debtor}/agency", {"action": "recall", "reason": ""})
    assert no_reason.status_code == 422 and "say why" in no_reason.text
    recalled = _post(web, f"/accounts/{debtor}/agency", {"action": "recall", "reason": "paid"})
    assert recalled.headers["location"].endswith("done=recalled")
    assert [r["actor"] for r in records(web.ws, "agency.recalled")] == ["user:max"]


def test_an_auditor_sees_no_agreement_forms_and_every_post_is_refused(web: Web) -> None:
    _as(web, "ana")
    debtor = big_debtor(web.ws)
    page = web.client.get(f"/accounts/{debtor}").text
    for form in ("plan-form", "settlement-form", "write-off-form", "place-form"):
        assert f'id="{form}"' not in page
    first = (TODAY + timedelta(days=5)).isoformat()
    for path, data in (
        ("plans", {"action": "quote", "instalments": "2", "first_on": first}),
        ("plans", {"action": "accept", "instalments": "2", "first_on": first}),
        ("settlements", {"discount": "5", "expires_on": first}),
        ("write-offs", {"amount": "1", "reason": "x"}),
        ("agency", {"action": "place", "agency": "x"}),
    ):
        assert _post(web, f"/accounts/{debtor}/{path}", data).status_code == 403, path
    assert _post(web, "/approvals/write-offs/1/refuse", {"reason": "x"}).status_code == 403
    for table in (payment_plan, settlement, write_off_proposal):
        assert not _rows(web.ws, table)


def test_hostile_text_is_shown_as_text_on_the_account_page_and_the_inbox(web: Web) -> None:
    _as(web, "maria")
    debtor = big_debtor(web.ws)
    with engine_of(web.ws).begin() as conn:
        conn.execute(update(debtor_table).where(debtor_table.c.external_id == debtor)
                     .values(name=HOSTILE))  # fmt: skip
    assert _post(web, f"/accounts/{debtor}/notes", {"text": HOSTILE}).status_code == 303
    assert _post(web, f"/accounts/{debtor}/write-offs",
                 {"amount": "3", "reason": HOSTILE}).status_code == 303  # fmt: skip
    terms = {"instalments": "2", "first_on": HOSTILE, "currency": HOSTILE[:3], "down": HOSTILE}
    shown = [
        web.client.get(f"/accounts/{debtor}").text,
        _post(web, f"/accounts/{debtor}/plans", {"action": "quote", **terms}).text,
        _post(
            web, f"/accounts/{debtor}/settlements", {"discount": HOSTILE, "expires_on": HOSTILE}
        ).text,
    ]
    add = ["agency", "add", "evil", "--name", HOSTILE, "--commission", "20"]
    assert main(["-w", str(web.ws), *add]) == 0
    _as(web, "max")
    shown += [web.client.get("/approvals").text, web.client.get(f"/accounts/{debtor}").text]
    assert 'id="place-form"' in shown[-1]
    for page in shown:
        assert "<script>" not in page and "<img" not in page
        assert "&lt;script&gt;" in page or "&lt;scr" in page
