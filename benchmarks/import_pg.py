"""Benchmark: the invoices import into PostgreSQL, with where its time goes.

    .venv/bin/python benchmarks/import_pg.py [--debtors 60000] [--months 5] [--runs 1]
        [--pg postgresql://postgres@127.0.0.1:5432] [--src DIR ...] [--server-only]

Generates a portfolio once (cached in /tmp/arrears-bench-import-pg/), imports its debtors into a
database ``arrears_bench_import_base`` (kept, rebuilt when the data changes), and then, for every
run and every ``--src`` (a checkout's ``src`` folder, for an A/B of two versions of the code on
the same data, alternating), copies that database to a fresh ``arrears_bench_import`` and times
the normal importer (``import_files``) on the invoices file in a child process. The test suite's
database ``test`` is never touched.

Each timed run prints its phases, measured by wrapping the importer's own functions (time spent
inside them, on the thread that called them): ``read`` (reading and validating a batch, on the
read-ahead thread), ``wait_read`` (the loader waiting for the next batch), ``prepare`` (portfolio
and debtor references), ``hash`` (idempotency hashes), ``existing`` (looking
up the invoices already stored), ``encode`` (the ``COPY`` bodies), ``copy_invoice`` /
``copy_instalment`` (the ``COPY`` of each table: on PostgreSQL the invoices' ``COPY``s run on a
thread of their own while the next batch is computed, so the phases' wall times overlap),
``indexes`` (the indexes a large first load builds at its end), ``close`` (counts and the
``import.applied`` activity), ``commit`` and ``vacuum``.

``--server-only`` measures the server alone: the rows the importer wrote, dumped in COPY's
binary format (as the importer sends them), are copied back into a fresh copy of the base
database (foreign-key triggers off, as the importer does), one table after the other and then
both at once on two connections; with the server's CPU time of each.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe

END = date(2026, 11, 23)
CACHE = Path("/tmp/arrears-bench-import-pg")
BASE = "arrears_bench_import_base"
FRESH = "arrears_bench_import"


def _admin(pg: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(f"{pg}/postgres", autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def _fresh(pg: str, name: str, template: str | None = None) -> str:
    _admin(
        pg,
        f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
        f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""),
    )
    return f"{pg}/{name}"


def _data(debtors: int, months: int) -> Path:
    folder = CACHE / f"d{debtors}-m{months}-s1" / "data"
    if not (folder / "invoices.csv").exists():
        from arrears.demo.generate import generate

        stats = generate(debtors, months, 1, END, folder)
        print(f"generated {stats.instalments:,} invoice rows into {folder}", flush=True)
    return folder


def _base(pg: str, data: Path) -> None:
    """The database with the debtors imported, built once per data set."""
    stamp = data.parent / "base-db"
    if stamp.exists() and stamp.read_text() == pg:
        import psycopg

        with psycopg.connect(f"{pg}/postgres") as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (BASE,)).fetchone()
        if found:
            return
    stamp.unlink(missing_ok=True)
    url = _fresh(pg, BASE)
    out = _child(["debtors", str(data / "debtors.csv"), url])
    print(f"debtors imported: {out['rows']:,} rows in {out['seconds']:.1f} s", flush=True)
    stamp.write_text(pg)


def _child(args: list[str], src: str | None = None) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", *args]
    if src:
        command += ["--src", src]
    out = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Phases:
    """Time spent inside wrapped functions, per phase name (outermost call only per thread)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.server: dict[str, float] = defaultdict(float)
        #: the server backend of the import's connection, while it is checked out
        self.backend: int | None = None
        self._local = threading.local()

    def _server(self) -> float:
        return 0.0 if self.backend is None else _backend_cpu(self.backend)

    def wrap(self, owner: Any, attribute: str, phase: str | Callable[..., str]) -> None:
        inner = getattr(owner, attribute)

        @functools.wraps(inner)
        def timed(*args: Any, **kwargs: Any) -> Any:
            name = phase(*args, **kwargs) if callable(phase) else phase
            depth = getattr(self._local, "depth", 0)
            self._local.depth = depth + 1
            start, cpu, server = time.perf_counter(), _cpu(), self._server()
            try:
                return inner(*args, **kwargs)
            finally:
                self._local.depth = depth
                if depth == 0:
                    self.seconds[name] += time.perf_counter() - start
                    self.cpu[name] += _cpu() - cpu
                    self.server[name] += self._server() - server

        setattr(owner, attribute, timed)


def _instrument(phases: Phases) -> None:
    from arrears.io import importer, read_ahead
    from arrears.store import bulk
    from arrears.store.loading import invoices as load_invoices
    from arrears.store.loading import lookups, records

    # references resolved and locked ("_prepare" before the loads were staged)
    phases.wrap(
        load_invoices, "_resolve" if hasattr(load_invoices, "_resolve") else "_prepare", "prepare"
    )
    phases.wrap(records, "group_hashes", "hash")
    if hasattr(load_invoices, "_hashes"):  # the one-instalment shortcut calls row_hashes
        phases.wrap(load_invoices, "_hashes", "hash")
    phases.wrap(lookups, "lookup", "existing")  # the debtors' lookup runs inside "prepare"
    phases.wrap(
        bulk,
        "insert_frame",
        lambda conn, table, frame, **_: "copy_" + (table if isinstance(table, str) else table.name),
    )
    phases.wrap(bulk, "reserve_ids", "reserve_ids")
    if hasattr(load_invoices, "build_indexes"):  # a large first load builds indexes at its end
        phases.wrap(load_invoices, "build_indexes", "indexes")
    if hasattr(bulk, "EncodedCopy"):  # COPY bodies encoded apart from their COPY
        phases.wrap(bulk.CopyTarget, "encode", "encode")
        phases.wrap(bulk.EncodedCopy, "write", lambda body, conn: "copy_" + body.target.table)
    phases.wrap(importer, "close_batch", "close")
    phases.wrap(importer, "_vacuum_analyze", "vacuum")
    original_read = getattr(importer, "read_file")  # noqa: B009 (not exported)

    def read_file(*args: Any, **kwargs: Any) -> Any:
        batches = original_read(*args, **kwargs)

        def timed() -> Any:
            while True:
                start, cpu = time.perf_counter(), _cpu()
                try:
                    batch = next(batches)
                except StopIteration:
                    return
                finally:
                    phases.seconds["read"] += time.perf_counter() - start
                    phases.cpu["read"] += _cpu() - cpu
                yield batch

        return timed()

    setattr(importer, "read_file", read_file)  # noqa: B010
    take = read_ahead.ReadAhead._take

    def waited(self: Any) -> Any:
        items = take(self)
        while True:
            start = time.perf_counter()
            try:
                item = next(items)
            except StopIteration:
                return
            finally:
                phases.seconds["wait_read"] += time.perf_counter() - start
            yield item

    setattr(read_ahead.ReadAhead, "_take", waited)  # noqa: B010
    from sqlalchemy.engine import Transaction

    phases.wrap(Transaction, "commit", "commit")


class _InOrder:
    """ReadAhead without the thread (``--sequential``): one phase at a time, so that the
    process's CPU time can be split by phase."""

    def __init__(self, batches: Any) -> None:
        self.batches = batches

    def __enter__(self) -> Any:
        return self.batches

    def __exit__(self, *_: object) -> None:
        pass


def child(kind: str, path: str, url: str, profile: bool, sequential: bool) -> None:
    from arrears.domain.columns import Kind
    from arrears.io.batches import ReadOptions
    from arrears.io.importer import import_files
    from arrears.store.database import connect, upgrade
    from arrears.store.portfolios import ensure_portfolio

    engine = connect(url)
    phases = Phases()
    backends = _server_cpu(engine, phases)
    if kind == "debtors":
        upgrade(url)
        with engine.begin() as conn:
            ensure_portfolio(conn, "default", name=None, base_currency="USD", actor="bench")
    if profile:
        _instrument(phases)
    if sequential:
        from arrears.io import importer

        setattr(importer, "ReadAhead", _InOrder)  # noqa: B010
    options = ReadOptions(batch_rows=200_000)  # as benchmarks/ledger.py
    backends.clear()
    exited = _exited_server_cpu()
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    report = import_files(engine, Kind(kind), [Path(path)], options, actor="bench")
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    client_cpu = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
    exited = _exited_server_cpu() - exited
    if report.problems or not report.committed:
        raise SystemExit(f"{len(report.problems)} problems, first: {report.problems[0]}")
    with engine.connect() as conn:
        invoices = conn.exec_driver_sql("SELECT count(*) FROM invoice").scalar_one()
    result = {
        "rows": report.rows,
        "invoices": invoices,
        "created": report.created,
        "seconds": seconds,
        "client_cpu": client_cpu,
        "server_cpu": sum(backends.values()),
        "exited_server_cpu": exited,
        "phases": dict(phases.seconds),
        "phases_cpu": dict(phases.cpu),
        "phases_server": dict(phases.server),
    }
    print(json.dumps(result))


def _exited_server_cpu() -> float:
    """CPU seconds of the server's processes that have ended (its parallel workers, e.g. of an
    index build): the postmaster's children's time (``cutime``, ``cstime``). Any other session
    that ends meanwhile counts too, so on a shared server this is an upper bound."""
    pidfile = Path("/var/run/postgresql/15-main.pid")
    if not pidfile.exists():
        return 0.0
    pid = int(pidfile.read_text().split()[0])
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def _backend_cpu(pid: int) -> float:
    """CPU seconds used so far by a process of this machine (the server's backend)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _server_cpu(engine: Any, phases: Phases) -> dict[int, float]:
    """CPU seconds of every server backend this engine's connections used (read from /proc when
    the connection is returned: the server runs on this machine)."""
    from sqlalchemy import event

    used: dict[int, float] = {}
    cpu_of = _backend_cpu

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi: Any, record: Any, proxy: Any) -> None:
        record.info["bench_pid"] = pid = dbapi.info.backend_pid
        record.info["bench_cpu"] = cpu_of(pid)
        if phases.backend is None:
            phases.backend = pid

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi: Any, record: Any) -> None:
        pid = record.info.get("bench_pid")
        if pid is not None:
            used[pid] = used.get(pid, 0.0) + cpu_of(pid) - record.info["bench_cpu"]
            if phases.backend == pid:
                phases.backend = None

    return used


def server_only(pg: str, url: str) -> None:
    """COPY the stored invoices and instalments back into a fresh copy of the base database."""
    import psycopg

    dumps: dict[str, bytes] = {}
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        for table in ("invoice", "instalment"):
            with cur.copy(f"COPY {table} TO STDOUT (FORMAT binary)") as cp:
                dumps[table] = b"".join(bytes(chunk) for chunk in cp)

    def load(conn: Any, table: str) -> None:
        conn.execute("SET LOCAL session_replication_role = replica")
        with conn.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN (FORMAT binary)") as cp:
            cp.write(dumps[table])

    target = _fresh(pg, FRESH, BASE)
    with psycopg.connect(target) as conn:
        timings = {}
        for table in ("invoice", "instalment"):
            start, cpu = time.perf_counter(), _backend_cpu(conn.info.backend_pid)
            load(conn, table)
            timings[table] = time.perf_counter() - start
            timings[f"{table} (server CPU)"] = _backend_cpu(conn.info.backend_pid) - cpu
        start = time.perf_counter()
        conn.commit()
        timings["commit"] = time.perf_counter() - start
    spent = ", ".join(f"{k} {v:.2f} s" for k, v in timings.items())
    print(f"server alone, one connection: {spent}")
    target = _fresh(pg, FRESH, BASE)
    conns = [psycopg.connect(target), psycopg.connect(target)]
    start = time.perf_counter()
    threads = [
        threading.Thread(target=load, args=(c, t))
        for c, t in zip(conns, ("invoice", "instalment"), strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for conn in conns:
        conn.commit()
        conn.close()
    print(f"server alone, two connections at once: {time.perf_counter() - start:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debtors", type=int, default=60_000)
    parser.add_argument("--months", type=int, default=5)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--src", action="append", help="a src folder to import arrears from")
    parser.add_argument("--server-only", action="store_true")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument(
        "--sequential", action="store_true", help="no read-ahead thread: CPU time per phase"
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        src = args.src[0] if args.src else None
        if src:
            sys.path.insert(0, src)
        kind, path, url = args.child
        child(kind, path, url, profile=not args.no_profile, sequential=args.sequential)
        return
    print(describe(), flush=True)
    data = _data(args.debtors, args.months)
    _base(args.pg, data)
    sources = args.src or [None]
    for run in range(args.runs):
        for src in sources:
            url = _fresh(args.pg, FRESH, BASE)
            extra = ["--no-profile"] if args.no_profile else []
            extra += ["--sequential"] if args.sequential else []
            out = _child(["invoices", str(data / "invoices.csv"), url, *extra], src)
            rate = out["invoices"] / out["seconds"]
            print(
                f"run {run + 1} [{src or 'installed'}]: {out['rows']:,} rows, "
                f"{out['invoices']:,} invoices in {out['seconds']:.2f} s = {rate:,.0f} invoices/s "
                f"({out['rows'] / out['seconds']:,.0f} rows/s)",
                flush=True,
            )
            print(
                f"  CPU: client {out['client_cpu']:.2f} s, server {out['server_cpu']:.2f} s "
                f"(+ {out.get('exited_server_cpu', 0.0):.2f} s of server processes that ended: "
                "parallel workers, and any other session's)",
                flush=True,
            )
            phases = sorted(out["phases"].items(), key=lambda kv: -kv[1])
            print("  wall: " + ", ".join(f"{k} {v:.2f} s" for k, v in phases), flush=True)
            cpu = sorted(out["phases_cpu"].items(), key=lambda kv: -kv[1])
            print("  client CPU: " + ", ".join(f"{k} {v:.2f} s" for k, v in cpu), flush=True)
            cpu = sorted(out["phases_server"].items(), key=lambda kv: -kv[1])
            print("  server CPU: " + ", ".join(f"{k} {v:.2f} s" for k, v in cpu), flush=True)
    if args.server_only:
        server_only(args.pg, f"{args.pg}/{FRESH}")


if __name__ == "__main__":
    main()
