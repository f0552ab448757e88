"""Benchmark of the daily cycle: read, decide and commit on a large portfolio, against two DuckDB
references over the same input.

    .venv/bin/python benchmarks/cycle.py [--debtors 1000000] [--months 5] [--skip-pg]
        [--pg-url URL] [--workdir DIR] [--prepare]

Generates a portfolio (``arrears.demo.generate``, seed 1, ending on END; about 1.08 invoices per
debtor and month, so 1M debtors x 5 months is about 5.4M invoices) and imports it into a fresh
SQLite workspace and (unless ``--skip-pg``) into a fresh PostgreSQL database that is dropped at
the end. Then, per backend, with the shipped B2B policy (examples/policies/b2b.yaml) as of END:

* decide phase (one process): read the CycleInput; ``decide`` (what ``plan`` runs after the
  read); reference (a), per debtor and currency the oldest days past due and the open balance
  (the least work any engine must do) and reference (b), every catalogue feature in one DuckDB
  query (benchmarks/cycle_reference.py), both over the same CycleInput; (b) must equal the
  engine's feature table. Best of 2 runs each; ratios decide/(a) and decide/(b).
* run phase (another process): ``run_cycle`` end to end (read, decide, commit), then a second
  ``run_cycle`` for the same date in a third process (it must write nothing).

Peak memory is each process's maximum resident set. ``--workdir`` keeps the generated files and
the imported SQLite database (keyed by --debtors/--months) for the next invocation; each
invocation runs on a fresh copy of that database. Targets (issue 3): decide <= 5 s and <= 1.5x
reference (b); run end to end <= 60 s; peak memory <= 6 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe, run_phase

END = date(2026, 11, 23)
ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "examples" / "policies" / "b2b.yaml"
PORTFOLIO = "default"
KINDS = ("debtors", "invoices", "payments")
TARGET_DECIDE_S = 5.0
TARGET_RATIO_B = 1.5
TARGET_RUN_S = 60.0
TARGET_PEAK_MIB = 6 * 1024


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _best(fn: object, times: int = 2) -> tuple[float, list[float], object]:
    runs, result = [], None
    for _ in range(times):
        start = time.perf_counter()
        result = fn()  # type: ignore[operator]
        runs.append(time.perf_counter() - start)
    return min(runs), runs, result


# -- phases (each in its own process) ------------------------------------------------------------
def phase_generate(work: Path, debtors: int, months: int) -> dict[str, object]:
    from ledger import phase_generate as generate

    return generate(work, debtors, months)


def phase_import(work: Path, url: str) -> dict[str, object]:
    from ledger import phase_import as import_

    return import_(work, url)


def phase_decide(url: str) -> dict[str, object]:
    import polars as pl
    from cycle_reference import reference_features, reference_minimal

    from arrears.cycle.decide import _current_cases, decide
    from arrears.cycle.features import feature_table
    from arrears.policy.features import CATALOGUE
    from arrears.services.cycle import load_compiled
    from arrears.store.cycle.read import read_cycle_input
    from arrears.store.database import connect

    policy = load_compiled(POLICY)
    buckets = list(policy.policy.buckets)
    engine = connect(url)
    start = time.perf_counter()
    data = read_cycle_input(
        engine,
        portfolio=PORTFOLIO,
        as_of=END,
        reopen_within_days=policy.policy.reopen_within_days,
    )
    read_s = time.perf_counter() - start
    engine.dispose()
    peak_read = _peak_mib()
    rows = {name: getattr(data, name).height for name in type(data).__slots__}

    decide_s, decide_runs, decisions = _best(lambda: decide(data, policy, END))
    peak_decide = _peak_mib()
    # the contact-rule guard's share of decide: the same contacts through guard() alone
    from arrears.contact.frames import ATTEMPT_SCHEMA
    from arrears.contact.guard import guard
    from arrears.scoring.model import score_frame

    made = decisions.steps.filter(  # type: ignore[attr-defined]
        pl.col("channel").is_not_null() & pl.col("status").is_in(["executed", "blocked"])
    )
    attempts = (
        made.with_row_index("attempt_id")
        .select(
            pl.col("attempt_id").cast(pl.Int64()),
            "debtor_id",
            pl.col("channel"),
            pl.lit(datetime.combine(END, policy.policy.send_time)).alias("planned_local"),
            pl.lit(1, pl.Int32()).alias("priority"),
            pl.lit([], pl.List(pl.String())).alias("fallback"),
            pl.lit(False).alias("legal_threat"),
            pl.lit(0, pl.Int32()).alias("days_past_due"),
            pl.lit(False).alias("validation_notice"),
        )
        .cast(ATTEMPT_SCHEMA)
    )
    guard_s, _, _ = _best(
        lambda: guard(attempts, data.debtors, data.consents, data.history, policy.packs), 1
    )
    score_s, _, _ = _best(lambda: score_frame(None, data, END, with_reasons=False), 1)
    features_s, _, engine_features = _best(
        lambda: feature_table(_current_cases(data, policy, END), END, buckets), 1
    )
    a_s, a_runs, minimal = _best(lambda: reference_minimal(data, END))
    b_s, b_runs, reference = _best(
        lambda: reference_features(
            data, END, buckets, reopen_within_days=policy.policy.reopen_within_days
        )
    )
    assert isinstance(engine_features, pl.DataFrame) and isinstance(reference, pl.DataFrame)
    assert isinstance(minimal, pl.DataFrame)
    public = ["debtor_id", "currency"] + [f.name for f in CATALOGUE if f.name != "currency"]
    means = [f.name for f in CATALOGUE if f.name.startswith(("share_paid", "avg_days_late"))]
    mine = reference.select(public).sort("debtor_id", "currency")
    theirs = engine_features.select(public).sort("debtor_id", "currency")
    from polars.testing import assert_frame_equal

    assert_frame_equal(mine.drop(means), theirs.drop(means), check_exact=True)
    assert_frame_equal(
        mine.select(means), theirs.select(means), check_exact=False, rel_tol=0, abs_tol=1e-9
    )
    assert decisions is not None
    cases = decisions.cases  # type: ignore[attr-defined]
    steps = decisions.steps  # type: ignore[attr-defined]
    return {
        "rows": rows,
        "read_s": read_s,
        "decide_s": decide_s,
        "decide_runs": decide_runs,
        "feature_table_s": features_s,
        "guard_s": guard_s,
        "guard_attempts": attempts.height,
        "score_s": score_s,
        "a_s": a_s,
        "a_runs": a_runs,
        "a_rows": minimal.height,
        "b_s": b_s,
        "b_runs": b_runs,
        "b_rows": reference.height,
        "cases": cases.group_by("change").len().sort("change").rows(),
        "steps": steps.height,
        "peak_after_read_mib": peak_read,
        "peak_after_decide_mib": peak_decide,
    }


def phase_run(url: str) -> dict[str, object]:
    from arrears.domain.actor import system
    from arrears.services.cycle import Timings, load_compiled, run_cycle
    from arrears.services.uow import SqlUnitOfWork
    from arrears.store.database import connect

    policy = load_compiled(POLICY)
    engine = connect(url)
    timings = Timings()
    start = time.perf_counter()
    decisions, summary = run_cycle(
        SqlUnitOfWork(engine),
        system("cycle"),
        portfolio=PORTFOLIO,
        as_of=END,
        policy=policy,
        at=datetime.now(UTC),
        timings=timings,
    )
    seconds = time.perf_counter() - start
    engine.dispose()
    return {
        "seconds": seconds,
        "read_s": timings.read,
        "decide_s": timings.decide,
        "commit_s": timings.commit,
        "written": summary.written,
        "summary": summary.as_dict(),
        "cases": decisions.cases.height,
        "steps": decisions.steps.height,
    }


def run_child(args: list[str]) -> tuple[dict[str, object], float]:
    """Run one phase of this script in a child process; its result and peak memory in MiB."""
    return run_phase(__file__, args)


# -- the portfolio, cached ------------------------------------------------------------------------
def cached_portfolio(workdir: Path, debtors: int, months: int) -> tuple[Path, Path]:
    """The generated files and the imported SQLite database for these parameters (made once)."""
    work = workdir / f"debtors{debtors}-months{months}-seed1"
    work.mkdir(parents=True, exist_ok=True)
    generated = work / "generate.json"
    if not generated.exists():
        gen, mem = run_child(["generate", str(work), str(debtors), str(months)])
        gen["peak_mib"] = mem
        generated.write_text(json.dumps(gen))
    gen = json.loads(generated.read_text())
    stats = gen["stats"]
    print(
        f"generated {debtors:,} debtors x {months} months in {gen['seconds']:.1f} s "
        f"(peak {gen['peak_mib']:,.0f} MiB): {stats['invoices']:,} invoices, "
        f"{stats['instalments']:,} instalments, {stats['payments']:,} payments"
    )
    pristine = work / "imported.db"
    imported = work / "import.json"
    if not imported.exists():
        pristine.unlink(missing_ok=True)
        result, mem = run_child(["import", str(work), f"sqlite:///{pristine}"])
        result["peak_mib"] = mem
        imported.write_text(json.dumps(result))
    print_import("SQLite", json.loads(imported.read_text()), cached=True)
    return work, pristine


def print_import(label: str, result: dict[str, object], *, cached: bool = False) -> None:
    for kind in KINDS:
        figures = result[kind]
        assert isinstance(figures, dict)
        print(
            f"import {kind:<9} into {label:<10}: {figures['rows']:>10,} rows in "
            f"{figures['seconds']:6.1f} s = {figures['rows_per_s']:>9,.0f} rows/s"
        )
    print(f"import into {label}: peak {result['peak_mib']:,.0f} MiB" + (" (cached)" * cached))


def fresh_pg_database(pg_url: str, name: str) -> str:
    from ledger import fresh_pg_database as fresh

    return fresh(pg_url, name)


def drop_pg_database(pg_url: str, name: str) -> None:
    from sqlalchemy import create_engine, text

    from arrears.store.database import normalize_url

    admin = create_engine(normalize_url(pg_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


# -- the report ------------------------------------------------------------------------------------
def mark(ok: bool) -> str:
    return "met" if ok else "MISSED"


def bench_backend(label: str, url: str) -> None:
    d, mem = run_child(["decide", url])
    rows = d["rows"]
    assert isinstance(rows, dict)
    print(f"\n{label}: CycleInput rows " + ", ".join(f"{k} {v:,}" for k, v in rows.items()))
    print(f"{label}: read CycleInput        {d['read_s']:7.2f} s")
    decide_s = float(d["decide_s"])  # type: ignore[arg-type]
    a_s = float(d["a_s"])  # type: ignore[arg-type]
    b_s = float(d["b_s"])  # type: ignore[arg-type]
    runs = ", ".join(f"{r:.2f}" for r in d["decide_runs"])  # type: ignore[attr-defined]
    print(
        f"{label}: decide                  {decide_s:7.2f} s (runs {runs}); of which feature "
        f"table {d['feature_table_s']:.2f} s"
    )
    print(
        f"{label}: contact-rule guard alone {d['guard_s']:6.2f} s on the day's "
        f"{d['guard_attempts']:,} contacts (part of decide)"
    )
    print(f"{label}: propensity (rules) score {d['score_s']:6.2f} s (before decide, in run)")
    print(f"{label}: reference (a) minimal   {a_s:7.2f} s ({d['a_rows']:,} rows)")
    print(
        f"{label}: reference (b) features  {b_s:7.2f} s ({d['b_rows']:,} rows; equals the "
        "engine's feature table)"
    )
    print(f"{label}: decide / (a) = {decide_s / a_s:.1f}x; decide / (b) = {decide_s / b_s:.2f}x")
    print(f"{label}: decisions: cases {d['cases']}, steps {d['steps']:,}")
    print(
        f"{label}: peak memory: after read {d['peak_after_read_mib']:,.0f} MiB, after decide "
        f"{d['peak_after_decide_mib']:,.0f} MiB, whole decide process (with references) "
        f"{mem:,.0f} MiB"
    )
    print(
        f"{label}: target decide <= {TARGET_DECIDE_S:.0f} s: {mark(decide_s <= TARGET_DECIDE_S)}"
        f"; decide <= {TARGET_RATIO_B}x (b): {mark(decide_s <= TARGET_RATIO_B * b_s)}"
    )

    r, run_mem = run_child(["run", url])
    print(
        f"{label}: run end to end          {r['seconds']:7.2f} s (read {r['read_s']:.2f}, decide "
        f"{r['decide_s']:.2f}, commit {r['commit_s']:.2f}); peak {run_mem:,.0f} MiB"
    )
    print(f"{label}: run wrote {r['summary']}")
    again, again_mem = run_child(["run", url])
    if again["written"]:
        raise SystemExit(f"{label}: the second run for {END} wrote {again['summary']}")
    print(
        f"{label}: second run, same date  {again['seconds']:7.2f} s (read {again['read_s']:.2f},"
        f" decide {again['decide_s']:.2f}, commit {again['commit_s']:.2f}); wrote nothing; "
        f"peak {again_mem:,.0f} MiB"
    )
    run_s = float(r["seconds"])  # type: ignore[arg-type]
    peak = max(mem, run_mem, again_mem)
    print(
        f"{label}: target run <= {TARGET_RUN_S:.0f} s: {mark(run_s <= TARGET_RUN_S)}; "
        f"peak memory <= 6 GB: {mark(peak <= TARGET_PEAK_MIB)} ({peak:,.0f} MiB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debtors", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=5)
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true", help="benchmark PostgreSQL only")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path("/tmp/arrears-cycle-bench"),
        help="cache of generated files and imported SQLite databases",
    )
    parser.add_argument(
        "--prepare", action="store_true", help="only generate and import into SQLite (cache)"
    )
    parser.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        name, *rest = args.phase
        if name == "generate":
            result = phase_generate(Path(rest[0]), int(rest[1]), int(rest[2]))
        elif name == "import":
            result = phase_import(Path(rest[0]), rest[1])
        elif name == "decide":
            result = phase_decide(rest[0])
        else:
            result = phase_run(rest[0])
        print(json.dumps(result, default=str))
        return

    print(describe())
    print(f"policy {POLICY.relative_to(ROOT)}, as of {END}")
    work, pristine = cached_portfolio(args.workdir, args.debtors, args.months)
    if args.prepare:
        return
    run_db = work / "run.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{run_db}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(pristine, run_db)
    from arrears.store.database import upgrade

    upgrade(f"sqlite:///{run_db}")  # the cached import may predate the latest migration
    if not args.skip_sqlite:
        bench_backend("SQLite", f"sqlite:///{run_db}")
    if args.skip_pg:
        return
    name = f"arrears_cycle_bench_{os.getpid()}"
    pg_url = fresh_pg_database(args.pg_url, name)
    try:
        imported, mem = run_child(["import", str(work), pg_url])
        imported["peak_mib"] = mem
        print()
        print_import("PostgreSQL", imported)
        bench_backend("PostgreSQL", pg_url)
    finally:
        drop_pg_database(args.pg_url, name)


if __name__ == "__main__":
    main()
