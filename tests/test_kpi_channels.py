"""Recovery by channel (docs/kpi.md, "Recovery by channel"): each payment collected in the
period counts for the channel of the debtor's last contact on or before its day, at most 30 days
before it; ``arrears kpi --by channel`` on tests/test_kpi_cli.py's book (USD: 300.00 owed at the
start, 600.00 sold; collected 100.00 on 01-20 and 200.00 on 03-20; the 50.00 of 02-20 bounced).

Contacts logged for D1: an SMS then a call on 01-20 (the later record wins: the call gets the
100.00 paid that day), an email on 02-10 (38 days before 03-20: too old, the 200.00 has no
contact; it would have had the bounced 50.00) and a letter on 03-25 (after every payment)."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from arrears.cli.app import main
from arrears.kpi.channels import CONTACT_SCHEMA, NO_CONTACT, attributed
from test_kpi import book
from test_kpi_cli import PERIOD, build


def _contacts(root: Path) -> None:
    for channel, on in [
        ("sms", "01-20"),
        ("call", "01-20"),
        ("email", "02-10"),
        ("letter", "03-25"),
    ]:
        add = ["-w", str(root), "contact", "add", "D1", "--channel", channel, "--on", f"2026-{on}"]
        assert main([*add, "--outcome", "reached" if channel != "call" else "right_party"]) == 0


def test_kpi_by_channel(tmp_path: Path, store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    root = build(tmp_path, store_url)
    _contacts(root)
    capsys.readouterr()
    assert main(["-w", str(root), "kpi", *PERIOD, "--by", "channel", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["channel"], r["currency"], r["payments"], r["collected"]) for r in rows] == [
        (NO_CONTACT, "USD", 1, "200.00"),
        ("call", "USD", 1, "100.00"),
    ]
    # recovery: of the 900.00 that could be collected (300.00 at the start + 600.00 sold)
    assert [r["recovery"] for r in rows] == [round(200 / 900, 4), round(100 / 900, 4)]
    assert main(["-w", str(root), "kpi", *PERIOD, "--by", "channel"]) == 0
    out = capsys.readouterr().out
    assert "recovery by channel of default, 2026-01-01 to 2026-03-31" in " ".join(out.split())
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in out.splitlines()]
    assert ["call", "USD", "1", "1", "100.00", "11.1"] in cells
    assert [NO_CONTACT, "USD", "1", "1", "200.00", "22.2"] in cells
    # the channels add up to the period's recovery (33.3 %) and collected (300.00)
    assert main(["-w", str(root), "kpi", *PERIOD, "--by", "channel", "--in", "USD"]) == 1
    # the monthly report's recovery section: January, the call's 100.00 of 500.00 (300.00 owed
    # at the start, 200.00 sold): 20.0 %
    page = tmp_path / "report.html"
    assert main(["-w", str(root), "report", "--month", "2026-01", "-o", str(page)]) == 0
    html = page.read_text(encoding="utf-8")
    assert "Recovery by channel (collected by the channel of the debtor" in html
    words = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    assert "call USD 1 100.00 20.0" in words


def test_a_call_after_the_days_message_takes_the_payment() -> None:
    """A message the outbox sent on the payment's day and a call logged that day: the call
    (a person's contact comes after the day's message); the day before, the message alone."""
    inst, alloc = book()
    contacts = pl.DataFrame(
        [
            (1, date(2026, 1, 20), "call", True),
            (1, date(2026, 1, 20), "email", False),
            (1, date(2026, 3, 19), "sms", False),
        ],
        schema=CONTACT_SCHEMA,
        orient="row",
    )
    paid = attributed(inst, alloc, contacts, date(2026, 1, 1), date(2026, 3, 31))
    assert paid.select("allocated_on", "amount_minor", "channel").rows() == [
        (date(2026, 1, 20), 100_00, "call"),
        (date(2026, 3, 20), 200_00, "sms"),
    ]
