"""The first day (and the steady day after it) of a large portfolio: ``run`` end to end.

    .venv/bin/python benchmarks/first_day.py [--debtors 1000000] [--seed 7] [--skip-pg]
        [--skip-sqlite] [--pg-url URL] [--workdir DIR]

Issue 20 items 3-5. A **backlog-shaped** portfolio (a company taking arrears over: five invoices
per debtor issued over the last year on 30/45/60-day terms, about 86 % of the debtors with
something open and most of it overdue, partial payments, every payment allocated explicitly) is
written straight into a fresh store (SQLite file and PostgreSQL database) by bulk inserts of the
ledger's tables, which is not what this benchmark measures (the first load through the importer
is issue 20 item 2). Then, per backend, each in its own process (peak RSS its own):

* ``decide``: read the CycleInput, the rules score (what ``run`` scores before deciding), decide
  (best of 2) and the DuckDB full-feature reference (b) over the same input (best of 2):
  the ratio decide / (b);
* ``run`` the first day (every case opened) end to end: read, score, decide, commit;
* ``run`` the same day again (writes nothing);
* the next day: 3 % of the debtors pay their whole open balance (payments and allocations
  written like the build's), then ``run`` the next day.

The seed and every shape parameter are printed first. Peak memory is the maximum resident set
of each phase's process.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe, run_phase

END = date(2026, 11, 23)
ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "examples" / "policies" / "b2b.yaml"
PORTFOLIO = "default"

#: The backlog's shape (printed with every run).
SHAPE: dict[str, Any] = {
    "invoices_per_debtor": 5,
    "issued_over_days": 365,
    "terms_days": [30, 45, 60],
    "share_debtors_all_paid": 0.14,
    "share_invoice_paid_in_full": 0.50,  # of the other debtors' invoices
    "share_invoice_part_paid": 0.22,  # paid 20-80 %, the rest open
    "days_late_paid": [0, 90],  # paid this many days after the due date (uniform)
    "next_day_paying_share": 0.03,
}
TARGET_RUN_S = 30.0
TARGET_SCORE_S = 0.5
TARGET_DECIDE_S = 2.0
TARGET_PEAK_MIB = 6 * 1024


def _peak_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the backlog, written straight into the store --------------------------------------------------
def backlog_frames(n: int, seed: int) -> dict[str, object]:
    """The ledger's rows of a backlog of ``n`` debtors (Polars frames, ids from 1)."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    at = datetime(2026, 11, 1, tzinfo=UTC)
    k = SHAPE["invoices_per_debtor"]
    assert isinstance(k, int)
    m = n * k
    debtor_ids = np.arange(1, n + 1, dtype=np.int64)
    debtors = pl.DataFrame({"id": debtor_ids}).with_columns(
        portfolio_id=pl.lit(1, pl.Int64),
        external_id=pl.format("D{}", pl.col("id")),
        name=pl.format("Company {}", pl.col("id")),
        kind=pl.lit("company"),
        country=pl.lit("US"),
        timezone=pl.lit("America/New_York"),
        language=pl.lit("en"),
        currency=pl.lit("USD"),
        credit_status=pl.lit("active"),
        do_not_contact=pl.lit(False),
        bankrupt=pl.lit(False),
        deceased=pl.lit(False),
        legal_representative=pl.lit(False),
        tags=pl.lit("[]"),
        attributes=pl.lit("{}"),
        row_hash=pl.lit("h"),
        created_at=pl.lit(at),
        updated_at=pl.lit(at),
    )
    points = pl.DataFrame({"id": debtor_ids, "debtor_id": debtor_ids}).with_columns(
        kind=pl.lit("email"),
        value=pl.format("ar{}@example.com", pl.col("id")),
        is_primary=pl.lit(True),
        status=pl.lit("valid"),
        created_at=pl.lit(at),
    )
    consents = pl.DataFrame({"contact_point_id": debtor_ids}).with_columns(
        channel=pl.lit("email"),
        status=pl.lit("granted"),
        recorded_at=pl.lit(at),
        source=pl.lit("import"),
    )
    inv_debtor = np.repeat(debtor_ids, k)
    issued_ago = rng.integers(1, int(SHAPE["issued_over_days"]) + 1, m)
    terms = rng.choice(np.array(SHAPE["terms_days"]), m)
    amount = rng.integers(100, 500_000, m) * 10  # minor units
    issue = np.datetime64(END) - issued_ago.astype("timedelta64[D]")
    due = issue + terms.astype("timedelta64[D]")
    all_paid = np.repeat(rng.random(n) < float(SHAPE["share_debtors_all_paid"]), k)
    u = rng.random(m)
    full = all_paid | (u < float(SHAPE["share_invoice_paid_in_full"]))
    part = ~full & (
        u < float(SHAPE["share_invoice_paid_in_full"]) + float(SHAPE["share_invoice_part_paid"])
    )
    lo, hi = SHAPE["days_late_paid"]
    paid_on = due + rng.integers(lo, hi + 1, m).astype("timedelta64[D]")
    today = np.datetime64(END)
    paid_on = np.minimum(paid_on, today - np.timedelta64(1, "D"))
    ok = paid_on >= issue
    full &= ok
    part &= ok
    share = rng.uniform(0.2, 0.8, m)
    paid = np.where(full, amount, np.where(part, (amount * share).astype(np.int64), 0))
    open_ = amount - paid
    inv_ids = np.arange(1, m + 1, dtype=np.int64)
    invoices = pl.DataFrame(
        {
            "id": inv_ids,
            "debtor_id": inv_debtor,
            "issue_date": issue.astype("datetime64[D]"),
            "amount_minor": amount.astype(np.int64),
            "open_minor": open_.astype(np.int64),
            "due_date": due.astype("datetime64[D]"),
            "paid_minor": paid.astype(np.int64),
            "paid_on": paid_on.astype("datetime64[D]"),
        }
    ).with_columns(pl.col("issue_date", "due_date", "paid_on").cast(pl.Date))
    invoice = invoices.select(
        "id",
        pl.lit(1, pl.Int64).alias("portfolio_id"),
        "debtor_id",
        pl.format("I{}", pl.col("id")).alias("external_id"),
        pl.format("INV-{}", pl.col("id")).alias("number"),
        "issue_date",
        pl.lit("USD").alias("currency"),
        "amount_minor",
        pl.when(pl.col("open_minor") == 0).then(pl.lit("paid")).otherwise(pl.lit("open"))
        .alias("status"),
        pl.lit(False).alias("disputed"),
        pl.lit("h").alias("row_hash"),
        pl.lit(at).alias("created_at"),
        pl.lit(at).alias("updated_at"),
    )  # fmt: skip
    instalment = invoices.select(
        "id",
        pl.col("id").alias("invoice_id"),
        pl.lit(1, pl.Int32).alias("seq"),
        pl.lit(1, pl.Int64).alias("portfolio_id"),
        "debtor_id",
        pl.lit("USD").alias("currency"),
        "issue_date",
        pl.lit(False).alias("disputed"),
        "due_date",
        "amount_minor",
        "open_minor",
    )
    paying = invoices.filter(pl.col("paid_minor") > 0).with_row_index("pid", offset=1)
    payment = paying.select(
        pl.col("pid").cast(pl.Int64).alias("id"),
        pl.lit(1, pl.Int64).alias("portfolio_id"),
        "debtor_id",
        pl.format("P{}", pl.col("pid")).alias("external_id"),
        pl.col("paid_on").alias("received_on"),
        pl.lit("USD").alias("currency"),
        pl.col("paid_minor").alias("amount_minor"),
        pl.lit(0, pl.Int64).alias("unallocated_minor"),
        pl.lit("posted").alias("status"),
        pl.lit("h").alias("row_hash"),
        pl.lit(at).alias("created_at"),
        pl.lit(at).alias("updated_at"),
    )
    allocation = paying.select(
        pl.lit("payment").alias("source_kind"),
        pl.col("pid").cast(pl.Int64).alias("source_id"),
        pl.col("id").alias("instalment_id"),
        "debtor_id",
        pl.lit("USD").alias("currency"),
        pl.col("paid_minor").alias("amount_minor"),
        pl.col("paid_on").alias("allocated_on"),
        pl.lit(False).alias("reversed"),
    )
    return {
        "debtor": debtors,
        "contact_point": points,
        "consent": consents,
        "invoice": invoice,
        "instalment": instalment,
        "payment": payment,
        "allocation": allocation,
    }


def phase_build(url: str, n: int, seed: int) -> dict[str, object]:
    import polars as pl

    from arrears.store import bulk
    from arrears.store.database import connect, upgrade
    from arrears.store.portfolios import ensure_portfolio

    start = time.perf_counter()
    frames = backlog_frames(n, seed)
    made = time.perf_counter() - start
    upgrade(url)
    engine = connect(url)
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        ensure_portfolio(conn, PORTFOLIO, name=None, base_currency="USD", actor="bench")
        for table, frame in frames.items():
            assert isinstance(frame, pl.DataFrame)
            counts[table] = bulk.insert_frame(conn, table, frame)
        if bulk.is_postgres(conn):
            for table in frames:
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE" if bulk.is_postgres(conn) else "ANALYZE")
    engine.dispose()
    return {"seconds": time.perf_counter() - start, "generate_s": made, "rows": counts}


def phase_pay(url: str, day: str, share: float, seed: int) -> dict[str, object]:
    """``share`` of the debtors with an open balance pay it all on ``day`` (one payment each,
    allocated to every open instalment)."""
    import numpy as np
    import polars as pl

    from arrears.store import bulk
    from arrears.store.database import connect

    on = date.fromisoformat(day)
    at = datetime.combine(on, datetime.min.time(), tzinfo=UTC)
    engine = connect(url)
    with engine.begin() as conn:
        open_ = bulk.read_frame(
            conn,
            "SELECT id, debtor_id, open_minor FROM instalment WHERE open_minor > 0",
            {"id": pl.Int64(), "debtor_id": pl.Int64(), "open_minor": pl.Int64()},
            {},
        )
        ids = open_["debtor_id"].unique().sort().to_numpy()
        rng = np.random.default_rng(seed + 1)
        chosen = pl.Series("debtor_id", ids[rng.random(len(ids)) < share])
        rows = open_.filter(pl.col("debtor_id").is_in(chosen.implode()))
        first = int(conn.exec_driver_sql("SELECT COALESCE(max(id), 0) FROM payment").scalar_one())
        pays = (
            rows.group_by("debtor_id")
            .agg(pl.col("open_minor").sum().alias("amount_minor"))
            .sort("debtor_id")
            .with_row_index("id", offset=first + 1)
            .with_columns(pl.col("id").cast(pl.Int64))
        )
        payment = pays.select(
            "id",
            pl.lit(1, pl.Int64).alias("portfolio_id"),
            "debtor_id",
            pl.format("N{}", pl.col("id")).alias("external_id"),
            pl.lit(on).alias("received_on"),
            pl.lit("USD").alias("currency"),
            "amount_minor",
            pl.lit(0, pl.Int64).alias("unallocated_minor"),
            pl.lit("posted").alias("status"),
            pl.lit("h").alias("row_hash"),
            pl.lit(at).alias("created_at"),
            pl.lit(at).alias("updated_at"),
        )
        allocation = rows.join(pays.select("debtor_id", "id"), on="debtor_id").select(
            pl.lit("payment").alias("source_kind"),
            pl.col("id_right").alias("source_id"),
            pl.col("id").alias("instalment_id"),
            "debtor_id",
            pl.lit("USD").alias("currency"),
            pl.col("open_minor").alias("amount_minor"),
            pl.lit(on).alias("allocated_on"),
            pl.lit(False).alias("reversed"),
        )
        bulk.insert_frame(conn, "payment", payment)
        bulk.insert_frame(conn, "allocation", allocation)
        staged = bulk.stage(conn, "_paid", rows.select("id"))
        conn.exec_driver_sql(
            f"UPDATE instalment SET open_minor = 0 WHERE id IN (SELECT id FROM {staged})"
        )
        bulk.drop(conn, staged)
    engine.dispose()
    return {"debtors_paying": payment.height, "instalments_paid": rows.height}


# -- phases measured ---------------------------------------------------------------------------
CPU: dict[str, float] = {}


def _best(fn: object, times: int = 2, name: str = "") -> tuple[float, list[float], object]:
    """Best wall time of ``times`` runs; ``CPU[name]``: the process's CPU seconds (every
    thread) of the run with the least CPU."""
    runs, result = [], None
    for _ in range(times):
        start, cpu = time.perf_counter(), time.process_time()
        result = fn()  # type: ignore[operator]
        runs.append(time.perf_counter() - start)
        CPU[name] = min(CPU.get(name, 1e9), time.process_time() - cpu)
    return min(runs), runs, result


def phase_decide(url: str, day: str) -> dict[str, object]:
    from dataclasses import replace

    from cycle_reference import reference_features

    from arrears.cycle.decide import decide
    from arrears.scoring.model import score_frame
    from arrears.scoring.rules import rules_score_frame
    from arrears.services.cycle import _rules_scores, load_compiled
    from arrears.store.cycle.read import read_cycle_input
    from arrears.store.database import connect

    as_of = date.fromisoformat(day)
    policy = load_compiled(POLICY)
    engine = connect(url)
    start = time.perf_counter()
    data = read_cycle_input(
        engine,
        portfolio=PORTFOLIO,
        as_of=as_of,
        reopen_within_days=policy.policy.reopen_within_days,
        promise_grace_days=policy.policy.promise_grace_days,
    )
    read_s = time.perf_counter() - start
    engine.dispose()
    assert not policy.reads("expected_days_to_pay")  # else run scores every invoice too
    # what run scores with (no model): the rules from their five features; and, for the
    # record, the rules score of the full feature table (what run used before issue 20)
    score_s, score_runs, scored = _best(
        lambda: _rules_scores(rules_score_frame, data, as_of), name="score"
    )
    _best(lambda: score_frame(None, data, as_of, with_reasons=False, days_to_pay=False), 1, "full")
    data = replace(data, scores=scored)  # type: ignore[arg-type]
    decide_s, decide_runs, decisions = _best(lambda: decide(data, policy, as_of), name="decide")
    buckets = list(policy.policy.buckets)
    b_s, b_runs, _ = _best(
        lambda: reference_features(
            data, as_of, buckets, reopen_within_days=policy.policy.reopen_within_days
        ),
        name="reference",
    )
    return {
        "rows": {name: getattr(data, name).height for name in type(data).__slots__},
        "cpu": CPU,
        "read_s": read_s,
        "score_s": score_s,
        "score_runs": score_runs,
        "decide_s": decide_s,
        "decide_runs": decide_runs,
        "b_s": b_s,
        "b_runs": b_runs,
        "cases": decisions.cases.height,  # type: ignore[attr-defined]
        "steps": decisions.steps.height,  # type: ignore[attr-defined]
    }


def phase_run(url: str, day: str) -> dict[str, object]:
    from arrears.domain.actor import system
    from arrears.services.cycle import Timings, load_compiled, run_cycle
    from arrears.services.uow import SqlUnitOfWork
    from arrears.store.database import connect

    policy = load_compiled(POLICY)
    engine = connect(url)
    import resource

    timings = Timings()
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    decisions, summary = run_cycle(
        SqlUnitOfWork(engine),
        system("cycle"),
        portfolio=PORTFOLIO,
        as_of=date.fromisoformat(day),
        policy=policy,
        at=datetime.now(UTC),
        timings=timings,
    )
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime)
    engine.dispose()
    # on a shared machine the wall time measures the queue for the cores: the CPU too
    print(f"  (run {day}: {seconds:.2f} s wall, CPU user {cpu[0]:.2f} s + system {cpu[1]:.2f} s)",
          file=sys.stderr)  # fmt: skip
    return {
        "cpu_user_s": cpu[0],
        "cpu_sys_s": cpu[1],
        "seconds": seconds,
        "read_s": timings.read,
        "score_s": timings.score,
        "decide_s": timings.decide,
        "commit_s": timings.commit,
        "written": summary.written,
        "summary": summary.as_dict(),
        "cases": decisions.cases.height,
        "steps": decisions.steps.height,
    }


# -- the report --------------------------------------------------------------------------------
def mark(ok: bool) -> str:
    return "met" if ok else "MISSED"


def show_run(label: str, what: str, r: dict[str, object], mem: float) -> None:
    print(
        f"{label}: {what:<22} {float(r['seconds']):7.2f} s (read {float(r['read_s']):.2f}, "
        f"score {float(r['score_s']):.2f}, decide {float(r['decide_s']):.2f}, "
        f"commit {float(r['commit_s']):.2f}); peak {mem:,.0f} MiB"
    )
    s = r["summary"]
    assert isinstance(s, dict)
    print(f"{label}:   wrote " + ", ".join(f"{k} {v:,}" for k, v in s.items() if v))


def bench(label: str, url: str, seed: int) -> None:
    day = END.isoformat()
    d, dmem = run_phase(__file__, ["decide", url, day])
    rows = d["rows"]
    assert isinstance(rows, dict)
    print(f"\n{label}: CycleInput rows " + ", ".join(f"{k} {v:,}" for k, v in rows.items() if v))
    decide_s, b_s = float(d["decide_s"]), float(d["b_s"])
    score_s = float(d["score_s"])
    print(
        f"{label}: read {float(d['read_s']):.2f} s; rules score {score_s:.2f} s (runs "
        f"{d['score_runs']}); decide {decide_s:.2f} s (runs {d['decide_runs']}); DuckDB "
        f"reference (b) {b_s:.2f} s (runs {d['b_runs']}): decide / (b) = {decide_s / b_s:.2f}x;"
        f" {d['cases']:,} cases, {d['steps']:,} steps decided; peak {dmem:,.0f} MiB"
    )
    cpu = d["cpu"]
    assert isinstance(cpu, dict)
    print(
        f"{label}: CPU seconds (all threads, least of the runs): score {cpu['score']:.2f} "
        f"(the full feature table's rules score: {cpu['full']:.2f}), "
        f"decide {cpu['decide']:.2f}, reference (b) {cpu['reference']:.2f}: decide / (b) = "
        f"{cpu['decide'] / cpu['reference']:.2f}x"
    )
    print(
        f"{label}: targets: score <= {TARGET_SCORE_S} s {mark(score_s <= TARGET_SCORE_S)}; "
        f"decide <= {TARGET_DECIDE_S} s {mark(decide_s <= TARGET_DECIDE_S)}; decide <= 1.0x (b) "
        f"{mark(decide_s <= b_s)}"
    )
    first, m1 = run_phase(__file__, ["run", url, day])
    show_run(label, "first day, run", first, m1)
    again, m2 = run_phase(__file__, ["run", url, day])
    show_run(label, "same day again", again, m2)
    if again["written"]:
        raise SystemExit(f"{label}: the second run of {day} wrote something")
    nxt = (END + timedelta(days=1)).isoformat()
    paid, _ = run_phase(__file__, ["pay", url, nxt, str(SHAPE["next_day_paying_share"]), str(seed)])
    print(
        f"{label}: next day {nxt}: {paid['debtors_paying']:,} debtors pay in full "
        f"({paid['instalments_paid']:,} instalments)"
    )
    later, m3 = run_phase(__file__, ["run", url, nxt])
    show_run(label, "next day, run", later, m3)
    peak = max(dmem, m1, m2, m3)
    run_s = float(first["seconds"])
    steady = max(float(again["seconds"]), float(later["seconds"]))
    print(
        f"{label}: targets: first run <= {TARGET_RUN_S:.0f} s {mark(run_s <= TARGET_RUN_S)}; "
        f"steady days <= first {mark(steady <= run_s)}"
        f"; peak of run <= 6 GB {mark(max(m1, m2, m3) <= TARGET_PEAK_MIB)} ({peak:,.0f} MiB)"
    )


def template_copy(pg_url: str, template: str, name: str) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from arrears.store.database import connect, normalize_url, upgrade
    from arrears.store.schema import metadata

    admin = create_engine(normalize_url(pg_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    admin.dispose()
    url = make_url(normalize_url(pg_url)).set(database=name).render_as_string(False)
    upgrade(url)
    metadata.create_all(connect(url), checkfirst=True)  # a revision taken while still a no-op
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debtors", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument("--pg-template", help="copy this database (built by --phase build)")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/arrears-first-day"))
    parser.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        name, *rest = args.phase
        if name == "build":
            result = phase_build(rest[0], int(rest[1]), int(rest[2]))
        elif name == "pay":
            result = phase_pay(rest[0], rest[1], float(rest[2]), int(rest[3]))
        elif name == "decide":
            result = phase_decide(rest[0], rest[1])
        else:
            result = phase_run(rest[0], rest[1])
        print(json.dumps(result, default=str))
        return

    print(describe())
    print(f"policy {POLICY.relative_to(ROOT)}, first day {END}; backlog seed {args.seed}, shape")
    print("  " + json.dumps({"debtors": args.debtors, **SHAPE}))
    work = args.workdir / f"backlog-{args.debtors}-seed{args.seed}"
    work.mkdir(parents=True, exist_ok=True)
    if not args.skip_sqlite:
        pristine = work / "built.db"
        if not pristine.exists():
            built, _ = run_phase(
                __file__, ["build", f"sqlite:///{pristine}", str(args.debtors), str(args.seed)]
            )
            print(f"SQLite: built in {float(built['seconds']):.1f} s: {built['rows']}")
        db = work / "run.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(pristine, db)
        from arrears.store.database import upgrade

        upgrade(f"sqlite:///{db}")  # the cached build may predate the latest migration
        # ... or have taken a revision while it was still reserved (a no-op): any table missing
        from arrears.store.database import connect
        from arrears.store.schema import metadata

        metadata.create_all(connect(f"sqlite:///{db}"), checkfirst=True)
        bench("SQLite", f"sqlite:///{db}", args.seed)
    if args.skip_pg:
        return
    from cycle import drop_pg_database, fresh_pg_database

    name = f"arrears_first_day_{os.getpid()}"
    if args.pg_template:  # a database built before by this script, with the same parameters
        url = template_copy(args.pg_url, args.pg_template, name)
        print(f"\nPostgreSQL: a copy of {args.pg_template} (built with the same parameters)")
    else:
        url = fresh_pg_database(args.pg_url, name)
    try:
        if not args.pg_template:
            built, _ = run_phase(__file__, ["build", url, str(args.debtors), str(args.seed)])
            print(f"\nPostgreSQL: built in {float(built['seconds']):.1f} s: {built['rows']}")
        bench("PostgreSQL", url, args.seed)
    finally:
        drop_pg_database(args.pg_url, name)


if __name__ == "__main__":
    main()
