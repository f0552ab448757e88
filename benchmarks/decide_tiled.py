"""``decide`` at N x a stored portfolio's size, without importing N x the data.

    .venv/bin/python benchmarks/decide_tiled.py tile URL TIMES DIR  # writes DIR/*.parquet
    .venv/bin/python benchmarks/decide_tiled.py decide DIR [--runs 3]

``tile`` reads the engine's input (``read_cycle_input``, the B2B example policy of the tree
imported, as of END, as ``benchmarks/cycle.py`` does) from the store at URL and writes it TIMES
over, each copy's ids shifted (every integer ``*_id`` column by ``k * 10**9``, every
``*external_id`` text suffixed ``~k``), so that TIMES x the debtors each have their own invoices,
payments and history. ``decide`` loads those frames into a ``CycleInput`` and times ``decide`` on
them (best of ``--runs``; wall seconds, and CPU seconds of the process's threads) in the process
that imports ``arrears`` from ``PYTHONPATH``: the same input for any version of the code whose
``CycleInput`` has these frames (an A/B of two trees without a store import each).

Used for the 1M-debtor ``decide`` of the issue 14 A/B (docs/benchmarks.md), where importing 1M
debtors with their payments took longer than the sitting had on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from datetime import date
from pathlib import Path

END = date(2026, 11, 23)
SHIFT = 10**9


def _policy() -> Path:
    """The shipped B2B policy of the tree whose ``arrears`` is imported (its templates match)."""
    import arrears

    return Path(arrears.__file__).resolve().parents[2] / "examples" / "policies" / "b2b.yaml"


def _load_compiled() -> object:
    path = _policy()
    try:
        from arrears.services.cycle import load_compiled
    except ImportError:  # before issue 14: the cycle job lived in arrears.jobs
        from arrears.jobs.cycle import load_compiled  # type: ignore[no-redef]
    return load_compiled(path)


def tile(url: str, times: int, out: Path) -> None:
    import polars as pl

    try:
        from arrears.store.cycle.read import read_cycle_input
    except ImportError:
        from arrears.store.cycle_read import read_cycle_input  # type: ignore[no-redef]
    from arrears.store.database import connect

    policy = _load_compiled()
    engine = connect(url)
    data = read_cycle_input(
        engine,
        portfolio="default",
        as_of=END,
        reopen_within_days=policy.policy.reopen_within_days,  # type: ignore[attr-defined]
    )
    engine.dispose()
    out.mkdir(parents=True, exist_ok=True)
    for name in type(data).__slots__:
        frame: pl.DataFrame = getattr(data, name)
        ids = [c for c, t in frame.schema.items() if c.endswith("_id") and t.is_integer()]
        texts = [c for c, t in frame.schema.items() if c.endswith("external_id") and t == pl.String]
        if name == "rates" or not (ids or texts):
            tiled = frame  # not per debtor
        else:
            tiled = pl.concat(
                [
                    frame.with_columns(
                        [(pl.col(c) + k * SHIFT).cast(frame.schema[c]) for c in ids]
                        + [pl.col(c) + f"~{k}" for c in texts]
                    )
                    for k in range(times)
                ]
            )
        tiled.write_parquet(out / f"{name}.parquet")
        print(f"{name}: {frame.height:,} -> {tiled.height:,} rows; shifted {ids + texts}")


def decide_runs(folder: Path, runs: int) -> dict[str, object]:
    import polars as pl

    from arrears.cycle.decide import decide
    from arrears.cycle.frames import CycleInput

    policy = _load_compiled()
    frames = {p.stem: pl.read_parquet(p) for p in sorted(folder.glob("*.parquet"))}
    data = CycleInput(**frames)
    seconds, cpu, decisions = [], [], None
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        decisions = decide(data, policy, END)  # type: ignore[arg-type]
        seconds.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    assert decisions is not None
    return {
        "debtors": data.debtors.height,
        "instalments": data.instalments.height,
        "decide_s": min(seconds),
        "runs": seconds,
        "cpu_s": min(cpu),
        "cpu_runs": cpu,
        "cases": decisions.cases.group_by("change").len().sort("change").rows(),
        "steps": decisions.steps.height,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("tile")
    t.add_argument("url")
    t.add_argument("times", type=int)
    t.add_argument("out", type=Path)
    d = sub.add_parser("decide")
    d.add_argument("folder", type=Path)
    d.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if args.command == "tile":
        tile(args.url, args.times, args.out)
    else:
        print(json.dumps(decide_runs(args.folder, args.runs), default=str))


if __name__ == "__main__":
    main()
