"""The debtor's plan and settlement use cases act as the debtor themselves (``debtor:ID``, no
stand-in collector role): the activity records name the debtor, the role checks hold (a debtor
agrees no plan beyond the policy's limits, reads and accepts their own agreements only), and
the debtor's plan is quoted and agreed in one transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select

from arrears import config
from arrears.domain.actor import debtor as debtor_actor
from arrears.domain.errors import NotAllowed, NotFound
from arrears.domain.problems import ProblemsFound
from arrears.services.arrangements import agreements, self_agreements, settlements
from arrears.services.cycle import load_compiled
from arrears.services.uow import SqlUnitOfWork, open_store
from arrears.store.schema import activity
from test_web_app import NOW, TODAY, records
from test_web_app_agreements import big_debtor
from test_web_debtor_agreements import Page, _offer, _plans, page  # noqa: F401 (the fixture)


def _engine(p: Page):  # type: ignore[no-untyped-def]
    return open_store(f"sqlite:///{p.ws / 'arrears.db'}", checked=False)


def _policy(p: Page):  # type: ignore[no-untyped-def]
    ws = config.load(p.ws, env={})
    return load_compiled(ws.policy_for(ws.get("portfolio"))).policy


def test_the_debtors_plan_through_http_is_recorded_as_the_debtor(page: Page) -> None:  # noqa: F811
    debtor = big_debtor(page.ws)
    first = (TODAY + timedelta(days=10)).isoformat()
    terms = {"currency": "", "instalments": "2", "frequency": "monthly", "first_on": first}
    done = page.client.post(f"{page.link(debtor)}/plan", data={"action": "accept", **terms})
    assert done.status_code == 303
    (plan,) = _plans(page.ws)
    assert plan["actor"] == f"debtor:{debtor}" and plan["status"] == "active"
    with _engine(page).connect() as conn:
        actors = set(conn.execute(select(activity.c.actor).where(
            activity.c.subject_kind == "payment_plan")).scalars())  # fmt: skip
    assert actors == {f"debtor:{debtor}"}
    offered = _offer(page.ws, debtor, "5")
    accepted = page.client.post(f"{page.link(debtor)}/settlements/{offered}/accept")
    assert accepted.status_code == 303
    assert [r["actor"] for r in records(page.ws, "settlement.accepted")] == [f"debtor:{debtor}"]


def test_quote_and_accept_are_one_transaction(page: Page) -> None:  # noqa: F811
    debtor = big_debtor(page.ws)
    engine = _engine(page)
    begun: list[int] = []
    event.listen(engine, "begin", lambda conn: begun.append(1))
    recorded = self_agreements.accept_own_plan(
        SqlUnitOfWork(engine), debtor_actor(debtor), portfolio="default", debtor=debtor,
        policy=_policy(page), on=TODAY, at=NOW, instalments=2,
        first_on=TODAY + timedelta(days=10),
    )  # fmt: skip
    assert recorded.status == "active" and recorded.changed
    assert len(begun) == 1  # the quote, the limits' check and the plan: one transaction


def test_the_debtors_role_checks(page: Page) -> None:  # noqa: F811
    debtor = big_debtor(page.ws)
    engine, policy, me = _engine(page), _policy(page), debtor_actor(debtor)
    # the collectors' use case, called by the debtor, still agrees nothing beyond the limits
    with pytest.raises(ProblemsFound) as refused:
        agreements.accept_plan(
            SqlUnitOfWork(engine), me, portfolio="default", debtor=debtor, policy=policy,
            on=TODAY, at=NOW, instalments=40,
        )  # fmt: skip
    assert "beyond what can be agreed here" in str(refused.value.problems[0])
    assert not _plans(page.ws)
    # another debtor's account, or everyone's: refused
    other = debtor_actor("SOMEONE-ELSE")
    with pytest.raises(NotAllowed):
        agreements.quote_plan(SqlUnitOfWork(engine), other, portfolio="default", debtor=debtor,
                              policy=policy, on=TODAY)  # fmt: skip
    with pytest.raises(NotAllowed):
        agreements.list_plans(SqlUnitOfWork(engine), me, portfolio="default")
    with pytest.raises(NotAllowed):
        settlements.list_settlements(SqlUnitOfWork(engine), me, portfolio="default")
    offered = _offer(page.ws, debtor, "5")
    with pytest.raises(NotFound):
        settlements.accept_settlement(SqlUnitOfWork(engine), other, offered, on=TODAY, at=NOW)
    assert not records(page.ws, "settlement.accepted")
    mine = settlements.accept_settlement(SqlUnitOfWork(engine), me, offered, on=TODAY, at=NOW)
    assert mine.status == "accepted"
    assert [r["actor"] for r in records(page.ws, "settlement.accepted")] == [f"debtor:{debtor}"]
