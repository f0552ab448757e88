"""The daily cycle's use cases (``arrears.services.cycle``, ``arrears.services.casework.explain``)
through the front door: the activity records of a run name who ran it (``cli:USER`` for
``arrears run``, ``system:cycle`` for a scheduler), a role without the right cannot run it, and
the explain view a web page would render holds the figures ``arrears explain`` prints (the
workspace of tests/test_cycle_cli.py: D1 owes 1,000 USD due 31 Jan, D2 a key account 60,000 USD
due 1 Jan)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from arrears.cli.context import cli_actor
from arrears.domain.actor import Actor, Role, system
from arrears.domain.actor import debtor as debtor_actor
from arrears.domain.errors import NotAllowed, NotFound
from arrears.services.casework.explain import explain_view
from arrears.services.cycle import load_compiled, plan_cycle, run_cycle
from arrears.services.insight.reports import aging_report
from arrears.services.insight.scoring import score_debtor
from arrears.services.uow import SqlUnitOfWork
from arrears.store import schema
from arrears.store.database import connect
from test_cycle_cli import run, ws  # noqa: F401  (ws: the fixture)
from test_ledger_support import AT

DAY = date(2026, 2, 1)


def _engine(root: Path) -> Engine:
    return connect(f"sqlite:///{root / 'arrears.db'}")


def _cycle_actors(root: Path) -> dict[str, int]:
    """Who the activity records of the cycle (its cases and steps) name, and how many each."""
    engine = _engine(root)
    kind = schema.activity.c.kind
    with engine.connect() as conn:
        rows = conn.execute(
            select(schema.activity.c.actor, func.count())
            .where(kind.like("case.%") | kind.like("step.%"))
            .group_by(schema.activity.c.actor)
        ).all()
    engine.dispose()
    return {str(actor): int(n) for actor, n in rows}


def test_arrears_run_names_the_command_lines_actor(ws: Path) -> None:  # noqa: F811
    assert run(ws, "run", "--as-of", DAY.isoformat()) == 0
    actors = _cycle_actors(ws)
    assert list(actors) == [cli_actor().name] and actors[cli_actor().name] >= 4  # 2 cases, 2 steps


def test_a_scheduled_run_names_system_cycle_and_an_auditor_cannot_run(ws: Path) -> None:  # noqa: F811
    engine = _engine(ws)
    policy = load_compiled(ws / "policies" / "b2b.yaml")
    auditor = Actor("user:ann", Role.AUDITOR)
    # an auditor may see what the cycle would do, not commit it
    assert plan_cycle(SqlUnitOfWork(engine), auditor, portfolio="default", as_of=DAY, policy=policy)
    with pytest.raises(NotAllowed, match=r"user:ann \(auditor\) may not run the cycle"):
        run_cycle(
            SqlUnitOfWork(engine), auditor, portfolio="default", as_of=DAY, policy=policy, at=AT
        )
    assert _cycle_actors(ws) == {}
    with pytest.raises(NotFound, match="no portfolio 'nope'"):
        run_cycle(
            SqlUnitOfWork(engine),
            system("cycle"),
            portfolio="nope",
            as_of=DAY,
            policy=policy,
            at=AT,
        )

    _, summary = run_cycle(
        SqlUnitOfWork(engine), system("cycle"), portfolio="default", as_of=DAY, policy=policy, at=AT
    )
    engine.dispose()
    assert summary.written
    assert list(_cycle_actors(ws)) == ["system:cycle"]


@pytest.mark.parametrize("debtor", ["D1", "D2"])
def test_the_explain_view_holds_what_arrears_explain_prints(
    ws: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    debtor: str,
) -> None:
    assert run(ws, "run", "--as-of", DAY.isoformat()) == 0
    later = "2026-02-08"
    capsys.readouterr()
    assert run(ws, "explain", debtor, "--as-of", later, "--format", "json") == 0
    [printed] = json.loads(capsys.readouterr().out)

    engine = _engine(ws)
    view = explain_view(
        SqlUnitOfWork(engine),
        Actor("user:ann", Role.AUDITOR),  # reading is enough
        portfolio="default",
        debtor=debtor,
        as_of=date.fromisoformat(later),
        policy=load_compiled(ws / "policies" / "b2b.yaml"),
    )
    engine.dispose()
    [usd] = view.currencies
    assert (view.debtor, usd.currency, view.as_of.isoformat()) == (debtor, "USD", later)
    for name in ("segment", "segment_rule", "stage", "stage_rule", "case", "awaiting_approval"):
        assert getattr(usd, name) == printed[name], name
    assert usd.opened_on == DAY and printed["opened_on"] == DAY.isoformat()
    assert usd.priority == printed["priority"]
    assert (usd.score_source, list(usd.score_reasons)) == (
        printed["score_source"],
        printed["score_reasons"],
    )
    assert usd.features["overdue_balance"] == Decimal(printed["features"]["overdue_balance"])
    assert usd.features["days_past_due"] == int(printed["features"]["days_past_due"])
    assert set(usd.features) == set(printed["features"])
    steps = [(s.step_id, s.occurrence, s.due_on.isoformat(), s.status, s.reason) for s in usd.steps]
    assert steps == [
        (s["step_id"], s["occurrence"], s["due_on"], s["status"], s["reason"])
        for s in printed["steps"]
    ]
    assert any(status.startswith("done") for _, _, _, status, _ in steps)  # the run's step


def test_the_explain_view_of_an_unknown_debtor_is_not_found(ws: Path) -> None:  # noqa: F811
    engine = _engine(ws)
    with pytest.raises(NotFound, match="no debtor 'NOBODY'"):
        explain_view(
            SqlUnitOfWork(engine),
            cli_actor(),
            portfolio="default",
            debtor="NOBODY",
            as_of=DAY,
            policy=load_compiled(ws / "policies" / "b2b.yaml"),
        )
    engine.dispose()


def test_the_aging_report_and_a_debtors_score_are_what_the_commands_print(
    ws: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    capsys.readouterr()
    assert run(ws, "aging", "--as-of", "2026-02-01", "--by", "debtor", "--format", "json") == 0
    printed = {row["debtor_external_id"]: row for row in json.loads(capsys.readouterr().out)}
    assert run(ws, "model", "explain", "D2", "--as-of", "2026-02-01", "--format", "json") == 0
    [score] = json.loads(capsys.readouterr().out)

    engine = _engine(ws)
    auditor = Actor("user:ann", Role.AUDITOR)
    report = aging_report(
        SqlUnitOfWork(engine), auditor, portfolio="default", as_of=DAY, by="debtor"
    )
    scores = score_debtor(
        SqlUnitOfWork(engine), auditor, portfolio="default", debtor="D2", as_of=DAY, model=None
    ).scores
    with pytest.raises(NotAllowed):  # a debtor sees its own account, not the portfolio's
        aging_report(SqlUnitOfWork(engine), debtor_actor("D1"), portfolio="default", as_of=DAY)
    engine.dispose()
    totals = {row["debtor_external_id"]: row["total"] for row in report.rows.to_dicts()}
    assert totals == {"D1": 1000_00, "D2": 60000_00}
    assert {d: Decimal(row["total"]) * 100 for d, row in printed.items()} == totals
    assert (round(scores["score"][0], 3), scores["source"][0]) == (score["score"], score["source"])
