"""Benchmark: the collectors' pages under load (issue 16 section 7), on a workspace's store.

    .venv/bin/python benchmarks/web_load.py WORKSPACE [--users 5] [--queue calls]
        [--vus 20] [--duration 60] [--workers 2] [--port 8765] [--setup-only]

Through the command line (not SQL), adds ``--users`` collectors (``load-1`` ...) working
``--queue`` (skipped when they exist) and an API token for a collector; ``arrears run`` gives
them the queue's tasks (run it after ``--setup-only`` on a store without tasks assigned). Then
starts ``arrears serve --workers N`` on the workspace and lets ``--vus`` virtual users (threads,
one httpx client each, its own cookies) log in through the real form (CSRF token, session
cookie), as the collectors in turn, and repeat for ``--duration`` seconds: their worklist page,
the account page of a task from it (a random one of the page), and the worklist filtered by queue
and stage (``GET /api/v1/worklist?queue=&stage=``, the filters the collectors' worklist has, with
the collector's token). Prints per page the count, errors, p50/p95/p99, the requests per
second, the load average before and after, and the CPU seconds of the server processes and of
the PostgreSQL backends serving them during the run (on a shared machine the wall time measures
the queue for the cores too); a last line holds everything as JSON. Target: p95 < 200 ms for
the worklist and the account page with 20 concurrent users.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe

ARREARS = str(Path(sys.executable).parent / "arrears")
PASSWORD = "load-test-password-1"
TARGET_MS = 200.0
PAGES = ("worklist", "account", "worklist filtered (API)")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
ACCOUNT = re.compile(r'href="/accounts/([^"]+)"')


def _cli(ws: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ARREARS, "-w", str(ws), *args], input=stdin, capture_output=True, text=True, check=False
    )


def setup(ws: Path, users: int, queue: str) -> str:
    """The collectors and an API token (through the command line); the token."""
    listed = _cli(ws, "user", "list", "--format", "csv").stdout
    for name in _names(users):
        if f"{name}," in listed:
            continue
        done = _cli(
            ws, "user", "add", name, "--role", "collector", "--queue", queue,
            "--password-stdin", stdin=PASSWORD + "\n",
        )  # fmt: skip
        if done.returncode:
            raise SystemExit(f"arrears user add {name}: {done.stdout}{done.stderr}")
    token_file = ws / ".web_load_token"
    if not token_file.exists():
        done = _cli(ws, "token", "add", f"web-load-{os.getpid()}", "--role", "collector")
        if done.returncode:
            raise SystemExit(f"arrears token add: {done.stdout}{done.stderr}")
        token = next(w for w in done.stdout.split() if len(w) >= 32)
        token_file.write_text(token)
    return token_file.read_text().strip()


def _names(users: int) -> list[str]:
    return [f"load-{i}" for i in range(1, users + 1)]


def _tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of ``pid`` and its children, alive now."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            todo += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def _backends_cpu(pids: set[int]) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except FileNotFoundError:
            continue
    return total


def _pg_backends(url: str) -> tuple[set[int], dict[int, float]]:
    """The PostgreSQL backends of the store's database and their CPU seconds now."""
    if not url.startswith("postgresql"):
        return set(), {}
    import psycopg

    dbname = url.rsplit("/", 1)[1].split("?", maxsplit=1)[0]
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (dbname,),
        ).fetchall()
    pids = {int(r[0]) for r in rows}
    return pids, {p: _backends_cpu({p}) for p in pids}


def serve(ws: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    log = open(f"/tmp/web_load_serve_{port}.log", "wb")  # noqa: SIM115 (the server's life)
    proc = subprocess.Popen(
        [ARREARS, "-w", str(ws), "serve", "--port", str(port), "--workers", str(workers)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"arrears serve exited, see /tmp/web_load_serve_{port}.log")
        if time.monotonic() > deadline:
            raise SystemExit("arrears serve did not answer in 120 s")
        time.sleep(0.2)


class Results:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = {}
        self.errors: dict[str, list[str]] = {}

    def add(self, page: str, seconds: float, error: str | None) -> None:
        with self.lock:
            self.times.setdefault(page, []).append(seconds)
            self.errors.setdefault(page, [])
            if error:
                self.errors[page].append(error)


def _login(client: httpx.Client, name: str) -> None:
    form = client.get("/login")
    found = CSRF.search(form.text)
    assert found, "no CSRF token on /login"
    done = client.post(
        "/login",
        data={"csrf": found.group(1), "next": "/worklist", "username": name, "password": PASSWORD},
    )
    if done.status_code != 303:
        raise SystemExit(f"log in as {name}: {done.status_code} {done.text[:300]}")


def virtual_user(
    base: str,
    name: str,
    token: str,
    until: float,
    results: Results,
    seed: int,
    filters: str,
    timeout: float = 30.0,
    pages: frozenset[str] = frozenset(PAGES),
    accounts: list[str] | None = None,
) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=base, timeout=timeout, follow_redirects=False) as client:
        _login(client, name)
        api = {"Authorization": f"Bearer {token}"}
        debtors: list[str] = []
        while time.monotonic() < until:
            for page, fixed, headers in (
                ("worklist", "/worklist", None),
                ("account", None, None),
                ("worklist filtered (API)", f"/api/v1/worklist?{filters}", api),
            ):
                if page == "worklist" and debtors and page not in pages:
                    continue  # (the worklist is read once for its accounts)
                known = accounts or debtors
                if page != "worklist" and (page not in pages or (fixed is None and not known)):
                    continue
                path = fixed or f"/accounts/{rng.choice(known)}"
                start = time.perf_counter()
                error = None
                try:
                    answer = client.get(path, headers=headers)
                    if answer.status_code != 200:
                        error = f"{answer.status_code} {path}"
                    elif page == "worklist":
                        debtors = ACCOUNT.findall(answer.text)
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__} {path}"
                if page in pages:
                    results.add(page, time.perf_counter() - start, error)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace", type=Path)
    parser.add_argument("--users", type=int, default=5, help="collectors (the VUs share them)")
    parser.add_argument("--queue", default="calls")
    parser.add_argument("--stage", default="administrative", help="the API worklist's filter")
    parser.add_argument("--vus", type=int, default=20)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--timeout", type=float, default=30.0, help="a request's, in seconds")
    parser.add_argument(
        "--pages",
        default="worklist,account,api",
        help="which pages the virtual users load (worklist, account, api: the filtered one)",
    )
    parser.add_argument(
        "--accounts-file",
        type=Path,
        help="a debtors CSV (first column the debtor's id): the account pages are a random "
        "1,000 of its debtors instead of the worklist's (a store before its first run)",
    )
    parser.add_argument("--setup-only", action="store_true")
    args = parser.parse_args()
    from arrears import config

    ws = args.workspace.resolve()
    url = config.load(ws).database_url
    token = setup(ws, args.users, args.queue)
    if args.setup_only:
        print(f"{args.users} collectors of queue {args.queue!r} and an API token ready")
        return
    print(describe())
    proc = serve(ws, args.port, args.workers)
    base = f"http://127.0.0.1:{args.port}"
    results = Results()
    filters = f"queue={args.queue}&stage={args.stage}&top=50"
    named = {"worklist": PAGES[0], "account": PAGES[1], "api": PAGES[2]}
    pages = frozenset(named[p.strip()] for p in args.pages.split(","))
    accounts = None
    if args.accounts_file is not None:
        with args.accounts_file.open(encoding="utf-8") as f:
            ids = [line.split(",", 1)[0] for line in f][1:]
        accounts = random.Random(1).sample(ids, min(1000, len(ids)))
    try:
        # warm up: each worker process opens its connections, loads the policy and the model
        # (the first account page of a process), on a few connections for a few seconds
        warm = Results()
        names = _names(args.users)
        warmers = [
            threading.Thread(
                target=virtual_user,
                args=(base, names[i % len(names)], token, time.monotonic() + 8, warm, 100 + i,
                      filters, args.timeout, pages, accounts),
            )
            for i in range(2 * args.workers)
        ]  # fmt: skip
        for t in warmers:
            t.start()
        for t in warmers:
            t.join()
        load_before = os.getloadavg()
        _, pg_before = _pg_backends(url)
        cpu_before = _tree_cpu(proc.pid)
        until = time.monotonic() + args.duration
        start = time.perf_counter()
        threads = [
            threading.Thread(
                target=virtual_user,
                args=(
                    base,
                    names[i % len(names)],
                    token,
                    until,
                    results,
                    i + 1,
                    filters,
                    args.timeout,
                    pages,
                    accounts,
                ),
            )
            for i in range(args.vus)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
        cpu = _tree_cpu(proc.pid) - cpu_before
        pg_pids_after, _ = _pg_backends(url)
        pg_cpu = _backends_cpu(pg_pids_after) - sum(pg_before.get(p, 0.0) for p in pg_pids_after)
        load_after = os.getloadavg()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    total = sum(len(v) for v in results.times.values())
    print(
        f"{args.vus} virtual users as {args.users} collectors, {args.workers} server processes,"
        f" {wall:.1f} s; {total} requests, {total / wall:.1f} requests/s;"
        f" load average {load_before[0]:.1f} before, {load_after[0]:.1f} after;"
        f" server CPU {cpu:.1f} s, PostgreSQL backends CPU {pg_cpu:.1f} s"
        f" (of {2 * wall:.0f} core-seconds on 2 cores)"
    )
    rows: list[dict[str, Any]] = []
    for page, values in results.times.items():
        errors = results.errors[page]
        row = {
            "page": page,
            "count": len(values),
            "errors": len(errors),
            "p50_ms": round(_pct(values, 0.50), 1),
            "p95_ms": round(_pct(values, 0.95), 1),
            "p99_ms": round(_pct(values, 0.99), 1),
            "per_s": round(len(values) / wall, 1),
        }
        rows.append(row)
        verdict = ""
        if page in ("worklist", "account"):
            met = row["p95_ms"] < TARGET_MS and not errors
            verdict = f"  target p95 < {TARGET_MS:.0f} ms {'met' if met else 'missed'}"
        print(
            f"  {page:<24} {row['count']:>6} requests {row['errors']:>4} errors"
            f"  p50 {row['p50_ms']:7.1f} ms  p95 {row['p95_ms']:7.1f} ms"
            f"  p99 {row['p99_ms']:7.1f} ms  {row['per_s']:6.1f}/s{verdict}"
        )
        if errors:
            print(f"    first errors: {errors[:3]}")
    print(
        json.dumps(
            {
                "vus": args.vus,
                "workers": args.workers,
                "seconds": round(wall, 1),
                "requests_per_s": round(total / wall, 1),
                "load_before": round(load_before[0], 1),
                "load_after": round(load_after[0], 1),
                "server_cpu_s": round(cpu, 1),
                "pg_cpu_s": round(pg_cpu, 1),
                "pages": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
