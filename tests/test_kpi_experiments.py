"""Champion/challenger comparison (``arrears.kpi.experiments``) on a small book computed by
hand (docs/kpi.md, "Experiments"), and ``arrears kpi experiments`` through the command line.

The book: experiment ``sms``, USD, every debtor assigned on 2026-03-01, followed to 03-31,
buckets 0,30,60,90.

| debtor | arm | instalment (due) | before 03-01 | after | open | collected | end |
|---|---|---|---|---|---|---|---|
| 1 | champion | 100.00 (02-15, 1-30) | | paid 100 on 03-10 | 100 | 100 | settled: cured |
| 2 | champion | 200.00 (01-20, 31-60) | paid 50 on 02-01 | | 150 | 0 | 61-90: rolled |
| 3 | champion | 100.00 (02-20, 1-30) | | paid 50 on 03-05 | 100 | 50 | 31-60: rolled |
| 4 | challenger | 100.00 (02-10, 1-30) | | 80 on 03-03, 20 on 03-20 (*) | 100 | 100 | settled |
| 5 | challenger | 300.00 (02-25, 1-30) | | paid 150 on 03-15 | 300 | 150 | 31-60: rolled |

(*) and 30.00 on 03-02 that bounced on 03-04.

Champion: recovery 150/350 = 3/7; residuals (y - R·x)/x̄ with x̄ = 350/3: 24/49, -27/49, 3/49,
s² = (576 + 729 + 9)/2401 / 2 = 657/2401. Challenger: 250/400 = 5/8; x̄ = 200: 3/16, -3/16,
s² = 9/128. Difference 11/56; half-width 1.959964·sqrt(657/2401/3 + 9/128/2).
"""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from arrears.cli.app import main
from arrears.kpi.experiments import (
    ASSIGNMENT_SCHEMA,
    arm_rates,
    comparison,
    debtor_outcomes,
    first_assignments,
)
from arrears.scoring.frames import HISTORY_ALLOCATION_SCHEMA, HISTORY_INSTALMENT_SCHEMA

Z = 1.959963984540054
Z_SUM_SQUARED = (1.959963984540054 + 0.8416212335729143) ** 2  # 7.848879...


def d(month: int, day: int) -> date:
    return date(2026, month, day)


def book() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    due = {1: d(2, 15), 2: d(1, 20), 3: d(2, 20), 4: d(2, 10), 5: d(2, 25)}
    amount = {1: 10000, 2: 20000, 3: 10000, 4: 10000, 5: 30000}
    inst = pl.DataFrame(
        [
            {
                "instalment_id": n,
                "invoice_id": n,
                "debtor_id": n,
                "currency": "USD",
                "issue_date": d(1, 1),
                "due_date": due[n],
                "amount_minor": amount[n],
                "disputed": False,
                "disputed_on": None,
            }
            for n in range(1, 6)
        ],
        schema=HISTORY_INSTALMENT_SCHEMA,
    )
    paid = [
        (1, 10000, d(3, 10), None),
        (2, 5000, d(2, 1), None),
        (3, 5000, d(3, 5), None),
        (4, 3000, d(3, 2), d(3, 4)),
        (4, 8000, d(3, 3), None),
        (4, 2000, d(3, 20), None),
        (5, 15000, d(3, 15), None),
    ]
    allocations = pl.DataFrame(
        [
            {
                "instalment_id": i,
                "source_kind": "payment",
                "amount_minor": a,
                "allocated_on": on,
                "reversed_on": rev,
            }
            for i, a, on, rev in paid
        ],
        schema=HISTORY_ALLOCATION_SCHEMA,
    )
    arms = {1: "champion", 2: "champion", 3: "champion", 4: "challenger", 5: "challenger"}
    assignments = pl.DataFrame(
        [(n, "USD", "sms", arm, d(3, 1)) for n, arm in arms.items()]
        # recorded again the next days: the first day counts
        + [(n, "USD", "sms", arm, d(3, 2)) for n, arm in arms.items()]
        # assigned before the period: not the period's
        + [(9, "USD", "sms", "champion", d(2, 1))],
        schema=ASSIGNMENT_SCHEMA,
        orient="row",
    )
    return assignments, inst, allocations


def measured() -> pl.DataFrame:
    assignments, inst, allocations = book()
    assigned = first_assignments(assignments, d(3, 1), d(3, 31))
    assert assigned["debtor_id"].sort().to_list() == [1, 2, 3, 4, 5]
    assert set(assigned["assigned_on"]) == {d(3, 1)}
    return debtor_outcomes(assigned, inst, allocations, d(3, 31), (0, 30, 60, 90))


def test_each_debtor_outcome() -> None:
    rows = {r["debtor_id"]: r for r in measured().to_dicts()}
    assert {n: (r["open"], r["collected"]) for n, r in rows.items()} == {
        1: (10000, 10000),
        2: (15000, 0),
        3: (10000, 5000),
        4: (10000, 10000),
        5: (30000, 15000),
    }
    assert {n for n, r in rows.items() if r["cured"]} == {1, 4}
    assert {n for n, r in rows.items() if r["rolled"]} == {2, 3, 5}
    assert all(r["delinquent"] for r in rows.values())


def test_arm_rates_by_hand() -> None:
    rates = {r["arm"]: r for r in arm_rates(measured()).to_dicts()}
    one, two = rates["champion"], rates["challenger"]
    assert (one["debtors"], one["open"], one["collected"]) == (3, 35000, 15000)
    assert (two["debtors"], two["open"], two["collected"]) == (2, 40000, 25000)
    assert one["recovery_rate"] == pytest.approx(3 / 7)
    assert two["recovery_rate"] == pytest.approx(0.625)
    assert one["recovery_variance"] == pytest.approx(657 / 2401)
    assert two["recovery_variance"] == pytest.approx(9 / 128)
    assert (one["cure_rate"], two["cure_rate"]) == pytest.approx((1 / 3, 1 / 2))
    assert (one["roll_rate"], two["roll_rate"]) == pytest.approx((2 / 3, 1 / 2))


def test_the_comparison_by_hand() -> None:
    rows = {r["measure"]: r for r in comparison(arm_rates(measured()), detect=0.05).to_dicts()}
    recovery, cure, roll = rows["recovery"], rows["cure"], rows["roll_forward"]
    # recovery: 11/56 = 0.196429 ± 1.959964 · sqrt(0.091212 + 0.035156) = ± 0.696734
    assert recovery["difference"] == pytest.approx(0.196429, abs=1e-6)
    assert (recovery["low"], recovery["high"]) == pytest.approx((-0.500305, 0.893163), abs=1e-6)
    assert recovery["significant"] is False
    # (1.959964 + 0.841621)² · (0.273636 + 0.070313) / 0.05² = 1079.9 -> 1080
    assert recovery["needed_per_arm"] == 1080
    # cure: 1/2 - 1/3 = 1/6 ± 1.959964 · sqrt((2/9)/3 + (1/4)/2) = ± 0.874491
    assert cure["difference"] == pytest.approx(1 / 6)
    assert (cure["low"], cure["high"]) == pytest.approx((-0.707824, 1.041157), abs=1e-6)
    # p1 = 1/3, p2 = 0.383333: 7.848879 · (0.222222 + 0.236389) / 0.0025 = 1439.8 -> 1440
    assert cure["needed_per_arm"] == 1440
    # roll forward: 1/2 - 2/3 = -1/6, the same half-width; p2 = 0.716667: 1335.2 -> 1336
    assert (roll["low"], roll["high"]) == pytest.approx((-1.041157, 0.707824), abs=1e-6)
    assert roll["needed_per_arm"] == 1336
    assert roll["significant"] is False


def test_a_significant_difference() -> None:
    rates = pl.DataFrame(
        {
            "experiment": ["x", "x"],
            "currency": ["USD", "USD"],
            "arm": ["champion", "challenger"],
            "debtors": [1000, 1000],
            "recovery_rate": [None, None],
            "recovery_variance": [None, None],
            "delinquent": [1000, 1000],
            "cure_rate": [0.3, 0.4],
            "roll_rate": [0.2, 0.2],
        }
    )
    rows = {r["measure"]: r for r in comparison(rates).to_dicts()}
    cure = rows["cure"]
    # 0.1 ± 1.959964 · sqrt(0.21/1000 + 0.24/1000) = 0.1 ± 0.041578
    assert (cure["low"], cure["high"]) == pytest.approx((0.058422, 0.141578), abs=1e-6)
    assert cure["significant"] is True
    # (0.21 + 0.35·0.65) · 7.848879 / 0.0025 = 1373.6 -> 1374
    assert cure["needed_per_arm"] == 1374
    assert rows["roll_forward"]["significant"] is False
    assert rows["recovery"]["low"] is None
    assert math.isclose(Z_SUM_SQUARED * 0.4375 / 0.0025, 1373.55, rel_tol=1e-4)
    with pytest.raises(ValueError, match="between 0 and 1"):
        comparison(rates, detect=1.5)


# Through the command line ------------------------------------------------------------------

DEBTORS = "debtor_id,name,currency\n" + "".join(f"D{n},Debtor {n},USD\n" for n in range(1, 9))
INVOICES = "invoice_id,debtor_id,issue_date,due_date,amount,currency\n" + "".join(
    f"I{n},D{n},2026-01-20,2026-02-20,100.00,USD\n" for n in range(1, 9)
)
#: D1 to D4 pay in full on 03-10, after the run of 03-01 put every debtor in an arm.
PAYMENTS = "payment_id,debtor_id,date,amount,currency,invoice_id,allocated_amount\n" + "".join(
    f"P{n},D{n},2026-03-10,100.00,USD,I{n},100.00\n" for n in range(1, 5)
)
PERIOD = ["--from", "2026-03-01", "--to", "2026-03-31"]


def run(ws: Path, *args: str) -> int:
    return main(["-w", str(ws), *args])


@pytest.fixture
def ws(tmp_path: Path, store_url: str, capsys: pytest.CaptureFixture[str]) -> Path:
    """The default b2b policy's experiment (standard segment, early stage) at a share of 0.5;
    eight debtors 9 days late on 03-01, when the daily run assigns them; four pay on 03-10."""
    root = tmp_path / "ws"
    assert main(["init", str(root), "--database-url", store_url]) == 0
    policy = root / "policies" / "b2b.yaml"
    policy.write_text(policy.read_text().replace("share: 0.2", "share: 0.5"))
    config = root / "arrears.toml"
    config.write_text(config.read_text() + "\n[rates]\nUSD = 1\nEUR = 1.25\n")
    for kind, text in [("debtors", DEBTORS), ("invoices", INVOICES)]:
        (tmp_path / f"{kind}.csv").write_text(text)
        assert run(root, "import", kind, str(tmp_path / f"{kind}.csv")) == 0
    assert run(root, "run", "--as-of", "2026-03-01") == 0
    (tmp_path / "payments.csv").write_text(PAYMENTS)
    assert run(root, "import", "payments", str(tmp_path / "payments.csv")) == 0
    capsys.readouterr()
    return root


def arms_of(ws: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    arms = {}
    for n in range(1, 9):
        assert run(ws, "explain", f"D{n}", "--as-of", "2026-03-01", "--format", "json") == 0
        [row] = json.loads(capsys.readouterr().out)
        arms[f"D{n}"] = row["arm"].split(":")[1]
    return arms


def test_the_report_a_user_reads(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arms = arms_of(ws, capsys)
    champions = [k for k, v in arms.items() if v == "champion"]
    payers = {"D1", "D2", "D3", "D4"}
    assert 0 < len(champions) < 8  # both arms have debtors (the hash is fixed)
    assert run(ws, "experiment", "report", *PERIOD, "--format", "json") == 0
    rows = {r["measure"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"recovery", "cure", "roll_forward"}
    recovery, cure = rows["recovery"], rows["cure"]
    n1, k1 = len(champions), len(payers & set(champions))
    n2, k2 = 8 - n1, 4 - k1
    assert (recovery["champion_debtors"], recovery["challenger_debtors"]) == (n1, n2)
    assert recovery["champion_open"] == f"{100 * n1}.00"
    assert recovery["challenger_collected"] == f"{100 * k2}.00"
    # every debtor owed 100.00 and paid all or nothing: recovery = cure = share that paid;
    # the others are 31-60 days late on 03-31: rolled forward
    assert recovery["champion"] == cure["champion"] == round(k1 / n1, 4)
    assert cure["challenger"] == round(k2 / n2, 4)
    assert rows["roll_forward"]["champion"] == round(1 - k1 / n1, 4)
    half = Z * math.sqrt((k1 / n1) * (1 - k1 / n1) / n1 + (k2 / n2) * (1 - k2 / n2) / n2)
    assert cure["low"] == round(k2 / n2 - k1 / n1 - half, 4)
    assert cure["significant"] is False

    assert run(ws, "experiment", "report", *PERIOD) == 0
    out = capsys.readouterr().out
    assert "experiment sms-first-notice, USD" in out
    assert "cure rate: the challenger's is" in out and "not significant" in out
    assert "two-proportion (Wald)" in out


def test_in_spanish_and_in_one_currency(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = ws / "arrears.toml"
    config.write_text(config.read_text().replace('locale = "en_US"', 'locale = "es_CO"'))
    assert run(ws, "experiment", "report", *PERIOD, "--in", "eur", "--wide") == 0
    out = capsys.readouterr().out
    assert "experimento sms-first-notice, EUR" in out
    assert "tasa de cura: la del retador está" in out and "no significativa" in out
    assert "intervalo de dos proporciones" in out
    assert "320,00" in out or "240,00" in out or "480,00" in out  # 100.00 USD = 80.00 EUR


def test_bad_input_is_reported_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "ws"
    assert main(["init", str(ws), "--database-url", f"sqlite:///{tmp_path / 'a.db'}"]) == 0
    args = ["--from", "2026-13-01", "--to", "2026-03-31", "--detect", "5", "--in", "XX1"]
    assert run(ws, "experiment", "report", *args) == 1
    err = capsys.readouterr().err
    assert "--from '2026-13-01' is not a date" in err
    assert "--detect '5'" in err and "'XX1' is not an ISO 4217" in err
    assert run(ws, "experiment", "report", "--from", "2026-04-01", "--to", "2026-03-31") == 1
    assert "is after --to" in capsys.readouterr().err
    assert run(ws, "experiment", "report", "--from", "2025-01-01", "--to", "2025-01-31") == 0
    assert "no debtor was assigned" in capsys.readouterr().out
