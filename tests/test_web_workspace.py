"""The collectors' workspace through HTTP (docs/web.md): the account page complete (contact points
with consents, open invoices with days past due, cases, promises, the timeline paginated), the
collector's actions (a call's outcome after "may I call now?", a hold and its release, a note),
each refused to an auditor (403); the approvals inbox (managers; collectors 403); changing one's
password; ``arrears user remove`` ending a session."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from arrears import config
from arrears.cli.app import main
from arrears.store.schema import collection_case, consent, contact_point
from arrears.store.schema import debtor as debtor_table
from arrears.web import create_app
from channels_support import base_workspace, copy_workspace, engine_of
from test_web_app import NOW, PASSWORD, TODAY, Web, add_user, csrf_of, first_debtor, login, records


@pytest.fixture
def web(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Web]:
    ws = copy_workspace(base_workspace(tmp_path_factory.mktemp("web")), tmp_path / "ws")
    for name, role in (("maria", "collector"), ("ana", "auditor"), ("max", "manager")):
        assert add_user(ws, monkeypatch, name, role) == 0
    now = [NOW]
    app = create_app(config.load(ws, env={}), clock=lambda: now[0])
    with TestClient(app, follow_redirects=False) as client:
        yield Web(ws, client, now)


def _post(web: Web, path: str, data: dict[str, str], page: str = "/password") -> Any:
    """POST a form with the session's CSRF token (read from ``page``: any page has it)."""
    token = csrf_of(web.client.get("/password").text)
    return web.client.post(path, data={"csrf": token, **data})


def _local(web: Web, debtor: str, hour: int) -> datetime:
    """A Wednesday at ``hour`` in the debtor's own time zone, as the clock's UTC."""
    with engine_of(web.ws).connect() as conn:
        zone = conn.execute(
            select(debtor_table.c.timezone).where(debtor_table.c.external_id == debtor)
        ).scalar_one()
    day = TODAY + timedelta(days=(2 - NOW.weekday()) % 7 + 7)
    return datetime.combine(day, time(hour), tzinfo=ZoneInfo(zone)).astimezone(NOW.tzinfo)


def test_the_account_page_shows_contacts_invoices_cases_promises_and_the_timeline(
    web: Web,
) -> None:
    assert login(web.client, "maria") == 303
    debtor = first_debtor(web.client)
    with engine_of(web.ws).begin() as conn:  # an opt-out to see
        point = conn.execute(
            select(contact_point.c.id, contact_point.c.value)
            .join(debtor_table, debtor_table.c.id == contact_point.c.debtor_id)
            .where(debtor_table.c.external_id == debtor, contact_point.c.kind == "email")
        ).first()
        assert point is not None
        conn.execute(
            update(consent).where(consent.c.contact_point_id == point.id).values(status="denied")
        )
    page = web.client.get(f"/accounts/{debtor}").text
    points = page.split('id="points"')[1].split("</table>")[0]
    assert point.value in points and "opted out" in points
    invoices = page.split('id="invoices"')[1].split("</table>")[0]
    assert "Days past due" in invoices and re.search(r'class="num">\d+</td>', invoices)
    cases = page.split('id="cases"')[1].split("</table>")[0]
    assert "Experiment arm" in cases and "Stage" in cases
    assert "Agreements" in page and "May I call" not in page  # the verdict, not a question
    assert 'id="may-call"' in page and 'id="call-form"' in page
    # the timeline pages back with a cursor
    for i in range(27):
        assert _post(web, f"/accounts/{debtor}/notes", {"text": f"note {i}"},
                     f"/accounts/{debtor}").status_code == 303  # fmt: skip
    first = web.client.get(f"/accounts/{debtor}").text
    assert "note: note 26" in first and "note: note 1<" not in first
    older = re.search(r'href="(/accounts/[^"?]+\?before=\d+)#activity-title" id="older"', first)
    assert older, first
    second = web.client.get(older.group(1)).text
    assert "note: note 1<" in second and "note: note 26" not in second
    assert 'id="newest"' in second


def test_a_collector_logs_a_call_only_when_the_contact_rules_allow_it(web: Web) -> None:
    assert login(web.client, "maria") == 303
    debtor = first_debtor(web.client)
    web.now[0] = _local(web, debtor, 3)  # 3 a.m. for the debtor: no call
    page = web.client.get(f"/accounts/{debtor}").text
    verdict = page.split('id="may-call">')[1].split("</p>")[0]
    assert verdict.startswith("Do not call now") and "Next allowed time" in verdict
    refused = _post(web, f"/accounts/{debtor}/calls", {"outcome": "no_answer"},
                    f"/accounts/{debtor}")  # fmt: skip
    assert refused.status_code == 409 and "do not allow calling" in refused.text
    assert not [r for r in records(web.ws, "contact") if r["actor"] == "user:maria"]

    web.now[0] = _local(web, debtor, 11)  # 11 a.m. on a Wednesday
    page = web.client.get(f"/accounts/{debtor}").text
    assert page.split('id="may-call">')[1].startswith("You may call now")
    said = {"outcome": "right_party", "note": "will pay friday"}
    done = _post(web, f"/accounts/{debtor}/calls", said)
    assert done.status_code == 303
    after = web.client.get(done.headers["location"]).text
    assert "The call was logged" in after
    logged = [r for r in records(web.ws, "contact") if r["actor"] == "user:maria"]
    assert len(logged) == 1 and logged[0]["payload"]["outcome"] == "right_party"
    bad = _post(web, f"/accounts/{debtor}/calls", {"outcome": "shouted"}, f"/accounts/{debtor}")
    assert bad.status_code == 422 and "one of right_party" in bad.text


def test_a_collector_holds_releases_and_notes_and_an_auditor_may_not(web: Web) -> None:
    assert login(web.client, "maria") == 303
    debtor = first_debtor(web.client)
    page = f"/accounts/{debtor}"
    until = (TODAY + timedelta(days=10)).isoformat()
    held = _post(web, f"{page}/holds", {"until": until, "reason": "in hospital"}, page)
    assert held.status_code == 303
    shown = web.client.get(held.headers["location"]).text
    assert "Collection is on hold" in shown and "in hospital" in shown
    hold_id = re.search(r"/holds/(\d+)/release", shown)
    assert hold_id
    released = _post(web, f"{page}/holds/{hold_id.group(1)}/release", {}, page)
    assert released.status_code == 303
    assert [r["actor"] for r in records(web.ws, "hold.released")] == ["user:maria"]
    noted = _post(web, f"{page}/notes", {"text": "asked for a copy of INV-1"}, page)
    assert noted.status_code == 303
    assert [r["payload"] for r in records(web.ws, "note.added")] == [
        {"note": "asked for a copy of INV-1"}
    ]
    empty = _post(web, f"{page}/notes", {"text": "  "}, page)
    assert empty.status_code == 422 and "write the note" in empty.text
    no_reason = _post(web, f"{page}/holds", {"until": until, "reason": ""}, page)
    assert no_reason.status_code == 422 and "a hold needs a reason" in no_reason.text

    web.client.cookies.clear()
    assert login(web.client, "ana") == 303
    read_only = web.client.get(page).text
    assert 'id="note-form"' not in read_only and 'id="call-form"' not in read_only
    token = csrf_of(read_only)
    for path, data in (
        (f"{page}/notes", {"text": "hi"}),
        (f"{page}/holds", {"until": until, "reason": "x"}),
        (f"{page}/calls", {"outcome": "no_answer"}),
    ):
        refused = web.client.post(path, data={"csrf": token, **data})
        assert refused.status_code == 403, path
    assert len(records(web.ws, "note.added")) == 1
    assert len(records(web.ws, "hold.added")) == 1


def test_the_approvals_inbox_is_for_managers(web: Web) -> None:
    with engine_of(web.ws).begin() as conn:
        case_id = conn.execute(
            select(collection_case.c.id).where(collection_case.c.closed_on.is_(None)).limit(1)
        ).scalar_one()
        conn.execute(
            update(collection_case)
            .where(collection_case.c.id == case_id)
            .values(awaiting_approval="legal")
        )
        debtor = conn.execute(
            select(debtor_table.c.external_id)
            .join(collection_case, collection_case.c.debtor_id == debtor_table.c.id)
            .where(collection_case.c.id == case_id)
        ).scalar_one()
    assert login(web.client, "maria") == 303
    assert "/approvals" not in web.client.get("/worklist").text
    assert web.client.get("/approvals").status_code == 403
    token = csrf_of(web.client.get("/worklist").text)
    refused = web.client.post(
        "/approvals", data={"csrf": token, "debtor": debtor, "stage": "legal"}
    )
    assert refused.status_code == 403 and not records(web.ws, "stage.approved")

    web.client.cookies.clear()
    assert login(web.client, "max") == 303
    inbox = web.client.get("/approvals")
    assert inbox.status_code == 200 and debtor in inbox.text and "legal" in inbox.text
    approved = _post(web, "/approvals", {"debtor": debtor, "stage": "legal"}, "/approvals")
    assert approved.status_code == 303
    assert "Approved for" in web.client.get(approved.headers["location"]).text
    assert [r["actor"] for r in records(web.ws, "stage.approved")] == ["user:max"]


def test_a_user_changes_their_password(web: Web) -> None:
    assert login(web.client, "maria") == 303
    new = "a-much-better-password"
    wrong = _post(web, "/password", {"current": "nope", "new": new, "again": new}, "/password")
    assert wrong.status_code == 401
    differ = _post(web, "/password", {"current": PASSWORD, "new": new, "again": new + "x"},
                   "/password")  # fmt: skip
    assert differ.status_code == 422 and "different" in differ.text
    short = _post(web, "/password", {"current": PASSWORD, "new": "short", "again": "short"},
                  "/password")  # fmt: skip
    assert short.status_code == 422 and "at least 10 characters" in short.text
    done = _post(web, "/password", {"current": PASSWORD, "new": new, "again": new}, "/password")
    assert done.status_code == 303
    assert "Your password was changed" in web.client.get(done.headers["location"]).text
    assert [r["actor"] for r in records(web.ws, "user.password_changed")] == ["user:maria"]
    web.client.cookies.clear()
    assert login(web.client, "maria") == 401
    assert login(web.client, "maria", new) == 303


def test_arrears_user_remove_ends_the_session(
    web: Web, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert login(web.client, "maria") == 303
    assert web.client.get("/worklist").status_code == 200
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["-w", str(web.ws), "user", "remove", "maria"]) == 0
    assert "user maria removed (collector)" in capsys.readouterr().out
    assert web.client.get("/worklist").status_code == 303  # to the login page
    assert login(web.client, "maria") == 401
    assert main(["-w", str(web.ws), "user", "remove", "maria"]) == 1
    assert "no user 'maria'" in capsys.readouterr().err
    assert [r["actor"] for r in records(web.ws, "user.removed")] == ["cli:" + _cli_user()]


def _cli_user() -> str:
    import getpass

    return getpass.getuser()


def test_a_manager_approves_a_settlement_beyond_the_limits_from_the_inbox(web: Web) -> None:
    assert login(web.client, "maria") == 303
    debtor = first_debtor(web.client)
    expires = (TODAY + timedelta(days=10)).isoformat()
    offer = ["settlement", "offer", debtor, "--discount", "50", "--due", expires]
    assert main(["-w", str(web.ws), *offer, "--on", TODAY.isoformat()]) == 0
    account = web.client.get(f"/accounts/{debtor}").text
    settlements = account.split('id="settlements"')[1].split("</table>")[0]
    assert "awaiting_approval" in settlements and "50" in settlements
    settlement_id = re.search(r"<td>(\d+)</td>", settlements)
    assert settlement_id
    path = f"/approvals/settlements/{settlement_id.group(1)}"
    assert _post(web, path, {}).status_code == 403  # a collector may not approve

    web.client.cookies.clear()
    assert login(web.client, "max") == 303
    inbox = web.client.get("/approvals").text
    waiting = inbox.split('id="approval-settlements"')[1].split("</table>")[0]
    assert debtor in waiting and f'action="{path}"' in waiting
    assert _post(web, path, {}).status_code == 303
    after = web.client.get("/approvals").text
    assert 'id="approval-settlements"' not in after
    account = web.client.get(f"/accounts/{debtor}").text
    assert "offered" in account.split('id="settlements"')[1].split("</table>")[0]
    assert _post(web, "/approvals/nonsense/1", {}).status_code == 404


def test_a_collector_puts_credit_on_hold_and_releases_it(web: Web) -> None:
    assert login(web.client, "maria") == 303
    debtor = first_debtor(web.client)
    page = f"/accounts/{debtor}"
    with engine_of(web.ws).begin() as conn:
        conn.execute(
            update(debtor_table)
            .where(debtor_table.c.external_id == debtor)
            .values(credit_status="active")
        )
    no_reason = _post(web, f"{page}/credit", {"action": "hold", "reason": ""})
    assert no_reason.status_code == 422 and "a credit hold needs a reason" in no_reason.text
    held = _post(web, f"{page}/credit", {"action": "hold", "reason": "cheque bounced"})
    assert held.status_code == 303
    shown = web.client.get(held.headers["location"]).text
    assert "credit is on hold" in shown and "on hold (no new credit)" in shown
    assert 'value="release"' in shown
    released = _post(web, f"{page}/credit", {"action": "release"})
    assert released.status_code == 303
    assert [r["actor"] for r in records(web.ws, "credit.held")] == ["user:maria"]
    assert [r["payload"]["reason"] for r in records(web.ws, "credit.held")] == ["cheque bounced"]
    assert [r["actor"] for r in records(web.ws, "credit.released")] == ["user:maria"]
    with engine_of(web.ws).begin() as conn:
        conn.execute(
            update(debtor_table)
            .where(debtor_table.c.external_id == debtor)
            .values(credit_status="closed")
        )
    closed = _post(web, f"{page}/credit", {"action": "hold", "reason": "x"})
    assert closed.status_code == 409 and "closed" in closed.text

    web.client.cookies.clear()
    assert login(web.client, "ana") == 303
    assert _post(web, f"{page}/credit", {"action": "release"}).status_code == 403
