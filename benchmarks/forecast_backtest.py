"""Benchmark: the cash forecast's backtest by week ahead against the naive baseline (issue 17
section 4: "beat the baseline at every horizon on the generated portfolio and the IBM sample").

    .venv/bin/python benchmarks/forecast_backtest.py [--work /tmp/arrears-bench-forecast]

Builds (once; cached in the work folder) two SQLite workspaces:

- ``gen``: ``arrears generate --debtors 2000 --months 12 --seed 7 --as-of 2026-11-30``,
  imported, with the demo's ``[rates]`` (every amount in USD);
- ``ibm``: ``../shared/data/ibm-accounts-receivable.csv`` converted by ``arrears.io.ibm`` and
  imported (USD).

Then, for each book, :func:`arrears.services.insight.forecast.backtest` (what ``arrears forecast
backtest`` calls) for 13 weeks ahead: the generated book from 2026-08-31 with 13 and with 26
origins a week apart, the IBM sample from 2013-06-30 with 52. Prints per week ahead the
forecast's WAPE and the baseline's, which is lower, the weeks won, and, as a diagnostic that
uses hindsight (never a forecast), the WAPE of the best constant: each week ahead's mean actual
over the origins, the noise floor of any forecast of the level; and *P(win)*: the share of
1,000 bootstrap draws of the origins (with replacement, seed 0) in which the forecast's WAPE
at that week ahead is lower (how sure a win is; optimistic, as the origins' weeks overlap).
Wall and CPU seconds
(``time.process_time``) and the load average of each backtest; the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from arrears import config
from arrears.cli.app import main
from arrears.demo.geography import usd_values
from arrears.domain.actor import Actor, Role
from arrears.services.insight.forecast import backtest
from arrears.services.uow import SqlUnitOfWork, open_store

ROOT = Path(__file__).resolve().parent.parent
IBM = ROOT.parent / "shared" / "data" / "ibm-accounts-receivable.csv"
RUNS = (
    ("gen", date(2026, 8, 31), 13),
    ("gen", date(2026, 8, 31), 26),
    ("ibm", date(2013, 6, 30), 52),
)


def _build(work: Path, name: str) -> Path:
    ws = work / name
    if (ws / ".built").exists():
        return ws
    work.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{ws / 'arrears.db'}"
    assert main(["init", str(ws), "--database-url", url]) == 0
    data = work / f"{name}-data"
    if name == "gen":
        rates = "\n".join(f'{k} = "{v}"' for k, v in usd_values().items())
        (ws / "arrears.toml").write_text(
            (ws / "arrears.toml").read_text() + f"\n[rates]\n{rates}\n", encoding="utf-8"
        )
        gen = ["generate", str(data), "--debtors", "2000", "--months", "12", "--seed", "7"]
        assert main([*gen, "--as-of", "2026-11-30"]) == 0
    else:
        from arrears.io.ibm import convert

        convert(IBM, data)
    for kind in ("debtors", "invoices", "payments"):
        assert main(["-w", str(ws), "import", kind, str(data / f"{kind}.csv")]) == 0
    (ws / ".built").write_text("ok", encoding="utf-8")
    return ws


def _floor(rows: pl.DataFrame) -> pl.DataFrame:
    """Per week ahead: the WAPE of the mean actual over the origins (hindsight: a floor)."""
    return (
        rows.with_columns(pl.col("actual").mean().over("currency", "week").alias("_mean"))
        .group_by("week")
        .agg(
            ((pl.col("_mean") - pl.col("actual")).abs().sum() / pl.col("actual").sum()).alias(
                "floor"
            )
        )
        .sort("week")
    )


def _bootstrap(rows: pl.DataFrame, draws: int = 1000) -> list[float]:
    """Per week ahead: the share of draws of the origins where the forecast's WAPE is lower."""
    rng = np.random.default_rng(0)
    out = []
    for week in sorted(set(rows["week"].to_list())):
        part = rows.filter(pl.col("week") == week).sort("origin", "currency")
        actual = part["actual"].to_numpy()
        forecast = np.abs(part["expected"].to_numpy() - actual)
        naive = np.abs(part["naive"].to_numpy() - actual)
        picks = rng.integers(0, len(actual), size=(draws, len(actual)))
        out.append(float((forecast[picks].sum(axis=1) < naive[picks].sum(axis=1)).mean()))
    return out


def run(work: Path) -> list[dict[str, Any]]:
    out = []
    actor = Actor("bench", Role.ADMIN)
    for name, as_of, origins in RUNS:
        ws = config.load(_build(work, name))
        uow = SqlUnitOfWork(open_store(ws.database_url))
        load = os.getloadavg()[0]
        wall, cpu = time.perf_counter(), time.process_time()
        result = backtest(
            uow,
            actor,
            portfolio="default",
            as_of=as_of,
            weeks=13,
            origins=origins,
            in_currency="USD" if ws.rates else None,  # the IBM sample is in USD alone
            rates=ws.rates,
        )
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        h = result.by_horizon.join(_floor(result.rows), on="week").sort("week")
        [total] = result.total.to_dicts()
        won = [int(w) for w, b in zip(h["week"], h["better"], strict=True) if b]
        print(
            f"\n{name}: {origins} origins to {as_of}, {total['weeks']} weeks compared;"
            f" WAPE {total['wape']:.1%} vs naive {total['naive_wape']:.1%};"
            f" wins at {len(won)} of {h.height} weeks ahead {won};"
            f" {wall:.1f} s wall, {cpu:.1f} s CPU, load {load:.1f}"
        )
        print("| week | " + " | ".join(str(w) for w in h["week"]) + " |")
        print("|---" * (h.height + 1) + "|")
        for label, column in (("forecast", "wape"), ("naive", "naive_wape"), ("floor", "floor")):
            print(f"| {label} | " + " | ".join(f"{v:.1%}"[:-1] for v in h[column]) + " |")
        sure = _bootstrap(result.rows)
        print("| P(win) | " + " | ".join(f"{p:.2f}" for p in sure) + " |")
        out.append(
            {
                "book": name,
                "as_of": as_of.isoformat(),
                "origins": origins,
                "wape": round(total["wape"], 4),
                "naive_wape": round(total["naive_wape"], 4),
                "won": won,
                "by_week": [round(v, 4) for v in h["wape"]],
                "naive_by_week": [round(v, 4) for v in h["naive_wape"]],
                "p_win": sure,
                "wall_s": round(wall, 2),
                "cpu_s": round(cpu, 2),
                "load": round(load, 1),
            }
        )
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/arrears-bench-forecast"))
    print(json.dumps(run(parser.parse_args().work)))
