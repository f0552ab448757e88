"""The scoring history in the policy's segments (issue 18): ``promise_kept_rate`` and
``disputes_12m`` in a segment condition, accepted by ``arrears policy check`` and applied by
``arrears run``; ``disputes_12m`` counts the dispute records of the last 12 months, a resolved
dispute too (the invoices' flags forgot it once it was resolved), and a first load's undated
dispute from the day after it was loaded."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import text

from arrears.cli.app import main
from arrears.scoring.features import debtor_features
from arrears.scoring.frames import (
    HISTORY_ALLOCATION_SCHEMA,
    HISTORY_INSTALMENT_SCHEMA,
    History,
    debtor_events,
    view_at,
)
from arrears.services.uow import open_store
from test_scoring_cli import END, build

DAY = END.isoformat()
SEGMENTS = """segments:                   # first match wins
  - name: disputer
    when: disputes_12m >= 1
  - name: unreliable
    when: promise_kept_rate < 0.5
"""


def sql(ws: Path, query: str) -> list[tuple[object, ...]]:
    engine = open_store(f"sqlite:///{ws / 'arrears.db'}")
    with engine.connect() as conn:
        found = [tuple(r) for r in conn.execute(text(query))]
    engine.dispose()
    return found


def cli(ws: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    code = main(["-w", str(ws), *args])
    out, err = capsys.readouterr()
    assert code == 0, err + out
    return out


def test_segments_read_the_promise_and_dispute_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "ws"
    build(ws, 40, 4)
    # two debtors owing on the day, each with an invoice open on it
    owing = sql(
        ws,
        """SELECT d.external_id, MIN(v.external_id) FROM debtor d
            JOIN invoice v ON v.debtor_id = d.id JOIN instalment i ON i.invoice_id = v.id
            WHERE v.status = 'open' AND v.disputed = 0 AND i.due_date <= '2026-06-15'
            GROUP BY d.external_id ORDER BY d.external_id LIMIT 2""",
    )
    (disputer, invoice), _ = owing
    # one that paid nothing from June on, owing on the day
    [(promiser,)] = sql(
        ws,
        f"""SELECT MIN(d.external_id) FROM debtor d
            JOIN invoice v ON v.debtor_id = d.id JOIN instalment i ON i.invoice_id = v.id
            WHERE v.status = 'open' AND i.due_date <= '2026-05-31'
              AND d.external_id != '{disputer}'
              AND NOT EXISTS (SELECT 1 FROM allocation a JOIN instalment j ON j.id = a.instalment_id
                              WHERE j.debtor_id = d.id AND a.allocated_on >= '2026-06-01')""",
    )
    # a dispute opened and rejected (resolved) before the day: the invoice is no longer flagged
    cli(ws, capsys, "dispute", "open", invoice, "--reason", "quality", "--on", "2026-05-01")
    [(number,)] = sql(ws, "SELECT MAX(id) FROM dispute")
    cli(ws, capsys, "dispute", "resolve", str(number), "--rejected", "--on", "2026-05-10")
    assert sql(ws, f"SELECT disputed FROM invoice WHERE external_id = '{invoice}'") == [(0,)]
    # a promise it does not keep: broken by the day
    cli(ws, capsys, "promise", "add", promiser, "1.00", "--due", "2026-06-05",
        "--on", "2026-06-01")  # fmt: skip

    shipped = (ws / "policies" / "b2b.yaml").read_text()
    assert "segments:                   # first match wins\n" in shipped
    policy = ws / "policies" / "history.yaml"
    policy.write_text(shipped.replace("segments:                   # first match wins\n", SEGMENTS))
    cli(ws, capsys, "policy", "check", str(policy))
    toml = ws / "arrears.toml"
    toml.write_text(toml.read_text().replace("policies/b2b.yaml", "policies/history.yaml"))

    cli(ws, capsys, "run", "--as-of", DAY)
    segments = dict(
        sql(
            ws,
            """SELECT d.external_id, c.segment FROM collection_case c
               JOIN debtor d ON d.id = c.debtor_id""",
        )
    )
    assert segments[disputer] == "disputer"
    assert segments[promiser] == "unreliable"
    others = {s for d, s in segments.items() if d not in (disputer, promiser)}
    assert others and "disputer" not in others  # nobody else disputed
    explained = cli(ws, capsys, "explain", disputer, "--as-of", DAY)
    assert "disputer" in explained


def _history(flag_day: date | None) -> History:
    inst = pl.DataFrame(
        [(1, 1, 7, "EUR", date(2024, 12, 10), date(2025, 1, 10), 10_000, True, flag_day)],
        schema=HISTORY_INSTALMENT_SCHEMA,
        orient="row",
    )
    return History(inst, pl.DataFrame(schema=HISTORY_ALLOCATION_SCHEMA))


def test_disputes_12m_counts_records_not_flags_and_not_on_a_first_loads_day() -> None:
    loaded = date(2026, 3, 1)
    records = pl.DataFrame(
        {"dispute_id": [1, 2], "debtor_id": [7, 7], "opened_on": [loaded, date(2025, 1, 5)]},
        schema_overrides={"dispute_id": pl.Int64(), "debtor_id": pl.Int64()},
    ).with_columns(pl.Series("undated", [1, 0], pl.Int64()))

    def count(day: date) -> float:
        history = _history(None)
        history = History(history.instalments, history.allocations, history.limits,
                          debtor_events(None, records))  # fmt: skip
        (value,) = debtor_features(view_at(history, day))["disputes_12m"].to_list()
        return float(value)

    # the first load's undated dispute: not on the day it was loaded, from the day after
    assert count(loaded) == 0.0
    assert count(date(2026, 3, 2)) == 1.0
    # the one opened on 2025-01-05 counts 365 days, through 2026-01-04
    assert count(date(2026, 1, 4)) == 1.0
    assert count(date(2026, 1, 5)) == 0.0
    (value,) = debtor_features(view_at(_history(None), loaded))["disputes_12m"].to_list()
    assert value == 0.0  # the flag alone counts no dispute
