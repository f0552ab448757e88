"""The collectors' pages through HTTP (docs/web.md): users added with ``arrears user add``, log in
(wrong password refused, rate-limited), CSRF on every form, the worklist, the account page and
its promise form (recorded as ``user:NAME``; an auditor refused), English and Spanish."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from arrears import config
from arrears.cli.app import main
from arrears.store.schema import activity, promise
from arrears.store.schema import debtor as debtor_table
from arrears.web import create_app
from channels_support import base_workspace, copy_workspace, engine_of

#: The pages' clock: now (the base workspace's import records are stamped now, and the account
#: page shows the newest activity), moved forward by a test when it needs time to pass.
NOW = datetime.now(UTC).replace(microsecond=0)
#: The pages' day: the workspace's (its time zone, America/New_York by default), which is not
#: the UTC day for some hours of every day.
TODAY = NOW.astimezone(ZoneInfo("America/New_York")).date()
PASSWORD = "correct-horse-battery"


def add_user(
    ws: Path, monkeypatch: pytest.MonkeyPatch, name: str, role: str, password: str = PASSWORD
) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    return main(["-w", str(ws), "user", "add", name, "--role", role, "--password-stdin"])


@dataclass
class Web:
    ws: Path
    client: TestClient
    now: list[datetime]


@pytest.fixture
def web(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Web]:
    ws = copy_workspace(base_workspace(tmp_path_factory.mktemp("web")), tmp_path / "ws")
    assert add_user(ws, monkeypatch, "maria", "collector") == 0
    assert add_user(ws, monkeypatch, "ana", "auditor") == 0
    now = [NOW]
    app = create_app(config.load(ws, env={}), clock=lambda: now[0])
    with TestClient(app, follow_redirects=False) as client:
        yield Web(ws, client, now)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def login(client: TestClient, user: str, password: str = PASSWORD) -> int:
    token = csrf_of(client.get("/login").text)
    answer = client.post(
        "/login", data={"csrf": token, "username": user, "password": password, "next": "/worklist"}
    )
    return answer.status_code


def promises(ws: Path) -> list[dict[str, object]]:
    with engine_of(ws).connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(promise))]


def records(ws: Path, kind: str) -> list[dict[str, object]]:
    with engine_of(ws).connect() as conn:
        rows = conn.execute(select(activity).where(activity.c.kind == kind))
        return [dict(r._mapping) for r in rows]


def first_debtor(client: TestClient) -> str:
    page = client.get("/worklist")
    assert page.status_code == 200
    found = re.search(r'href="/accounts/([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def test_user_add_and_list_from_the_command_line(
    web: Web, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert add_user(web.ws, monkeypatch, "Bad Name", "boss", "short") == 1
    err = capsys.readouterr().err
    assert "username: 'Bad Name' is not a username" in err
    assert "role: 'boss': one of admin, manager, collector, auditor" in err
    assert "password: at least 10 characters" in err
    assert add_user(web.ws, monkeypatch, "maria", "manager") == 1
    assert "user 'maria' exists already" in capsys.readouterr().err
    assert main(["-w", str(web.ws), "user", "list"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"ana\s.*auditor", out) and re.search(r"maria\s.*collector", out)
    assert [r["subject_id"] for r in records(web.ws, "user.added")] == ["maria", "ana"]
    with engine_of(web.ws).connect() as conn:  # only the argon2 hash is kept
        from arrears.store.schema import user

        hashes = [h for (h,) in conn.execute(select(user.c.password_hash))]
    assert all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)


def test_every_page_needs_a_login(web: Web) -> None:
    for path in ("/worklist", "/accounts/D0001", "/"):
        answer = web.client.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith(("/login", "/worklist"))
    assert web.client.get("/worklist").headers["location"] == "/login?next=%2Fworklist"


def test_a_wrong_password_is_refused_and_the_login_is_rate_limited(web: Web) -> None:
    assert login(web.client, "maria", "wrong password") == 401
    assert web.client.get("/worklist").status_code == 303  # still not logged in
    assert login(web.client, "nobody", "wrong password") == 401  # the same answer
    for _ in range(4):
        assert login(web.client, "maria", "wrong password") == 401
    # five failures: even the right password is refused now, for 15 minutes
    token = csrf_of(web.client.get("/login").text)
    refused = web.client.post(
        "/login", data={"csrf": token, "username": "maria", "password": PASSWORD}
    )
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 15 * 60
    assert "Too many wrong passwords" in refused.text
    web.now[0] = NOW + timedelta(minutes=16)
    assert login(web.client, "maria") == 303
    assert web.client.get("/worklist").status_code == 200


def test_a_form_without_its_csrf_token_is_refused(web: Web) -> None:
    web.client.get("/login")  # a session, with its token
    no_token = web.client.post("/login", data={"username": "maria", "password": PASSWORD})
    assert no_token.status_code == 403
    assert web.client.get("/worklist").status_code == 303  # not logged in
    assert login(web.client, "maria") == 303
    debtor = first_debtor(web.client)
    form = {"amount": "10.00", "due_on": str(TODAY + timedelta(days=7))}
    for token in ({}, {"csrf": "forged"}):
        answer = web.client.post(f"/accounts/{debtor}/promises", data={**form, **token})
        assert answer.status_code == 403
        assert "Nothing was changed" in answer.text
    assert web.client.post("/logout", data={}).status_code == 403
    assert promises(web.ws) == []


def test_a_collector_records_a_promise_from_the_account_page(web: Web) -> None:
    assert login(web.client, "maria") == 303
    worklist = web.client.get("/worklist").text
    assert "Days past due" in worklist and "call (" in worklist
    debtor = first_debtor(web.client)
    page = web.client.get(f"/accounts/{debtor}")
    assert page.status_code == 200
    assert "What the cycle does and why" in page.text and "Timeline" in page.text
    due = TODAY + timedelta(days=10)
    answer = web.client.post(
        f"/accounts/{debtor}/promises",
        data={"csrf": csrf_of(page.text), "amount": "125.50", "due_on": str(due), "note": "<b>"},
    )
    assert answer.status_code == 303
    shown = web.client.get(answer.headers["location"])
    assert re.search(r"Promise \d+ recorded", shown.text)
    assert "promise.made" in shown.text and "user:maria" in shown.text
    assert "<b>" not in shown.text  # the note is escaped
    [kept] = promises(web.ws)
    assert kept["amount_minor"] == 12550 and kept["due_on"] == due
    [added] = records(web.ws, "promise.made")
    assert added["actor"] == "user:maria"


def test_bad_input_is_shown_on_the_form_every_problem_at_once(web: Web) -> None:
    assert login(web.client, "maria") == 303
    debtor = first_debtor(web.client)
    token = csrf_of(web.client.get(f"/accounts/{debtor}").text)
    url = f"/accounts/{debtor}/promises"
    answer = web.client.post(url, data={"csrf": token, "amount": "ten", "due_on": "tomorrow"})
    assert answer.status_code == 422
    assert "<strong>amount</strong>: &#39;ten&#39; is not an amount" in answer.text
    assert "<strong>due_on</strong>: &#39;tomorrow&#39; is not a date" in answer.text
    assert 'value="ten"' in answer.text  # what was typed stays in the form
    # the use case's own problems, in the same shape
    past = str(TODAY - timedelta(days=3))
    answer = web.client.post(
        url, data={"csrf": token, "amount": "-5", "due_on": past, "currency": "XXQ"}
    )
    assert answer.status_code == 422
    assert "unknown currency" in answer.text and "is before the day the promise was made" in (
        answer.text
    )
    unknown = {"csrf": token, "amount": "1", "due_on": str(TODAY)}
    assert web.client.post("/accounts/NO-SUCH/promises", data=unknown).status_code == 404
    assert promises(web.ws) == []


def test_an_auditor_reads_but_cannot_record_a_promise(web: Web) -> None:
    assert login(web.client, "ana") == 303
    debtor = first_debtor(web.client)
    page = web.client.get(f"/accounts/{debtor}")
    assert page.status_code == 200
    assert "only reads accounts" in page.text and 'id="promise-form"' not in page.text
    answer = web.client.post(
        f"/accounts/{debtor}/promises",
        data={"csrf": csrf_of(page.text), "amount": "10", "due_on": str(TODAY)},
    )
    assert answer.status_code == 403
    assert "Your role may not do this" in answer.text
    assert promises(web.ws) == [] and records(web.ws, "promise.made") == []


def test_the_pages_speak_spanish_to_a_spanish_browser(web: Web) -> None:
    web.client.headers["Accept-Language"] = "es-CO,es;q=0.9,en;q=0.5"
    page = web.client.get("/login")
    assert '<html lang="es">' in page.text and "Iniciar sesión" in page.text
    assert '<label for="password">Contraseña</label>' in page.text
    assert login(web.client, "maria", "mala contraseña") == 401
    assert login(web.client, "maria") == 303
    assert "Días de mora" in web.client.get("/worklist").text


def test_the_session_cookie_is_signed_http_only_and_same_site(web: Web) -> None:
    page = web.client.get("/login")
    cookie = page.headers["set-cookie"]
    assert "arrears_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    # a forged cookie is a new anonymous session, not a login
    web.client.cookies.set("arrears_session", '{"u": "maria"}')
    assert web.client.get("/worklist").status_code == 303
    css = web.client.get("/static/app.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]


def test_hostile_debtor_data_is_shown_as_text(web: Web) -> None:
    assert login(web.client, "maria") == 303
    debtor = first_debtor(web.client)
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    with engine_of(web.ws).begin() as conn:
        conn.execute(update(debtor_table).where(debtor_table.c.external_id == debtor)
                     .values(name=hostile))  # fmt: skip
    for path in ("/worklist", f"/accounts/{debtor}"):
        page = web.client.get(path).text
        assert "<script>" not in page and "<img" not in page
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


def test_logging_out_ends_the_session(web: Web) -> None:
    assert login(web.client, "maria") == 303
    page = web.client.get("/worklist")
    assert 'id="who">maria<' in page.text
    out = web.client.post("/logout", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert web.client.get("/worklist").status_code == 303


def test_guesses_spread_over_usernames_are_limited_per_address(web: Web) -> None:
    from arrears.web.pages import Attempts

    web.client.app.state.login_attempts = Attempts(limit=3)  # type: ignore[attr-defined]
    for name in ("ana", "bob", "carl"):
        assert login(web.client, name, "guess one two") == 401
    assert login(web.client, "maria") == 429  # not even checked


def test_after_logging_in_only_a_local_page_follows(web: Web) -> None:
    for target, lands in (
        ("/accounts/D1?x=1", "/accounts/D1?x=1"),
        ("//evil.example", "/worklist"),
        ("/\t/evil.example", "/worklist"),
        ("/\\evil.example", "/worklist"),
        ("https://evil.example", "/worklist"),
    ):
        web.client.cookies.clear()
        token = csrf_of(web.client.get("/login").text)
        answer = web.client.post(
            "/login",
            data={"csrf": token, "username": "maria", "password": PASSWORD, "next": target},
        )
        assert answer.headers["location"] == lands, target


def test_without_a_secret_no_one_logs_in(web: Web) -> None:
    (web.ws / "secrets.toml").unlink()
    ws = config.load(web.ws, env={})
    assert not ws.get("channels.secret")
    with TestClient(create_app(ws), follow_redirects=False) as client:
        for answer in (client.get("/login"), client.get("/worklist")):
            assert answer.status_code == 503
            assert "no channels.secret" in answer.text
        token = {"csrf": "x", "username": "maria", "password": PASSWORD}
        assert client.post("/login", data=token).status_code == 503
        assert "set-cookie" not in client.get("/login").headers
