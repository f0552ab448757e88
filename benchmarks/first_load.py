"""Benchmark: the first load of a portfolio (issue 20), debtors, invoices and payments.

    .venv/bin/python benchmarks/first_load.py [--debtors 1000000] [--profile backlog|demo|both]
        [--backend sqlite|postgres|both] [--pg postgresql://postgres@127.0.0.1:5432/postgres]
        [--db-prefix arrears_first_load_]

Generates the portfolio (``arrears generate``'s profiles: ``backlog``, a takeover backlog of five
invoices per debtor, most of it overdue, payments allocated explicitly; ``demo``, most debtors
current) once per profile, size and seed (cached in the work folder), then per backend imports
the three files into a fresh store through the normal importer (``import_files``: read, check,
load, one transaction per file), each import in its own process. Prints, per step, the rows,
wall seconds, rows/s, the import process's CPU seconds (user + system: on a shared machine the
wall time measures the queue for the cores, the CPU time far less so) and its peak memory; then
the total against the target of 5 minutes; the seed and the shape parameters come first, and a
last line holds everything as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe

AS_OF = date(2026, 11, 30)
TARGET_SECONDS = 300.0
KINDS = ("debtors", "invoices", "payments")


def child(kind: str, path: str, url: str) -> None:
    from arrears.domain.columns import Kind
    from arrears.io.batches import ReadOptions
    from arrears.io.importer import import_files
    from arrears.store.database import connect

    engine = connect(url)
    start = time.perf_counter()
    report = import_files(engine, Kind(kind), [Path(path)], ReadOptions(), actor="bench")
    seconds = time.perf_counter() - start
    if not report.committed:
        raise SystemExit(f"{len(report.problems)} problems, first: {report.problems[:1]}")
    print(json.dumps({"rows": report.rows, "seconds": seconds, **report.counts}))


def prepare(url: str) -> None:
    from arrears.store.database import connect, upgrade
    from arrears.store.portfolios import ensure_portfolio

    upgrade(url)
    with connect(url).begin() as conn:
        ensure_portfolio(conn, "default", name=None, base_currency="USD", actor="bench")


def _run_child(args: list[str]) -> tuple[dict[str, Any], float, float]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", *args], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{args[0]} failed")
    cpu = usage.ru_utime + usage.ru_stime
    return json.loads(out.strip().splitlines()[-1]), cpu, usage.ru_maxrss / 1024


def _store(backend: str, work: Path, pg: str, name: str) -> str:
    if backend == "sqlite":
        path = work / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        import psycopg

        with psycopg.connect(pg, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        base, _, _ = pg.rpartition("/")
        url = f"{base}/{name}"
    subprocess.run([sys.executable, __file__, "--prepare", url], check=True)
    return url


def _data(profile: str, debtors: int, seed: int, months: int, work: Path) -> tuple[Path, Any]:
    from arrears.demo.generate import Profile, generate

    folder = work / f"{profile}-{debtors}-{seed}-{months}"
    stats_file = folder / "stats.json"
    if not stats_file.exists():
        start = time.perf_counter()
        stats = generate(debtors, months, seed, AS_OF, folder, profile=Profile(profile))
        print(f"generated {profile} in {time.perf_counter() - start:.1f} s", flush=True)
        stats_file.write_text(json.dumps(stats.to_dict()))
    return folder, json.loads(stats_file.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debtors", type=int, default=1_000_000)
    parser.add_argument("--profile", choices=["backlog", "demo", "both"], default="both")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--work", type=Path, default=Path("/tmp/arrears-bench-first-load"))
    parser.add_argument(
        "--db-prefix",
        default="arrears_first_load_",
        help="name of each store: this prefix + the profile (the store is kept after the run)",
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--prepare", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.prepare:
        prepare(args.prepare)
        return
    print(describe())
    args.work.mkdir(parents=True, exist_ok=True)
    profiles = ["backlog", "demo"] if args.profile == "both" else [args.profile]
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results: list[dict[str, Any]] = []
    for profile in profiles:
        folder, stats = _data(profile, args.debtors, args.seed, args.months, args.work)
        print(
            f"\n{profile}: seed {args.seed}, as of {AS_OF}, {args.months} months;"
            f" {stats['debtors']:,} debtors, {stats['invoices']:,} invoices"
            f" ({stats['instalments']:,} rows), {stats['payments']:,} payments;"
            f" {stats['share_debtors_open']:.1%} of debtors with something open,"
            f" {stats['share_open_overdue']:.1%} of open instalments overdue"
        )
        print(f"parameters: {json.dumps(stats['parameters'])}")
        for backend in backends:
            url = _store(backend, args.work, args.pg, f"{args.db_prefix}{profile}")
            total = cpu_total = 0.0
            for kind in KINDS:
                load = os.getloadavg()[0]
                out, cpu, peak = _run_child([kind, str(folder / f"{kind}.csv"), url])
                total += out["seconds"]
                cpu_total += cpu
                row = {
                    "profile": profile,
                    "backend": backend,
                    "kind": kind,
                    "rows": out["rows"],
                    "seconds": round(out["seconds"], 2),
                    "rows_per_s": round(out["rows"] / out["seconds"]),
                    "cpu_s": round(cpu, 2),
                    "peak_mib": round(peak),
                    "load_before": round(load, 1),
                }
                results.append(row)
                print(
                    f"  {backend:<8} {kind:<8} {out['rows']:>10,} rows {out['seconds']:8.1f} s"
                    f" {row['rows_per_s']:>9,} rows/s  CPU {cpu:7.1f} s  peak {peak:6,.0f} MiB"
                    f"  (load average {load:.1f} before)",
                    flush=True,
                )
            verdict = "met" if total <= TARGET_SECONDS else "missed"
            print(
                f"  {backend:<8} first load {total:8.1f} s (CPU {cpu_total:.1f} s):"
                f" target <= {TARGET_SECONDS:.0f} s {verdict}"
            )
    print(
        json.dumps(
            {"debtors": args.debtors, "seed": args.seed, "months": args.months, "rows": results}
        )
    )


if __name__ == "__main__":
    main()
