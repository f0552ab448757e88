"""Commit and read back synthetic cycle decisions: N opened cases, 3 executed steps each.

Usage: python benchmarks/cycle_store.py DATABASE_URL N   (an empty database; it is migrated)
"""

import sys
import time
from datetime import UTC, date, datetime

import polars as pl

from arrears.cycle.frames import CASE_DECISION_SCHEMA, STEP_DECISION_SCHEMA, Decisions
from arrears.store import bulk
from arrears.store.cycle.read import read_cycle_input
from arrears.store.cycle.write import commit_decisions
from arrears.store.database import connect, upgrade
from arrears.store.portfolios import ensure_portfolio

url = sys.argv[1]
n = int(sys.argv[2])
upgrade(url)
eng = connect(url)
at = datetime(2026, 3, 15, tzinfo=UTC)
d0 = date(2026, 3, 15)
with eng.begin() as conn:
    pid = ensure_portfolio(conn, "default", name=None, base_currency="USD", actor="b")
    ids = pl.int_range(1, n + 1, eager=True)
    deb = pl.DataFrame(
        {
            "id": ids,
            "portfolio_id": pid,
            "external_id": ids.cast(pl.String),
            "name": "x",
            "kind": "company",
            "country": "US",
            "timezone": "UTC",
            "language": "en",
            "currency": "USD",
            "credit_status": "active",
            "do_not_contact": False,
            "bankrupt": False,
            "deceased": False,
            "legal_representative": False,
            "tags": "[]",
            "attributes": "{}",
            "row_hash": "h",
        }
    ).with_columns(created_at=pl.lit(at), updated_at=pl.lit(at))
    bulk.insert_frame(conn, "debtor", deb)
cases = pl.DataFrame({"debtor_id": ids}).with_columns(
    case_id=pl.lit(None, pl.Int64),
    currency=pl.lit("USD"),
    opened_on=pl.lit(d0),
    change=pl.lit("open"),
    stage=pl.lit("reminder"),
    stage_entered_on=pl.lit(d0),
    segment=pl.lit("smb"),
    priority=pl.lit(1.0),
)
cases = pl.DataFrame(schema=CASE_DECISION_SCHEMA).vstack(
    cases.select([c for c in CASE_DECISION_SCHEMA if c in cases.columns])
    .pipe(
        lambda f: f.with_columns(
            [
                pl.lit(None, t).alias(c)
                for c, t in CASE_DECISION_SCHEMA.items()
                if c not in f.columns
            ]
        )
    )
    .select(list(CASE_DECISION_SCHEMA))
    .cast(CASE_DECISION_SCHEMA)
)
rows = []
for sid, action, ch, params in [
    ("e1", "send", "email", '{"template":"r1","channel":"email"}'),
    ("c1", "call_task", "call", '{"priority":3}'),
    ("s1", "send", "sms", '{"template":"r2"}'),
]:
    f = pl.DataFrame({"debtor_id": ids}).with_columns(
        case_id=pl.lit(None, pl.Int64),
        currency=pl.lit("USD"),
        opened_on=pl.lit(d0),
        step_id=pl.lit(sid),
        occurrence=pl.lit(1, pl.Int32),
        action=pl.lit(action),
        channel=pl.lit(ch),
        due_on=pl.lit(d0),
        status=pl.lit("executed"),
        reason=pl.lit("came due"),
        params=pl.lit(params),
        task_priority=pl.lit(3, pl.Int32),
        priority=pl.lit(1.0),
        amount_minor=pl.lit(None, pl.Int64),
    )
    f = f.with_columns(key=pl.format("case:{}:USD:2026-03-15:{}:1", "debtor_id", "step_id"))
    f = f.with_columns(
        [pl.lit(None, t).alias(c) for c, t in STEP_DECISION_SCHEMA.items() if c not in f.columns]
    )
    rows.append(f.select(list(STEP_DECISION_SCHEMA)).cast(STEP_DECISION_SCHEMA))
steps = pl.concat(rows)
dec = Decisions(pl.DataFrame(), cases, steps)
for i in range(2):
    t = time.perf_counter()
    s = commit_decisions(
        eng,
        portfolio="default",
        as_of=d0,
        policy_name="p",
        policy_sha256="a" * 64,
        decisions=dec,
        actor="b",
        at=at,
    )
    print(
        "commit",
        i,
        round(time.perf_counter() - t, 2),
        s.cases_opened,
        s.steps_executed,
        s.outbox,
        s.tasks,
        s.activities,
        s.written,
    )
t = time.perf_counter()
ci = read_cycle_input(eng, portfolio="default", as_of=d0, reopen_within_days=30)
print(
    "read",
    round(time.perf_counter() - t, 2),
    ci.cases.height,
    ci.steps_done.height,
    ci.contacts.height,
    ci.last_contacts.height,
)
