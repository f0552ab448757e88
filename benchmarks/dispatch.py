"""Benchmark of dispatch: the day's emails to a local SMTP server (aiosmtpd, in its own process)
by several ``arrears dispatch`` processes at once on one store.

    .venv/bin/python benchmarks/dispatch.py [--debtors 85000] [--workers 4] [--workdir DIR]
        [--pg-url URL] [--attach overdue|never|always|both] [--batch-size N] [--profile]

Setup (not timed): a workspace with a generated portfolio (seed 3, 4 months ending on DAY),
imported and run by the cycle as of DAY with the shipped B2B policy (85,000 debtors give about
10,000 emails for the day). ``--workdir`` keeps it for the next invocation; each invocation runs
on a fresh copy of the database (``--pg-url``: a PostgreSQL database is created from that copy's
rows with the same import, run and is dropped at the end).

Timed: ``--workers`` processes ``arrears dispatch --as-of DAY`` (emails through the ``smtp``
adapter, plain SMTP on 127.0.0.1; letters and SMS to the file sink) from their start until the
last exits. Printed: the machine, the outbox by channel and status before and after, the emails
the server received (all Message-IDs distinct: each message exactly once), messages a second
(emails received / wall time), the CPU time the workers and the server used (user + system)
and the rate that CPU time gives on the machine's cores when nothing else runs (emails / CPU
seconds x cores: the figure a shared machine distorts least; the wall rate is below it by
whatever else ran) and, with ``--profile``, where one worker's time goes (cProfile,
the top functions by cumulative and by own time). Targets (issues 5 and 19): >= 300 emails a
second without attachments (``--attach never``), >= 200 with the statement PDF on every dunning
email (``overdue``, the default, or ``always``). ``--attach both`` runs ``never`` then
``overdue``, each on a fresh copy, and prints the two rates and their ratio (on a shared
machine the ratio is the steadier figure). ``--batch-size``: ``dispatch.batch_size`` for the
workers (default: the workspace's, 100): the contact rules' read and verdicts are paid once a
batch.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pstats
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe

DAY = date(2026, 11, 20)
ROOT = Path(__file__).resolve().parents[1]
ARREARS = [sys.executable, "-m", "arrears.cli.app"]
#: emails a second, by ``--attach``
TARGETS = {"never": 300.0, "overdue": 200.0, "always": 200.0}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the SMTP server (its own process) -----------------------------------------------------------
def serve_smtp(port: int, out: Path) -> None:
    """Accept every message; on SIGTERM write how many arrived under each Message-ID."""
    from aiosmtpd.controller import Controller

    seen: Counter[str] = Counter()

    class Count:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            head = bytes(envelope.original_content or envelope.content).split(b"\r\n\r\n", 1)[0]
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"message-id:"):
                    seen[line.split(b":", 1)[1].strip().decode()] += 1
                    break
            else:
                seen[""] += 1
            return "250 OK"

    controller = Controller(Count(), hostname="127.0.0.1", port=port)
    controller.start()
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    loop.run_until_complete(stop.wait())
    controller.stop()
    out.write_text(json.dumps(dict(seen)))


# -- setup ---------------------------------------------------------------------------------------
def _arrears(ws: Path, *args: str, env: dict[str, str] | None = None) -> None:
    subprocess.run([*ARREARS, "-w", str(ws), *args], check=True, env=env, stdout=subprocess.DEVNULL)


def prepare(work: Path, debtors: int) -> Path:
    base = work / f"ws-{debtors}"
    if (base / "ready").exists():
        return base
    shutil.rmtree(base, ignore_errors=True)
    subprocess.run([*ARREARS, "init", str(base)], check=True, stdout=subprocess.DEVNULL)
    data = base / "data"
    subprocess.run(
        [*ARREARS, "generate", str(data), "--debtors", str(debtors), "--months", "4",
         "--seed", "3", "--as-of", DAY.isoformat()],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    for kind in ("debtors", "invoices", "payments"):
        _arrears(base, "import", kind, str(data / f"{kind}.csv"))
    _arrears(base, "run", "--as-of", DAY.isoformat())
    (base / "ready").write_text("")
    return base


def outbox_counts(url: str) -> dict[str, int]:
    from sqlalchemy import func, select

    from arrears.store.database import connect
    from arrears.store.schema import outbox

    engine = connect(url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(outbox.c.channel, outbox.c.status, func.count()).group_by(
                outbox.c.channel, outbox.c.status
            )
        ).all()
    engine.dispose()
    return {f"{c}/{s}": int(n) for c, s, n in sorted(rows)}


def pg_copy(base: Path, pg_url: str, ws: Path) -> str:
    """A fresh PostgreSQL database with the same portfolio: import and run as for SQLite."""
    from sqlalchemy import create_engine, text

    name = f"arrears_bench_dispatch_{os.getpid()}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    url = pg_url.rsplit("/", 1)[0] + "/" + name
    env = {**os.environ, "ARREARS_DATABASE_URL": url}
    subprocess.run([*ARREARS, "-w", str(ws), "db", "upgrade"], check=True, env=env,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    _arrears(ws, "portfolio", "add", "default", env=env)
    for kind in ("debtors", "invoices", "payments"):
        _arrears(ws, "import", kind, str(base / "data" / f"{kind}.csv"), env=env)
    _arrears(ws, "run", "--as-of", DAY.isoformat(), env=env)
    return url


def pg_drop(pg_url: str, url: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)"))
    admin.dispose()


# -- the timed part ------------------------------------------------------------------------------
def dispatch(
    ws: Path, url: str, workers: int, attach: str, profile: Path | None, batch: int | None = None
) -> float:
    port = _free_port()
    counts = ws / "smtp-counts.json"
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), str(counts)], stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert server.stdout is not None and server.stdout.readline().strip() == "ready"
    env = {
        **os.environ,
        "ARREARS_DATABASE_URL": url,
        "ARREARS_CHANNELS_EMAIL": "smtp",
        "ARREARS_SMTP_PORT": str(port),
        "ARREARS_SMTP_SECURITY": "none",
        "ARREARS_CHANNELS_ATTACH_STATEMENT": attach,
        **({"ARREARS_DISPATCH_BATCH_SIZE": str(batch)} if batch else {}),
        # the time the messages leave, for the contact rules (judged at that time, not at each
        # message's send_at): DAY 16:00 UTC, open in Europe and the Americas, not the real clock
        "ARREARS_TEST_DISPATCH_NOW": f"{DAY.isoformat()}T16:00:00+00:00",
    }
    command = ["-w", str(ws), "dispatch", "--as-of", DAY.isoformat()]
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    procs = []
    for i in range(workers):
        prefix = ARREARS
        if profile is not None and i == 0:
            prefix = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "arrears.cli.app"]
        procs.append(subprocess.Popen([*prefix, *command], env=env, stdout=subprocess.PIPE,
                                      text=True))  # fmt: skip
    outputs = [p.communicate()[0] for p in procs]
    wall = time.perf_counter() - start
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=60)
    now = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(getattr(now, f) - getattr(used, f) for f in ("ru_utime", "ru_stime"))
    for p, out in zip(procs, outputs, strict=True):
        if p.returncode != 0:
            raise SystemExit(f"a dispatch process failed ({p.returncode}): {out}")
        print("  " + " ".join(line for line in out.splitlines() if line.startswith("dispatch:")))
    seen: dict[str, int] = json.loads(counts.read_text())
    received = sum(seen.values())
    twice = sum(1 for n in seen.values() if n > 1)
    print(f"  emails received {received:,}, distinct Message-IDs {len(seen):,}, twice {twice}")
    cores = os.cpu_count() or 1
    if received and cpu:
        each = 1000 * cpu / received
        print(
            f"  CPU {cpu:,.1f} s (workers and SMTP server), {wall:,.1f} s wall: {each:.2f} ms"
            f" of CPU an email; on {cores} cores of their own: {received / cpu * cores:,.0f}"
            " emails/s (the figure a shared machine distorts least)"
        )
    return received / wall if wall else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--debtors", type=int, default=85_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/arrears-bench-dispatch"))
    parser.add_argument("--pg-url", default="")
    parser.add_argument(
        "--attach", choices=("overdue", "always", "never", "both"), default="overdue"
    )
    parser.add_argument("--batch-size", type=int, default=0)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_smtp(int(args.serve[0]), Path(args.serve[1]))
        return
    print(describe())
    args.workdir.mkdir(parents=True, exist_ok=True)
    base = prepare(args.workdir, args.debtors)
    modes = ["never", "overdue"] if args.attach == "both" else [args.attach]
    rates = {mode: run_once(args, base, mode) for mode in modes}
    if len(rates) == 2:
        print(
            f"statement PDF costs: {rates['never']:,.0f} -> {rates['overdue']:,.0f} emails/s "
            f"(x{rates['overdue'] / rates['never']:.2f} of the rate without it)"
        )


def run_once(args: argparse.Namespace, base: Path, attach: str) -> float:
    """One timed dispatch of the day on a fresh copy of the prepared workspace."""
    ws = args.workdir / "run"
    shutil.rmtree(ws, ignore_errors=True)
    shutil.copytree(base, ws, ignore=shutil.ignore_patterns("data", "ready"))
    store = "PostgreSQL" if args.pg_url else "SQLite"
    url = pg_copy(base, args.pg_url, ws) if args.pg_url else f"sqlite:///{ws / 'arrears.db'}"
    try:
        before = outbox_counts(url)
        print(f"{store}, {args.debtors:,} debtors, {args.workers} workers, "
              f"statement PDF: {attach}, batch size {args.batch_size or 'default'}; "
              f"outbox before: {before}")  # fmt: skip
        profile = ws / "worker.prof" if args.profile else None
        rate = dispatch(ws, url, args.workers, attach, profile, args.batch_size or None)
        print(f"  outbox after: {outbox_counts(url)}")
        target = TARGETS[attach]
        verdict = "meets" if rate >= target else "misses"  # by the wall rate
        print(f"  {rate:,.0f} emails/s ({verdict} the target of {target:.0f}/s)")
        if profile is not None:
            stats = pstats.Stats(str(profile))
            stats.sort_stats("cumulative").print_stats(25)
            stats.sort_stats("tottime").print_stats(15)
    finally:
        if args.pg_url:
            pg_drop(args.pg_url, url)
    return rate


if __name__ == "__main__":
    main()
