"""Benchmark of the foundation: generate, import, snapshot and aging on a large portfolio.

    .venv/bin/python benchmarks/ledger.py [--debtors 200000] [--months 5] [--pg-url URL]

Each phase runs in its own process so that its peak memory (max RSS) is its own. Figures printed:
import rows/s into SQLite and PostgreSQL (per file kind), snapshot rows/s, aging seconds, peak
memory. Targets (issue 2, 2-core machine): PostgreSQL import >= 100k invoices/s, snapshot read
>= 1M rows/s, aging of 1M invoices <= 2 s. Results are recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe, run_phase

END = date(2026, 11, 23)
KINDS = ("debtors", "invoices", "payments")


def phase_generate(work: Path, debtors: int, months: int) -> dict[str, object]:
    from arrears.demo.generate import generate

    start = time.perf_counter()
    stats = generate(debtors, months, 1, END, work / "data")
    return {"seconds": time.perf_counter() - start, "stats": stats.to_dict()}


def phase_import(work: Path, url: str) -> dict[str, object]:
    from arrears.domain.allocation import AllocationRule
    from arrears.domain.columns import Kind
    from arrears.io.batches import ReadOptions
    from arrears.io.importer import import_files
    from arrears.store.database import connect, upgrade
    from arrears.store.portfolios import ensure_portfolio

    upgrade(url)
    engine = connect(url)
    with engine.begin() as conn:
        ensure_portfolio(conn, "default", name=None, base_currency="USD", actor="bench")
    result: dict[str, object] = {}
    for kind in KINDS:
        path = work / "data" / f"{kind}.csv"
        start = time.perf_counter()
        report = import_files(
            engine,
            Kind(kind),
            [path],
            ReadOptions(batch_rows=200_000),
            actor="bench",
            rule=AllocationRule.OLDEST_DUE_FIRST,
        )
        seconds = time.perf_counter() - start
        if report.problems:
            raise SystemExit(
                f"{kind}: {len(report.problems)} problems, first: {report.problems[0]}"
            )
        result[kind] = {
            "rows": report.rows,
            "seconds": seconds,
            "rows_per_s": report.rows / seconds,
        }
    engine.dispose()
    return result


def phase_snapshot(url: str) -> dict[str, object]:
    from arrears.store.cycle.snapshot import read_snapshot
    from arrears.store.database import connect

    engine = connect(url)
    times = []
    rows = 0
    for _ in range(3):
        start = time.perf_counter()
        snap = read_snapshot(engine, portfolio=None, as_of=END)
        times.append(time.perf_counter() - start)
        rows = snap.instalments.height
    best = min(times)
    return {
        "rows": rows,
        "debtors": snap.debtors.height,
        "seconds": best,
        "rows_per_s": rows / best,
    }


def phase_aging(url: str) -> dict[str, object]:
    from arrears.kpi.aging import aging
    from arrears.store.cycle.snapshot import read_snapshot
    from arrears.store.database import connect

    snap = read_snapshot(connect(url), portfolio=None, as_of=END)
    result: dict[str, object] = {"instalments": snap.instalments.height}
    for by in ("total", "debtor"):
        times = []
        for _ in range(3):
            start = time.perf_counter()
            aging(snap.instalments, END, by=by)
            times.append(time.perf_counter() - start)
        result[f"seconds_by_{by}"] = min(times)
    return result


PHASES = {"generate", "import", "snapshot", "aging"}


def run_child(args: list[str]) -> tuple[dict[str, object], float]:
    """Run one phase of this script in a child process; its result and peak memory in MiB."""
    return run_phase(__file__, args)


def fresh_pg_database(pg_url: str, name: str) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from arrears.store.database import normalize_url

    admin = create_engine(normalize_url(pg_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(normalize_url(pg_url)).set(database=name).render_as_string(False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debtors", type=int, default=200_000)
    parser.add_argument("--months", type=int, default=5)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--work", type=Path, help="keep files here (default: a temp folder)")
    parser.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        name, *rest = args.phase
        if name == "generate":
            result = phase_generate(Path(rest[0]), int(rest[1]), int(rest[2]))
        elif name == "import":
            result = phase_import(Path(rest[0]), rest[1])
        elif name == "snapshot":
            result = phase_snapshot(rest[0])
        else:
            result = phase_aging(rest[0])
        print(json.dumps(result, default=str))
        return

    print(describe())
    work = args.work or Path(tempfile.mkdtemp(prefix="arrears-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    gen, gen_mem = run_child(["generate", str(work), str(args.debtors), str(args.months)])
    stats = gen["stats"]
    assert isinstance(stats, dict)
    print(
        f"generated {args.debtors:,} debtors x {args.months} months in {gen['seconds']:.1f} s "
        f"(peak {gen_mem:,.0f} MiB): {stats['invoices']:,} invoices, "
        f"{stats['instalments']:,} instalments, {stats['payments']:,} payments"
    )
    sqlite_url = f"sqlite:///{work / 'bench.db'}"
    (work / "bench.db").unlink(missing_ok=True)
    pg_url = fresh_pg_database(args.pg_url, "arrears_bench")
    for label, url in (("SQLite", sqlite_url), ("PostgreSQL", pg_url)):
        imported, mem = run_child(["import", str(work), url])
        for kind in KINDS:
            figures = imported[kind]
            assert isinstance(figures, dict)
            print(
                f"import {kind:<9} into {label:<10}: {figures['rows']:>10,} rows in "
                f"{figures['seconds']:6.1f} s = {figures['rows_per_s']:>9,.0f} rows/s"
            )
        print(f"import into {label}: peak {mem:,.0f} MiB")
        snap, mem = run_child(["snapshot", url])
        print(
            f"snapshot from {label:<10}: {snap['rows']:,} instalments in {snap['seconds']:.2f} s "
            f"= {snap['rows_per_s']:,.0f} rows/s (best of 3; peak {mem:,.0f} MiB)"
        )
    aged, mem = run_child(["aging", sqlite_url])
    print(
        f"aging of {aged['instalments']:,} instalments: total {aged['seconds_by_total']:.2f} s, "
        f"by debtor {aged['seconds_by_debtor']:.2f} s (best of 3; peak with snapshot "
        f"{mem:,.0f} MiB)"
    )
    print(f"files kept in {work}")


if __name__ == "__main__":
    main()
