"""Benchmark of the propensity-to-pay scoring: read the history, build the training examples,
fit the models, and score 1M debtors (rules and trained model), each in its own process.

    .venv/bin/python benchmarks/scoring.py [--debtors 1000000] [--months 5] [--workdir DIR]
        [--skip-fit] [--skip-examples] [--model FILE]
    .venv/bin/python benchmarks/scoring.py --reasons 100000   # the reasons alone, synthetic

The portfolio is the cycle benchmark's (``benchmarks/cycle.py``: ``arrears.demo.generate``, seed
1, ending on END; about 1.08 invoices per debtor and month, so 1M debtors x 5 months is about
5.4M invoices), generated and imported into SQLite once and cached in ``--workdir``. Phases:

* ``read``: ``read_history`` of the whole portfolio (kept as Parquet for the next phases);
* ``examples``: ``sample_debtors`` then ``debtor_examples`` and ``invoice_examples`` as
  ``train`` builds them (weekly snapshot days from the first day to the last minus the 30-day
  outcome window);
* ``fit``: ``fit_debtor`` (score classifier) and ``fit_invoice`` (paid-late classifier and
  days-to-pay regressor) on those examples; the model is kept for the next phase;
* ``score``: ``read_cycle_input`` as the cycle reads it (B2B example policy), then
  ``score_frame`` as the cycle calls it (no reasons; expected days to pay only if the policy
  reads it, which B2B does not) with the rules and with the trained model (each best of 2;
  then once with every open invoice's days to pay; the rules also with the reasons of 10
  debtors, as ``explain`` asks).

Training = sample + examples + fit (``train`` runs exactly these: the examples of at most
``Settings.max_debtors`` debtors, a deterministic sample). ``--model FILE`` skips the fit and
scores with a model kept by an earlier run (the cost of scoring depends on the number of
trees: from ``model.LARGE`` examples a model has few, below it is the five-model ensemble of
300 trees each, so a model trained on a small portfolio is far slower to score).
Peak memory is each process's maximum resident set. Targets (issue 6): scoring 1M debtors
<= 5 s; training on a 5M-invoice history <= 5 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe, run_phase

END = date(2026, 11, 23)
ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "examples" / "policies" / "b2b.yaml"
PORTFOLIO = "default"
TARGET_SCORE_S = 5.0
TARGET_TRAIN_S = 300.0


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _history(work: Path) -> object:
    import polars as pl

    from arrears.scoring.frames import History

    return History(
        pl.read_parquet(work / "history-instalments.parquet"),
        pl.read_parquet(work / "history-allocations.parquet"),
    )


# -- phases (each in its own process) ------------------------------------------------------------
def phase_read(work: Path, url: str) -> dict[str, object]:
    from arrears.store.database import connect
    from arrears.store.scoring.history import read_history

    engine = connect(url)
    start = time.perf_counter()
    history = read_history(engine, portfolio=PORTFOLIO)
    seconds = time.perf_counter() - start
    engine.dispose()
    history.instalments.write_parquet(work / "history-instalments.parquet")
    history.allocations.write_parquet(work / "history-allocations.parquet")
    return {
        "seconds": seconds,
        "instalments": history.instalments.height,
        "invoices": history.instalments["invoice_id"].n_unique(),
        "allocations": history.allocations.height,
    }


def phase_examples(work: Path) -> dict[str, object]:
    from arrears.scoring.examples import debtor_examples, invoice_examples, snapshot_days
    from arrears.scoring.frames import History, sample_debtors
    from arrears.scoring.model import Settings

    history = _history(work)
    assert isinstance(history, History)
    s = Settings()
    first, last = history.first_day, history.last_day
    assert first is not None and last is not None
    days = snapshot_days(first, last - timedelta(days=s.window_days), s.snapshot_every_days)
    start = time.perf_counter()
    history, all_debtors, sampled = sample_debtors(history, s.max_debtors)  # as train does
    sample_s = time.perf_counter() - start
    start = time.perf_counter()
    debtors = debtor_examples(history, days, window_days=s.window_days, share=s.share)
    debtor_s = time.perf_counter() - start
    peak_debtor = _peak_mib()
    start = time.perf_counter()
    invoices = invoice_examples(history, days)
    invoice_s = time.perf_counter() - start
    debtors.write_parquet(work / "examples-debtor.parquet")
    invoices.write_parquet(work / "examples-invoice.parquet")
    return {
        "debtors": all_debtors,
        "sampled_debtors": sampled,
        "sample_s": sample_s,
        "days": len(days),
        "first": first,
        "last": days[-1],
        "debtor_s": debtor_s,
        "debtor_rows": debtors.height,
        "peak_after_debtor_mib": peak_debtor,
        "invoice_s": invoice_s,
        "invoice_rows": invoices.height,
        "invoice_at_issue": int(invoices["at_issue"].sum()),
    }


def phase_fit(work: Path) -> dict[str, object]:
    import joblib
    import polars as pl

    from arrears.scoring.model import Model, fit_debtor, fit_invoice

    debtors = pl.read_parquet(work / "examples-debtor.parquet")
    invoices = pl.read_parquet(work / "examples-invoice.parquet")
    start = time.perf_counter()
    debtor, reference = fit_debtor(debtors)
    debtor_s = time.perf_counter() - start
    start = time.perf_counter()
    invoice, days = fit_invoice(invoices)
    invoice_s = time.perf_counter() - start
    model = Model(debtor, invoice, days, reference)
    model.metadata["version"] = "bench"
    joblib.dump(model, work / "model.joblib")
    return {"debtor_s": debtor_s, "invoice_s": invoice_s}


def phase_score(work: Path, url: str) -> dict[str, object]:
    import joblib
    import polars as pl

    from arrears.scoring.model import score_frame
    from arrears.services.cycle import load_compiled
    from arrears.store.cycle.read import read_cycle_input
    from arrears.store.database import connect

    policy = load_compiled(POLICY)
    engine = connect(url)
    start = time.perf_counter()
    data = read_cycle_input(
        engine,
        portfolio=PORTFOLIO,
        as_of=END,
        reopen_within_days=policy.policy.reopen_within_days,
    )
    read_s = time.perf_counter() - start
    engine.dispose()
    peak_read = _peak_mib()
    result: dict[str, object] = {"read_s": read_s, "peak_after_read_mib": peak_read}
    model_file = work / "model.joblib"
    models = {"rules": None, "model": joblib.load(model_file) if model_file.exists() else None}
    for label, model in models.items():
        if label == "model" and model is None:
            continue
        runs, cpu = [], []
        days = policy.reads("expected_days_to_pay")  # as the cycle asks (False for B2B)
        for _ in range(2):
            start, used = time.perf_counter(), _cpu_s()
            scored = score_frame(model, data, END, with_reasons=False, days_to_pay=days)
            runs.append(time.perf_counter() - start)
            cpu.append(_cpu_s() - used)
        start = time.perf_counter()  # and with every open invoice's expected days to pay
        with_days = score_frame(model, data, END, with_reasons=False, days_to_pay=True)
        days_s = time.perf_counter() - start
        assert with_days["expected_days_to_pay"].null_count() < with_days.height
        reasons_s = None
        if model is None:  # (a model's: its score again, plus a prediction per feature)
            some = scored["debtor_id"].head(10).to_list()
            start = time.perf_counter()
            explained = score_frame(model, data, END, reasons_for=some)
            reasons_s = time.perf_counter() - start
            mine = explained.filter(pl.col("debtor_id").is_in(some))
            assert (mine["reasons"].list.len() > 0).all()
        result[label] = {
            "runs": runs,
            "cpu": cpu,
            "rows": scored.height,
            "debtors": scored["debtor_id"].n_unique(),
            "mean_score": scored["score"].mean(),
            "reasons_10_s": reasons_s,
            "days_to_pay": days,
            "with_days_s": days_s,
            "peak_mib": _peak_mib(),
        }
    return result


def phase_model_score(work: Path, url: str) -> dict[str, object]:
    """``arrears model score`` as the command runs it (``services.insight.scoring.score_portfolio``:
    read, score with expected days to pay, features, reasons, band; nothing stored), with and
    without the reasons, then its parts one by one: wall and CPU seconds. The reasons are
    timed both ways in this process (tree by tree, and every moved copy predicted whole as
    before) and compared text for text."""
    import joblib

    from arrears.domain.actor import system
    from arrears.scoring.features import debtor_features
    from arrears.scoring.frames import view_from_cycle_input
    from arrears.scoring.model import reasons_series, score_view
    from arrears.services.insight.scoring import score_portfolio
    from arrears.services.uow import SqlUnitOfWork
    from arrears.store.cycle.read import read_cycle_input
    from arrears.store.database import connect
    from arrears.store.scoring.history import read_disputes

    model = joblib.load(work / "model.joblib")
    engine = connect(url)
    uow = SqlUnitOfWork(engine)
    actor = system("bench")
    result: dict[str, object] = {}

    def timed(label: str, fn: Any) -> Any:
        start, used = time.perf_counter(), _cpu_s()
        out = fn()
        result[label] = {"wall": time.perf_counter() - start, "cpu": _cpu_s() - used}
        return out

    for reasons in (False, True):
        label = "end_to_end_" + ("with" if reasons else "without") + "_reasons"
        got = timed(
            label,
            lambda r=reasons: score_portfolio(
                uow, actor, portfolio=PORTFOLIO, as_of=END, model=model, with_reasons=r
            ),
        )
        result["rows"] = got.scores.height
    data = timed(
        "read",
        lambda: read_cycle_input(engine, portfolio=PORTFOLIO, as_of=END, reopen_within_days=30),
    )
    disputes = read_disputes(engine, portfolio=PORTFOLIO)
    view = view_from_cycle_input(data, END, disputes)
    timed("score_with_days", lambda: score_view(model, view, with_reasons=False, days_to_pay=True))
    features = timed("debtor_features", lambda: debtor_features(view))
    fast = timed("reasons_by_tree", lambda: reasons_series(model, features))
    slow = timed("reasons_whole", lambda: reasons_series(model, features, by_tree=False))
    result["reasons_identical"] = int((fast == slow).sum())
    result["reasons_rows"] = features.height
    engine.dispose()
    result["load"] = os.getloadavg()[0]
    return result


def reasons_synthetic(n: int) -> None:
    """``--reasons N``: the reasons of N debtors, row by row (as before issue 18 item 3: every
    moved pair predicted, three phrases per row in Python) against ``reasons_series`` (pairs
    that cross a split only, each distinct phrase once), in one process on one synthetic frame
    and one large-data model (40 trees; every feature split on): CPU seconds, the ratio, and
    that the texts are the same row for row. Needs no portfolio."""
    import os

    import numpy as np
    import polars as pl
    from threadpoolctl import threadpool_limits

    from arrears.scoring import model as m
    from arrears.scoring.features import MODEL_DEBTOR_FEATURES
    from arrears.scoring.words import CONTEXT, reason

    names = list(MODEL_DEBTOR_FEATURES)
    rng = np.random.default_rng(1)

    def frame(rows: int) -> pl.DataFrame:
        cols: dict[str, object] = {}
        for j, name in enumerate(names):
            values = np.round(rng.gamma(1 + j % 3, 10, rows), 1)
            if name.startswith("promise") or name in ("disputes_12m", "disputed_open"):
                values = rng.poisson(0.3, rows).astype(float)
            if name in ("late_rate_365d", "utilisation", "promise_kept_rate"):
                values[rng.random(rows) < 0.15] = np.nan
            cols[name] = values
        cols["days_past_due"] = rng.integers(0, 200, rows).astype(float)
        cols["settled_365d"] = rng.integers(0, 12, rows).astype(float)
        return pl.DataFrame(cols)

    train = frame(60_000)
    x = m.matrix(train, names)
    broken = np.nan_to_num(x[:, names.index("promises_broken_12m")])
    logit = -0.02 * x[:, names.index("days_past_due")] + 0.01 * np.nan_to_num(x[:, 1]) - broken
    y = (rng.random(len(x)) < 1 / (1 + np.exp(-logit))).astype(int)
    with threadpool_limits(1):
        fitted = m._classifier(list(MODEL_DEBTOR_FEATURES.values()), len(y))
        fitted.fit(m.fit_matrix(train, names), y)
    reference = {k: float(v) for k, v in zip(names, np.nanmedian(x, axis=0), strict=True)}
    model = m.Model(fitted, None, None, reference)
    debtors = frame(n)

    def row_by_row() -> list[list[str]]:
        xs = m.matrix(debtors, names)
        deltas = np.concatenate(
            [m._deltas(model, xs[i : i + 10_000], names) for i in range(0, n, 10_000)]
        )
        context = [names.index(c) for c in CONTEXT]
        out = []
        for i, order in enumerate(np.argsort(-np.abs(deltas), axis=1, kind="stable")[:, :3]):
            row = {names[j]: m._value(xs[i, j]) for j in (*order, *context)}
            out.append(
                [
                    reason(names[j], row, float(deltas[i, j]), reference[names[j]])
                    for j in order
                    if round(float(deltas[i, j]), 2) != 0
                ]
                or ["close to the typical debtor"]
            )
        return out

    load = os.getloadavg()[0]
    used = _cpu_s()
    before = row_by_row()
    before_s = _cpu_s() - used
    used = _cpu_s()
    after = m.reasons_series(model, debtors).to_list()
    after_s = _cpu_s() - used
    same = sum(a == b for a, b in zip(before, after, strict=True))
    print(
        f"reasons of {n:,} debtors (load average {load:.1f} at start): row by row {before_s:.2f} "
        f"CPU s, in columns {after_s:.2f} CPU s (x{before_s / after_s:.2f}); identical rows "
        f"{same:,}/{n:,}; at 1M about {after_s * 1_000_000 / n:.0f} CPU s"
    )


def run_child(args: list[str]) -> tuple[dict[str, object], float]:
    """Run one phase of this script in a child process; its result and peak memory in MiB."""
    return run_phase(__file__, args)


def mark(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debtors", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=5)
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path("/tmp/arrears-cycle-bench"),
        help="cache of generated files and imported SQLite databases (shared with cycle.py)",
    )
    parser.add_argument("--skip-fit", action="store_true", help="score with the rules only")
    parser.add_argument("--model", type=Path, help="skip the fit; score with this model file")
    parser.add_argument(
        "--skip-examples", action="store_true", help="no examples and no fit (read and score)"
    )
    parser.add_argument(
        "--reasons", type=int, metavar="N", help="only compare the reasons of N synthetic debtors"
    )
    parser.add_argument(
        "--model-score",
        action="store_true",
        help="only time `model score` end to end (needs the cached portfolio and --model FILE)",
    )
    parser.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reasons:
        print(describe())
        reasons_synthetic(args.reasons)
        return
    if args.phase:
        name, *rest = args.phase
        work = Path(rest[0])
        if name == "read":
            result = phase_read(work, rest[1])
        elif name == "examples":
            result = phase_examples(work)
        elif name == "fit":
            result = phase_fit(work)
        elif name == "model-score":
            result = phase_model_score(work, rest[1])
        else:
            result = phase_score(work, rest[1])
        print(json.dumps(result, default=str))
        return

    from cycle import cached_portfolio

    print(describe())
    work, pristine = cached_portfolio(args.workdir, args.debtors, args.months)
    from arrears.store.database import upgrade

    url = f"sqlite:///{pristine}"
    upgrade(url)  # the cached import may predate the latest migration
    if args.model_score:
        if args.model and args.model.resolve() != (work / "model.joblib").resolve():
            shutil.copyfile(args.model, work / "model.joblib")
        print_model_score(*run_child(["model-score", str(work), url]))
        return
    (work / "model.joblib").unlink(missing_ok=True)
    if args.model:
        shutil.copyfile(args.model, work / "model.joblib")
        print(f"model for scoring: {args.model} (not trained in this run)")

    r, mem = run_child(["read", str(work), url])
    print(
        f"read_history (SQLite): {r['invoices']:,} invoices, {r['instalments']:,} instalments, "
        f"{r['allocations']:,} allocations in {r['seconds']:.2f} s; peak {mem:,.0f} MiB"
    )
    examples_s = 0.0
    if args.skip_examples:
        args.skip_fit = True
    else:
        e, mem = run_child(["examples", str(work)])
        print(
            f"sample (Settings.max_debtors): {e['sampled_debtors']:,} of {e['debtors']:,} "
            f"debtors in {e['sample_s']:.1f} s"
        )
        print(
            f"examples: {e['days']} weekly snapshot days {e['first']} .. {e['last']}: debtor "
            f"{e['debtor_rows']:,} rows in {e['debtor_s']:.1f} s (peak then "
            f"{e['peak_after_debtor_mib']:,.0f} MiB); invoice {e['invoice_rows']:,} rows "
            f"({e['invoice_at_issue']:,} at issue) in {e['invoice_s']:.1f} s; peak {mem:,.0f} MiB"
        )
        examples_s = sum(float(str(e[k])) for k in ("sample_s", "debtor_s", "invoice_s"))
    if not args.skip_fit and not args.model:
        f, mem = run_child(["fit", str(work)])
        fit_s = float(f["debtor_s"]) + float(f["invoice_s"])  # type: ignore[arg-type]
        print(
            f"fit: debtor score model {f['debtor_s']:.1f} s, invoice models (paid-late "
            f"classifier and days regressor) {f['invoice_s']:.1f} s; peak {mem:,.0f} MiB"
        )
        train_s = examples_s + fit_s
        print(
            f"training = examples + fit = {train_s:.1f} s; target <= {TARGET_TRAIN_S:.0f} s: "
            f"{mark(train_s <= TARGET_TRAIN_S)}"
        )
    s, mem = run_child(["score", str(work), url])
    print(f"read_cycle_input {s['read_s']:.2f} s (peak then {s['peak_after_read_mib']:,.0f} MiB)")
    for label in ("rules", "model"):
        if label not in s:
            continue
        got = s[label]
        assert isinstance(got, dict)
        best = min(got["runs"])
        runs = ", ".join(f"{x:.2f}" for x in got["runs"])
        cpu = ", ".join(f"{x:.2f}" for x in got["cpu"])
        print(
            f"score_frame ({label}): {got['rows']:,} rows ({got['debtors']:,} debtors) in "
            f"{best:.2f} s (runs {runs}; CPU {cpu}); mean score {got['mean_score']:.3f}; "
            + (
                f"with the reasons of 10 debtors {got['reasons_10_s']:.2f} s; "
                if got["reasons_10_s"] is not None
                else ""
            )
            + f"target <= {TARGET_SCORE_S:.0f} s: {mark(best <= TARGET_SCORE_S)}"
            + f" (days to pay {'scored' if got['days_to_pay'] else 'not read by the policy'}; "
            f"with every open invoice's days to pay: {got['with_days_s']:.2f} s)"
        )
    print(f"score process peak {mem:,.0f} MiB")
    if (work / "model.joblib").exists():
        print_model_score(*run_child(["model-score", str(work), url]))


def print_model_score(r: dict[str, object], mem: float) -> None:
    """``arrears model score`` end to end and its parts (wall, CPU), and the 5 s target."""

    def part(label: str) -> str:
        got = r[label]
        assert isinstance(got, dict)
        return f"{got['wall']:.2f} s (CPU {got['cpu']:.2f} s)"

    total = r["end_to_end_with_reasons"]
    assert isinstance(total, dict)
    print(
        f"model score ({r['rows']:,} rows; load average {float(str(r['load'])):.1f}): "
        f"with reasons {part('end_to_end_with_reasons')}, without "
        f"{part('end_to_end_without_reasons')}; target <= {TARGET_SCORE_S:.0f} s: "
        f"{mark(float(total['wall']) <= TARGET_SCORE_S)}"
    )
    print(
        f"  parts: read_cycle_input {part('read')}, score with days to pay "
        f"{part('score_with_days')}, debtor features {part('debtor_features')}, reasons tree "
        f"by tree {part('reasons_by_tree')}, reasons with every moved copy whole (before) "
        f"{part('reasons_whole')}; identical reasons {r['reasons_identical']:,}/"
        f"{r['reasons_rows']:,}; peak {mem:,.0f} MiB"
    )


if __name__ == "__main__":
    main()
