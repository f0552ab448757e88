"""Benchmark: a 5-million-row invoices file imports with bounded memory.

    .venv/bin/python benchmarks/import_5m.py [--debtors 1000000] [--months 5] [--url URL]

Generates a portfolio of about 5.4 million invoice rows (one per instalment), imports the debtors
and then the invoices file into a fresh store (SQLite file by default), each import in its own
process, and prints rows/s and each process's peak memory. "Bounded" means the invoices import's
peak stays far below the size of the data (the file is about 0.5 GB; the rows as Python objects
would be many GB): the importer streams batches of 100k rows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe

END = date(2026, 11, 23)


def child(kind: str, path: str, url: str) -> None:
    from arrears.domain.columns import Kind
    from arrears.io.batches import ReadOptions
    from arrears.io.importer import import_files
    from arrears.store.database import connect, upgrade
    from arrears.store.portfolios import ensure_portfolio

    upgrade(url)
    engine = connect(url)
    with engine.begin() as conn:
        ensure_portfolio(conn, "default", name=None, base_currency="USD", actor="bench")
    start = time.perf_counter()
    report = import_files(engine, Kind(kind), [Path(path)], ReadOptions(), actor="bench")
    seconds = time.perf_counter() - start
    if report.problems:
        raise SystemExit(f"{len(report.problems)} problems, first: {report.problems[0]}")
    print(json.dumps({"rows": report.rows, "seconds": seconds}))


def run(kind: str, path: Path, url: str) -> tuple[dict[str, float], float]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", kind, str(path), url],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"import of {kind} failed")
    return json.loads(out.strip().splitlines()[-1]), usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debtors", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=5)
    parser.add_argument("--url", help="store URL (default: a SQLite file in the work folder)")
    parser.add_argument("--work", type=Path)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    print(describe())
    from arrears.demo.generate import generate

    work = args.work or Path(tempfile.mkdtemp(prefix="arrears-5m-"))
    start = time.perf_counter()
    stats = generate(args.debtors, args.months, 5, END, work / "data")
    print(f"generated {stats.instalments:,} invoice rows in {time.perf_counter() - start:.0f} s")
    invoices = work / "data" / "invoices.csv"
    print(f"invoices file: {invoices.stat().st_size / 2**20:,.0f} MiB")
    url = args.url or f"sqlite:///{work / 'bench5m.db'}"
    for kind in ("debtors", "invoices"):
        result, peak = run(kind, work / "data" / f"{kind}.csv", url)
        print(
            f"import {kind:<8}: {result['rows']:>10,.0f} rows in {result['seconds']:6.1f} s = "
            f"{result['rows'] / result['seconds']:>9,.0f} rows/s; peak memory {peak:,.0f} MiB"
        )
    print(f"files kept in {work}")


if __name__ == "__main__":
    main()
