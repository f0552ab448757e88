"""Where ``decide``'s time goes, stage by stage, on a frozen engine input.

    .venv/bin/python benchmarks/decide_profile.py DIR [--runs 3]

DIR holds a ``CycleInput`` as parquet files (``benchmarks/decide_tiled.py tile``). The engine's
stages are wrapped with timers (wall and CPU seconds of the process, every thread; inclusive:
a stage's time includes the stages it calls, e.g. ``_steps`` includes the contact guard), and
``decide`` runs ``--runs`` times; the run with the least CPU is printed. Nothing else changes:
the same functions run in the same order.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from decide_tiled import END, _load_compiled

TIMES: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _wrap(module: Any, name: str, label: str) -> None:
    inner = getattr(module, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        start, cpu = time.perf_counter(), _cpu()
        try:
            return inner(*args, **kwargs)
        finally:
            entry = TIMES[label]
            entry[0] += time.perf_counter() - start
            entry[1] += _cpu() - cpu
            entry[2] += 1

    setattr(module, name, timed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    import polars as pl

    import arrears.contact.guard as guard_mod
    import arrears.cycle.decide as decide_mod
    import arrears.cycle.features as features_mod
    from arrears.cycle.frames import CycleInput

    for name in (
        "_current_cases",
        "feature_table",
        "_segment",
        "_stage",
        "_arm",
        "_pause",
        "_steps",
        "_entry_skips",
        "_repeated_messages",
        "eu_interest",
        "_contact_rules",
        "guard",
        "promise_outcomes",
    ):
        if hasattr(decide_mod, name):
            _wrap(decide_mod, name, name)
    for name in ("_with_agreements", "exponents"):
        _wrap(features_mod, name, f"features.{name}")
    _wrap(features_mod.pl, "collect_all", "features: group-bys (collect_all)")
    for name in ("_with_fallbacks", "_history_entries", "_holiday_frame", "_context"):
        if hasattr(guard_mod, name):
            _wrap(guard_mod, name, f"guard.{name}")

    policy = _load_compiled()
    frames = {p.stem: pl.read_parquet(p) for p in sorted(args.folder.glob("*.parquet"))}
    data = CycleInput(**frames)
    best: tuple[float, float, dict[str, list[float]]] | None = None
    for _ in range(args.runs):
        TIMES.clear()
        start, cpu = time.perf_counter(), _cpu()
        decide_mod.decide(data, policy, END)  # type: ignore[arg-type]
        run = (time.perf_counter() - start, _cpu() - cpu, {k: list(v) for k, v in TIMES.items()})
        if best is None or run[1] < best[1]:
            best = run
    assert best is not None
    wall, cpu, stages = best
    name, debtors = args.folder.name, data.debtors.height
    print(f"{name}: {debtors:,} debtors; decide {wall:.2f} s, {cpu:.2f} CPU s")
    for label, (w, c, n) in stages.items():
        print(f"  {label:<40} {w:6.2f} s {c:6.2f} CPU s  ({int(n)} calls)")


if __name__ == "__main__":
    main()
