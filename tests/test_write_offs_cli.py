"""``arrears write-off``: proposed, posted within a limit, approved or refused by another person,
and money recovered afterwards, as a user runs it (SQLite and PostgreSQL).

The workspace's policy lets its admins (whoever runs the command line) write off 50.00 USD at
once; the users are told apart by their login name (``cli:ana``, ``cli:boss``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arrears.cli.app import main

DEBTORS = "debtor_id,name,currency\nD1,Uno,USD\nD2,Dos,USD\n"
INVOICES = """invoice_id,debtor_id,issue_date,due_date,amount,currency
I1,D1,2025-12-01,2025-12-31,100.00,USD
I2,D1,2026-01-15,2026-02-14,200.00,USD
I3,D2,2025-12-01,2025-12-31,500.00,USD
I4,D2,2025-12-01,2026-01-31,70.00,USD
"""


@pytest.fixture
def ws(
    tmp_path: Path,
    store_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    root = tmp_path / "ws"
    assert main(["init", str(root), "--database-url", store_url]) == 0
    policy = root / "policies" / "b2b.yaml"
    policy.write_text(policy.read_text() + "\nwrite_off_limits:\n  admin: {USD: 50}\n")
    (tmp_path / "d.csv").write_text(DEBTORS)
    (tmp_path / "i.csv").write_text(INVOICES)
    assert run(root, "import", "debtors", str(tmp_path / "d.csv")) == 0
    assert run(root, "import", "invoices", str(tmp_path / "i.csv")) == 0
    as_user(monkeypatch, "ana")
    capsys.readouterr()
    return root


def run(ws: Path, *args: str) -> int:
    return main(["-w", str(ws), *args])


def as_user(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """The command line's actor is ``cli:<login name>``."""
    for variable in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.setenv(variable, name)


def activity(ws: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    capsys.readouterr()
    assert run(ws, "activity", "--format", "json", "--limit", "100") == 0
    records: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return records[::-1]


def proposals(ws: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, str]]:
    capsys.readouterr()
    assert run(ws, "write-off", "list", "--format", "json") == 0
    found: list[dict[str, str]] = json.loads(capsys.readouterr().out)
    return found


def test_within_the_limit_it_posts_at_once_like_the_old_command(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run(ws, "write-off", "I1", "--on", "2026-03-01", "--reason", "goodwill", "--amount", "40")
        == 0
    )
    assert capsys.readouterr().out.strip() == "invoice I1: 40.00 USD written off"
    [done] = proposals(ws, capsys)
    assert (done["status"], done["posted"], done["decided_by"]) == ("posted", "40.00", "cli:ana")
    kinds = [r["kind"] for r in activity(ws, capsys)]
    assert kinds[-1] == "write_off.approved" and kinds[-2] == "write_off.posted"
    # the options first, as the old command allowed
    assert (
        run(ws, "write-off", "--on", "2026-03-01", "--reason", "rounding", "--amount", "0.10", "I1")
        == 0
    )
    assert capsys.readouterr().out.strip() == "invoice I1: 0.10 USD written off"


def test_above_the_limit_it_waits_and_another_person_approves_it(
    ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    propose = ["write-off", "propose", "D2", "--on", "2026-03-02", "--reason", "insolvency closed"]
    assert run(ws, *propose) == 0
    out = capsys.readouterr().out
    assert "write-off 1 of D2: 570.00 USD waits for approval (above the limit of cli:ana)" in out
    assert [p["status"] for p in proposals(ws, capsys)] == ["pending"]
    assert run(ws, "write-off", "list", "--pending", "--format", "csv") == 0
    assert "1,D2,,570.00,USD,0.00,pending,cli:ana" in capsys.readouterr().out

    assert run(ws, "write-off", "approve", "1", "--on", "2026-03-03") == 1
    err = capsys.readouterr().err
    assert "write-off proposal 1: cli:ana proposed it; another person approves it" in err

    as_user(monkeypatch, "boss")
    assert run(ws, "write-off", "approve", "1", "--on", "2026-03-03") == 0
    assert "570.00 USD written off (approved by cli:boss)" in capsys.readouterr().out
    assert run(ws, "write-off", "approve", "1", "--on", "2026-03-03") == 0  # again: nothing
    assert "already proposed (posted); nothing changed" in capsys.readouterr().out
    records = activity(ws, capsys)
    mine = [(r["kind"], r["actor"], r["subject"]) for r in records if "write_off" in str(r["kind"])]
    assert mine == [
        ("write_off.proposed", "cli:ana", "write_off_proposal 1"),
        ("write_off.posted", "cli:boss", "invoice I3"),
        ("write_off.posted", "cli:boss", "invoice I4"),
        ("write_off.approved", "cli:boss", "write_off_proposal 1"),
    ]
    assert run(ws, "ledger", "check") == 0

    # money comes in afterwards: a recovery, told apart in the log
    pay = ["write-off", "recover", "D2", "--id", "P9", "--on", "2026-04-01"]
    assert run(ws, *pay, "--amount", "120.00", "--currency", "USD") == 0
    assert "payment P9 of 120.00 USD posted; 120.00 USD recovered" in capsys.readouterr().out
    assert run(ws, *pay, "--amount", "120.00", "--currency", "USD") == 0
    assert "already recorded; nothing changed" in capsys.readouterr().out
    recovered = [r for r in activity(ws, capsys) if r["kind"] == "write_off.recovered"]
    assert len(recovered) == 1 and '"recovered": "120.00"' in str(recovered[0]["payload"])


def test_a_refused_write_off_posts_nothing(
    ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(ws, "write-off", "propose", "D1", "--on", "2026-03-02", "--reason", "old") == 0
    as_user(monkeypatch, "boss")
    assert run(ws, "write-off", "refuse", "1", "--on", "2026-03-03", "--reason", "") == 1
    assert "say why it is refused (--reason)" in capsys.readouterr().err
    args = ["write-off", "refuse", "1", "--on", "2026-03-03", "--reason", "they pay monthly"]
    assert run(ws, *args) == 0
    assert "refused by cli:boss: they pay monthly" in capsys.readouterr().out
    assert run(ws, "write-off", "approve", "1", "--on", "2026-03-04") == 1
    assert "it was refused by cli:boss on 2026-03-03" in capsys.readouterr().err
    kinds = [r["kind"] for r in activity(ws, capsys)]
    assert "write_off.refused" in kinds and "write_off.posted" not in kinds
    capsys.readouterr()
    assert run(ws, "aging", "--by", "debtor", "--format", "csv", "--as-of", "2026-03-05") == 0
    assert "300.00" in capsys.readouterr().out  # D1 still owes everything


def test_bad_requests_are_reported_all_at_once(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["write-off", "propose", "D1", "--on", "2026-03-02", "--reason", " "]
    assert run(ws, *args, "--invoice", "I3", "--amount", "-1") == 1
    err = capsys.readouterr().err
    assert "invoice I3 is not D1's" in err
    assert "a write-off needs a reason (--reason)" in err
    assert "amount must be positive" in err
    assert (
        run(
            ws,
            "write-off",
            "propose",
            "D1",
            "--on",
            "2026-03-02",
            "--reason",
            "x",
            "--amount",
            "301",
        )
        == 1
    )
    assert "301.00 USD exceeds the open balance 300.00 USD of D1 in USD" in capsys.readouterr().err
    assert run(ws, "write-off", "approve", "9", "--on", "2026-03-02") == 1
    assert "there is no such proposal" in capsys.readouterr().err
    assert proposals(ws, capsys) == []


CHARGE_OFF = """
policy: charge-off
stages:
  - {name: clear}
  - {name: early, when: days_past_due between 1 and 179}
  - {name: charge_off, when: days_past_due >= 180}
segments:
  - {name: all}
cadences:
  - stage: charge_off
    steps:
      - {id: propose-charge-off, offset: 0, anchor: stage_entered, action: propose_write_off}
onboarding: {escalations: proceed}
"""


def test_the_policys_write_off_step_becomes_a_proposal_that_waits(
    tmp_path: Path,
    sqlite_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = tmp_path / "ws"
    assert main(["init", str(root), "--database-url", sqlite_url]) == 0
    (root / "policies" / "b2b.yaml").write_text(CHARGE_OFF)
    (tmp_path / "d.csv").write_text(DEBTORS)
    (tmp_path / "i.csv").write_text(INVOICES)
    assert run(root, "import", "debtors", str(tmp_path / "d.csv")) == 0
    assert run(root, "import", "invoices", str(tmp_path / "i.csv")) == 0
    assert run(root, "run", "--as-of", "2026-07-01") == 0  # D1 and D2: 182 days past due
    # the run records the policy's proposals the same day: they wait for approval
    waiting = [(p["debtor"], p["amount"], p["status"]) for p in proposals(root, capsys)]
    assert sorted(waiting) == [("D1", "300.00", "pending"), ("D2", "570.00", "pending")]
    assert run(root, "write-off", "from-policy", "--on", "2026-07-01") == 0
    assert "no write-off to propose from the policy; nothing changed" in capsys.readouterr().out
    assert run(root, "write-off", "from-policy", "--on", "2026-07-02") == 0
    assert "no write-off to propose from the policy; nothing changed" in capsys.readouterr().out
    assert run(root, "write-off", "approve", "1", "--on", "2026-07-02") == 0
    assert "300.00 USD written off (approved by cli:" in capsys.readouterr().out
    assert run(root, "write-off", "refuse", "2", "--on", "2026-07-02", "--reason", "in talks") == 0
    assert [p["status"] for p in proposals(root, capsys)] == ["refused", "posted"]


def test_a_recovery_needs_a_write_off(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pay = ["write-off", "recover", "D1", "--id", "P1", "--on", "2026-04-01"]
    assert run(ws, *pay, "--amount", "10.00", "--currency", "USD") == 1
    err = capsys.readouterr().err
    assert "nothing of D1 in USD was written off: record it with arrears payment add" in err
