"""Plans and settlements on the debtor's own page through HTTP (docs/web.md): the debtor
chooses a plan within the policy's limits (the schedule shown before accepting), accepts a
settlement offered to them, each recorded as ``debtor:ID`` through the collectors' use cases;
a plan beyond the limits, another debtor's settlement and one awaiting approval are refused and
nothing is written; hostile text is shown as text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from arrears import config
from arrears.channels.base import debtor_token
from arrears.cli.app import main
from arrears.domain.actor import debtor as debtor_actor
from arrears.domain.errors import NotAllowed, NotFound
from arrears.services.arrangements import self_agreements
from arrears.services.uow import SqlUnitOfWork, open_store
from arrears.store.schema import debtor as debtor_table
from arrears.store.schema import payment_plan, settlement
from arrears.web import create_app
from channels_support import base_workspace, copy_workspace, engine_of
from test_web_app import NOW, TODAY, records
from test_web_app_agreements import HOSTILE, big_debtor

WORDS = {"en": "your payment plan is agreed", "es": "su plan de pago quedó acordado"}


class Page:
    def __init__(self, ws: Path, client: TestClient, secret: str) -> None:
        self.ws, self.client, self.secret = ws, client, secret

    def link(self, debtor: str) -> str:
        return f"/pay/{debtor_token(self.secret, debtor)}"


@pytest.fixture
def page(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Iterator[Page]:
    ws = copy_workspace(base_workspace(tmp_path_factory.mktemp("debtor")), tmp_path / "ws")
    settings = config.load(ws, env={})
    with TestClient(create_app(settings, clock=lambda: NOW), follow_redirects=False) as client:
        yield Page(ws, client, settings.get("channels.secret"))


def _language(ws: Path, debtor: str) -> str:
    with engine_of(ws).connect() as conn:
        found = conn.execute(
            select(debtor_table.c.language).where(debtor_table.c.external_id == debtor)
        ).scalar_one()
    return "es" if str(found).lower().startswith("es") else "en"


def _plans(ws: Path) -> list[dict[str, object]]:
    with engine_of(ws).connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(payment_plan))]


def _offer(ws: Path, debtor: str, discount: str) -> int:
    offer = ["settlement", "offer", debtor, "--discount", discount, "--on", TODAY.isoformat()]
    offer += ["--due", (TODAY + timedelta(days=20)).isoformat()]
    assert main(["-w", str(ws), *offer]) == 0
    with engine_of(ws).connect() as conn:
        return int(
            conn.execute(select(settlement.c.id).order_by(settlement.c.id.desc())).first()[0]
        )  # type: ignore[index]


def test_the_debtor_chooses_a_plan_sees_the_schedule_and_accepts_it(page: Page) -> None:
    debtor = big_debtor(page.ws)
    link = page.link(debtor)
    home = page.client.get(link).text
    chooser = home.split('id="plan-form"')[1].split("</form>")[0]
    counts = re.findall(r'<option value="(\d+)"', chooser.split('id="plan-instalments"')[1])
    assert counts and counts[0] == "2" and int(counts[-1]) <= 6  # the policy's maximum
    assert 'max="' in chooser and 'id="plan-allows"' in home
    first = (TODAY + timedelta(days=12)).isoformat()
    terms = {"currency": "", "instalments": "3", "frequency": "monthly", "first_on": first}
    shown = page.client.post(f"{link}/plan", data={"action": "quote", **terms})
    assert shown.status_code == 200
    schedule = shown.text.split('id="plan-quote"')[1].split("</table>")[0]
    assert first in schedule and schedule.count("<tr>") == 5  # header, 3 rows, total
    assert not _plans(page.ws)  # seeing it writes nothing
    accept = shown.text.split('id="plan-accept-form"')[1].split("</form>")[0]
    assert f'name="first_on" value="{first}"' in accept
    done = page.client.post(f"{link}/plan", data={"action": "accept", **terms})
    assert done.status_code == 303 and done.headers["location"].endswith("done=plan_accepted")
    after = page.client.get(done.headers["location"]).text
    assert WORDS[_language(page.ws, debtor)] in after
    assert 'class="your-plan"' in after and 'id="plan-form"' not in after
    (plan,) = _plans(page.ws)
    assert plan["status"] == "active" and plan["instalments"] == 3
    assert plan["actor"] == f"debtor:{debtor}"
    assert [r["actor"] for r in records(page.ws, "plan.accepted")] == [f"debtor:{debtor}"]


def test_a_plan_beyond_the_limits_is_refused_on_the_debtors_page(page: Page) -> None:
    debtor = big_debtor(page.ws)
    link = page.link(debtor)
    for changed in ({"instalments": "12"}, {"frequency": "weekly"},
                    {"first_on": (TODAY + timedelta(days=90)).isoformat()}):  # fmt: skip
        terms = {"instalments": "2", "frequency": "monthly",
                 "first_on": (TODAY + timedelta(days=5)).isoformat()} | changed  # fmt: skip
        for action in ("quote", "accept"):
            refused = page.client.post(f"{link}/plan", data={"action": action, **terms})
            assert refused.status_code == 422, (changed, action)
            assert (
                'id="problems-plan"' in refused.text and 'id="plan-accept-form"' not in refused.text
            )
    bad = page.client.post(f"{link}/plan", data={"action": "accept", "instalments": "x",
                                                  "first_on": "soon"})  # fmt: skip
    assert bad.status_code == 422 and bad.text.count("<li>") >= 2
    assert not _plans(page.ws) and not records(page.ws, "plan.accepted")


def test_the_debtor_accepts_a_settlement_offered_to_them_only(page: Page) -> None:
    debtor, other = big_debtor(page.ws), big_debtor(page.ws, 1)
    mine = _offer(page.ws, debtor, "5")
    waiting = _offer(page.ws, other, "35")  # beyond the policy: awaiting a manager
    home = page.client.get(page.link(debtor)).text
    assert f'id="offer-form-{mine}"' in home
    # another debtor's offer through this link: refused, nothing changes
    theirs = page.client.post(f"{page.link(debtor)}/settlements/{waiting}/accept")
    assert theirs.status_code == 404
    # their own offer awaiting approval: not yet
    early = page.client.post(f"{page.link(other)}/settlements/{waiting}/accept")
    assert early.status_code == 422 and 'id="problems-settlement"' in early.text
    done = page.client.post(f"{page.link(debtor)}/settlements/{mine}/accept")
    assert done.headers["location"].endswith("done=settlement_accepted")
    after = page.client.get(done.headers["location"]).text
    assert f'id="offer-{mine}"' in after and f'id="offer-form-{mine}"' not in after
    with engine_of(page.ws).connect() as conn:
        status = dict(conn.execute(select(settlement.c.id, settlement.c.status)).all())
    assert status == {mine: "accepted", waiting: "awaiting_approval"}
    assert [r["actor"] for r in records(page.ws, "settlement.accepted")] == [f"debtor:{debtor}"]


def test_the_services_refuse_a_debtor_acting_for_another(page: Page) -> None:
    debtor, other = big_debtor(page.ws), big_debtor(page.ws, 1)
    theirs = _offer(page.ws, other, "5")
    settings = config.load(page.ws, env={})
    store = open_store(settings.database_url, checked=False)
    me, portfolio = debtor_actor(debtor), settings.get("portfolio")
    with pytest.raises(NotAllowed):
        self_agreements.own_agreements(SqlUnitOfWork(store), me, portfolio=portfolio, debtor=other)
    with pytest.raises(NotFound):
        self_agreements.accept_own_settlement(SqlUnitOfWork(store), me, theirs,
            portfolio=portfolio, debtor=debtor, on=TODAY, at=NOW)  # fmt: skip
    with pytest.raises(NotAllowed):  # nor as someone else on their behalf
        self_agreements.accept_own_settlement(SqlUnitOfWork(store), debtor_actor(other), theirs,
            portfolio=portfolio, debtor=debtor, on=TODAY, at=NOW)  # fmt: skip


def test_hostile_text_is_shown_as_text_on_the_debtors_page(page: Page) -> None:
    debtor = big_debtor(page.ws)
    with engine_of(page.ws).begin() as conn:
        conn.execute(update(debtor_table).where(debtor_table.c.external_id == debtor)
                     .values(name=HOSTILE))  # fmt: skip
    _offer(page.ws, debtor, "5")
    link = page.link(debtor)
    shown = [
        page.client.get(link).text,
        page.client.post(f"{link}/plan", data={"action": "quote", "instalments": "2",
                                               "first_on": HOSTILE, "currency": HOSTILE}).text,
        page.client.post(f"{link}/plan", data={"action": "quote", "instalments": "2",
                                               "frequency": HOSTILE}).text,
    ]  # fmt: skip
    for html in shown:
        assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in shown[0]
