"""The consumer-credit figure of issue 18: on the generator's revolving-credit portfolio, the
debtor score trained on the default-risk target against days past due alone.

    .venv/bin/python benchmarks/scoring_revolving.py [--accounts 30000] [--months 12]
        [--seed 11] [--days-past-due 30] [--window 60] [--every 7] [--statements]
        [--train-share 0.7] [--set NAME=VALUE]

The portfolio is ``arrears generate --profile revolving`` (:mod:`arrears.demo.revolving`):
``--accounts`` card accounts with limits, ``--months`` monthly statements to END. Its ledger
is taken straight from the generator's frames into a :class:`~arrears.scoring.frames.History`
(instalments, payments as allocations, the limits), as ``read_history`` would read it after
an import, without the database: the scoring code is the same. The backtest is
``arrears.scoring.evaluate.backtest`` (the one ``arrears model evaluate`` runs) with the target
``default`` ("reaches --days-past-due days past due within --window days"; the score is the
probability it does not) and examples every ``--every`` days (``--statements``: each account on
its statement days): chronological, the examples whose outcome was known before the cutoff
train, those from the cutoff test. Printed: seed, shape, the generator's parameters, the
examples, AUC with its 95 % bootstrap interval for the model and for days past due alone, and
the other baselines; CPU seconds next to wall seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import date
from typing import Any

import numpy as np
import polars as pl

END = date(2026, 6, 30)


def history_of(
    accounts: int, months: int, seed: int, changes: dict[str, float] | None = None
) -> tuple[Any, dict[str, Any]]:
    import dataclasses

    from arrears.demo.generate import Profile, chunks
    from arrears.demo.revolving import SHAPE
    from arrears.scoring.frames import (
        HISTORY_ALLOCATION_SCHEMA,
        HISTORY_INSTALMENT_SCHEMA,
        LIMIT_SCHEMA,
        History,
    )

    debtors, instalments, payments = [], [], []
    shape_used = dataclasses.replace(SHAPE, **(changes or {}))
    for chunk in chunks(accounts, months, seed, END, Profile.REVOLVING, revolving_shape=shape_used):
        debtors.append(chunk.debtors.select("debtor_id", "currency", "credit_limit_minor"))
        instalments.append(chunk.invoices)
        payments.append(chunk.payments)
    deb = pl.concat(debtors).with_columns(
        pl.col("debtor_id").str.slice(1).cast(pl.Int64).alias("_id")
    )
    inst = pl.concat(instalments).with_row_index("instalment_id", offset=1)
    ids = {"debtor_id": deb.select("debtor_id", "_id")}
    inst = inst.join(ids["debtor_id"], on="debtor_id").with_columns(
        pl.col("invoice_id").str.slice(3).cast(pl.Int64).alias("_invoice")
    )
    pays = pl.concat(payments).join(
        inst.select("instalment_id", "invoice_id", "instalment"), on=["invoice_id", "instalment"]
    )
    history = History(
        inst.select(
            pl.col("instalment_id").cast(pl.Int64),
            pl.col("_invoice").alias("invoice_id"),
            pl.col("_id").alias("debtor_id"),
            "currency",
            "issue_date",
            "due_date",
            "amount_minor",
            "disputed",
            pl.lit(None, dtype=pl.Date).alias("disputed_on"),
        ).cast(HISTORY_INSTALMENT_SCHEMA),  # type: ignore[arg-type]
        pays.select(
            pl.col("instalment_id").cast(pl.Int64),
            pl.lit("payment").alias("source_kind"),
            pl.col("allocated_amount_minor").alias("amount_minor"),
            pl.col("date").alias("allocated_on"),
            pl.lit(None, dtype=pl.Date).alias("reversed_on"),
        ).cast(HISTORY_ALLOCATION_SCHEMA),  # type: ignore[arg-type]
        deb.select(
            pl.col("_id").alias("debtor_id"),
            pl.col("currency").alias("limit_currency"),
            "credit_limit_minor",
        ).cast(LIMIT_SCHEMA),  # type: ignore[arg-type]
    )
    shape = {
        "accounts": accounts,
        "months": months,
        "end": END.isoformat(),
        "statements": inst["invoice_id"].n_unique(),
        "instalments": inst.height,
        "payments": pays.height,
        "parameters": shape_used.to_dict(),
    }
    return history, shape


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=30_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--days-past-due", type=int, default=30)
    parser.add_argument("--window", type=int, default=60)
    parser.add_argument("--every", type=int, default=7)
    parser.add_argument("--statements", action="store_true")
    parser.add_argument("--train-share", type=float, default=0.7)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="change a number of the generator's shape (RevolvingShape), e.g. shock_utilisation=0",
    )
    args = parser.parse_args()
    changes = {k: float(v) for k, v in (item.split("=", 1) for item in args.set)}

    from arrears.scoring.evaluate import backtest
    from arrears.scoring.targets import Schedule, Target

    wall, cpu = time.perf_counter(), time.process_time()
    history, shape = history_of(args.accounts, args.months, args.seed, changes)
    generated = {"wall_s": round(time.perf_counter() - wall, 1),
                 "cpu_s": round(time.process_time() - cpu, 1)}  # fmt: skip
    target = Target("default", window_days=args.window, days_past_due=args.days_past_due)
    schedule = Schedule(args.every, "statements" if args.statements else "")
    wall, cpu = time.perf_counter(), time.process_time()
    report = backtest(
        history, train_share=args.train_share, target=target, schedule=schedule, invoices=False
    )
    backtested = {"wall_s": round(time.perf_counter() - wall, 1),
                  "cpu_s": round(time.process_time() - cpu, 1)}  # fmt: skip
    deb = report["debtor"]
    out: dict[str, Any] = {
        "seed": args.seed,
        "shape": shape,
        "target": target.to_dict(),
        "schedule": schedule.to_dict(),
        "cutoff": report["cutoff"],
        "load_average": os.getloadavg()[0],
        "generate": generated,
        "backtest": backtested,
    }
    if "error" in deb:
        out["error"] = deb["error"]
    else:
        out["examples"] = {
            "train": deb["train"],
            "test": deb["test"],
            "test_current": deb["test_current"],
            "test_default_rate": round(1 - deb["paid_rate_test"], 4),
        }
        out["auc"] = {
            name: {"auc": deb[name]["auc"], "auc_95": deb[name].get("auc_95"),
                   "brier": deb[name]["brier"]}
            for name in ("model", "days past due", "rules", "past late rate")
        }  # fmt: skip
        model, dpd = deb["model"]["auc"], deb["days past due"]["auc"]
        out["model_minus_days_past_due"] = (
            None if model is None or dpd is None else round(float(np.round(model - dpd, 4)), 4)
        )
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
