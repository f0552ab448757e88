"""``arrears generate --profile revolving``: consumer card accounts with limits, monthly
statements (one invoice each: the minimum due, then the rest) and the payment kinds."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from arrears.cli.app import main
from arrears.demo.generate import Profile, chunks

END = date(2026, 6, 30)


def test_statements_minimums_and_kinds() -> None:
    (chunk,) = chunks(400, 6, 5, END, Profile.REVOLVING)
    debtors, inst, pays = chunk.debtors, chunk.invoices, chunk.payments
    assert (debtors["credit_limit_minor"] > 0).all()
    kinds = set(debtors["attr_archetype"])
    assert kinds == {"transactor", "revolver", "minimum_payer", "late_payer", "struggling"}
    # one statement a month per account at most, on its own statement day
    per_month = inst.filter(pl.col("instalment") == 1).group_by(
        "debtor_id", pl.col("issue_date").dt.month()
    )
    assert per_month.len()["len"].max() == 1
    # instalment 1 (the minimum) due 25 days after the statement, the rest two years on
    first = inst.filter(pl.col("instalment") == 1)
    assert ((first["due_date"] - first["issue_date"]).dt.total_days() == 25).all()
    rest = inst.filter(pl.col("instalment") == 2)
    assert ((rest["due_date"] - rest["issue_date"]).dt.total_days() == 25 + 730).all()
    # every payment names its statement and instalment and never pays more than it
    paid = pays.group_by("invoice_id", "instalment").agg(pl.col("amount_minor").sum())
    joined = paid.join(inst, on=["invoice_id", "instalment"], how="left")
    assert joined["amount_minor_right"].null_count() == 0
    assert (joined["amount_minor"] <= joined["amount_minor_right"]).all()
    assert (pays["date"] <= END).all()
    # transactors pay their statements in full before the due date; minimum payers leave
    # their rests open (statements of two months before the end and earlier; a transactor
    # may have defaulted)
    kind = debtors.select("debtor_id", "attr_archetype")
    open_rest = (
        rest.filter(pl.col("issue_date") < date(2026, 4, 30))
        .join(paid, on=["invoice_id", "instalment"], how="left")
        .filter(pl.col("amount_minor_right").fill_null(0) < pl.col("amount_minor"))
        .join(kind, on="debtor_id")
    )
    shares = open_rest["attr_archetype"].value_counts()
    counts = dict(shares.iter_rows())
    assert counts.get("minimum_payer", 0) > 5 * counts.get("transactor", 0)


def test_generate_revolving_is_seeded_and_prints_its_parameters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def run(out: Path) -> dict[str, object]:
        args = ["generate", str(out), "--profile", "revolving", "--debtors", "200"]
        assert main([*args, "--months", "4", "--seed", "9", "--as-of", "2026-06-30", "--json"]) == 0
        return json.loads(capsys.readouterr().out)

    stats = run(tmp_path / "a")
    assert stats["profile"] == "revolving" and stats["seed"] == 9
    parameters = stats["parameters"]
    assert isinstance(parameters, dict)
    assert parameters["kinds"][2] == "minimum_payer" and parameters["min_share"] == 0.03
    run(tmp_path / "b")
    for name in ("debtors.csv", "invoices.csv", "payments.csv"):
        a, b = ((tmp_path / d / name).read_bytes() for d in ("a", "b"))
        assert hashlib.sha256(a).digest() == hashlib.sha256(b).digest()
    capsys.readouterr()
    args = ["generate", str(tmp_path / "c"), "--profile", "revolving", "--debtors", "50"]
    assert main([*args, "--months", "2", "--as-of", "2026-06-30"]) == 0
    table = capsys.readouterr().out
    assert "parameter p_shock" in table and "archetype minimum_payer" in table
