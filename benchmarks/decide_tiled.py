"""``decide`` at N x a stored portfolio's size, without importing N x the data.

    .venv/bin/python benchmarks/decide_tiled.py tile URL TIMES DIR  # writes DIR/*.parquet
    .venv/bin/python benchmarks/decide_tiled.py decide DIR [--runs 3] [--agreements 0.05]

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


def with_agreements(data: object, share: float, seed: int = 5) -> object:
    """``data`` with ``share`` of its debtors in a payment plan in good standing (some ended or
    broken) and another ``share`` with an open promise due in the next weeks: the issue 15
    benchmark's 5 % + 5 % on a real engine input."""
    import dataclasses
    import random
    from datetime import timedelta

    import polars as pl

    from arrears.cycle.frames import AGREEMENT_SCHEMA, PROMISE_SCHEMA

    rng = random.Random(seed)
    keys = data.debtors.select("debtor_id", "currency").unique().sort("debtor_id")  # type: ignore[attr-defined]
    n = int(keys.height * share)
    rows = keys.sample(n=2 * n, seed=seed, shuffle=True)
    planned, promised = rows.head(n), rows.tail(n)
    starts = [END - timedelta(days=rng.randrange(1, 200)) for _ in range(n)]
    agreements = pl.DataFrame(
        {
            "debtor_id": planned["debtor_id"],
            "currency": planned["currency"],
            "starts_on": starts,
            "ends_on": [d + timedelta(days=180) if rng.random() < 0.7 else None for d in starts],
            "broken_on": [d + timedelta(days=40) if rng.random() < 0.2 else None for d in starts],
        },
        schema=AGREEMENT_SCHEMA,
    )
    promises = pl.DataFrame(
        {
            "promise_id": range(1, n + 1),
            "debtor_id": promised["debtor_id"],
            "currency": promised["currency"],
            "made_on": [END - timedelta(days=rng.randrange(0, 10)) for _ in range(n)],
            "due_on": [END + timedelta(days=rng.randrange(1, 30)) for _ in range(n)],
            "amount_minor": [rng.randrange(1_000, 500_000) for _ in range(n)],
            "grace_days": [3] * n,
            "paid_minor": [0] * n,
        },
        schema=PROMISE_SCHEMA,
    )
    old = data.promises  # type: ignore[attr-defined]
    return dataclasses.replace(
        data,  # type: ignore[type-var]
        promises=pl.concat([old.select(list(PROMISE_SCHEMA)).cast(PROMISE_SCHEMA), promises]),
        agreements=agreements,
    )


def agreements_ab(folder: Path, runs: int, share: float) -> dict[str, object]:
    """``decide`` on the tiled input as it is and with ``share`` + ``share`` of the debtors in a
    plan / with a promise (:func:`with_agreements`), alternating, in one process: the ratio of
    the best times is the issue 15 figure (within 10 %)."""
    import polars as pl

    from arrears.cycle.decide import decide
    from arrears.cycle.frames import CycleInput

    policy = _load_compiled()
    frames = {p.stem: pl.read_parquet(p) for p in sorted(folder.glob("*.parquet"))}
    plain = CycleInput(**frames)
    busy = with_agreements(plain, share)
    out: dict[str, list[float]] = {"plain_s": [], "with_s": [], "plain_cpu": [], "with_cpu": []}
    paused = {}
    for _ in range(runs):
        for name, data in (("plain", plain), ("with", busy)):
            before = resource.getrusage(resource.RUSAGE_SELF)
            start = time.perf_counter()
            decisions = decide(data, policy, END)  # type: ignore[arg-type]
            out[f"{name}_s"].append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_SELF)
            used = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            out[f"{name}_cpu"].append(used)
            paused[name] = decisions.cases.height
    return {
        "debtors": plain.debtors.height,
        "share": share,
        "plans": busy.agreements.height,  # type: ignore[attr-defined]
        "promises_added": busy.promises.height - plain.promises.height,  # type: ignore[attr-defined]
        **out,
        "ratio_best_wall": min(out["with_s"]) / min(out["plain_s"]),
        "ratio_best_cpu": min(out["with_cpu"]) / min(out["plain_cpu"]),
        "case_rows": paused,
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
    d.add_argument(
        "--agreements",
        type=float,
        default=None,
        help="Also with this share of debtors in a plan and the same share with a promise "
        "(issue 15: 0.05), alternating with the input as it is; prints both and the ratio.",
    )
    args = parser.parse_args()
    if args.command == "tile":
        tile(args.url, args.times, args.out)
    elif args.agreements is not None:
        print(json.dumps(agreements_ab(args.folder, args.runs, args.agreements), default=str))
    else:
        print(json.dumps(decide_runs(args.folder, args.runs), default=str))


if __name__ == "__main__":
    main()
