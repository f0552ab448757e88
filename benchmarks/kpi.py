"""Benchmark: every collection KPI over 12 months (issue 17, "All measures for 1M debtors over 12
months in under 10 s").

    .venv/bin/python benchmarks/kpi.py [--debtors 100000] [--tile 10]
        [--profile backlog|demo|both] [--work /tmp/arrears-bench-kpi]

Per profile (``arrears generate``'s ``backlog``, a takeover backlog, and ``demo``, the generator
portfolio; seed 1, as of 2026-11-30, 12 months):

1. generates the portfolio and imports it into a SQLite store (``benchmarks/first_load.py``'s
   steps; the store is cached in the work folder);
2. **store**: in a fresh process, ``arrears kpi``'s use case
   (:func:`arrears.services.insight.kpi.kpi_report`) for the 12 months to the as-of day, end to end
   (read the ledger, promises, calls, plans, settlements; measure), then by segment; and its two
   parts apart: ``read_history`` and the pure ``measures``;
3. **tiled**: the history read once, tiled ``--tile`` times (ids offset, so each copy is other
   debtors) to ``debtors x tile`` debtors in memory, and the pure measures of the 12 months on it.

Prints wall seconds and the process's CPU seconds (``time.process_time``: every thread of the
process; on a shared machine the wall time measures the queue for the cores) and the load average
before each phase; the last line holds everything as JSON. The 1M figure is the tiled pure part
plus the rest of ``kpi_report`` (its reads: ``kpi_report`` less its measures) scaled by the tile
factor (the reads are linear in the rows: columnar scans by id ranges).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from first_load import AS_OF, KINDS, _data, _run_child, _store
from machine import describe, run_phase

START = date(2025, 12, 1)  # 12 months to AS_OF (2026-11-30)
TARGET_SECONDS = 10.0


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(mark: tuple[float, float]) -> dict[str, float]:
    wall, cpu = _clock()
    return {"wall_s": round(wall - mark[0], 2), "cpu_s": round(cpu - mark[1], 2)}


def phase_store(url: str) -> dict[str, Any]:
    from datetime import UTC, datetime, timedelta

    from arrears.domain.actor import Actor, Role
    from arrears.kpi.aging import DEFAULT_EDGES
    from arrears.kpi.roll import month_ends
    from arrears.kpi.summary import measures
    from arrears.services.insight.kpi import kpi_report, write_snapshot
    from arrears.services.uow import SqlUnitOfWork
    from arrears.store.database import connect, upgrade
    from arrears.store.kpi_snapshot import prune, read_snapshot, valid_months
    from arrears.store.scoring.history import read_history

    upgrade(url)  # a store cached before migration 0024
    engine = connect(url)
    uow = SqlUnitOfWork(engine)
    boss = Actor("bench", Role.MANAGER)
    admin = Actor("bench", Role.ADMIN)
    days = [START - timedelta(days=1), *month_ends(START, AS_OF)]
    prune(engine, portfolio="default", before=date(2100, 1, 1))  # no snapshot: the ledger
    out: dict[str, Any] = {"load": round(os.getloadavg()[0], 1)}
    mark = _clock()
    report = kpi_report(uow, boss, portfolio="default", start=START, end=AS_OF)
    out["kpi_report_ledger"] = _since(mark)
    out["currencies"] = report.headline.height
    # the monthly snapshot of every month end (arrears kpi --rebuild-snapshot); the daily run
    # writes one month end at a month's turn
    mark = _clock()
    written = write_snapshot(
        uow, admin, portfolio="default", through=AS_OF + timedelta(days=1),
        at=datetime.now(UTC), rebuild=True,
    )  # fmt: skip
    out["rebuild_snapshot"] = _since(mark)
    out["snapshot_months"] = len(written.months)
    out["snapshot_rows"] = written.rows
    out["load_snapshot"] = round(os.getloadavg()[0], 1)
    mark = _clock()
    again = kpi_report(uow, boss, portfolio="default", start=START, end=AS_OF)
    out["kpi_report"] = _since(mark)
    assert again.headline.equals(report.headline) and again.roll.equals(report.roll)
    mark = _clock()
    kpi_report(uow, boss, portfolio="default", start=START, end=AS_OF, by="segment")
    out["kpi_report_by_segment"] = _since(mark)
    mark = _clock()
    assert valid_months(engine, portfolio="default", months=days) == set(days)
    out["snapshot_check"] = _since(mark)
    mark = _clock()
    states = read_snapshot(engine, portfolio="default", months=days, stage=False)
    out["read_snapshot"] = _since(mark)
    out["snapshot_rows_read"] = states.height
    mark = _clock()
    history = read_history(engine, portfolio="default")
    out["read_history"] = _since(mark)
    out["instalments"] = history.instalments.height
    out["allocations"] = history.allocations.height
    mark = _clock()
    measures(history.instalments, history.allocations, START, AS_OF, DEFAULT_EDGES)
    out["measures_ledger"] = _since(mark)
    mark = _clock()
    measures(history.instalments, history.allocations, START, AS_OF, DEFAULT_EDGES, states=states)
    out["measures"] = _since(mark)
    return out


def phase_tiled(url: str, times: int) -> dict[str, Any]:
    from datetime import timedelta

    import polars as pl

    from arrears.kpi.aging import DEFAULT_EDGES
    from arrears.kpi.roll import month_ends, monthly_states
    from arrears.kpi.summary import measures
    from arrears.store.database import connect
    from arrears.store.scoring.history import read_history

    history = read_history(connect(url), portfolio="default")
    inst, alloc = history.instalments, history.allocations
    days = [START - timedelta(days=1), *month_ends(START, AS_OF)]
    states = monthly_states(inst, alloc, days)
    step_i, step_d, step_v = (
        int(inst[c].max() or 0) + 1  # type: ignore[arg-type]
        for c in ("instalment_id", "debtor_id", "invoice_id")
    )
    tiled_i = pl.concat(
        inst.with_columns(
            pl.col("instalment_id") + k * step_i,
            pl.col("debtor_id") + k * step_d,
            pl.col("invoice_id") + k * step_v,
        )
        for k in range(times)
    )
    tiled_a = pl.concat(
        alloc.with_columns(pl.col("instalment_id") + k * step_i) for k in range(times)
    )
    tiled_s = pl.concat(states.with_columns(pl.col("debtor_id") + k * step_d) for k in range(times))
    del history, inst, alloc, states
    out: dict[str, Any] = {
        "load": round(os.getloadavg()[0], 1),
        "debtors": tiled_i["debtor_id"].n_unique(),
        "instalments": tiled_i.height,
        "allocations": tiled_a.height,
        "snapshot_rows": tiled_s.height,
    }
    mark = _clock()
    measures(tiled_i, tiled_a, START, AS_OF, DEFAULT_EDGES, states=tiled_s)
    out["measures"] = _since(mark)
    out["load_ledger"] = round(os.getloadavg()[0], 1)
    mark = _clock()
    measures(tiled_i, tiled_a, START, AS_OF, DEFAULT_EDGES)
    out["measures_ledger"] = _since(mark)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debtors", type=int, default=100_000)
    parser.add_argument("--tile", type=int, default=10)
    parser.add_argument("--profile", choices=["backlog", "demo", "both"], default="both")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path("/tmp/arrears-bench-kpi"))
    parser.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        name, url, *rest = args.phase
        result = phase_store(url) if name == "store" else phase_tiled(url, int(rest[0]))
        print(json.dumps(result))
        return
    print(describe())
    args.work.mkdir(parents=True, exist_ok=True)
    profiles = ["backlog", "demo"] if args.profile == "both" else [args.profile]
    results: list[dict[str, Any]] = []
    for profile in profiles:
        folder, stats = _data(profile, args.debtors, args.seed, 12, args.work)
        print(
            f"\n{profile}: {stats['debtors']:,} debtors, {stats['invoices']:,} invoices"
            f" ({stats['instalments']:,} rows), {stats['payments']:,} payments",
            flush=True,
        )
        db = args.work / f"kpi_{profile}_{args.debtors}.db"
        url = f"sqlite:///{db}"
        if not (args.work / f"{db.name}.done").exists():
            url = _store("sqlite", args.work, "", db.stem)
            for kind in KINDS:
                out, cpu, _ = _run_child([kind, str(folder / f"{kind}.csv"), url])
                print(f"  imported {kind}: {out['rows']:,} rows, CPU {cpu:.1f} s", flush=True)
            (args.work / f"{db.name}.done").write_text("ok")
        store: dict[str, Any]
        tiled: dict[str, Any]
        store, store_peak = run_phase(__file__, ["store", url])
        tiled, tiled_peak = run_phase(__file__, ["tiled", url, str(args.tile)])
        # everything kpi_report does but the pure measures (the reads), scaled; plus the tiled
        # pure measures
        reads = {k: store["kpi_report"][k] - store["measures"][k] for k in ("wall_s", "cpu_s")}
        estimate = {k: round(reads[k] * args.tile + tiled["measures"][k], 1) for k in reads}
        old = {
            k: round(
                (store["kpi_report_ledger"][k] - store["measures_ledger"][k]) * args.tile
                + tiled["measures_ledger"][k],
                1,
            )
            for k in reads
        }
        row = {
            "profile": profile,
            "store": {**store, "peak_mib": round(store_peak)},
            "tiled": {**tiled, "peak_mib": round(tiled_peak)},
            "estimate_at_tile": estimate,
            "estimate_at_tile_ledger": old,
        }
        results.append(row)
        print(
            f"  store ({args.debtors:,} debtors, load {store['load']}): kpi_report from the"
            f" ledger {store['kpi_report_ledger']}; rebuild snapshot"
            f" ({store['snapshot_months']} months, {store['snapshot_rows']:,} rows)"
            f" {store['rebuild_snapshot']}; kpi_report with the snapshot {store['kpi_report']},"
            f" by segment {store['kpi_report_by_segment']}; snapshot check"
            f" {store['snapshot_check']}, read {store['read_snapshot']}"
            f" ({store['snapshot_rows_read']:,} rows); read_history {store['read_history']};"
            f" measures {store['measures']} (ledger {store['measures_ledger']});"
            f" peak {store_peak:,.0f} MiB",
            flush=True,
        )
        print(
            f"  tiled x{args.tile} ({tiled['debtors']:,} debtors, {tiled['instalments']:,}"
            f" instalments, {tiled['allocations']:,} allocations, {tiled['snapshot_rows']:,}"
            f" snapshot rows, load {tiled['load']}): measures {tiled['measures']} (ledger"
            f" {tiled['measures_ledger']}); peak {tiled_peak:,.0f} MiB",
            flush=True,
        )
        print(
            f"  at {tiled['debtors']:,} debtors: (kpi_report - measures) x{args.tile} + tiled"
            " measures ="
            f" {estimate['wall_s']} s wall, {estimate['cpu_s']} CPU s; from the ledger"
            f" {old['wall_s']} s wall, {old['cpu_s']} CPU s (target {TARGET_SECONDS:.0f} s)",
            flush=True,
        )
    print(json.dumps({"debtors": args.debtors, "tile": args.tile, "rows": results}))


if __name__ == "__main__":
    main()
