"""The activity log of ``arrears run``'s steps (issue 20): one ``step.<status>`` record per case
and status of a day, naming every step it logs, and nothing written by a second run of the day
(the workspace of tests/test_cycle_cli.py: D1 owes 1,000 USD due 31 Jan, D2 a key account
60,000 USD due 1 Jan)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from arrears.store import schema
from arrears.store.database import connect
from test_cycle_cli import run, ws  # noqa: F401  (ws: the fixture)

Record = tuple[str, str, str, dict[str, object]]


def _log(root: Path) -> tuple[list[Record], Counter[tuple], int]:
    """The step records (kind, key, debtor, payload), the recorded steps by case and status,
    and how many case and step records the log holds."""
    engine = connect(f"sqlite:///{root / 'arrears.db'}")
    a, s, cc, d = schema.activity, schema.case_step, schema.collection_case, schema.debtor
    with engine.connect() as conn:
        records = [
            (str(kind), str(key), str(debtor), dict(payload))
            for kind, key, debtor, payload in conn.execute(
                select(a.c.kind, a.c.idempotency_key, d.c.external_id, a.c.payload)
                .join(d, d.c.id == a.c.debtor_id)
                .where(a.c.kind.like("step.%"))
                .order_by(a.c.id)
            )
        ]
        steps = Counter(
            (str(debtor), str(status), str(step), int(occurrence))
            for debtor, status, step, occurrence in conn.execute(
                select(d.c.external_id, s.c.status, s.c.step_id, s.c.occurrence)
                .join(cc, cc.c.id == s.c.case_id)
                .join(d, d.c.id == cc.c.debtor_id)
            )
        )
        total = conn.execute(  # the cycle's own records (a run also logs its stored scores)
            select(func.count()).where(a.c.kind.like("case.%") | a.c.kind.like("step.%"))
        ).scalar_one()
    engine.dispose()
    return records, steps, int(total)


def test_run_logs_each_case_and_status_once_naming_every_step(ws: Path) -> None:  # noqa: F811
    assert run(ws, "run", "--as-of", "2026-03-15") == 0
    step_records, steps, total = _log(ws)
    logged: Counter[tuple] = Counter()
    for kind, key, debtor, payload in step_records:
        listed = payload.get("steps", [payload])
        assert isinstance(listed, list)
        assert {k: payload[k] for k in ("step_id", "occurrence")} == {
            k: listed[0][k] for k in ("step_id", "occurrence")
        }  # the record's own fields are its first step's, whose key it carries
        assert key.endswith(f":{listed[0]['step_id']}:{listed[0]['occurrence']}")
        for step in listed:
            logged[(debtor, kind.removeprefix("step."), step["step_id"], step["occurrence"])] += 1
    assert logged == steps  # every step recorded is in the log once, under its status
    assert len(step_records) == len({(d, st) for d, st, _, _ in steps})  # one per case, status
    assert any("steps" in payload for *_, payload in step_records)  # a record of several steps
    assert run(ws, "run", "--as-of", "2026-03-15") == 0  # the same day again writes nothing
    assert _log(ws) == (step_records, steps, total)
