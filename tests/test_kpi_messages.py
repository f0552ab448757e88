"""Messages by channel and the contact rate (``arrears.kpi.messages``): a small book by hand,
and ``arrears kpi --messages`` on a workspace that sent its messages (SENDING_ENV) and got
delivery reports and an open back.

The book, period 2026-11-01 to 11-30:

| # | debtor | channel | sent | came back |
|---|---|---|---|---|
| 1 | 1 | email | 11-02 | delivered 11-02, opened 11-03 |
| 2 | 1 | sms | 11-05 | delivered 11-05 |
| 3 | 2 | email | 11-10 | bounced 11-10 |
| 4 | 3 | email | 11-20 | opened 12-02: after the period, not counted |
| 5 | 3 | sms | 11-25 | |
| 6 | 4 | email | 10-30: before the period | delivered |
| 7 | 4 | letter | not sent | |

email: 3 sent, 1 delivered, 1 bounced, 1 opened (1/3 each); debtors 1, 2, 3, reached 1: 1/3.
sms: 2 sent, 1 delivered (1/2), none bounced or opened; debtors 1 and 3, reached 1: 1/2.
all: 5 sent, 2 delivered (40 %), 1 bounced (20 %), 1 opened (20 %); 3 debtors, 1 reached.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from arrears.cli.app import main
from arrears.domain.actor import system
from arrears.kpi.messages import MESSAGE_SCHEMA, message_rates
from arrears.services.outreach import messages
from arrears.services.uow import SqlUnitOfWork
from arrears.store.database import connect
from channels_support import SENDING_ENV, base_workspace, copy_workspace, rows


def d(month: int, day: int) -> date:
    return date(2026, month, day)


def test_the_book_by_hand() -> None:
    book = pl.DataFrame(
        [
            (1, 1, "email", d(11, 2), d(11, 2), None, d(11, 3)),
            (2, 1, "sms", d(11, 5), d(11, 5), None, None),
            (3, 2, "email", d(11, 10), None, d(11, 10), None),
            (4, 3, "email", d(11, 20), None, None, d(12, 2)),
            (5, 3, "sms", d(11, 25), None, None, None),
            (6, 4, "email", d(10, 30), d(10, 30), None, None),
            (7, 4, "letter", None, None, None, None),
        ],
        schema=MESSAGE_SCHEMA,
        orient="row",
    )
    out = {r["channel"]: r for r in message_rates(book, d(11, 1), d(11, 30)).to_dicts()}
    assert list(out) == ["email", "sms", "all"]
    counts = ("sent", "delivered", "bounced", "opened", "debtors", "reached")
    assert tuple(out["email"][c] for c in counts) == (3, 1, 1, 1, 3, 1)
    assert tuple(out["sms"][c] for c in counts) == (2, 1, 0, 0, 2, 1)
    assert tuple(out["all"][c] for c in counts) == (5, 2, 1, 1, 3, 1)
    rates = ("delivery_rate", "bounce_rate", "open_rate", "contact_rate")
    assert tuple(out["email"][r] for r in rates) == pytest.approx((1 / 3,) * 4)
    assert tuple(out["sms"][r] for r in rates) == pytest.approx((0.5, 0, 0, 0.5))
    assert tuple(out["all"][r] for r in rates) == pytest.approx((0.4, 0.2, 0.2, 1 / 3))
    with pytest.raises(ValueError, match="before it starts"):
        message_rates(book, d(11, 30), d(11, 1))


@pytest.fixture
def ws(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    for name, value in SENDING_ENV.items():
        monkeypatch.setenv(name, value)
    return copy_workspace(base_workspace(tmp_path_factory.mktemp("channels")), tmp_path / "ws")


def test_through_the_command_line(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-w", str(ws), "dispatch", "--as-of", "2026-11-23"]) == 0
    sent = [r for r in rows(ws) if r["sent_at"] is not None]
    emails = [r for r in sent if r["channel"] == "email" and r["provider_ref"]]
    assert len(emails) >= 2
    uow = SqlUnitOfWork(connect(f"sqlite:///{ws / 'arrears.db'}"))
    at = datetime(2026, 11, 24, 9, tzinfo=UTC)
    first, second = emails[0], emails[1]
    for row, status in ((first, "delivered"), (second, "failed")):
        messages.record_delivery(
            uow,
            system("test"),
            portfolio="default",
            provider_ref=str(row["provider_ref"]),
            status=status,
            at=at,
            provider="test",
        )
    messages.record_tracking(
        uow, system("test"), portfolio="default", key=str(first["key"]), event="opened", at=at
    )
    capsys.readouterr()
    period = ["--from", "2026-11-01", "--to", "2026-11-30"]
    assert main(["-w", str(ws), "kpi", "--messages", *period, "--format", "json"]) == 0
    out = {r["channel"]: r for r in json.loads(capsys.readouterr().out)}
    assert out["all"]["sent"] == len(sent)
    assert out["email"]["sent"] == len([r for r in sent if r["channel"] == "email"])
    email = out["email"]
    assert (email["delivered"], email["bounced"], email["opened"]) == (1, 1, 1)
    assert email["delivery_rate"] == round(1 / email["sent"], 4)
    debtors = {r["debtor_id"] for r in sent}
    assert out["all"]["debtors"] == len(debtors) and out["all"]["reached"] == 1

    # the monthly report shows the same figures
    target = ws / "november.html"
    assert main(["-w", str(ws), "report", "--month", "2026-11", "-o", str(target)]) == 0
    html = target.read_text(encoding="utf-8")
    shown = f'data-channel="email" data-column="delivery_rate">{100 / email["sent"]:.1f}<'
    assert shown in html and "Messages by channel" in html

    assert main(["-w", str(ws), "kpi", "--messages", *period]) == 0
    table = capsys.readouterr().out
    assert "messages of default, sent from 2026-11-01 to 2026-11-30" in table
    assert "contact rate %" in table
    assert main(["-w", str(ws), "kpi", "--messages", "--roll", *period]) == 1
    assert "--roll and --messages: choose one" in capsys.readouterr().err
