"""``decide`` at N x a stored portfolio's size, without importing N x the data.

    .venv/bin/python benchmarks/decide_tiled.py tile URL TIMES DIR [--rules-scores]
    .venv/bin/python benchmarks/decide_tiled.py decide DIR [--runs 3] [--agreements 0.05]
        [--reference] [--save OUT]
    .venv/bin/python benchmarks/decide_tiled.py ab --before SRC [--after SRC] DIR [DIR ...]
        [--runs 3] [--rounds 2]

``tile`` reads the engine's input (``read_cycle_input``, the B2B example policy of the tree
imported, as of END, as ``benchmarks/cycle.py`` does) from the store at URL and writes it TIMES
over, each copy's ids shifted (every integer ``*_id`` column by ``k * 10**9``, every
``*external_id`` text suffixed ``~k``), so that TIMES x the debtors each have their own invoices,
payments and history. ``decide`` loads those frames into a ``CycleInput`` and times ``decide`` on
them (best of ``--runs``; wall seconds, and CPU seconds of the process's threads) in the process
that imports ``arrears`` from ``PYTHONPATH``: the same input for any version of the code whose
``CycleInput`` has these frames (an A/B of two trees without a store import each).

``--rules-scores``: the scores frame is the rules score ``run`` computes without a model
(``arrears.services.cycle._rules_scores``, as ``benchmarks/first_day.py`` does), not the store's.
``--reference``: the DuckDB full-feature reference (b) (``cycle_reference.reference_features``)
is timed in the same process, alternating with ``decide``, and the ratio printed.

``ab``: an A/B of two trees in one sitting: for each round and each DIR, a process of the tree
before (``PYTHONPATH=SRC``, e.g. ``git archive COMMIT | tar -x -C SRC/..``) then one of the
working tree, each ``decide --reference``; the best CPU seconds of each tree and its ratio to
(b) measured in its own process; the decisions (cases, steps) of both trees are compared.

Used for the 1M-debtor ``decide`` of the issue 14 A/B (docs/benchmarks.md), where importing 1M
debtors with their payments took longer than the sitting had on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
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


def tile(url: str, times: int, out: Path, rules_scores: bool = False) -> None:
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
    if rules_scores:  # what run scores with when there is no model (first_day.py's decide phase)
        from dataclasses import replace

        from arrears.scoring.rules import rules_score_frame
        from arrears.services.cycle import _rules_scores

        data = replace(data, scores=_rules_scores(rules_score_frame, data, END))
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


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def decide_runs(
    folder: Path, runs: int, *, reference: bool = False, save: Path | None = None
) -> dict[str, object]:
    import polars as pl

    from arrears.cycle.decide import decide
    from arrears.cycle.frames import CycleInput

    policy = _load_compiled()
    frames = {p.stem: pl.read_parquet(p) for p in sorted(folder.glob("*.parquet"))}
    data = CycleInput(**frames)
    seconds, cpu, b_seconds, b_cpu, decisions = [], [], [], [], None
    for _ in range(runs):
        before, start = _cpu(), time.perf_counter()
        decisions = decide(data, policy, END)  # type: ignore[arg-type]
        seconds.append(time.perf_counter() - start)
        cpu.append(_cpu() - before)
        if reference:  # the yardstick, alternating with decide in this process
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from cycle_reference import reference_features

            buckets = list(policy.policy.buckets)  # type: ignore[attr-defined]
            reopen = policy.policy.reopen_within_days  # type: ignore[attr-defined]
            before, start = _cpu(), time.perf_counter()
            reference_features(data, END, buckets, reopen_within_days=reopen)
            b_seconds.append(time.perf_counter() - start)
            b_cpu.append(_cpu() - before)
    assert decisions is not None
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        decisions.cases.write_parquet(save / "cases.parquet")
        decisions.steps.write_parquet(save / "steps.parquet")
    out: dict[str, object] = {
        "debtors": data.debtors.height,
        "instalments": data.instalments.height,
        "decide_s": min(seconds),
        "runs": seconds,
        "cpu_s": min(cpu),
        "cpu_runs": cpu,
        "cases": decisions.cases.group_by("change").len().sort("change").rows(),
        "steps": decisions.steps.height,
    }
    if reference:
        out |= {
            "b_s": min(b_seconds),
            "b_runs": b_seconds,
            "b_cpu_s": min(b_cpu),
            "b_cpu_runs": b_cpu,
            "ratio_cpu": min(cpu) / min(b_cpu),
            "ratio_wall": min(seconds) / min(b_seconds),
        }
    return out


def ab(
    before_src: Path, folders: list[Path], runs: int, rounds: int, after_src: Path | None = None
) -> None:
    """Interleaved A/B of the tree at ``before_src`` and the working tree's (or ``after_src``)
    (see the module's docstring)."""
    import os
    import subprocess
    import tempfile

    import polars as pl

    here = Path(__file__).resolve()
    trees = {"before": before_src.resolve(), "after": (after_src or here.parents[1] / "src")}
    best: dict[tuple[str, str], dict[str, object]] = {}
    saved = Path(tempfile.mkdtemp(prefix="decide-ab-"))
    print(f"before: {trees['before']}; after: {trees['after']}; {runs} runs a process")
    for r in range(rounds):
        for folder in folders:
            for name, src in trees.items():
                args = [sys.executable, str(here), "decide", str(folder), "--runs", str(runs)]
                args += ["--reference"]
                if r == 0:
                    args += ["--save", str(saved / f"{folder.name}-{name}")]
                env = {**os.environ, "PYTHONPATH": str(src)}
                load = os.getloadavg()[0]
                out = subprocess.run(args, env=env, check=True, capture_output=True, text=True)
                result = json.loads(out.stdout.strip().splitlines()[-1])
                print(
                    f"round {r + 1} {folder.name:<16} {name:<6} load {load:5.2f}: decide "
                    f"{result['cpu_s']:.2f} CPU s {fmt(result['cpu_runs'])}, "
                    f"{result['decide_s']:.2f} s wall; (b) {result['b_cpu_s']:.2f} CPU s "
                    f"{fmt(result['b_cpu_runs'])}, {result['b_s']:.2f} s wall; decide / (b) "
                    f"{result['ratio_cpu']:.2f}x CPU, {result['ratio_wall']:.2f}x wall",
                    flush=True,
                )
                key = (folder.name, name)
                if key not in best or result["cpu_s"] < best[key]["cpu_s"]:
                    best[key] = result
    print(f"load average at the end: {os.getloadavg()}")
    for folder in folders:
        b, a = best[(folder.name, "before")], best[(folder.name, "after")]
        same = all(
            pl.read_parquet(saved / f"{folder.name}-before" / f).equals(
                pl.read_parquet(saved / f"{folder.name}-after" / f)
            )
            for f in ("cases.parquet", "steps.parquet")
        )
        print(
            f"{folder.name}: {a['debtors']:,} debtors, {a['steps']:,} steps; best decide CPU "
            f"before {b['cpu_s']:.2f} s ({b['ratio_cpu']:.2f}x its (b)), after {a['cpu_s']:.2f} "
            f"s ({a['ratio_cpu']:.2f}x its (b)): after / before {a['cpu_s'] / b['cpu_s']:.2f}; "
            f"same decisions: {same}"
        )


def fmt(values: object) -> str:
    assert isinstance(values, list)
    return "(" + ", ".join(f"{v:.2f}" for v in values) + ")"


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
    t.add_argument("--rules-scores", action="store_true")
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
    d.add_argument("--reference", action="store_true")
    d.add_argument("--save", type=Path, default=None)
    a = sub.add_parser("ab")
    a.add_argument("--before", type=Path, required=True)
    a.add_argument("--after", type=Path, default=None, help="default: this tree's src")
    a.add_argument("folders", type=Path, nargs="+")
    a.add_argument("--runs", type=int, default=3)
    a.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.command == "tile":
        tile(args.url, args.times, args.out, args.rules_scores)
    elif args.command == "ab":
        ab(args.before, args.folders, args.runs, args.rounds, args.after)
    elif args.agreements is not None:
        print(json.dumps(agreements_ab(args.folder, args.runs, args.agreements), default=str))
    else:
        result = decide_runs(args.folder, args.runs, reference=args.reference, save=args.save)
        print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
