"""Where the first day's commit goes: ``run`` once with every SQL statement timed.

    .venv/bin/python benchmarks/first_day_profile.py URL [--as-of 2026-11-23] [--top 25]

Runs ``arrears run``'s use case (``run_cycle``, the B2B policy of ``first_day.py``) on the store
at ``URL`` (a copy: it writes) and prints, per statement (its first words), the count, the wall
seconds and this thread's CPU seconds (SQLite runs in it; PostgreSQL's server time is not in
it), largest first; then the phases, the bytes the process wrote (``/proc/self/io``) and the
process's resident set after each phase (``ru_maxrss`` so far).
"""

from __future__ import annotations

import argparse
import re
import resource
import sys
import time
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

POLICY = Path(__file__).resolve().parents[1] / "examples" / "policies" / "b2b.yaml"


def _written() -> int:
    try:
        for line in Path("/proc/self/io").read_text().splitlines():
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _label(sql: str) -> str:
    words = re.sub(r"\s+", " ", sql).strip()
    return words[:110]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--as-of", default="2026-11-23")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--mmap-mib", type=int, help="the commit's SQLite memory map (default: write.py's)"
    )
    args = parser.parse_args()

    from sqlalchemy import event

    from arrears.domain.actor import system
    from arrears.services.cycle import Timings, load_compiled, run_cycle
    from arrears.services.uow import SqlUnitOfWork
    from arrears.store.database import connect

    engine = connect(args.url)
    stats: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    marks: dict[int, tuple[float, float]] = {}

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        marks[id(cursor)] = (time.perf_counter(), time.thread_time())

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        wall, cpu = marks.pop(id(cursor), (time.perf_counter(), time.thread_time()))
        entry = stats[_label(statement)]
        entry[0] += 1
        entry[1] += time.perf_counter() - wall
        entry[2] += time.thread_time() - cpu

    # the parts of the commit that are not statements: the effects, the step frame, COMMIT
    from arrears.store.cycle import write

    def timed(name: str, fn: Any) -> Any:
        def wrapper(*a: Any, **k: Any) -> Any:
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return fn(*a, **k)
            finally:
                entry = stats[f"[{name}]"]
                entry[0] += 1
                entry[1] += time.perf_counter() - wall
                entry[2] += time.thread_time() - cpu

        return wrapper

    for name in ("effects", "_step_frame", "_debtor_names"):
        setattr(write, name, timed(name, getattr(write, name)))
    if args.mmap_mib is not None:
        write.SQLITE_MMAP_BYTES = args.mmap_mib * 2**20
    commit = write.commit_decisions

    def commit_decisions(*a: Any, **k: Any) -> Any:
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS before the commit {rss:,.0f} MiB", flush=True)
        return commit(*a, **k)

    import arrears.services.cycle as service

    service.commit_decisions = commit_decisions  # type: ignore[assignment]
    engine.dialect.do_commit = timed("COMMIT", engine.dialect.do_commit)  # type: ignore[method-assign]

    timings = Timings()
    usage0, wrote0, start = (
        resource.getrusage(resource.RUSAGE_SELF),
        _written(),
        time.perf_counter(),
    )
    decisions, summary = run_cycle(
        SqlUnitOfWork(engine),
        system("cycle"),
        portfolio="default",
        as_of=date.fromisoformat(args.as_of),
        policy=load_compiled(POLICY),
        at=datetime.now(UTC),
        timings=timings,
    )
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        f"run {wall:.2f} s wall (read {timings.read:.2f}, score {timings.score:.2f}, decide "
        f"{timings.decide:.2f}, commit {timings.commit:.2f}); CPU user "
        f"{usage.ru_utime - usage0.ru_utime:.2f} + system {usage.ru_stime - usage0.ru_stime:.2f}"
        f"; wrote {(_written() - wrote0) / 2**30:.2f} GiB; peak RSS {usage.ru_maxrss / 1024:,.0f}"
        f" MiB; load {Path('/proc/loadavg').read_text().split()[:3]}"
    )
    print("summary", {k: v for k, v in summary.as_dict().items() if v})
    ranked = sorted(stats.items(), key=lambda kv: -kv[1][1])
    total = sum(v[1] for v in stats.values())
    print(f"statements: {total:.2f} s wall in {sum(v[0] for v in stats.values()):,.0f} calls")
    for label, (n, secs, cpu) in ranked[: args.top]:
        print(f"  {secs:8.2f} s wall {cpu:8.2f} s CPU {int(n):>8,}x  {label}")
    del decisions


if __name__ == "__main__":
    main()
